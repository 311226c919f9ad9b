package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSequences(t *testing.T) {
	tests := []struct {
		name, file, content string
		length              int
		wantN, wantT        int
		wantErr             string
	}{
		{"plain", "a.txt", "1 2 3\n4 5 6\n\n", 0, 2, 3, ""},
		{"jsonl", "a.jsonl", `{"ids":[1,2]}` + "\n" + `{"ids":[3,4]}` + "\n", 0, 2, 2, ""},
		{"fixed length", "a.txt", "1 2 3\n", 3, 1, 3, ""},
		{"ragged", "a.txt", "1 2 3\n4 5\n", 0, 0, 0, "a.txt:2: sequence has 2 tokens, want 3"},
		{"wrong length", "a.txt", "1 2\n", 3, 0, 0, "a.txt:1: sequence has 2 tokens, want 3"},
		{"not a number", "a.txt", "1 2\n3 x\n", 0, 0, 0, `a.txt:2: token 2 is "x", not an integer id`},
		{"out of vocab", "a.txt", "1 10\n", 0, 0, 0, "a.txt:1: token 2 is 10, outside the vocabulary [0, 10)"},
		{"negative", "a.txt", "-1 1\n", 0, 0, 0, "a.txt:1: token 1 is -1, outside"},
		{"empty", "a.txt", "\n\n", 0, 0, 0, "a.txt: no sequences"},
		{"bad json", "a.jsonl", "{\"ids\": [1,\n", 0, 0, 0, "a.jsonl:1: the JSON object is cut short"},
		{"json without ids", "a.jsonl", "{\"text\": \"hi\"}\n", 0, 0, 0, `a.jsonl:1: unknown field "text"; a line is {"ids": [1, 2, ...]}`},
		{"json ids missing", "a.jsonl", "{}\n", 0, 0, 0, `a.jsonl:1: missing field "ids"`},
		// Windows editors: a byte-order mark and CRLF line ends are accepted.
		{"txt bom crlf", "a.txt", "\ufeff1 2 3\r\n4 5 6\r\n", 0, 2, 3, ""},
		{"jsonl bom crlf", "a.jsonl", "\ufeff{\"ids\":[1,2]}\r\n\r\n{\"ids\": [3, 4]}\r\n", 0, 2, 2, ""},
		{"bom only at the start", "a.txt", "1 2\n\ufeff3 4\n", 0, 0, 0, `a.txt:2: token 1 is "\ufeff3", not an integer id`},
		{"trailing garbage", "a.jsonl", `{"ids":[1,2]} x` + "\n", 0, 0, 0, "a.jsonl:1: unexpected x at byte 15, after the JSON object"},
		{"two objects a line", "a.jsonl", `{"ids":[1,2]}{"ids":[3,4]}`, 0, 0, 0, "a.jsonl:1: unexpected {\"ids\""},
		{"ids a string", "a.jsonl", `{"ids":"1 2"}`, 0, 0, 0, `a.jsonl:1: field "ids": want a list of token ids (integers), got a string`},
		{"ids null", "a.jsonl", `{"ids":null}`, 0, 0, 0, `a.jsonl:1: field "ids": want a list of token ids (integers), got null`},
		{"fractional id", "a.jsonl", `{"ids":[1, 2.5]}`, 0, 0, 0, `a.jsonl:1: field "ids": token 2 is 2.5, not an integer id`},
		{"string id", "a.jsonl", `{"ids":["1"]}`, 0, 0, 0, `a.jsonl:1: field "ids": token 1 is a string, not an integer id`},
		{"huge id", "a.jsonl", `{"ids":[99999999999999999999]}`, 0, 0, 0, `a.jsonl:1: field "ids": token 1 is 99999999999999999999, far outside any vocabulary`},
		{"huge txt id", "a.txt", "1 -99999999999999999999", 0, 0, 0, `a.txt:1: token 2 is -99999999999999999999, far outside any vocabulary`},
		{"top-level list", "a.jsonl", `[1, 2]`, 0, 0, 0, "a.jsonl:1: want a JSON object {...}, got a list"},
		{"repeated ids", "a.jsonl", `{"ids":[1],"ids":[2]}`, 0, 0, 0, `a.jsonl:1: field "ids" is given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadSequences(path, 10, tc.length)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.N != tc.wantN || s.T != tc.wantT {
				t.Fatalf("got %d×%d, want %d×%d", s.N, s.T, tc.wantN, tc.wantT)
			}
		})
	}
	if _, err := LoadSequences(filepath.Join(t.TempDir(), "missing.txt"), 10, 0); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Fatalf("missing file: error %v does not name the file", err)
	}
}
