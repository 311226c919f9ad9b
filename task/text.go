package task

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLineBytes bounds one line of a text task file (1 MiB, line end not
// counted). A longer line is refused as soon as the limit is passed, so a
// huge or newline-free file cannot exhaust memory.
const MaxLineBytes = 1 << 20

// Example is one line of a text task. In a task with inputs it holds the
// input and its good and bad generations; in an input-free task its one text
// is in Good or Bad, after the line's label.
type Example struct {
	Line  int // 1-based line in the file
	Input string
	Good  []string
	Bad   []string
}

// Text is a text task: what good (and bad) generations look like, with or
// without inputs. Texts are kept exactly as written (not trimmed).
type Text struct {
	Path      string
	SHA256    string // hex SHA-256 of the file's bytes: fingerprints the data in manifests and checkpoints
	InputFree bool
	Examples  []Example // file order
}

// Labeled is one (input, generation, label) item: what the text
// discriminator trains and is scored on.
type Labeled struct {
	Input, Text string
	Good        bool
	Line        int
}

// Labeled returns the chosen examples' items: each example's good texts,
// then its bad texts, examples in the order given.
func (t *Text) Labeled(examples []int) []Labeled {
	var out []Labeled
	for _, i := range examples {
		ex := t.Examples[i]
		for _, s := range ex.Good {
			out = append(out, Labeled{Input: ex.Input, Text: s, Good: true, Line: ex.Line})
		}
		for _, s := range ex.Bad {
			out = append(out, Labeled{Input: ex.Input, Text: s, Good: false, Line: ex.Line})
		}
	}
	return out
}

// Inputs returns the chosen examples' inputs, in the order given ("" for
// every example of an input-free task).
func (t *Text) Inputs(examples []int) []string {
	out := make([]string, len(examples))
	for k, i := range examples {
		out[k] = t.Examples[i].Input
	}
	return out
}

// LoadText reads a text task from a JSONL file; see ParseText for the format.
func LoadText(path string) (*Text, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load task: %w", err)
	}
	defer f.Close()
	return ParseText(f, path)
}

// lineFormat is the JSONL format of one line; a file uses one.
type lineFormat int

const (
	formatInputs    lineFormat = iota + 1 // {"input", "good", "bad"}
	formatInputFree                       // {"text", "label"}
)

func (f lineFormat) String() string {
	if f == formatInputs {
		return `with inputs ({"input", "good", "bad"})`
	}
	return `input-free ({"text", "label"})`
}

// ParseText reads a text task, one JSON object a line, in one of two formats:
//
//	{"input": "...", "good": ["...", ...], "bad": ["...", ...]}
//	{"text": "...", "label": "good"}   (or "bad": an input-free task)
//
// In the first, "good" or "bad" may be absent, null or empty, not both. A
// file is UTF-8 (a byte-order mark at its start is skipped), lines end in LF
// or CRLF, blank lines are skipped, and no line is longer than MaxLineBytes.
// Every text must be non-blank, the task must have a good text, and errors
// read "name:line: what is wrong; what to do", with list items counted from
// 0 (good[2] is the third).
func ParseText(r io.Reader, name string) (*Text, error) {
	hash := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(r, hash), 64*1024)
	t := &Text{Path: name}
	var (
		format     lineFormat
		formatLine int
		offset     int64 // of the current line in the file, in bytes
		buf        []byte
	)
	for lineNo := 1; ; lineNo++ {
		line, n, err := readLine(br, &buf)
		if errors.Is(err, errLineTooLong) {
			return nil, fmt.Errorf("%s:%d: line is longer than %d bytes (1 MiB), the limit for one example; shorten its texts or split it into several examples", name, lineNo, MaxLineBytes)
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: read: %w", name, lineNo, err)
		}
		if n == 0 && err == io.EOF {
			break
		}
		lineStart := offset
		offset += int64(n)
		if lineNo == 1 && bytes.HasPrefix(line, utf8BOM) {
			line = line[len(utf8BOM):]
			lineStart += int64(len(utf8BOM))
		}
		if at, ok := invalidUTF8(line); ok {
			return nil, fmt.Errorf("%s:%d: byte %d of the line (byte %d of the file) is not valid UTF-8; save the file as UTF-8", name, lineNo, at+1, lineStart+int64(at)+1)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			ex, f, perr := parseTextLine(line)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %w", name, lineNo, perr)
			}
			if format == 0 {
				format, formatLine = f, lineNo
			} else if f != format {
				return nil, fmt.Errorf("%s:%d: this line is %s but line %d is %s; a task file uses one format", name, lineNo, f, formatLine, format)
			}
			ex.Line = lineNo
			t.Examples = append(t.Examples, ex)
		}
		if err == io.EOF {
			break
		}
	}
	if len(t.Examples) == 0 {
		return nil, fmt.Errorf("%s: no examples: the file is empty or blank; write one JSON object a line, e.g. {\"text\": \"...\", \"label\": \"good\"}", name)
	}
	t.InputFree = format == formatInputFree
	good, bad := 0, 0
	for _, ex := range t.Examples {
		good += len(ex.Good)
		bad += len(ex.Bad)
	}
	if good == 0 {
		return nil, fmt.Errorf("%s: no good example (%d examples, %d bad texts); a task needs good texts to learn from: add lines labelled \"good\" or texts under \"good\"", name, len(t.Examples), bad)
	}
	t.SHA256 = hex.EncodeToString(hash.Sum(nil))
	return t, nil
}

