package main

import (
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/seqganoracle"
	"promptgan/search"
)

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
			return err // as train: a missing or malformed file is a failure (1)
		}
	}
	cfg.Seed = c.Uint64("seed")
	opt := seqganoracle.Options{
		Config: cfg, Preset: preset, ConfigFile: c.String("config"), Samples: c.Int("samples"),
		Out: c.String("out"), Logger: benchLogger(c),
	}
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	if err := search.CheckMemory(cfg); err != nil {
		return usageError{err}
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	br, err := seqganoracle.Run(ctx, opt)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, br)
	}
	fmt.Fprintf(w, "seqgan-oracle (%s preset, seed %d, %d samples per NLL-oracle figure; %s, %d CPUs)\n\n", preset, br.Seed, br.Samples, br.BLAS, br.CPUs)
	search.WriteCompare(w, br.Rows)
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
	fmt.Fprintf(w, "training %.1f s, total with evaluation %.1f s\ncheckpoint %s\n", br.TrainS, br.WallS, br.Checkpoint)
	return nil
}

func benchLogger(c *cli.Context) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}
