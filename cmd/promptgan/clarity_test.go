package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Absurd sizes are refused as usage errors naming the field, before any
// allocation (they were panic: makeslice, or the kernel's OOM killer).
func TestAbsurdSizesRefused(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"batch_size max int", "batch_size: 9223372036854775807\n", []string{"batch_size = 9223372036854775807 is out of range: must be 2 to 1,000,000"}},
		{"hidden 1e8", "generator: {hidden: 100000000}\n", []string{"generator.hidden = 100000000 is out of range: must be 1 to 16,384"}},
		{"fits an int, not memory", "generator: {hidden: 16000}\nbatch_size: 100000\n", []string{"needs about", "available (of", "lower batch_size, prompt_len, generator.vocab"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(cfg, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := run(t, "train", "--preset", "tiny", "--config", cfg, "--out", t.TempDir(), "--quiet")
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("message lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// Help states the defaults a flag really has.
func TestHelpStatesDefaults(t *testing.T) {
	for _, tc := range []struct {
		cmd        string
		want, lack []string
	}{
		{"train", []string{"(default: the preset's: seqgan-oracle 10200, quick 3200, tiny 40", "steer 4, text 6", "(default: 0 = gen-len)"}, []string{"(default: 0)", "(default 4)"}},
		{"resume", []string{"(default: the run's own budget)", "--quiet           no progress bar", "(default: the run's)"}, []string{"(default: 0)", "budget) (default"}},
	} {
		out, errOut, code := run(t, tc.cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d %s", tc.cmd, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s --help lacks %q:\n%s", tc.cmd, w, out)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(out, l) {
				t.Errorf("%s --help still says %q:\n%s", tc.cmd, l, out)
			}
		}
	}
}

// A run that ends before the adversarial phase says so and prints no
// MLE-vs-GAN table of identical rows; its report says what each figure
// means; resuming it when finished changes nothing; losing the latest
// pointer loses no step; inspect marks a damaged file.
func TestFirstRunClarity(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := run(t, "train", "--preset", "tiny", "--out", dir, "--steps", "20", "--quiet")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"steps = 20 ends before the adversarial phase, which starts at step 26", "give --steps 26 or more"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("no warning %q:\n%s", w, errOut)
		}
	}
	for _, w := range []string{"no MLE-vs-GAN table: the run stopped at step 20", "nll_oracle", "lower is better: per-token NLL", "the run's best nll_oracle"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "model  temperature") {
		t.Errorf("a run that never reached the adversarial phase printed the MLE-vs-GAN table:\n%s", out)
	}

	// resume of the finished run: nothing to do, checkpoint untouched
	manifest := filepath.Join(dir, "checkpoints", "step-0000020", "manifest.json")
	before, err := os.Stat(manifest)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "resume", dir, "--quiet")
	if code != 0 || !strings.Contains(out, "is finished: step 20 of 20, nothing to do") {
		t.Fatalf("resume of a finished run: exit %d\n%s\n%s", code, out, errOut)
	}
	if after, err := os.Stat(manifest); err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("resume of a finished run rewrote its checkpoint (%v)", err)
	}

	// the latest pointer lost: the newest checkpoint loads, no step is lost
	lost := filepath.Join(t.TempDir(), "run")
	copyTree(t, dir, lost)
	if err := os.Remove(filepath.Join(lost, "checkpoints", "latest")); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = run(t, "resume", lost, "--quiet")
	if code != 1 || !strings.Contains(errOut, "latest, which names the newest checkpoint, is missing") || !strings.Contains(errOut, "no step is trained again") || strings.Contains(errOut, "the steps after it are trained again") {
		t.Errorf("resume without latest: exit %d\n%s", code, errOut)
	}
	if out, errOut, code := run(t, "inspect", lost); code != 1 || !strings.Contains(out, "step-0000020     loads") {
		t.Errorf("inspect without latest: exit %d\n%s\n%s", code, out, errOut)
	}

	// a damaged file: inspect lists every file and marks the faulty one
	f := filepath.Join(dir, "checkpoints", "step-0000020", "optim_d.safetensors")
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "inspect", dir)
	if code != 1 || !strings.Contains(errOut, "--fallback") {
		t.Fatalf("inspect of a damaged checkpoint: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		name := strings.Fields(line + " x")[0]
		switch {
		case name == "optim_d.safetensors" && !strings.Contains(line, "✗ sha256"):
			t.Errorf("the faulty file is not marked: %q", line)
		case strings.HasSuffix(name, ".safetensors") && name != "optim_d.safetensors" && !strings.HasSuffix(line, " ok"):
			t.Errorf("an intact file is not ok: %q", line)
		}
	}
	if !strings.Contains(out, "generator.safetensors") {
		t.Errorf("inspect lists no files:\n%s", out)
	}
}

// Steps inside MLE pre-training get their own warning; a run that reaches
// the adversarial phase prints the table and one sentence about it.
func TestReportAfterAdversarialSteps(t *testing.T) {
	out, errOut, code := run(t, "train", "--preset", "tiny", "--out", t.TempDir(), "--steps", "3", "--quiet")
	if code != 0 || !strings.Contains(errOut, "steps = 3 ends inside the generator's MLE pre-training (mle_steps = 20)") {
		t.Errorf("--steps 3: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, "train", "--preset", "tiny", "--out", t.TempDir(), "--steps", "27", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "warning: steps") {
		t.Errorf("a run reaching the adversarial phase was warned:\n%s", errOut)
	}
	for _, w := range []string{"model  temperature", "At temperature 1.0 the GAN's samples score NLL-oracle", "with NLL-test"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
}
