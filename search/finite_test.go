package search

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"promptgan/checkpoints"
	"promptgan/metrics"
	"promptgan/targets"
)

// TestDivergenceStopsTheRun drives a diverging configuration of every run
// kind through Run: the run must stop with a DivergedError at the step the
// NaN or infinity appears, naming the quantity and the learning rate to
// lower; no checkpoint of the diverged state may exist, metrics.jsonl must
// keep the (finite) records before it, and resuming the named checkpoint
// with the suggested learning rate must finish the run.
func TestDivergenceStopsTheRun(t *testing.T) {
	type setup func(t *testing.T) (Config, targets.Model)
	identity := func(t *testing.T) (Config, targets.Model) {
		cfg := tinyConfig(t)
		cfg.Steps, cfg.MLESteps, cfg.DPretrainSteps, cfg.BatchSize = 14, 6, 3, 4
		cfg.EvalEvery, cfg.EvalSamples, cfg.EvalTest, cfg.CheckpointEvery, cfg.LogEvery = 0, 8, 8, 6, 1
		return cfg, targets.Identity{}
	}
	model := func(t *testing.T) (Config, targets.Model) {
		ts := newTinySteer(t)
		return tinySteerRunConfig(t, ts), ts.oracle
	}
	text := func(t *testing.T) (Config, targets.Model) {
		cfg := tinyTextConfig("reviews.jsonl")
		cfg.LogEvery = 1 // every step logged: the last record is the step before the divergence
		return cfg, openTextTarget(t, 6)
	}
	tests := []struct {
		name   string
		setup  setup
		yaml   string
		step   int
		phase  string
		what   string
		lrKey  string
		ckStep int // the last good checkpoint's step; 0 = none was written
	}{
		{"identity g_adam.lr 1e30", identity, "g_adam: {lr: 1.0e+30}", 2, PhaseMLE, "loss_g is NaN", "g_adam.lr", 0},
		{"identity g_adam.lr 1e38", identity, "g_adam: {lr: 1.0e+38}", 1, PhaseMLE, `the generator's weights hold +Inf after the update (tensor "emb"`, "g_adam.lr", 0},
		{"identity d_adam.lr 1e30", identity, "d_adam: {lr: 1.0e+30}", 8, PhaseDPretrain, "loss_d is NaN", "d_adam.lr", 6},
		{"identity d_adam.lr 1e38", identity, "d_adam: {lr: 1.0e+38}", 7, PhaseDPretrain, "the discriminator's weights hold NaN after the update (member 0", "d_adam.lr", 6},
		{"identity g_adv_lr 1e30", identity, "g_adv_lr: 1.0e+30", 11, PhaseAdversarial, "loss_g is NaN", "g_adv_lr", 6},
		// D's weights are finite but absurd after its first update; the
		// evaluation that follows is the first to meet a NaN.
		{"model d_adam.lr 1e30", model, "d_adam: {lr: 1.0e+30}", 4, "eval", "evaluation: d_fake is NaN", "d_adam.lr", 2},
		{"model g_adv_lr 1e38", model, "g_adv_lr: 1.0e+38", 6, PhaseAdversarial, "the generator's weights hold", "g_adv_lr", 4},
		// D's fit on the labelled items diverges from its first update
		// (1e30 diverges later, where the two builds' bits differ).
		{"text d_adam.lr 1e38", text, "d_adam: {lr: 1.0e+38}", 3, PhaseDPretrain, "the discriminator's weights hold NaN after the update", "d_adam.lr", 2},
		{"text g_adv_lr 1e38", text, "g_adv_lr: 1.0e+38", 6, PhaseAdversarial, "the generator's weights hold", "g_adv_lr", 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, tg := tc.setup(t)
			cfg, err := DecodeYAML([]byte(tc.yaml), base)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := New(cfg, tg)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = Run(context.Background(), tr, RunOptions{Dir: dir, Logger: discardLogger()})
			var de *DivergedError
			if !errors.As(err, &de) {
				t.Fatalf("Run = %v, want a DivergedError", err)
			}
			if de.Step != tc.step || de.Phase != tc.phase || !strings.Contains(de.What, tc.what) || de.LRKey != tc.lrKey {
				t.Fatalf("diverged at step %d (%s): %q, lower %s; want step %d (%s): %q, lower %s",
					de.Step, de.Phase, de.What, de.LRKey, tc.step, tc.phase, tc.what, tc.lrKey)
			}
			// A diverged step does not count; an evaluation that diverges
			// follows a step that did.
			counted := tc.step - 1
			if tc.phase == "eval" {
				counted = tc.step
			}
			if tr.StepCount() != counted {
				t.Errorf("StepCount %d, want %d", tr.StepCount(), counted)
			}
			root := filepath.Join(dir, CheckpointsDir)
			wantCk := ""
			if tc.ckStep > 0 {
				wantCk = filepath.Join(root, checkpointName(tc.ckStep))
			}
			if de.Checkpoint != wantCk || de.RunDir != dir {
				t.Fatalf("error names checkpoint %q of run %q, want %q of %q", de.Checkpoint, de.RunDir, wantCk, dir)
			}
			msg := err.Error()
			for _, w := range []string{"the run diverged", tc.what, de.Suggestion()} {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q:\n%s", w, msg)
				}
			}
			if wantCk != "" && !strings.Contains(msg, "promptgan resume "+dir+" --config lower-lr.yaml") {
				t.Errorf("error does not say how to resume:\n%s", msg)
			}
			// Nothing of the diverged state was saved; what was is intact.
			names, _ := checkpoints.List(root)
			for _, n := range names {
				if n > checkpointName(tc.ckStep) {
					t.Errorf("checkpoint %s was written after the last good one", n)
				}
			}
			// metrics.jsonl keeps the finite records before the divergence.
			recs, err := metrics.ReadRecords(filepath.Join(dir, MetricsFile))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			last := 0
			for _, r := range recs {
				if r.Step > counted || r.Step == tc.step && r.Phase == "eval" {
					t.Errorf("metrics.jsonl holds a %s record of step %d", r.Phase, r.Step)
				}
				last = max(last, r.Step)
			}
			if wantLast := counted / cfg.LogEvery * cfg.LogEvery; last != wantLast {
				t.Errorf("metrics.jsonl ends at step %d, want %d (the last logged step before the divergence)", last, wantLast)
			}
			if wantCk == "" {
				return
			}
			// Resume the named checkpoint with the suggested learning rate.
			ck, err := checkpoints.Load(de.Checkpoint)
			if err != nil {
				t.Fatalf("the last good checkpoint does not load: %v", err)
			}
			saved, err := ConfigOf(ck)
			if err != nil {
				t.Fatal(err)
			}
			lower, err := DecodeYAML([]byte(de.Suggestion()), saved)
			if err != nil {
				t.Fatalf("the suggestion %q is not valid YAML for --config: %v", de.Suggestion(), err)
			}
			tr, err = Restore(ck, lower, tg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Run(context.Background(), tr, RunOptions{Dir: dir, Logger: discardLogger()})
			if err != nil || res.Step != cfg.Steps {
				t.Fatalf("resumed with %q: step %d, %v", de.Suggestion(), res.Step, err)
			}
		})
	}
}

