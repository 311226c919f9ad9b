package main

import (
	"encoding/json"
	"strings"
	"testing"

	"promptgan/internal/ort/orttest"
)

const (
	// From the repository root, where run executes the CLI.
	tinyGPT2Dir   = "internal/ort/export/testdata/tiny-gpt2"
	englishCorpus = "cmd/promptgan/testdata/english-corpus.jsonl" // a fixture corpus of the five task classes (audit's test fixture)
)

// TestBenchSteerabilityQuick runs the steerability table on the tiny GPT-2
// and a fixture corpus: the table prints, --json parses, the ceiling keeps
// to its budget.
func TestBenchSteerabilityQuick(t *testing.T) {
	orttest.LoadOrSkip(t)
	args := []string{"bench", "steerability", "--quick", "--corpus", englishCorpus, "--target", tinyGPT2Dir, "--template", "{prompt} :",
		"--task", "positive-reviews", "--task", "definitions", "--max-new-tokens", "6", "--budget", "48", "--population", "4", "--seed", "1", "--seed", "2"}
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("bench steerability: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"positive-reviews", "definitions", "audit: hashing n-grams + one-vs-rest", "fluent: perplexity", "ceiling prompt", "goal: ceiling ≥ 70% of real and ≥ 2× random", "target calls"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = run(t, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("--json: exit %d\n%s", code, errOut)
	}
	var res steerabilityResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json does not parse: %v\n%s", err, out)
	}
	if len(res.Rows) != 2 || res.Continuations != 8 || res.SearchConts != 4 || res.Judge.Audit.Accuracy < 0.8 {
		t.Fatalf("result: %+v", res)
	}
	for _, r := range res.Rows {
		if r.Ceiling.Calls > 48 || r.Ceiling.Calls < 48-4*4 || len(r.Random.PerSeed) != 2 || r.Real.Score < 0.5 {
			t.Errorf("row %s: %+v", r.Task, r)
		}
	}
}

func TestBenchSteerabilityBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown task", []string{"--task", "poetry"}, 2, `no English task "poetry"`},
		{"budget under a generation", []string{"--budget", "10"}, 2, "under one generation"},
		{"no continuations", []string{"--search-continuations", "0", "--continuations", "-1"}, 2, "each must be at least 1"},
		{"bad template", []string{"--template", "{promt}"}, 2, "--template"},
		{"bad reference", []string{"--reference", "gpt"}, 2, `--reference "gpt"`},
		{"missing reference LM", []string{"--reference", "lm:testdata/none"}, 1, "load LM testdata/none"},
		{"audit on D's data", []string{"--audit-part", "disc"}, 2, `--audit-part "disc"`},
		{"missing corpus", []string{"--corpus", "testdata/none.jsonl"}, 1, "load corpus"},
		{"missing target", []string{"--task", "positive-reviews", "--target", "testdata/none"}, 1, "testdata/none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"bench", "steerability", "--corpus", englishCorpus, "--target", tinyGPT2Dir}, tc.args...)
			out, errOut, code := run(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit %d and %q", code, errOut, out, tc.code, tc.want)
			}
		})
	}
}