var (
	utf8BOM        = []byte{0xEF, 0xBB, 0xBF}
	errLineTooLong = errors.New("line too long")
)

// readLine returns the next line without its LF or CRLF, and n, the bytes it
// took from the file. It stops with errLineTooLong once a line passes
// MaxLineBytes, without reading the rest of it. buf is reused across calls.
func readLine(br *bufio.Reader, buf *[]byte) (line []byte, n int, err error) {
	*buf = (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		*buf = append(*buf, chunk...)
		if err == bufio.ErrBufferFull {
			if len(*buf) > MaxLineBytes+1 { // +1: a CR that an LF may yet follow
				return nil, n, errLineTooLong
			}
			continue
		}
		line = bytes.TrimSuffix(*buf, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > MaxLineBytes {
			return nil, n, errLineTooLong
		}
		return line, n, err
	}
}

// invalidUTF8 returns the offset of the first byte of b that is not part of
// valid UTF-8.
func invalidUTF8(b []byte) (int, bool) {
	if utf8.Valid(b) {
		return 0, false
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i, true
		}
		i += size
	}
	return 0, false
}

// parseTextLine decodes one non-blank line. It walks the object's keys
// itself, rather than decoding into a struct, to refuse unknown and repeated
// fields and to word type errors in the task's terms.
func parseTextLine(line []byte) (Example, lineFormat, error) {
	var ex Example
	fields, err := splitObject(line)
	if err != nil {
		return ex, 0, err
	}
	var format lineFormat
	var firstKey string
	for _, f := range fields {
		var fmtOf lineFormat
		switch f.key {
		case "input", "good", "bad":
			fmtOf = formatInputs
		case "text", "label":
			fmtOf = formatInputFree
		default:
			return ex, 0, fmt.Errorf("unknown field %q; a line is {\"input\": ..., \"good\": [...], \"bad\": [...]} or {\"text\": ..., \"label\": \"good\"|\"bad\"}", f.key)
		}
		if format == 0 {
			format, firstKey = fmtOf, f.key
		} else if fmtOf != format {
			return ex, 0, fmt.Errorf("fields %q and %q belong to different formats; a line is {\"input\", \"good\", \"bad\"} or {\"text\", \"label\"}", firstKey, f.key)
		}
	}
	if format == 0 {
		return ex, 0, errors.New("the object has no fields; want {\"input\": ..., \"good\": [...], \"bad\": [...]} or {\"text\": ..., \"label\": \"good\"|\"bad\"}")
	}
	byKey := map[string]json.RawMessage{}
	for _, f := range fields {
		byKey[f.key] = f.value
	}
	if format == formatInputFree {
		text, err := requiredString(byKey, "text")
		if err != nil {
			return ex, 0, err
		}
		label, err := requiredString(byKey, "label")
		if err != nil {
			return ex, 0, err
		}
		switch label {
		case "good":
			ex.Good = []string{text}
		case "bad":
			ex.Bad = []string{text}
		default:
			return ex, 0, fmt.Errorf("field \"label\" is %q; want \"good\" or \"bad\"", label)
		}
		return ex, format, nil
	}
	if ex.Input, err = requiredString(byKey, "input"); err != nil {
		return ex, 0, err
	}
	if ex.Good, err = stringList(byKey, "good"); err != nil {
		return ex, 0, err
	}
	if ex.Bad, err = stringList(byKey, "bad"); err != nil {
		return ex, 0, err
	}
	if len(ex.Good) == 0 && len(ex.Bad) == 0 {
		return ex, 0, errors.New("neither \"good\" nor \"bad\" has a text; give this input at least one generation")
	}
	return ex, format, nil
}

