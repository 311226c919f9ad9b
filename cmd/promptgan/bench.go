package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/seqganoracle"
)

// benchRun is every benchmark's action after its flags: validate opt (a
// usage error, exit status 2), run it until SIGINT/SIGTERM, print the
// result as JSON with --json, else with table.
func benchRun[O any, P interface {
	*O
	Validate() error
}, R any](c *cli.Context, opt P, run func(context.Context, O) (R, error), table func(io.Writer, R) error) error {
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	res, err := run(ctx, *opt)
	return benchPrint(c, res, err, table)
}

// benchPrint prints a benchmark's result, as JSON with --json, else with
// table, or returns its error.
func benchPrint[R any](c *cli.Context, res R, err error, table func(io.Writer, R) error) error {
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, res)
	}
	return table(c.App.Writer, res)
}

func benchLogger(c *cli.Context) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}

func benchSeqGANAction(c *cli.Context) error {
	cfg, preset, err := seqganoracle.LoadConfig(c.Bool("quick"), c.String("config"))
	if err != nil {
		return err
	}
	cfg.Seed = c.Uint64("seed")
	opt := seqganoracle.Options{Config: cfg, Preset: preset, ConfigFile: c.String("config"), Samples: c.Int("samples"), Out: c.String("out"), Logger: benchLogger(c)}
	return benchRun(c, &opt, seqganoracle.Run, seqganoracle.WriteTable)
}
