package demo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/audit"
)

// TestReportSave: the report goes to the writer and REPORT.md alike, then
// where the report, the checkpoint and the plots are.
func TestReportSave(t *testing.T) {
	r := &Report{Task: audit.Task{Name: "positive-reviews"}, Continuations: 4, Rows: []Row{
		{Kind: "seed", Prompt: "A review:", Audit: 0.2}, {Kind: "learned", Prompt: "great film", Audit: 0.6, Samples: []string{" loved it"}}}}
	out := t.TempDir()
	var b strings.Builder
	if err := r.Save(&b, out); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := "\n" + string(file) + "\nreport: " + filepath.Join(out, "REPORT.md") + "\ncheckpoint: " + filepath.Join(out, "checkpoints", "latest") + "\nplots: " + filepath.Join(out, "plots") + "\n"
	if b.String() != want || !strings.Contains(string(file), "mean audit score: seed prompts 0.200, learned prompts 0.600") {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
