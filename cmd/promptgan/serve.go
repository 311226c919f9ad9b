package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"os"
	"promptgan/internal/interrupt"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/internal/ort"
	"promptgan/serve"
	"promptgan/targets/onnx"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a model as OpenAI-compatible /v1/completions and /v1/chat/completions (--model) and a text run's scoring API (--run) over HTTP",
		Description: "Binds 127.0.0.1 by default; any other address needs a token (--token or $" + serve.TokenEnv + "), which every route but /healthz\n" +
			"then requires as Authorization: Bearer TOKEN. Routes: POST /v1/completions, /v1/chat/completions, GET /v1/models,\n" +
			"POST /v1/score/prompts, /v1/score/pairs, /v1/search, GET /healthz, /metrics (Prometheus). SIGINT/SIGTERM: in-flight requests finish.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: serve.DefaultAddr, Usage: "host:port to listen on (not loopback: needs a token)"},
			&cli.StringFlag{Name: "token", Usage: "bearer token clients must send (default $" + serve.TokenEnv + "); prefer the variable: a flag shows in ps"},
			&cli.StringFlag{Name: "model", Usage: "Optimum-layout ONNX directory (model.onnx, config.json, tokenizer.json) to serve on the completions endpoints"},
			&cli.StringFlag{Name: "model-name", Usage: "the model's name in requests and /v1/models", DefaultText: "the directory's base name"},
			&cli.StringFlag{Name: "run", Usage: "a text run's directory or checkpoint to serve the scoring API with"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "execution provider cpu, cuda or auto"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads per decoder (0 = one per core)"},
			&cli.IntFlag{Name: "max-concurrent", Value: serve.DefaultMaxConcurrent, Usage: "requests served at once; more are answered 503 with Retry-After"},
			&cli.Int64Flag{Name: "max-body", Value: serve.DefaultMaxBodyBytes, Usage: "largest request body in bytes (413 above)"},
			&cli.DurationFlag{Name: "timeout", Value: serve.DefaultRequestTimeout, Usage: "per-request deadline (504 after it)"},
			&cli.IntFlag{Name: "max-batch", Value: serve.DefaultMaxBatch, Usage: "requests decoded together"},
			&cli.DurationFlag{Name: "batch-window", Value: serve.DefaultBatchWindow, Usage: "how long a request waits for others to batch with"},
			&cli.IntFlag{Name: "max-tokens", Value: serve.DefaultMaxTokens, Usage: "largest max_tokens a request may ask for"},
			&cli.IntFlag{Name: "max-decoders", Value: serve.DefaultMaxDecoders, Usage: "distinct decoding settings (temperature, top_p, max_tokens bucket) open at once"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the seeds given to requests without one"},
			&cli.DurationFlag{Name: "shutdown-grace", Value: serve.DefaultShutdownGrace, Usage: "how long in-flight requests may take to finish after SIGINT/SIGTERM"},
		},
		Action: serveAction,
	}
}

func serveAction(c *cli.Context) error {
	if c.String("model") == "" && c.String("run") == "" {
		return usagef("nothing to serve: give --model DIR (completions), --run RUN_DIR (scoring API), or both")
	}
	for _, f := range []string{"max-concurrent", "max-batch", "max-tokens", "max-decoders"} {
		if c.Int(f) < 1 {
			return usagef("--%s %d: must be >= 1", f, c.Int(f))
		}
	}
	if c.Int64("max-body") < 1 {
		return usagef("--max-body %d: must be >= 1", c.Int64("max-body"))
	}
	for _, f := range []string{"timeout", "batch-window", "shutdown-grace"} {
		if c.Duration(f) <= 0 {
			return usagef("--%s %v: must be > 0", f, c.Duration(f))
		}
	}
	device, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return usageError{fmt.Errorf("--device: %w", err)}
	}
	token := cmp.Or(c.String("token"), os.Getenv(serve.TokenEnv))
	addr := c.String("addr")
	lo, err := serve.IsLoopback(addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr: %w", err)}
	}
	if !lo && token == "" {
		return usagef("--addr %s is not loopback: serving it needs a token (--token, or $%s), which clients send as Authorization: Bearer <token>", addr, serve.TokenEnv)
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	cfg := serve.Config{
		Token: token, ModelDir: c.String("model"), ModelName: c.String("model-name"),
		Model:        onnx.Options{Library: c.String("ort-lib"), Device: device, Threads: c.Int("threads")},
		MaxBodyBytes: c.Int64("max-body"), MaxConcurrent: c.Int("max-concurrent"), RequestTimeout: c.Duration("timeout"),
		ShutdownGrace: c.Duration("shutdown-grace"), MaxBatch: c.Int("max-batch"), BatchWindow: c.Duration("batch-window"),
		MaxDecoders: c.Int("max-decoders"), Limits: serve.Limits{MaxTokens: c.Int("max-tokens")},
		Seed: c.Uint64("seed"), Logger: log,
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
	ln, err := s.Listen(addr)
	if err != nil {
		return err
	}
	ctx, stop, _ := interrupt.Context(c.Context, c.App.ErrWriter, onSignalServe)
	defer stop()
	what := "the scoring API of " + c.String("run")
	if cfg.ModelDir != "" {
		what = "model " + cmp.Or(cfg.ModelName, cfg.ModelDir)
		if c.String("run") != "" {
			what += " and the scoring API of " + c.String("run")
		}
	}
	// The address as asked for, with the port the listener got (":0").
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	fmt.Fprintf(c.App.Writer, "serving %s on http://%s (auth: %s); Ctrl-C stops after in-flight requests\n", what, net.JoinHostPort(host, port), map[bool]string{true: "bearer token", false: "none, loopback only"}[token != ""])
	start := time.Now()
	if err := s.Serve(ctx, ln); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "stopped after %v\n", time.Since(start).Round(time.Second))
	return nil
}
