package search

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"promptgan/task"
)

// maxLine bounds one line of a prompts or pairs file.
const maxLine = task.MaxLineBytes

// ReadLines reads the non-blank lines of r (UTF-8; a BOM and CRLF
// accepted), trimmed; label names r in errors.
func ReadLines(r io.Reader, label string) ([]string, error) {
	var out []string
	err := scanLines(r, label, func(line int, b []byte) error {
		if s := strings.TrimSpace(string(b)); s != "" {
			out = append(out, s)
		}
		return nil
	})
	return out, err
}

// ReadPairs reads JSONL of {"input", "generation"} objects from r, one a
// line (blank lines skipped); label names r in errors, which give the line.
func ReadPairs(r io.Reader, label string) ([]Pair, error) {
	var out []Pair
	err := scanLines(r, label, func(line int, b []byte) error {
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var p Pair
		if err := dec.Decode(&p); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) && te.Field != "" {
				return fmt.Errorf("%s:%d: field %q: want a string", label, line, te.Field)
			}
			if errors.As(err, &te) {
				return fmt.Errorf("%s:%d: want a JSON object {\"input\": \"...\", \"generation\": \"...\"}, got a JSON %s", label, line, te.Value)
			}
			return fmt.Errorf("%s:%d: want one JSON object {\"input\": \"...\", \"generation\": \"...\"} a line: %v", label, line, err)
		}
		if dec.More() {
			return fmt.Errorf("%s:%d: content after the JSON object: one object a line", label, line)
		}
		if strings.TrimSpace(p.Generation) == "" {
			return fmt.Errorf("%s:%d: field \"generation\" is missing or empty", label, line)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// scanLines calls fn with each line (1-based), refusing invalid UTF-8 and
// lines over maxLine; a BOM on the first line is dropped.
func scanLines(r io.Reader, label string, fn func(line int, b []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		b = bytes.TrimSuffix(b, []byte("\r"))
		if !utf8.Valid(b) {
			return fmt.Errorf("%s:%d: not valid UTF-8: save it as UTF-8", label, line)
		}
		if err := fn(line, b); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%s:%d: a line longer than %d bytes", label, line+1, maxLine)
		}
		return fmt.Errorf("%s: %w", label, err)
	}
	return nil
}
