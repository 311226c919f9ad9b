package main

import (
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
	seqganoracle.WriteTable(w, br)
	return nil
}

func benchLogger(c *cli.Context) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}
