package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"promptgan/checkpoints"
)

// smallTiny shrinks the tiny preset to a run of about a second: MLE 1–6, D
// pre-training 7–9, adversarial 10–14, a checkpoint every 6 steps.
const smallTiny = "batch_size: 4\nmle_steps: 6\nd_pretrain_steps: 3\nsteps: 14\ncheckpoint_every: 6\neval_every: 6\neval_samples: 8\neval_test: 8\n"

// suggestion is the --config line a divergence message proposes.
var suggestion = regexp.MustCompile("holding `([^`]+)`")

// TestDivergedRunExitCodes: a diverging training run exits 1 with the step,
// the quantity and what to try, and writes no checkpoint of its state; the
// resume it proposes, with the learning rate it proposes, finishes (exit 0).
func TestDivergedRunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string
		want   []string
		resume bool // the run had a checkpoint: resume it as the message says
	}{
		{"g_adam.lr 1e30 (MLE)", "g_adam: {lr: 1.0e+30}\n",
			[]string{"step 2 (mle): the run diverged: loss_g is NaN", "no checkpoint had been written", "g_adam: {lr: 0.01}"}, false},
		{"d_adam.lr 1e30 (D pre-training)", "d_adam: {lr: 1.0e+30}\n",
			[]string{"(d_pretrain): the run diverged: loss_d is NaN", "step-0000006", "d_adam: {lr: 0.005}", "--config lower-lr.yaml"}, true},
		{"g_adv_lr 1e30 (adversarial)", "g_adv_lr: 1.0e+30\n",
			[]string{"(adversarial): the run diverged: loss_g is NaN", "step-0000006", "g_adv_lr: 0.001", "--config lower-lr.yaml"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			cfg := filepath.Join(tmp, "diverge.yaml")
			os.WriteFile(cfg, []byte(smallTiny+tc.yaml), 0o644)
			dir := filepath.Join(tmp, "run")
			out, errOut, code := run(t, "train", "--preset", "tiny", "--config", cfg, "--out", dir, "--quiet")
			if code != 1 {
				t.Fatalf("train: exit %d, want 1\n%s\n%s", code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error does not say %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out, "finished") {
				t.Errorf("a diverged run reported a result:\n%s", out)
			}
			names, _ := checkpoints.List(filepath.Join(dir, "checkpoints"))
			if tc.resume != (len(names) > 0) || len(names) > 0 && names[len(names)-1] != "step-0000006" {
				t.Fatalf("checkpoints after the divergence: %v", names)
			}
			if !tc.resume {
				return
			}
			m := suggestion.FindStringSubmatch(errOut)
			if m == nil {
				t.Fatalf("no suggested setting in:\n%s", errOut)
			}
			lower := filepath.Join(tmp, "lower-lr.yaml")
			os.WriteFile(lower, []byte(m[1]+"\n"), 0o644)
			if out, errOut, code := run(t, "resume", dir, "--config", lower, "--quiet"); code != 0 || !strings.Contains(out, "finished at step 14") {
				t.Fatalf("resume --config %q: exit %d\n%s\n%s", m[1], code, out, errOut)
			}
		})
	}
}

// TestNaNCheckpointRefused: a checkpoint whose weights hold NaN (its hash
// updated to match, so only the value check can tell) is refused by resume
// and eval with exit 1, naming the file and the tensor; resume offers the
// newest good checkpoint and --fallback trains on from it.
func TestNaNCheckpointRefused(t *testing.T) {
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "small.yaml")
	os.WriteFile(cfg, []byte(smallTiny), 0o644)
	dir := filepath.Join(tmp, "run")
	if out, errOut, code := run(t, "train", "--preset", "tiny", "--config", cfg, "--out", dir, "--steps", "12", "--quiet"); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	latest := filepath.Join(dir, "checkpoints", "step-0000012")
	gen := filepath.Join(latest, "generator.safetensors")
	ts, meta, err := checkpoints.ReadSafetensors(gen)
	if err != nil {
		t.Fatal(err)
	}
	ts["emb"].F32[17] = float32(math.NaN())
	b, err := checkpoints.EncodeSafetensors(ts, meta)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(gen, b, 0o644)
	fixHash(t, latest, "generator.safetensors", b)

	want := `generator.safetensors: tensor "emb" holds NaN at element 17 (1 of its 40000 values are not finite)`
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"resume", []string{"resume", dir, "--quiet"}, 1,
			[]string{"the latest checkpoint is damaged", latest, want, "the newest good checkpoint is " + filepath.Join(dir, "checkpoints", "step-0000006"), "--fallback"}},
		{"eval", []string{"eval", dir, "--samples", "8"}, 1, []string{latest, want}},
		{"resume --fallback", []string{"resume", dir, "--fallback", "--quiet"}, 0, []string{"falling back to " + filepath.Join(dir, "checkpoints", "step-0000006")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
		})
	}
}