type rawField struct {
	key   string
	value json.RawMessage
}

// splitObject checks that line is exactly one JSON object and returns its
// fields in order, refusing a key given twice.
func splitObject(line []byte) ([]rawField, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(err, dec)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object {...}, got %s", describeToken(tok))
	}
	var fields []rawField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err, dec)
		}
		key, ok := tok.(string)
		if !ok { // the decoder reports non-string keys as syntax errors; kept for safety
			return nil, fmt.Errorf("a field name must be a string, got %s", describeToken(tok))
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, jsonError(err, dec)
		}
		if slices.ContainsFunc(fields, func(f rawField) bool { return f.key == key }) {
			return nil, fmt.Errorf("field %q is given twice; keep one", key)
		}
		fields = append(fields, rawField{key, value})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, jsonError(err, dec)
	}
	end := int(dec.InputOffset())
	if rest := bytes.TrimSpace(line[end:]); len(rest) > 0 {
		at := end + bytes.Index(line[end:], rest) + 1
		return nil, fmt.Errorf("unexpected %s at byte %d, after the JSON object; write one object a line", clip(string(rest), 20), at)
	}
	return fields, nil
}

// jsonError words a decoding error for someone editing the file.
func jsonError(err error, dec *json.Decoder) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON at byte %d of the line: %s; want one JSON object a line", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("the JSON object is cut short at byte %d of the line (a missing } or \"?); an object must end on its own line", dec.InputOffset())
	}
	return fmt.Errorf("not valid JSON: %w", err)
}

func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "a list"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}

// kindOf names the JSON type of a raw value.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func requiredString(byKey map[string]json.RawMessage, key string) (string, error) {
	raw, ok := byKey[key]
	if !ok {
		return "", fmt.Errorf("missing field %q", key)
	}
	s, ok := decodeString(raw)
	if !ok {
		return "", fmt.Errorf("field %q: want a string, got %s", key, kindOf(raw))
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("field %q is empty; give it a text", key)
	}
	return s, nil
}

// stringList decodes an optional list of non-blank strings (null = absent).
func stringList(byKey map[string]json.RawMessage, key string) ([]string, error) {
	raw, ok := byKey[key]
	if !ok || kindOf(raw) == "null" {
		return nil, nil
	}
	var items []json.RawMessage
	if kindOf(raw) != "a list" || json.Unmarshal(raw, &items) != nil {
		return nil, fmt.Errorf("field %q: want a list of strings, got %s", key, kindOf(raw))
	}
	out := make([]string, len(items))
	for i, item := range items {
		var ok bool
		if out[i], ok = decodeString(item); !ok {
			return nil, fmt.Errorf("field %q: %s[%d] is %s; want a list of strings", key, key, i, kindOf(item))
		}
		if strings.TrimSpace(out[i]) == "" {
			return nil, fmt.Errorf("field %q: %s[%d] is empty; remove it or give it a text", key, key, i)
		}
	}
	return out, nil
}

// decodeString decodes a JSON string that the decoder has already checked.
// Most texts have no escapes, and for those the bytes between the quotes are
// the text (this shortcut halves BenchmarkParseText).
func decodeString(raw json.RawMessage) (string, bool) {
	if kindOf(raw) != "a string" {
		return "", false
	}
	raw = bytes.TrimSpace(raw)
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
