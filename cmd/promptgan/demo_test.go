package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/internal/cache"
	"promptgan/internal/ort/orttest"
)

func TestDemoBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown task", []string{"--task", "poetry"}, 2, `no English task "poetry"`},
		{"no steps", []string{"--steps", "0"}, 2, "--steps 0: must be at least 1"},
		{"no continuations", []string{"--continuations", "-1"}, 2, "--continuations -1: must be at least 1"},
		{"an argument", []string{"extra"}, 2, "demo takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := run(t, append([]string{"demo"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, want %d; stderr lacks %q:\n%s", code, tc.code, tc.want, errOut)
			}
		})
	}
}

// TestDemoEnglish runs the demo for a few steps against the English target
// LM when `make english` has built it (make test does not: it skips then).
func TestDemoEnglish(t *testing.T) {
	orttest.LoadOrSkip(t)
	if _, err := cache.Find("english/lm/model.onnx", "the English target LM", "make english"); err != nil {
		t.Skipf("no English LM in the cache (make english builds it): %v", err)
	}
	out := filepath.Join(t.TempDir(), "demo")
	stdout, errOut, code := run(t, "demo", "--quiet", "--out", out, "--steps", "6", "--draws", "16", "--top", "2", "--continuations", "4")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, errOut)
	}
	for _, want := range []string{"hand-written seeds vs learned", "| seed | \"a glowing product review\"", "| learned |", "mean audit score: seed prompts", "report: "} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("output lacks %q:\n%s", want, stdout)
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "REPORT.md")); err != nil || !strings.Contains(string(b), "| learned |") {
		t.Fatalf("REPORT.md: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(out, "example-prompts.txt")); err != nil || !strings.Contains(string(b), "write a") {
		t.Fatalf("the run directory's example prompts: %v\n%.200s", err, b)
	}
	_, errOut, code = run(t, "demo", "--quiet", "--out", out, "--steps", "6")
	if code != 2 || !strings.Contains(errOut, "already holds a run") {
		t.Fatalf("a second demo into the same directory: exit %d\n%s", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "none.txt")
	_, errOut, code = run(t, "demo", "--quiet", "--out", filepath.Join(t.TempDir(), "d"), "--steps", "6", "--prompt-examples", missing)
	if code != 1 || !strings.Contains(errOut, missing) {
		t.Fatalf("demo with missing example prompts: exit %d, want 1 naming %s\n%s", code, missing, errOut)
	}
}
