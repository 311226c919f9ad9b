package task

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoadSequences feeds arbitrary bytes to the loader as a .txt and a
// .jsonl file: it must return sequences that satisfy its contract or an
// error naming the file, never panic.
func FuzzLoadSequences(f *testing.F) {
	for _, seed := range []string{
		"1 2 3\n4 5 6\n", "1 2 3\n4 5\n", "\n\n", "1 x\n", "-1 1\n", "99999999999999999999 1\n",
		`{"ids":[1,2]}` + "\n" + `{"ids":[3,4]}` + "\n", `{"ids":[1,` + "\n", `{"ids":"a"}`, `{"ids":[1e3]}`, "\xff\xfe",
		"\ufeff1 2\r\n3 4\r\n", "\ufeff{\"ids\":[1,2]}\r\n", `{"ids":[1,2]} x`, `{"ids":[1],"ids":[2]}`, `[1,2]`,
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, content []byte, length uint8) {
		dir := t.TempDir()
		for _, name := range []string{"data.txt", "data.jsonl"} {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadSequences(path, 10, int(length%8))
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("error does not name the file: %v", err)
				}
				continue
			}
			if s.N < 1 || s.T < 1 || len(s.Tokens) != s.N*s.T || (length%8 != 0 && s.T != int(length%8)) {
				t.Fatalf("inconsistent result: N=%d T=%d len=%d", s.N, s.T, len(s.Tokens))
			}
			for _, tok := range s.Tokens {
				if tok < 0 || tok >= 10 {
					t.Fatalf("token %d outside the vocabulary", tok)
				}
			}
		}
	})
}

// FuzzLoadText feeds arbitrary bytes to the text task parser: it must return
// a task that keeps ParseText's promises or an error naming the file, never
// panic.
func FuzzLoadText(f *testing.F) {
	for _, seed := range []string{
		`{"text": "fine", "label": "good"}` + "\n" + `{"text": "awful", "label": "bad"}` + "\n",
		`{"input": "q", "good": ["a", "b"], "bad": ["c"]}` + "\r\n" + `{"input": "r", "bad": ["d"], "good": null}`,
		"\xEF\xBB\xBF{\"text\": \"caf\\u00e9\", \"label\": \"good\"}\n\n",
		`{"text": "a", "label": "good"} x`, `{"input": "q", "good": [""]}`, `{"text": "a", "text": "b"}`,
		`{"text": "a", "label": "good"}` + "\n" + `{"input": "q", "good": ["a"]}`, "{\"text\": \"\xff\"}", `{"text": "\ud800", "label": "good"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		task, err := ParseText(bytes.NewReader(content), "fuzz.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.jsonl") {
				t.Fatalf("error does not start with the file name: %v", err)
			}
			return
		}
		if len(task.SHA256) != 64 || len(task.Examples) == 0 {
			t.Fatalf("SHA256 %q, %d examples", task.SHA256, len(task.Examples))
		}
		good, line := 0, 0
		for _, ex := range task.Examples {
			if ex.Line <= line {
				t.Fatalf("line %d after line %d", ex.Line, line)
			}
			line = ex.Line
			if task.InputFree != (ex.Input == "") || len(ex.Good)+len(ex.Bad) == 0 || (task.InputFree && len(ex.Good)+len(ex.Bad) != 1) {
				t.Fatalf("line %d: example %+v does not fit an input-free=%v task", ex.Line, ex, task.InputFree)
			}
			good += len(ex.Good)
			texts := append(slices.Clone(ex.Good), ex.Bad...)
			if !task.InputFree {
				texts = append(texts, ex.Input)
			}
			for _, s := range texts {
				if !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
					t.Fatalf("line %d: text %q is blank or not UTF-8", ex.Line, s)
				}
			}
		}
		if good == 0 {
			t.Fatal("a task without a good text was accepted")
		}
	})
}
