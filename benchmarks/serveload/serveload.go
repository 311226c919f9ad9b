// Package serveload is `promptgan bench serve`: a bounded loopback load on
// promptgan serve's completions endpoint and scoring API, the server run
// in-process on 127.0.0.1:0 and reached over real HTTP.
package serveload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"promptgan/internal/ort"
	"promptgan/serve"
	"promptgan/targets/onnx"
)

// Options are the load's settings (the CLI's flags).
type Options struct {
	ModelDir string       // Optimum-layout ONNX directory: load /v1/completions ("" = none)
	Scorer   serve.Scorer // a text run: load /v1/score/pairs and /v1/score/prompts (nil = none)
	HasRun   bool         // a run will be given as Scorer (for Validate)

	Concurrency, Requests int           // clients sending at once; requests per route
	Duration              time.Duration // longest time per route
	MaxTokens             int           // max_tokens of each completion
	Samples, Pairs        int           // generations per prompt; pairs per request
	MaxConcurrent         int           // the server's concurrency limit
	MaxBatch              int           // the server's decode batch
	BatchWindow           time.Duration // the server's batch window
	Threads               int           // ONNX Runtime intra-op threads (0 = one per core)
	Device                string        // cpu, cuda or auto
	Library               string        // ONNX Runtime shared library
	Seed                  uint64        // seeds of /v1/score/prompts: Seed<<32 + request number
	Logger                *slog.Logger
}

// Validate checks the options before a model or run is loaded.
func (o Options) Validate() error {
	if o.ModelDir == "" && !o.HasRun && o.Scorer == nil {
		return errors.New("nothing to load: give --model DIR (completions), --run RUN_DIR (scoring API), or both")
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"concurrency", o.Concurrency}, {"requests", o.Requests}, {"max-tokens", o.MaxTokens}, {"samples", o.Samples}, {"pairs", o.Pairs}, {"max-concurrent", o.MaxConcurrent}, {"max-batch", o.MaxBatch}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: must be >= 1", f.name, f.v)
		}
	}
	if o.Concurrency > o.MaxConcurrent {
		return fmt.Errorf("--concurrency %d is above --max-concurrent %d: the load must stay below the server's limit", o.Concurrency, o.MaxConcurrent)
	}
	if o.Samples > serve.MaxScoreSamples || o.Pairs > serve.MaxScorePairs {
		return fmt.Errorf("--samples must be <= %d and --pairs <= %d", serve.MaxScoreSamples, serve.MaxScorePairs)
	}
	if o.Duration <= 0 || o.BatchWindow <= 0 {
		return errors.New("--duration and --batch-window must be > 0")
	}
	if _, err := ort.ParseDevice(o.Device); err != nil {
		return fmt.Errorf("--device: %w", err)
	}
	return nil
}

// warmupOffset sets the warm-up's request numbers (and so seeds) apart
// from the measured ones'.
const warmupOffset = 1 << 30

// Row is one route's measured load.
type Row struct {
	Route       string           `json:"route"`
	Concurrency int              `json:"concurrency"`
	Detail      string           `json:"detail"`
	Result      serve.LoadResult `json:"result"`
}

// Run starts the server on 127.0.0.1:0 and, for each route, sends a few
// untimed warm-up requests, then the measured load. opt must be valid.
func Run(ctx context.Context, opt Options) ([]Row, error) {
	device, err := ort.ParseDevice(opt.Device)
	if err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	cfg := serve.Config{
		ModelDir: opt.ModelDir, ModelName: "bench",
		Model:         onnx.Options{Library: opt.Library, Device: device, Threads: opt.Threads},
		MaxConcurrent: opt.MaxConcurrent, MaxBatch: opt.MaxBatch, BatchWindow: opt.BatchWindow,
		Limits: serve.Limits{MaxTokens: max(opt.MaxTokens, serve.DefaultMaxTokens)},
		Logger: opt.Logger, Scorer: opt.Scorer,
	}
	s, err := serve.New(cfg)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ln, err := s.Listen("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srvCtx, stopServer := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(srvCtx, ln) }()
	defer func() { stopServer(); <-served }()
	base := "http://" + ln.Addr().String()

	var rows []Row
	for _, r := range routes(opt) {
		body := r.body
		lo := serve.LoadOptions{URL: base + r.path, Body: func(i int) []byte { return body(warmupOffset + i) }, Concurrency: opt.Concurrency, Requests: 3 * opt.Concurrency,
			Duration: opt.Duration, Timeout: 2 * serve.DefaultRequestTimeout}
		if _, err := serve.Load(ctx, lo); err != nil { // warm-up: decoders opened, connections made
			return nil, err
		}
		lo.Requests, lo.Body = opt.Requests, body
		res, err := serve.Load(ctx, lo)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{Route: r.path, Concurrency: lo.Concurrency, Detail: r.detail, Result: res})
	}
	return rows, nil
}

type route struct {
	path, detail string
	body         func(i int) []byte
}

// routes are the loaded routes and their i-th request's body.
func routes(opt Options) []route {
	words := []string{"the soup was", "the staff was", "the room was", "we will come back", "service", "a quiet place to", "never again", "the food"}
	var rs []route
	if opt.ModelDir != "" {
		mt := opt.MaxTokens
		rs = append(rs, route{"/v1/completions", fmt.Sprintf("max_tokens %d, temperature 0.8, distinct seeds", mt), func(i int) []byte {
			return mustJSON(map[string]any{"model": "bench", "prompt": words[i%len(words)], "max_tokens": mt, "temperature": 0.8, "seed": i})
		}})
	}
	if opt.Scorer != nil {
		np, samples := opt.Pairs, opt.Samples
		rs = append(rs, route{"/v1/score/pairs", fmt.Sprintf("%d pairs a request, no target call", np), func(i int) []byte {
			pairs := make([]map[string]string, np)
			for j := range pairs {
				pairs[j] = map[string]string{"generation": fmt.Sprintf("%s %d", words[(i+j)%len(words)], i)}
			}
			return mustJSON(map[string]any{"pairs": pairs})
		}}, route{"/v1/score/prompts", fmt.Sprintf("1 prompt × %d generations a request (through the run's target)", samples), func(i int) []byte {
			// The run's call ledger answers a repeated (prompt, seed): every
			// request of a bench has its own seed (the warm-up's are apart).
			return mustJSON(map[string]any{"prompts": []string{words[i%len(words)]}, "samples": samples, "seed": opt.Seed<<32 + uint64(i)})
		}})
	}
	return rs
}

// WriteTable writes the rows as a table; it returns an error naming the
// first route with failed or lost requests (below the concurrency limit
// there must be none).
func WriteTable(w io.Writer, opt Options, rows []Row) error {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "promptgan serve under a bounded loopback load (%s; server limit %d concurrent, batch %d, window %v)\n",
		host, opt.MaxConcurrent, opt.MaxBatch, opt.BatchWindow)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
