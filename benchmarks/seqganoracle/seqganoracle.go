// Package seqganoracle is the seqgan-oracle benchmark: a whole
// sequence-GAN run (identity target) on SeqGAN's synthetic-oracle data
// through search.Run, then the MLE-vs-GAN table of NLL-oracle and NLL-test
// across temperatures, with the wall time and throughput of each phase.
package seqganoracle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"time"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/search"
	"promptgan/targets"
)

// Temperatures are the MLE-vs-GAN table's sampling temperatures.
var Temperatures = []float64{0.8, 0.9, 1.0, 1.1}

// Options configure Run.
type Options struct {
	Config     search.Config // the run's config (a preset, possibly with a YAML file applied)
	Preset     string        // the preset's name, for the report
	ConfigFile string        // the YAML file applied, for the report; "" = none
	Samples    int           // samples per NLL-oracle figure; >= 2
	Out        string        // run directory; must not hold a run
	Logger     *slog.Logger  // nil = slog.Default()
}

// ErrUsage marks an Options error (the caller's input, not a failure).
var ErrUsage = errors.New("invalid benchmark options")

// Validate reports the first invalid option, then refuses a run too big
// for this machine's memory (search.CheckMemory).
func (o Options) Validate() error {
	if err := o.Config.Validate(); err != nil {
		return fmt.Errorf("%w: invalid config: %w", ErrUsage, err)
	}
	switch {
	case !o.Config.IsIdentity():
		return fmt.Errorf("%w: seqgan-oracle is a sequence GAN: target must be identity, not %q", ErrUsage, o.Config.Target)
	case o.Config.Oracle == "" || o.Config.Test == "":
		return fmt.Errorf("%w: bench seqgan-oracle needs both an oracle and a test file (config has oracle %q, test %q)", ErrUsage, o.Config.Oracle, o.Config.Test)
	case o.Samples < 2:
		return fmt.Errorf("%w: --samples %d: need at least 2", ErrUsage, o.Samples)
	case o.Out == "":
		return fmt.Errorf("%w: --out: empty directory", ErrUsage)
	}
	if _, err := checkpoints.Latest(filepath.Join(o.Out, search.CheckpointsDir)); err == nil {
		return fmt.Errorf("%w: %s already holds a run: remove it or choose another --out", ErrUsage, o.Out)
	}
	return search.CheckMemory(o.Config)
}

// LoadOptions returns options whose Config is the "seqgan-oracle" preset
// ("quick" with quick) with the YAML file applied when file is not "" (a
// missing or malformed file is a failure, not a usage error); the caller
// sets the seed, Samples, Out and Logger.
func LoadOptions(quick bool, file string) (Options, error) {
	o := Options{Preset: "seqgan-oracle", ConfigFile: file}
	if quick {
		o.Preset = "quick"
	}
	var err error
	if o.Config, err = search.Preset(o.Preset); err == nil && file != "" {
		o.Config, err = search.LoadYAML(file, o.Config)
	}
	return o, err
}

// Result is what the benchmark measured (`bench seqgan-oracle --json`).
type Result struct {
	Preset     string              `json:"preset"`
	ConfigFile string              `json:"config_file,omitempty"`
	Seed       uint64              `json:"seed"`
	Samples    int                 `json:"samples"`
	BLAS       string              `json:"blas"`
	CPUs       int                 `json:"cpus"`
	WallS      float64             `json:"wall_s"`
	TrainS     float64             `json:"train_s"`
	Phases     map[string]Phase    `json:"phases"`
	Rows       []search.CompareRow `json:"rows"`
	Checkpoint string              `json:"checkpoint"`
	Final      map[string]float64  `json:"final_eval"`
	Config     search.Config       `json:"config"`
	Hall       []search.HallEntry  `json:"hall_of_fame,omitempty"`
}

// Phase is the wall time and throughput of one phase of the run.
type Phase struct {
	Steps       int     `json:"steps"`
	Seconds     float64 `json:"seconds"`
	StepsPerSec float64 `json:"steps_per_s"`
	GFLOPs      float64 `json:"gflop_per_s,omitempty"` // achieved, MLE phase only (analytic FLOP count)
}

// Run trains the run and builds the MLE-vs-GAN table from its last
// checkpoint. A cancelled ctx ends the run with a checkpoint and
// search.ErrInterrupted.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	tr, err := search.New(opt.Config, targets.Identity{})
	if err != nil {
		return nil, err
	}
	res, err := search.Run(ctx, tr, search.RunOptions{Dir: opt.Out, Logger: opt.Logger})
	if err != nil {
		return nil, err
	}
	trainS := time.Since(start).Seconds()
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		return nil, err
	}
	rows, err := search.CompareCheckpoint(ck, tr, Temperatures, opt.Samples, 0)
	if err != nil {
		return nil, err
	}
	cfg := tr.Cfg
	r := &Result{
		Preset: opt.Preset, ConfigFile: opt.ConfigFile, Seed: cfg.Seed, Samples: opt.Samples, BLAS: nn.BLAS, CPUs: runtime.NumCPU(),
		WallS: time.Since(start).Seconds(), TrainS: trainS, Phases: map[string]Phase{},
		Rows: rows, Checkpoint: res.Checkpoint, Final: finite(res.Eval), Config: cfg, Hall: tr.HallOfFame(),
	}
	for name, pt := range tr.Timing {
		p := Phase{Steps: pt.Steps, Seconds: pt.Seconds, StepsPerSec: float64(pt.Steps) / pt.Seconds}
		if name == search.PhaseMLE {
			p.GFLOPs = MLEStepFLOPs(cfg) * float64(pt.Steps) / pt.Seconds / 1e9
		}
		r.Phases[name] = p
	}
	return r, nil
}

// MLEStepFLOPs counts the multiply-adds of one teacher-forced MLE step (×2
// for FLOPs): output layer forward and both backward products, and the LSTM's
// input and recurrent products forward and backward.
func MLEStepFLOPs(cfg search.Config) float64 {
	rows := float64(cfg.BatchSize * cfg.PromptLen)
	H, E, V := float64(cfg.Generator.Hidden), float64(cfg.Generator.Emb), float64(cfg.Generator.Vocab)
	out := 3 * rows * H * V
	lstm := 3 * rows * (E + H) * 4 * H
	return 2 * (out + lstm)
}

// finite drops NaN and ±Inf, which JSON cannot carry.
func finite(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}
