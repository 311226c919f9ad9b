package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/internal/ort/orttest"
)

// englishTasksDir writes the positive-reviews task file of the fixture
// corpus (the only built-in task whose class it has) to a temporary
// directory.
func englishTasksDir(t *testing.T) string {
	t.Helper()
	docs, err := english.LoadCorpus(filepath.Join("testdata", "english-corpus.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := audit.TaskByName("positive-reviews")
	lines, err := audit.TaskData(docs, tk)
	if err != nil {
		t.Fatal(err)
	}
	var file []byte
	for _, l := range lines {
		b, _ := json.Marshal(l)
		file = append(append(file, b...), '\n')
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, tk.Name+".jsonl"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBenchEnglishQuick runs `bench english --quick` on the tiny GPT-2 and
// the fixture corpus: the table prints, --json parses, and the search
// methods spend the budget.
func TestBenchEnglishQuick(t *testing.T) {
	orttest.LoadOrSkip(t)
	args := []string{"bench", "english", "--quick", "--corpus", englishCorpus, "--target", tinyGPT2Dir, "--tasks-dir", englishTasksDir(t),
		"--encoder", "hashing:64", "--max-new-tokens", "6", "--prompt-len", "3", "--budget", "128"}
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("bench english: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"positive-reviews (class positive)", "best-of-n", "evolution", "promptgan", "ceiling", "promptgan − best baseline"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, append(args, "--json", "--no-ceiling")...)
	if code != 0 {
		t.Fatalf("--json: exit %d\n%s", code, errOut)
	}
	var res englishSearchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json does not parse: %v\n%s", err, out)
	}
	if len(res.Result.Tasks) != 1 || len(res.Result.Tasks[0].Runs) != 1 {
		t.Fatalf("--quick: want one task and one seed, got %+v", res.Result)
	}
	for _, m := range res.Result.Tasks[0].Runs[0].Methods {
		if m.Name == "ceiling" {
			t.Errorf("--no-ceiling ran the ceiling")
		}
		if (m.Name == "best-of-n" || m.Name == "evolution" || m.Name == "promptgan") && m.Calls != 128 {
			t.Errorf("%s spent %d calls, want 128", m.Name, m.Calls)
		}
	}
}

func TestBenchEnglishBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown task", []string{"--task", "poetry"}, 2, `no English task "poetry"`},
		{"budget too small", []string{"--budget", "10"}, 2, "--budget 10: must be at least"},
		{"no continuations", []string{"--continuations", "-1"}, 2, "--continuations -1"},
		{"bad prompt vocabulary", []string{"--prompt-vocab", "phrases"}, 2, `--prompt-vocab "phrases"`},
		{"zero prompt length", []string{"--prompt-len", "0"}, 2, "--prompt-len 0"},
		{"bad learning rate", []string{"--g-adv-lr", "0"}, 2, "--g-adv-lr 0"},
		{"stray argument", []string{"extra"}, 2, "extra"},
		{"missing corpus", []string{"--corpus", "testdata/none.jsonl"}, 1, "load corpus"},
		{"missing task file", []string{"--tasks-dir", "testdata/none"}, 1, "testdata/none/positive-reviews.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "english", "--quick", "--corpus", englishCorpus, "--target", tinyGPT2Dir, "--tasks-dir", "testdata"}, tc.args...)
			out, errOut, code := run(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit %d and %q", code, errOut, out, tc.code, tc.want)
			}
		})
	}
}
