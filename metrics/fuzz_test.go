package metrics

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzTruncateAfter treats arbitrary bytes as a metrics.jsonl left by a
// crashed run: truncation either fails with an error or leaves a file that
// reads back with every record at or before the step.
func FuzzTruncateAfter(f *testing.F) {
	for _, seed := range []string{
		`{"step":1,"phase":"mle","values":{"loss":1}}` + "\n" + `{"step":2,"phase":"mle","values":{"loss":0.5}}` + "\n",
		`{"step":1,"phase":"mle","values":{"loss":1}}` + "\n" + `{"step":2,"pha`,
		"\n\n", "not json\n", `{"step":-1}` + "\n", `{"step":1e400}` + "\n", "",
	} {
		f.Add([]byte(seed), 1)
	}
	f.Fuzz(func(t *testing.T, content []byte, step int) {
		path := filepath.Join(t.TempDir(), "metrics.jsonl")
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := TruncateAfter(path, step); err != nil {
			return
		}
		recs, err := ReadRecords(path)
		if err != nil {
			t.Fatalf("file unreadable after a successful truncation: %v", err)
		}
		for _, r := range recs {
			if r.Step > step {
				t.Fatalf("record at step %d kept after truncation at %d", r.Step, step)
			}
		}
	})
}
