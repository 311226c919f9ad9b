package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/internal/ort"
	"promptgan/serve"
	"promptgan/targets/onnx"
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
		OnUsageError: onUsage,
		Action:       benchServeAction,
	}
}

// warmupOffset sets the warm-up's request numbers (and so seeds) apart
// from the measured ones'.
const warmupOffset = 1 << 30

type benchServeRow struct {
	Route       string           `json:"route"`
	Concurrency int              `json:"concurrency"`
	Detail      string           `json:"detail"`
	Result      serve.LoadResult `json:"result"`
}

func benchServeAction(c *cli.Context) error {
	if args, err := positional(c); err != nil {
		return err
	} else if len(args) > 0 {
		return usagef("bench serve takes no arguments, got %q (give --model DIR and/or --run DIR)", args[0])
	}
	if c.String("model") == "" && c.String("run") == "" {
		return usagef("nothing to load: give --model DIR (completions), --run RUN_DIR (scoring API), or both")
	}
	for _, f := range []string{"concurrency", "requests", "max-tokens", "samples", "pairs", "max-concurrent", "max-batch"} {
		if c.Int(f) < 1 {
			return usagef("--%s %d: must be >= 1", f, c.Int(f))
		}
	}
	if c.Int("concurrency") > c.Int("max-concurrent") {
		return usagef("--concurrency %d is above --max-concurrent %d: the load must stay below the server's limit", c.Int("concurrency"), c.Int("max-concurrent"))
	}
	if c.Int("samples") > serve.MaxScoreSamples || c.Int("pairs") > serve.MaxScorePairs {
		return usagef("--samples must be <= %d and --pairs <= %d", serve.MaxScoreSamples, serve.MaxScorePairs)
	}
	if c.Duration("duration") <= 0 || c.Duration("batch-window") <= 0 {
		return usagef("--duration and --batch-window must be > 0")
	}
	device, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return usageError{fmt.Errorf("--device: %w", err)}
	}
	cfg := serve.Config{
		ModelDir: c.String("model"), ModelName: "bench",
		Model:         onnx.Options{Library: c.String("ort-lib"), Device: device, Threads: c.Int("threads")},
		MaxConcurrent: c.Int("max-concurrent"), MaxBatch: c.Int("max-batch"), BatchWindow: c.Duration("batch-window"),
		Limits: serve.Limits{MaxTokens: max(c.Int("max-tokens"), serve.DefaultMaxTokens)},
		Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if run := c.String("run"); run != "" {
		tr, closeRun, err := loadTextRun(c, run, true)
		if err != nil {
			return err
		}
		defer closeRun()
		cfg.Scorer = tr
	}
	s, err := serve.New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	srvCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx, ln) }()
	defer func() { stopServer(); <-served }()
	base := "http://" + ln.Addr().String()

	words := []string{"the soup was", "the staff was", "the room was", "we will come back", "service", "a quiet place to", "never again", "the food"}
	type route struct {
		path, detail string
		body         func(i int) []byte
	}
	var routes []route
	if cfg.ModelDir != "" {
		mt := c.Int("max-tokens")
		routes = append(routes, route{"/v1/completions", fmt.Sprintf("max_tokens %d, temperature 0.8, distinct seeds", mt), func(i int) []byte {
			return mustJSON(map[string]any{"model": "bench", "prompt": words[i%len(words)], "max_tokens": mt, "temperature": 0.8, "seed": i})
		}})
	}
	if cfg.Scorer != nil {
		np, samples := c.Int("pairs"), c.Int("samples")
		routes = append(routes, route{"/v1/score/pairs", fmt.Sprintf("%d pairs a request, no target call", np), func(i int) []byte {
			pairs := make([]map[string]string, np)
			for j := range pairs {
				pairs[j] = map[string]string{"generation": fmt.Sprintf("%s %d", words[(i+j)%len(words)], i)}
			}
			return mustJSON(map[string]any{"pairs": pairs})
		}}, route{"/v1/score/prompts", fmt.Sprintf("1 prompt × %d generations a request (through the run's target)", samples), func(i int) []byte {
			// The run's call ledger answers a repeated (prompt, seed): every
			// request of a bench has its own seed (the warm-up's are apart).
			return mustJSON(map[string]any{"prompts": []string{words[i%len(words)]}, "samples": samples, "seed": c.Uint64("seed")<<32 + uint64(i)})
		}})
	}
	var rows []benchServeRow
	for _, r := range routes {
		body := r.body
		opt := serve.LoadOptions{URL: base + r.path, Body: func(i int) []byte { return body(warmupOffset + i) }, Concurrency: c.Int("concurrency"), Requests: 3 * c.Int("concurrency"),
			Duration: c.Duration("duration"), Timeout: 2 * serve.DefaultRequestTimeout}
		if _, err := serve.Load(ctx, opt); err != nil { // warm-up: decoders opened, connections made
			return err
		}
		opt.Requests, opt.Body = c.Int("requests"), body
		res, err := serve.Load(ctx, opt)
		if err != nil {
			return err
		}
		rows = append(rows, benchServeRow{Route: r.path, Concurrency: opt.Concurrency, Detail: r.detail, Result: res})
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, rows)
	}
	host, _ := os.Hostname()
	fmt.Fprintf(c.App.Writer, "promptgan serve under a bounded loopback load (%s; server limit %d concurrent, batch %d, window %v)\n",
		host, cfg.MaxConcurrent, cfg.MaxBatch, cfg.BatchWindow)
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "route\tconcurrency\trequests\tok\tfailed\tlost\trequests/s\tp50 ms\tp99 ms\tload")
	var bad error
	for _, r := range rows {
		x := r.Result
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\n", r.Route, r.Concurrency, x.Sent, x.OK, x.Failed, x.Lost, x.PerSecond,
			float64(x.P50.Microseconds())/1000, float64(x.P99.Microseconds())/1000, r.Detail)
		if x.Failed+x.Lost > 0 && bad == nil {
			bad = fmt.Errorf("%s: %d failed and %d lost requests below the concurrency limit; first: %s", r.Route, x.Failed, x.Lost, x.FirstError)
		}
	}
	tw.Flush()
	return bad
}

// mustJSON marshals the load's request bodies: maps of strings and
// numbers, which always marshal.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
