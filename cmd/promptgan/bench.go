package main

import (
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/search"
)

// benchResult is what `bench seqgan-oracle --json` prints.
type benchResult struct {
	Preset     string                `json:"preset"`
	ConfigFile string                `json:"config_file,omitempty"`
	Seed       uint64                `json:"seed"`
	Samples    int                   `json:"samples"`
	BLAS       string                `json:"blas"`
	CPUs       int                   `json:"cpus"`
	WallS      float64               `json:"wall_s"`
	TrainS     float64               `json:"train_s"`
	Phases     map[string]benchPhase `json:"phases"`
	Rows       []search.CompareRow   `json:"rows"`
	Checkpoint string                `json:"checkpoint"`
	Final      map[string]float64    `json:"final_eval"`
	Config     search.Config         `json:"config"`
	Hall       []search.HallEntry    `json:"hall_of_fame,omitempty"`
}

type benchPhase struct {
	Steps       int     `json:"steps"`
	Seconds     float64 `json:"seconds"`
	StepsPerSec float64 `json:"steps_per_s"`
	GFLOPs      float64 `json:"gflop_per_s,omitempty"` // achieved, MLE phase only (analytic FLOP count)
}

func benchSeqGANAction(c *cli.Context) error {
	preset := "seqgan-oracle"
	if c.Bool("quick") {
		preset = "quick"
	}
	cfg, err := search.Preset(preset)
	if err != nil {
		return err
	}
	if path := c.String("config"); path != "" {
		if cfg, err = search.LoadYAML(path, cfg); err != nil {
			return err
		}
	}
	cfg.Seed = c.Uint64("seed")
	if err := cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid config: %w", err)}
	}
	if cfg.Oracle == "" || cfg.Test == "" {
		return usagef("bench seqgan-oracle needs both an oracle and a test file (config has oracle %q, test %q)", cfg.Oracle, cfg.Test)
	}
	samples := c.Int("samples")
	if samples < 2 {
		return usagef("--samples %d: need at least 2", samples)
	}
	out := c.String("out")
	if _, err := checkpoints.Latest(filepath.Join(out, search.CheckpointsDir)); err == nil {
		return usagef("%s already holds a run: remove it or choose another --out", out)
	}
	start := time.Now()
	tr, err := search.NewTrainer(cfg)
	if err != nil {
		return err
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	res, err := search.Run(ctx, tr, search.RunOptions{Dir: out, Logger: benchLogger(c)})
	if err != nil {
		return err
	}
	trainS := time.Since(start).Seconds()
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		return err
	}
	rows, err := compareCheckpoint(ck, tr, []float64{0.8, 0.9, 1.0, 1.1}, samples, 0)
	if err != nil {
		return err
	}
	br := benchResult{
		Preset: preset, ConfigFile: c.String("config"), Seed: cfg.Seed, Samples: samples, BLAS: nn.BLAS, CPUs: runtime.NumCPU(),
		WallS: time.Since(start).Seconds(), TrainS: trainS, Phases: map[string]benchPhase{},
		Rows: rows, Checkpoint: res.Checkpoint, Final: finiteValues(res.Eval), Config: cfg, Hall: tr.HallOfFame(),
	}
	for name, pt := range tr.Timing {
		bp := benchPhase{Steps: pt.Steps, Seconds: pt.Seconds, StepsPerSec: float64(pt.Steps) / pt.Seconds}
		if name == search.PhaseMLE {
			bp.GFLOPs = mleStepFLOPs(cfg) * float64(pt.Steps) / pt.Seconds / 1e9
		}
		br.Phases[name] = bp
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, br)
	}
	fmt.Fprintf(w, "seqgan-oracle (%s preset, seed %d, %d samples per NLL-oracle figure; %s, %d CPUs)\n\n", preset, cfg.Seed, samples, br.BLAS, br.CPUs)
	printCompare(w, rows)
	fmt.Fprintf(w, "\nreference: oracle on its own samples 5.747; SeqGAN paper MLE 9.038, SeqGAN 8.736\n\n")
	for _, name := range []string{search.PhaseMLE, search.PhaseDPretrain, search.PhaseAdversarial} {
		if p, ok := br.Phases[name]; ok {
			fmt.Fprintf(w, "%-12s %6d steps  %7.1f s  %6.1f steps/s", name, p.Steps, p.Seconds, p.StepsPerSec)
			if p.GFLOPs > 0 {
				fmt.Fprintf(w, "  %.1f GFLOP/s", p.GFLOPs)
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "training %.1f s, total with evaluation %.1f s\ncheckpoint %s\n", trainS, br.WallS, res.Checkpoint)
	return nil
}

// mleStepFLOPs counts the multiply-adds of one teacher-forced MLE step (×2
// for FLOPs): output layer forward and both backward products, and the LSTM's
// input and recurrent products forward and backward.
func mleStepFLOPs(cfg search.Config) float64 {
	rows := float64(cfg.BatchSize * cfg.SeqLen)
	H, E, V := float64(cfg.Generator.Hidden), float64(cfg.Generator.Emb), float64(cfg.Generator.Vocab)
	out := 3 * rows * H * V
	lstm := 3 * rows * (E + H) * 4 * H
	return 2 * (out + lstm)
}

func benchLogger(c *cli.Context) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}

// finiteValues drops NaN and ±Inf, which JSON cannot carry.
func finiteValues(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}