// TestDivergedSaveIsRefused: a non-finite state that only the checkpoint
// would carry (G's weights at the end of MLE, the reward baseline), made so
// after the step's checks, is refused by the save, and the run ends with a
// DivergedError naming it and the last good checkpoint, which stays latest.
func TestDivergedSaveIsRefused(t *testing.T) {
	tests := []struct {
		name   string
		poison func(tr *Trainer)
		want   string
		is     error // what the DivergedError wraps
	}{
		{"G at the end of MLE", func(tr *Trainer) { tr.mleWeights["emb"].Data[3] = float32(math.NaN()) },
			`mle_generator.safetensors: tensor "emb" holds NaN at element 3`, checkpoints.ErrNonFinite},
		{"baseline", func(tr *Trainer) { tr.baseline[1] = math.Inf(-1) }, "encode trainer state: json: unsupported value: -Inf", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig(t)
			cfg.Steps, cfg.MLESteps, cfg.DPretrainSteps, cfg.BatchSize = 8, 6, 1, 4
			cfg.EvalEvery, cfg.CheckpointEvery = 0, 3
			tr, err := New(cfg, targets.Identity{})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			poison := func(st Stats) error {
				if st.Step == cfg.MLESteps {
					tc.poison(tr)
				}
				return nil
			}
			_, err = Run(context.Background(), tr, RunOptions{Dir: dir, Logger: discardLogger(), AfterStep: poison})
			var de *DivergedError
			if !errors.As(err, &de) {
				t.Fatalf("Run = %v, want a DivergedError", err)
			}
			good := filepath.Join(dir, CheckpointsDir, checkpointName(3))
			if de.Step != 6 || de.Checkpoint != good || !strings.Contains(de.What, "the state to checkpoint is not finite") || !strings.Contains(de.What, tc.want) {
				t.Fatalf("step %d, checkpoint %q: %v", de.Step, de.Checkpoint, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("the error does not wrap %v", tc.is)
			}
			if latest, err := checkpoints.Latest(filepath.Join(dir, CheckpointsDir)); err != nil || latest != good {
				t.Fatalf("latest = %q, %v; want %q", latest, err, good)
			}
		})
	}
}

