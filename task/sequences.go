package task

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Sequences is a set of equal-length token-id sequences, stored (N, T) row-major.
type Sequences struct {
	Path   string
	N, T   int
	Tokens []int32
}

// Seq returns sequence i as a view.
func (s *Sequences) Seq(i int) []int32 { return s.Tokens[i*s.T : (i+1)*s.T] }

// Ints returns the sequences as [][]int, the form package metrics takes.
func (s *Sequences) Ints() [][]int { return ToInts(s.Tokens, s.N, s.T) }

// ToInts converts an (n, t) row-major token array to [][]int.
func ToInts(tokens []int32, n, t int) [][]int {
	out := make([][]int, n)
	for i := range out {
		row := make([]int, t)
		for j := range row {
			row[j] = int(tokens[i*t+j])
		}
		out[i] = row
	}
	return out
}

// LoadSequences reads path: JSONL objects {"ids": [...]} if it ends in
// .jsonl, otherwise one sequence of space-separated ids per line. Blank lines
// are skipped; lines end in LF or CRLF, and a UTF-8 byte-order mark at the
// start of the file is skipped (editors on Windows write both). Every id must
// be in [0, vocab) and every sequence must have length ids (if length is 0,
// the first sequence's length is required of all).
func LoadSequences(path string, vocab, length int) (*Sequences, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load sequences: %w", err)
	}
	defer f.Close()
	jsonl := strings.HasSuffix(path, ".jsonl")
	s := &Sequences{Path: path, T: length}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes() // ScanLines has dropped the LF and a CR before it
		if line == 1 {
			raw = bytes.TrimPrefix(raw, utf8BOM)
		}
		text := strings.TrimSpace(string(raw))
		if text == "" {
			continue
		}
		ids, err := parseLine(text, jsonl)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if s.T == 0 {
			s.T = len(ids)
		}
		if len(ids) != s.T {
			return nil, fmt.Errorf("%s:%d: sequence has %d tokens, want %d (all sequences must have the same length)", path, line, len(ids), s.T)
		}
		for k, id := range ids {
			if id < 0 || id >= int64(vocab) {
				return nil, fmt.Errorf("%s:%d: token %d is %d, outside the vocabulary [0, %d)", path, line, k+1, id, vocab)
			}
			s.Tokens = append(s.Tokens, int32(id))
		}
		s.N++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if s.N == 0 {
		return nil, fmt.Errorf("%s: no sequences: the file is empty", path)
	}
	if s.T == 0 {
		return nil, fmt.Errorf("%s: sequences are empty", path)
	}
	return s, nil
}

func parseLine(text string, jsonl bool) ([]int64, error) {
	if jsonl {
		return parseIDsObject([]byte(text))
	}
	fields := strings.Fields(text)
	ids := make([]int64, len(fields))
	for k, f := range fields {
		v, err := strconv.ParseInt(f, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("token %d is %s, far outside any vocabulary", k+1, clip(f, 24))
		}
		if err != nil {
			return nil, fmt.Errorf("token %d is %q, not an integer id", k+1, f)
		}
		ids[k] = v
	}
	return ids, nil
}

// idsLine shows the expected form of a JSONL line in error messages.
const idsLine = `a line is {"ids": [1, 2, ...]}`

// parseIDsObject decodes one JSONL line {"ids": [...]}. It walks the object
// with the text task's splitObject (one object a line, nothing after it, no
// repeated key) so that every error is worded in the file's terms rather than
// in Go's ("cannot unmarshal … of type int64").
func parseIDsObject(line []byte) ([]int64, error) {
	fields, err := splitObject(line)
	if err != nil {
		return nil, err
	}
	var raw json.RawMessage
	for _, f := range fields {
		if f.key != "ids" {
			return nil, fmt.Errorf("unknown field %q; %s", f.key, idsLine)
		}
		raw = f.value
	}
	if raw == nil {
		return nil, fmt.Errorf("missing field \"ids\"; %s", idsLine)
	}
	var items []json.RawMessage
	if kindOf(raw) != "a list" || json.Unmarshal(raw, &items) != nil {
		return nil, fmt.Errorf("field \"ids\": want a list of token ids (integers), got %s", kindOf(raw))
	}
	ids := make([]int64, len(items))
	for k, item := range items {
		if kind := kindOf(item); kind != "a number" {
			return nil, fmt.Errorf("field \"ids\": token %d is %s, not an integer id", k+1, kind)
		}
		num := string(bytes.TrimSpace(item))
		v, err := strconv.ParseInt(num, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("field \"ids\": token %d is %s, far outside any vocabulary", k+1, clip(num, 24))
		}
		if err != nil {
			return nil, fmt.Errorf("field \"ids\": token %d is %s, not an integer id", k+1, clip(num, 24))
		}
		ids[k] = v
	}
	return ids, nil
}

// FromTokens wraps (n, T) tokens already in memory as Sequences.
func FromTokens(tokens []int32, T int) (*Sequences, error) {
	if T < 1 || len(tokens) == 0 || len(tokens)%T != 0 {
		return nil, fmt.Errorf("%d tokens are not a positive number of sequences of %d", len(tokens), T)
	}
	return &Sequences{N: len(tokens) / T, T: T, Tokens: tokens}, nil
}

// Check reports the first token outside [0, vocab) and a length other than T.
func (s *Sequences) Check(vocab, T int) error {
	if s.T != T || s.N < 1 || len(s.Tokens) != s.N*s.T {
		return fmt.Errorf("%d sequences of %d tokens (%d in all), want sequences of %d", s.N, s.T, len(s.Tokens), T)
	}
	for i, id := range s.Tokens {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("sequence %d, token %d is %d, outside the vocabulary [0, %d)", i/T, i%T, id, vocab)
		}
	}
	return nil
}
