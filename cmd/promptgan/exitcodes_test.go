package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command line as main does (runMain), in-process from the
// repository root, and returns stdout, stderr and the exit status. Unlike
// run in main_test.go it goes through routeExits, so an error that urfave/cli
// would turn into its own os.Exit ends this test binary instead of passing.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errOut bytes.Buffer
	code := runMain(append([]string{"promptgan"}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

// TestExitCodes runs every command with a bad flag, a missing argument, a
// missing file and, where it is cheap, successfully, and checks the status
// the README promises (0 ok, 1 failure, 2 usage error) and that stderr
// holds a message, not a Go stack trace.
func TestExitCodes(t *testing.T) {
	tmp := t.TempDir()
	runDir := filepath.Join(tmp, "run")
	small := filepath.Join(tmp, "small.yaml")
	if err := os.WriteFile(small, []byte("steps: 6\nmle_steps: 2\nd_pretrain_steps: 2\nbatch_size: 8\neval_every: 0\neval_samples: 16\neval_test: 32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr ("" = empty stderr for status 0)
		// skip names a known gap, owned outside this file: the case stays
		// listed, and is turned on when its owner fixes it.
		skip string
	}{
		// The program itself.
		{"no command", nil, 0, "", ""},
		{"help", []string{"--help"}, 0, "", ""},
		{"unknown command", []string{"bogus"}, 2, `unknown command "bogus"; the commands are train, resume`, ""},
		{"unknown help topic", []string{"help", "bogus"}, 2, "bogus", ""},
		{"unknown global flag", []string{"--bogus"}, 2, "flag provided but not defined: -bogus", ""},

		// train (first: the later cases use its run).
		{"train ok", []string{"train", "--preset", "tiny", "--config", small, "--out", runDir, "--quiet"}, 0, "", ""},
		{"train bad flag", []string{"train", "--stepz", "3"}, 2, "-stepz", ""},
		{"train bad flag value", []string{"train", "--steps", "many"}, 2, "many", ""},
		{"train stray argument", []string{"train", "extra"}, 2, "train takes no arguments", ""},
		{"train missing config", []string{"train", "--config", missing + ".yaml", "--out", filepath.Join(tmp, "r1")}, 1, "missing.yaml", ""},
		{"train missing data", []string{"train", "--preset", "tiny", "--train", missing + ".txt", "--out", filepath.Join(tmp, "r2")}, 1, "missing.txt", ""},

		{"resume ok", []string{"resume", runDir, "--steps", "8", "--quiet"}, 0, "", ""},
		{"resume bad flag", []string{"resume", "--stepz", "1", runDir}, 2, "-stepz", ""},
		{"resume no argument", []string{"resume"}, 2, "exactly one run directory", ""},
		{"resume missing dir", []string{"resume", missing}, 1, "no checkpoint", ""},

		{"eval bad flag", []string{"eval", "--bogus", runDir}, 2, "-bogus", ""},
		{"eval no argument", []string{"eval"}, 2, "exactly one", ""},
		{"eval missing dir", []string{"eval", missing}, 1, "missing", ""},
		{"eval missing data", []string{"eval", runDir, "--data", missing + ".txt"}, 1, "missing.txt", ""},

		{"inspect ok", []string{"inspect", runDir}, 0, "", ""},
		{"inspect bad flag", []string{"inspect", "--bogus", runDir}, 2, "-bogus", ""},
		{"inspect no argument", []string{"inspect"}, 2, "exactly one", ""},
		{"inspect missing dir", []string{"inspect", missing}, 1, "missing", ""},

		{"plot ok", []string{"plot", runDir, "--out", filepath.Join(tmp, "plots")}, 0, "", ""},
		{"plot bad flag", []string{"plot", "--bogus", runDir}, 2, "-bogus", ""},
		{"plot no argument", []string{"plot"}, 2, "exactly one run directory", ""},
		{"plot missing dir", []string{"plot", missing}, 1, "metrics.jsonl", ""},

		{"score bad flag", []string{"score", "--bogus", runDir}, 2, "-bogus", ""},
		{"score no argument", []string{"score"}, 2, "needs a run directory", ""},
		{"score missing pairs", []string{"score", "--pairs", missing + ".jsonl", runDir}, 1, "missing.jsonl", ""},
		{"score bad pairs file", []string{"score", "--pairs", small, runDir}, 1, "small.yaml:1: want one JSON object", ""},
		{"score not a text run", []string{"score", runDir, "a prompt"}, 2, "not a text run", ""},

		{"search bad flag", []string{"search", "--bogus", runDir}, 2, "-bogus", ""},
		{"search no argument", []string{"search"}, 2, "exactly one", ""},
		{"search missing dir", []string{"search", missing}, 1, "missing", ""},

		{"export bad flag", []string{"export", "--bogus", runDir}, 2, "-bogus", ""},
		{"export no argument", []string{"export"}, 2, "exactly one", ""},
		{"export missing dir", []string{"export", missing}, 1, "missing", ""},

		{"doctor bad flag", []string{"doctor", "--bogus"}, 2, "-bogus", ""},
		{"doctor stray argument", []string{"doctor", "extra"}, 2, "doctor takes no arguments", ""},
		{"doctor missing library", []string{"doctor", "--ort-lib", missing + ".so"}, 1, "missing.so", ""},

		{"bench no benchmark", []string{"bench"}, 2, "bench needs a command: one of seqgan-oracle, steer-oracle, decode, text-disc", ""},
		{"bench unknown benchmark", []string{"bench", "bogus"}, 2, `unknown bench command "bogus"`, ""},
		{"bench bad flag", []string{"bench", "--bogus"}, 2, "-bogus", ""},
		{"bench seqgan-oracle bad flag", []string{"bench", "seqgan-oracle", "--bogus"}, 2, "-bogus", ""},
		{"bench seqgan-oracle stray argument", []string{"bench", "seqgan-oracle", "extra"}, 2, "takes no arguments", ""},
		{"bench seqgan-oracle missing config", []string{"bench", "seqgan-oracle", "--config", missing + ".yaml"}, 1, "missing.yaml", ""},
		{"bench steer-oracle bad flag", []string{"bench", "steer-oracle", "--bogus"}, 2, "-bogus", ""},
		{"bench steer-oracle stray argument", []string{"bench", "steer-oracle", "extra"}, 2, "takes no arguments", ""},
		{"bench decode bad flag", []string{"bench", "decode", "--bogus"}, 2, "-bogus", ""},
		{"bench decode no model", []string{"bench", "decode"}, 2, "needs --model", ""},
		{"bench decode flag after argument", []string{"bench", "decode", "extra", "--model", missing}, 2, "takes no arguments", ""},
		{"bench decode missing model", []string{"bench", "decode", "--model", missing}, 1, "missing", ""},
		{"bench text-disc bad flag", []string{"bench", "text-disc", "--bogus"}, 2, "-bogus", ""},
		{"bench text-disc missing task", []string{"bench", "text-disc", "--task", missing + ".jsonl"}, 1, "missing.jsonl", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip("known gap: " + tc.skip)
			}
			out, errOut, code := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("promptgan %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, clipText(out), errOut)
			}
			if tc.code == 0 && tc.want == "" && errOut != "" {
				t.Errorf("stderr of a success: %s", errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q, want it to contain %q", errOut, tc.want)
			}
			if tc.code != 0 && !strings.HasPrefix(errOut, "promptgan: ") {
				t.Errorf("stderr %q does not start with \"promptgan: \"", errOut)
			}
			for _, trace := range []string{"goroutine ", "panic:", ".go:", "runtime."} {
				if strings.Contains(errOut, trace) {
					t.Errorf("stderr holds a Go stack trace (%q):\n%s", trace, errOut)
				}
			}
		})
	}
}

func clipText(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