// TestCheckValues: which quantity is named first, and whose learning rate
// the message suggests lowering, for step and evaluation values.
func TestCheckValues(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cfg := tinyConfig(t) // mle 1–20, d_pretrain 21–25, adversarial after
	tr := &Trainer{Cfg: cfg}
	tests := []struct {
		name  string
		step  int
		phase string
		vals  map[string]float64
		want  string // "" = no error
		lrKey string
	}{
		{"finite", 3, PhaseMLE, map[string]float64{"loss_g": 1, "lr_g": 1e30}, "", ""},
		{"loss first", 30, PhaseAdversarial, map[string]float64{"d_fake": nan, "loss_d": nan, "reward": -inf, "loss_g": 2},
			"step 30 (adversarial): the run diverged: loss_d is NaN (so are d_fake, reward)", "d_adam.lr"},
		{"grad norm before entropy", 30, PhaseAdversarial, map[string]float64{"entropy": nan, "g_grad_norm": inf},
			"step 30 (adversarial): the run diverged: g_grad_norm is +Inf (so are entropy)", "g_adv_lr"},
		{"G in MLE", 4, PhaseMLE, map[string]float64{"loss_g": nan}, "loss_g is NaN", "g_adam.lr"},
		{"eval of G", 20, "eval", map[string]float64{"nll_test": nan, "distinct_2": 0.5}, "step 20 (eval): the run diverged: evaluation: nll_test is NaN", "g_adam.lr"},
		{"eval of D", 30, "eval", map[string]float64{"d_real": inf}, "evaluation: d_real is +Inf", "d_adam.lr"},
		{"unknown key in D pre-training", 22, PhaseDPretrain, map[string]float64{"calls": nan}, "calls is NaN", "d_adam.lr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tr.checkValues(tc.step, tc.phase, tc.vals)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("finite values refused: %v", err)
				}
				return
			}
			var de *DivergedError
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.want) || de.LRKey != tc.lrKey {
				t.Fatalf("error %v (lower %v), want %q and lower %s", err, de, tc.want, tc.lrKey)
			}
		})
	}
}

// TestDivergedSuggestion: the learning rate suggested is a tenth of the
// run's, at most the default, and the line is YAML that resume --config
// reads back to that value.
func TestDivergedSuggestion(t *testing.T) {
	def := DefaultConfig()
	tests := []struct {
		key  string
		lr   float64
		want string
		get  func(Config) float64
	}{
		{"g_adam.lr", 1e30, "g_adam: {lr: 0.01}", func(c Config) float64 { return c.GAdam.LR }},
		{"g_adam.lr", 0.003, "g_adam: {lr: 0.0003}", func(c Config) float64 { return c.GAdam.LR }},
		{"g_adv_lr", 0.001, "g_adv_lr: 0.0001", func(c Config) float64 { return c.GAdvLR }},
		{"g_adv_lr", 2e-5, "g_adv_lr: 2.0e-06", func(c Config) float64 { return c.GAdvLR }},
		{"d_adam.lr", 1e38, "d_adam: {lr: 0.005}", func(c Config) float64 { return c.DAdam.LR }},
		{"d_adam.lr", 0.0123456, "d_adam: {lr: 0.00123}", func(c Config) float64 { return c.DAdam.LR }},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			e := &DivergedError{LRKey: tc.key, LR: tc.lr}
			got := e.Suggestion()
			if got != tc.want {
				t.Fatalf("Suggestion() = %q, want %q", got, tc.want)
			}
			c, err := DecodeYAML([]byte(got), def)
			if err != nil {
				t.Fatal(err)
			}
			if v := tc.get(c); !(v < tc.lr) || v <= 0 {
				t.Errorf("%q decodes to %v, want a positive rate below %v", got, v, tc.lr)
			}
		})
	}
}

// BenchmarkCheckWeights times the scan of G's and D's weights that follows
// every adversarial step (Trainer.checkWeights), at the seqgan-oracle
// preset's sizes, against the step itself, interleaved so that a busy
// machine slows both alike: it reports the scan's time and its share of a
// step's (-benchtime 10x is plenty).
func BenchmarkCheckWeights(b *testing.B) {
	tr := adversarialBenchTrainer(b)
	ctx := context.Background()
	var step, scan time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := tr.Step(ctx); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := tr.checkWeights(tr.StepCount(), PhaseAdversarial); err != nil {
			b.Fatal(err)
		}
		step, scan = step+t1.Sub(t0), scan+time.Since(t1)
	}
	b.ReportMetric(float64(tr.Gen.Params().Count()+tr.dParams().Count()), "weights")
	b.ReportMetric(float64(scan.Microseconds())/float64(b.N), "µs/scan")
	b.ReportMetric(100*scan.Seconds()/(step-scan).Seconds(), "%scan/step")
}
