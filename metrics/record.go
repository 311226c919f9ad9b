package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"promptgan/internal/atomicfile"
)

// Record is one line of metrics.jsonl. Step is the global step; Phase is e.g.
// "mle", "d_pretrain", "adversarial", "eval". Values holds named numbers
// (loss_g, loss_d, d_real, d_fake, nll_oracle, nll_test, distinct_2,
// self_bleu_3, ...).
//
// JSON has no NaN or infinities, so [AppendRecords] skips (omits) every
// non-finite value: a NaN or ±Inf value is written as if the key were absent,
// and reads back as absent. Keys are written in sorted order, so encoding is
// deterministic.
type Record struct {
	Step   int                `json:"step"`
	Phase  string             `json:"phase"`
	Values map[string]float64 `json:"values"`
}

// marshalLine returns r as one JSON line (with trailing '\n'), non-finite
// values dropped and Values always an object (never null).
func marshalLine(r Record) ([]byte, error) {
	vals := make(map[string]float64, len(r.Values))
	for k, v := range r.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		vals[k] = v
	}
	r.Values = vals
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// AppendRecords appends recs to path (creating it with mode 0644 if needed),
// one JSON line each, in a single write, and fsyncs the file before
// returning. Non-finite values are skipped (see [Record]).
func AppendRecords(path string, recs ...Record) error {
	var buf bytes.Buffer
	for _, r := range recs {
		b, err := marshalLine(r)
		if err != nil {
			return fmt.Errorf("metrics: encode record step %d: %w", r.Step, err)
		}
		buf.Write(b)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("metrics: append %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("metrics: fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("metrics: close %s: %w", path, err)
	}
	return nil
}

// line is one raw line of the log.
type line struct {
	no         int    // 1-based line number
	text       []byte // without the trailing newline
	terminated bool   // ended with '\n'
}

// utf8BOM is the byte-order mark some editors put at the start of a file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readLines reads every line of r, blank lines included. A byte-order mark
// at the start is dropped (a log edited and saved on Windows); a CR before
// the LF stays in text, where JSON reads it as white space.
func readLines(r io.Reader) ([]line, error) {
	br := bufio.NewReader(r)
	var out []line
	for no := 1; ; no++ {
		b, err := br.ReadBytes('\n')
		if no == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if len(b) > 0 {
			term := b[len(b)-1] == '\n'
			if term {
				b = b[:len(b)-1]
			}
			out = append(out, line{no: no, text: b, terminated: term})
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// parseLine decodes one non-blank line. It requires a JSON object with a
// string "phase" and numeric "step"; "values" may be absent or null (read
// as an empty map). A value beyond float64's range (1e400) reads as ±Inf,
// for the reader to clip or report, rather than failing the whole file.
func parseLine(b []byte) (Record, error) {
	var raw struct {
		Step   *int                       `json:"step"`
		Phase  *string                    `json:"phase"`
		Values map[string]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Record{}, jsonError(err)
	}
	if raw.Step == nil {
		return Record{}, errors.New(`missing "step"`)
	}
	if raw.Phase == nil {
		return Record{}, errors.New(`missing "phase"`)
	}
	vals := make(map[string]float64, len(raw.Values))
	for k, n := range raw.Values {
		if string(n) == "null" {
			continue // no value, as a non-finite one is written
		}
		v, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Record{}, fmt.Errorf("values.%s: want a number, got %s", k, jsonKind(n))
		}
		vals[k] = v // ±Inf (or ±0) when out of range
	}
	return Record{Step: *raw.Step, Phase: *raw.Phase, Values: vals}, nil
}

// jsonKind names the JSON type of a value that the decoder has checked.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	}
	return string(raw)
}

// jsonError words a decoding error in the record's terms, not Go's.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("not valid JSON at byte %d: %s; want one record {\"step\": N, \"phase\": \"...\", \"values\": {...}} a line", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("want a JSON object {\"step\": N, \"phase\": \"...\", \"values\": {...}}, got %s", typ.Value)
	case errors.As(err, &typ):
		want := map[string]string{"step": "an integer", "phase": "a string", "values": `an object of named numbers {"loss_g": 1.5, ...}`}[typ.Field]
		if want == "" {
			want = "a number" // values.KEY
		}
		return fmt.Errorf("%s: want %s, got %s", typ.Field, want, typ.Value)
	}
	return fmt.Errorf("not valid JSON: %w", err)
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// ReadRecords reads all records of path in file order. Blank lines are
// ignored. A malformed line gives an error of the form
// "metrics: PATH:LINE: what is wrong".
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer f.Close()
	lines, err := readLines(f)
	if err != nil {
		return nil, fmt.Errorf("metrics: read %s: %w", path, err)
	}
	var recs []Record
	for _, l := range lines {
		if isBlank(l.text) {
			continue
		}
		r, err := parseLine(l.text)
		if err != nil {
			return nil, fmt.Errorf("metrics: %s:%d: %v", path, l.no, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// TruncateAfter rewrites path keeping only the records with Step <= step, in
// their original order and byte-for-byte; blank lines are dropped. It is used
// on resume so that a run resumed from a checkpoint at step has exactly the
// records an uninterrupted run would have.
//
// The rewrite is atomic: the kept lines go to a temporary file in the same
// directory, which is fsynced and renamed over path (the directory is then
// fsynced, best effort). A missing file is not an error. A last line with no
// trailing newline that does not parse is taken as a torn write from a crash
// and dropped; any other malformed line is an error and leaves path untouched.
func TruncateAfter(path string, step int) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	lines, err := readLines(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("metrics: read %s: %w", path, err)
	}
	var out bytes.Buffer
	for i, l := range lines {
		if isBlank(l.text) {
			continue
		}
		r, err := parseLine(l.text)
		if err != nil {
			if i == len(lines)-1 && !l.terminated {
				break // torn final write
			}
			return fmt.Errorf("metrics: %s:%d: %v", path, l.no, err)
		}
		if r.Step <= step {
			out.Write(l.text)
			out.WriteByte('\n')
		}
	}
	if err := atomicfile.Write(path, out.Bytes()); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
