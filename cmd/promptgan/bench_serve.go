package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/serveload"
	"promptgan/serve"
)

// benchServeCommand is `promptgan bench serve`: a bounded loopback load on
// `promptgan serve`'s completions endpoint and scoring API, run in-process
// on 127.0.0.1:0 over real HTTP.
func benchServeCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "requests/s and p50/p99 latency of promptgan serve's completions endpoint (--model) and scoring API (--run) under a bounded loopback load",
		Description: "Starts the server on 127.0.0.1:0 in this process, sends a few untimed warm-up requests, then for each route\n" +
			"--requests requests from --concurrency clients (each one request at a time; none started after --duration), and\n" +
			"counts every request: ok (200), failed (any other answer, a transport error or a timeout) and lost (never answered).\n" +
			"--concurrency must be at most --max-concurrent: the load stays below the server's limit, so failed and lost must be 0.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Optimum-layout ONNX directory: load /v1/completions"},
			&cli.StringFlag{Name: "run", Usage: "a text run's directory or checkpoint: load /v1/score/pairs and /v1/score/prompts"},
			&cli.IntFlag{Name: "concurrency", Value: 8, Usage: "clients sending at once"},
			&cli.IntFlag{Name: "requests", Value: 200, Usage: "requests per route"},
			&cli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "longest time per route (requests not yet sent are not sent)"},
			&cli.IntFlag{Name: "max-tokens", Value: 16, Usage: "max_tokens of each completion"},
			&cli.IntFlag{Name: "samples", Value: 4, Usage: "generations per prompt of /v1/score/prompts"},
			&cli.IntFlag{Name: "pairs", Value: 8, Usage: "pairs per /v1/score/pairs request"},
			&cli.IntFlag{Name: "max-concurrent", Value: serve.DefaultMaxConcurrent, Usage: "the server's concurrency limit"},
			&cli.IntFlag{Name: "max-batch", Value: serve.DefaultMaxBatch, Usage: "the server's decode batch"},
			&cli.DurationFlag{Name: "batch-window", Value: serve.DefaultBatchWindow, Usage: "the server's batch window"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "execution provider cpu, cuda or auto"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seeds of /v1/score/prompts (seed<<32 + request number): a repeated bench with the same seed is answered from the run's call ledger"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: benchServeAction,
	}
}

func benchServeAction(c *cli.Context) error {
	opt := serveload.Options{
		ModelDir: c.String("model"), HasRun: c.String("run") != "",
		Concurrency: c.Int("concurrency"), Requests: c.Int("requests"), Duration: c.Duration("duration"),
		MaxTokens: c.Int("max-tokens"), Samples: c.Int("samples"), Pairs: c.Int("pairs"),
		MaxConcurrent: c.Int("max-concurrent"), MaxBatch: c.Int("max-batch"), BatchWindow: c.Duration("batch-window"),
		Threads: c.Int("threads"), Device: c.String("device"), Library: c.String("ort-lib"), Seed: c.Uint64("seed"),
		Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	run := func(ctx context.Context, opt serveload.Options) ([]serveload.Row, error) {
		if opt.HasRun {
			tr, closeRun, err := loadTextRun(c, c.String("run"), true)
			if err != nil {
				return nil, err
			}
			defer closeRun()
			opt.Scorer = tr
		}
		return serveload.Run(ctx, opt)
	}
	return benchRun(c, &opt, run, func(w io.Writer, rows []serveload.Row) error { return serveload.WriteTable(w, opt, rows) })
}
