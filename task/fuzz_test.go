package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadSequences feeds arbitrary bytes to the loader as a .txt and a
// .jsonl file: it must return sequences that satisfy its contract or an
// error naming the file, never panic.
func FuzzLoadSequences(f *testing.F) {
	for _, seed := range []string{
		"1 2 3\n4 5 6\n", "1 2 3\n4 5\n", "\n\n", "1 x\n", "-1 1\n", "99999999999999999999 1\n",
		`{"ids":[1,2]}` + "\n" + `{"ids":[3,4]}` + "\n", `{"ids":[1,` + "\n", `{"ids":"a"}`, `{"ids":[1e3]}`, "\xff\xfe",
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
