package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI in-process from the repository root (where the
// presets' data paths point) and returns stdout, stderr and the exit status.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runStdin(t, "", args...)
}

func TestTrainResumeEvalInspectPlot(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := run(t, "train", "--preset", "tiny", "--out", dir, "--steps", "20", "--quiet")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "finished at step 20") || !strings.Contains(out, "MLE") {
		t.Fatalf("train output lacks the result or the MLE table:\n%s", out)
	}
	// Training into the same directory again is refused with a hint.
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--out", dir); code != 2 || !strings.Contains(errOut, "promptgan resume") {
		t.Fatalf("second train into %s: exit %d, %s", dir, code, errOut)
	}
	// Flags after the directory, as documented.
	if out, errOut, code := run(t, "resume", dir, "--steps", "25", "--quiet"); code != 0 || !strings.Contains(out, "finished at step 25") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "eval", dir, "--json", "--samples", "50", "--temperature", "0.9")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	for _, k := range []string{"nll_test", "nll_oracle", "distinct_2", "self_bleu_3"} {
		if _, ok := ev[k].(float64); !ok {
			t.Errorf("eval --json lacks %s: %v", k, ev)
		}
	}
	// Any held-out file, not only the shipped one.
	data := filepath.Join(t.TempDir(), "held.txt")
	os.WriteFile(data, []byte(strings.Repeat("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n", 3)), 0o644)
	if out, errOut, code := run(t, "eval", dir, "--data", data, "--samples", "10"); code != 0 || !strings.Contains(out, "nll_test") {
		t.Fatalf("eval --data: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, bad := range [][]string{{"--temperature", "0"}, {"--samples", "1"}} {
		if _, errOut, code := run(t, append([]string{"eval", dir}, bad...)...); code != 2 || !strings.Contains(errOut, bad[0]) {
			t.Errorf("eval %v: exit %d, %s", bad, code, errOut)
		}
	}
	// The run recorded its data paths absolute: resume works from any working directory.
	wd, _ := os.Getwd()
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	app := newApp()
	var o, e bytes.Buffer
	app.Writer, app.ErrWriter = &o, &e
	err := app.Run([]string{"promptgan", "resume", dir, "--steps", "30", "--quiet"})
	os.Chdir(wd)
	if err != nil || !strings.Contains(o.String(), "finished at step 30") {
		t.Fatalf("resume from another directory: %v\n%s\n%s", err, o.String(), e.String())
	}
	out, _, code = run(t, "inspect", dir, "--json")
	if code != 0 || !strings.Contains(out, `"step": 30`) || !strings.Contains(out, "generator.safetensors") {
		t.Fatalf("inspect --json: exit %d\n%s", code, out)
	}
	if out, _, code := run(t, "inspect", dir); code != 0 || !strings.Contains(out, "sha256") {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	out, _, code = run(t, "plot", dir)
	if code != 0 || !strings.Contains(out, "losses.png") {
		t.Fatalf("plot: exit %d\n%s", code, out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("steps: 10\nbatchsize: 4\n"), 0o644)
	badData := filepath.Join(dir, "bad.txt")
	os.WriteFile(badData, []byte("1 2 3\n"), 0o644)
	notRun := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"unknown preset", []string{"train", "--preset", "nope"}, 2, `unknown preset "nope"`},
		{"unknown config key", []string{"train", "--config", badYAML, "--out", filepath.Join(dir, "r1")}, 1, "field batchsize not found"},
		{"missing config", []string{"train", "--config", filepath.Join(dir, "none.yaml")}, 1, "none.yaml"},
		{"invalid value", []string{"train", "--steps", "-3", "--out", filepath.Join(dir, "r2")}, 2, "steps = -3"},
		{"bad data line", []string{"train", "--preset", "tiny", "--train", badData, "--out", filepath.Join(dir, "r3")}, 1, "bad.txt:1: sequence has 3 tokens, want 20"},
		{"undefined flag", []string{"train", "--stepz", "3"}, 2, "stepz"},
		{"resume nothing", []string{"resume", notRun}, 1, "no checkpoint"},
		{"resume no args", []string{"resume"}, 2, "exactly one run directory"},
		{"eval nothing", []string{"eval", notRun}, 1, notRun},
		{"inspect two dirs", []string{"inspect", notRun, notRun}, 2, "exactly one"},
		{"plot without metrics", []string{"plot", notRun}, 1, "metrics.jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := run(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), stderr:\n%s\nwant it to contain %q", code, tc.wantCode, errOut, tc.want)
			}
		})
	}
}

func TestDamagedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--out", dir, "--steps", "20", "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	gen := filepath.Join(dir, "checkpoints", "step-0000020", "generator.safetensors")
	b, _ := os.ReadFile(gen)
	b[len(b)-1] ^= 0xff
	os.WriteFile(gen, b, 0o644)
	for _, cmd := range []string{"resume", "eval", "inspect"} {
		_, errOut, code := run(t, cmd, dir)
		if code != 1 || !strings.Contains(errOut, "generator.safetensors") {
			t.Errorf("%s of a damaged checkpoint: exit %d, %s", cmd, code, errOut)
		}
	}
}

func TestBenchSeqGANOracleSmall(t *testing.T) {
	small := filepath.Join(t.TempDir(), "small.yaml")
	os.WriteFile(small, []byte(`generator: {emb: 8, hidden: 8}
discriminator: {emb: 8, hidden: 8, members: 2}
steps: 30
mle_steps: 20
d_pretrain_steps: 5
batch_size: 16
eval_every: 10
eval_samples: 32
eval_test: 64
credit: rollout
rollouts: 2
`), 0o644)
	out, errOut, code := run(t, "bench", "seqgan-oracle", "--quick", "--config", small, "--samples", "50", "--json", "--out", filepath.Join(t.TempDir(), "b"))
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s", code, errOut)
	}
	var res struct {
		Rows []struct {
			Model       string   `json:"model"`
			Temperature float64  `json:"temperature"`
			NLLOracle   *float64 `json:"nll_oracle"`
			NLLTest     *float64 `json:"nll_test"`
		} `json:"rows"`
		Phases map[string]struct {
			Steps int `json:"steps"`
		} `json:"phases"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	if len(res.Rows) != 8 || res.Phases["mle"].Steps != 20 || res.Phases["adversarial"].Steps != 5 {
		t.Fatalf("bench result: %+v", res)
	}
	for _, r := range res.Rows {
		if r.NLLOracle == nil || r.NLLTest == nil || *r.NLLOracle < 5 || *r.NLLTest < 5 {
			t.Fatalf("row %+v lacks plausible NLLs", r)
		}
	}
}

// A resume whose config changes a network's shape is a usage error (exit 2)
// naming the field; the run is left as it was.
func TestResumeRefusesShapeChange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--out", dir, "--steps", "20", "--quiet"); code != 0 {
		t.Fatalf("train: exit %d: %s", code, errOut)
	}
	cfg := filepath.Join(t.TempDir(), "wider.yaml")
	if err := os.WriteFile(cfg, []byte("generator:\n  hidden: 16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, "resume", "--steps", "30", "--config", cfg, "--quiet", dir)
	if code != 2 || !strings.Contains(errOut, "generator.hidden: 8 → 16") {
		t.Fatalf("exit %d, stderr %q; want exit 2 naming generator.hidden", code, errOut)
	}
}
