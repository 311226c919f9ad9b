package search

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/metrics"
	"promptgan/targets"
)

// tinyConfig is the tiny preset with the shipped benchmark data.
func tinyConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "benchmarks", "seqgan-oracle", "data")
	cfg.Train = filepath.Join(root, "real_train.txt")
	cfg.Test = filepath.Join(root, "real_test.txt")
	cfg.Oracle = filepath.Join(root, "oracle.safetensors")
	return cfg
}

func runTiny(t *testing.T, cfg Config, dir string) Result {
	t.Helper()
	tr, err := New(cfg, targets.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), tr, RunOptions{Dir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTinyRunLearns(t *testing.T) {
	cfg := tinyConfig(t)
	dir := t.TempDir()
	res := runTiny(t, cfg, dir)
	if res.Step != cfg.Steps || res.Stopped != "steps" {
		t.Fatalf("run ended at step %d (%s), want %d", res.Step, res.Stopped, cfg.Steps)
	}
	recs, err := metrics.ReadRecords(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var first, last float64
	phases := map[string]bool{}
	for _, r := range recs {
		phases[r.Phase] = true
		if r.Phase == "eval" {
			if first == 0 {
				first = r.Values["nll_test"]
			}
			last = r.Values["nll_test"]
		}
	}
	for _, p := range []string{PhaseMLE, PhaseDPretrain, PhaseAdversarial, "eval"} {
		if !phases[p] {
			t.Errorf("metrics.jsonl has no %q record", p)
		}
	}
	// Uniform guessing over 5000 tokens is 8.517 nats; training must beat it.
	if !(last < 8.4) || !(last <= first) {
		t.Errorf("NLL-test went %v → %v: the generator did not learn", first, last)
	}
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fileGen, fileDisc, fileOptGMLE, fileOptGAdv, fileOptD, fileMLEGen, fileReplay} {
		if _, ok := ck.Tensors[f]; !ok {
			t.Errorf("final checkpoint lacks %s", f)
		}
	}
}

// TestResumeIsBitExact: N steps in one run and N/2 + resume + N/2 give
// byte-identical weight and optimiser files and identical metrics.jsonl.
func TestResumeIsBitExact(t *testing.T) {
	// The preset's G loss, and one with the optional MLE term (it draws real
	// batches, moving the data cursor) and entropy bonus.
	for _, loss := range []struct {
		name               string
		mleWeight, entropy float64
	}{{"preset", 0, 0}, {"mle-term-and-entropy", 0.5, 0.01}} {
		t.Run(loss.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.CheckpointEvery = 0
			cfg.MLEWeight, cfg.EntropyBonus = loss.mleWeight, loss.entropy
			testResumeIsBitExact(t, cfg)
		})
	}
}

func testResumeIsBitExact(t *testing.T, cfg Config) {
	full := t.TempDir()
	runTiny(t, cfg, full)

	// Stop half way, in the adversarial phase, with its replay buffer and baselines live.
	half := cfg
	half.Steps = 30
	split := t.TempDir()
	runTiny(t, half, split)
	latest, err := checkpoints.Latest(filepath.Join(split, CheckpointsDir))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoints.Load(latest)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Restore(ck, cfg, targets.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), tr, RunOptions{Dir: split, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	fullLatest, _ := checkpoints.Latest(filepath.Join(full, CheckpointsDir))
	for _, f := range []string{fileGen, fileDisc, fileOptGMLE, fileOptGAdv, fileOptD, fileMLEGen, fileReplay, fileHallJSON} {
		a, errA := os.ReadFile(filepath.Join(fullLatest, f))
		b, errB := os.ReadFile(filepath.Join(res.Checkpoint, f))
		if errA != nil || errB != nil {
			t.Fatalf("%s: %v / %v", f, errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", f)
		}
	}
	// The half run evaluated at its own end (step 30) as well; an uninterrupted run evaluates there too (eval_every 10).
	a, _ := os.ReadFile(filepath.Join(full, MetricsFile))
	b, _ := os.ReadFile(filepath.Join(split, MetricsFile))
	if !bytes.Equal(a, b) {
		t.Errorf("metrics.jsonl differs:\n%s\nvs\n%s", a, b)
	}
}

func TestInterruptSavesCheckpoint(t *testing.T) {
	cfg := tinyConfig(t)
	tr, err := New(cfg, targets.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	stopAt := &cancelAt{step: 7, cancel: cancel}
	res, err := Run(ctx, tr, RunOptions{Dir: dir, Logger: discardLogger(), Progress: stopAt})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run error = %v, want ErrInterrupted", err)
	}
	if res.Step != 7 || res.Stopped != "interrupted" {
		t.Fatalf("stopped at step %d (%s), want 7 (interrupted)", res.Step, res.Stopped)
	}
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil || ck.Manifest.Step != 7 {
		t.Fatalf("checkpoint after interrupt: %v, step %v", err, ck)
	}
}

type cancelAt struct {
	step   int
	cancel func()
}

func (c *cancelAt) Update(s Stats, _ int) {
	if s.Step == c.step {
		c.cancel()
	}
}

func TestPatienceStopsEarly(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Steps = 200
	cfg.EvalEvery = 5
	cfg.Patience = 1
	cfg.GAdvLR = 0.05 // a destabilising rate: the held-out metric soon stops improving
	res := runTiny(t, cfg, t.TempDir())
	if res.Stopped != "patience" || res.Step >= cfg.Steps {
		t.Fatalf("run ended at step %d (%s); want an early stop on patience", res.Step, res.Stopped)
	}
}

func TestRestoreRefusesOtherArchitecture(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.Steps = 22
	res := runTiny(t, cfg, t.TempDir())
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.Generator.Hidden = 16
	if _, err := Restore(ck, other, targets.Identity{}); err == nil || !strings.Contains(err.Error(), "generator.hidden: 8 → 16") {
		t.Fatalf("Restore with another hidden size: error %v", err)
	}
	other = cfg
	other.Steps = 10
	if _, err := Restore(ck, other, targets.Identity{}); err == nil || !strings.Contains(err.Error(), "past the requested total") {
		t.Fatalf("Restore with fewer steps than done: error %v", err)
	}
}

func TestOracleFloor(t *testing.T) {
	// The oracle scores its own samples (real_test.txt) at the README's floor, 5.747.
	cfg := tinyConfig(t)
	tr, err := New(cfg, targets.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	n := 2000
	held := tr.Data.HeldOut
	got := generator.MeanNLL(tr.Oracle, held.Tokens[:n*held.T], n, held.T, 1)
	if math.Abs(got-5.747) > 0.05 {
		t.Fatalf("oracle NLL of its own samples = %.3f, want ≈ 5.747", got)
	}
}

// TestCreditSchemesRun runs the adversarial phase with each credit scheme.
func TestCreditSchemesRun(t *testing.T) {
	for _, credit := range []string{"prefix", "delta", "rollout"} {
		cfg := tinyConfig(t)
		cfg.Steps, cfg.Credit, cfg.Rollouts = 28, credit, 2
		res := runTiny(t, cfg, t.TempDir())
		if res.Step != 28 || math.IsNaN(res.Eval["nll_oracle"]) {
			t.Fatalf("credit %s: ended at step %d with %v", credit, res.Step, res.Eval)
		}
	}
}
