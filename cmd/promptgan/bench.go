package main

import (
	"context"
	"io"
	"log/slog"
	"promptgan/internal/interrupt"
	"promptgan/search"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/decode"
	"promptgan/benchmarks/seqganoracle"
	"promptgan/benchmarks/serveload"
	"promptgan/benchmarks/steeroracle"
	"promptgan/benchmarks/textdisc"
	"promptgan/internal/ort"
	"promptgan/serve"
	"promptgan/task"
)

// benchRun is a benchmark's action after its flags: validate opt (a usage error, exit
// status 2), run it until SIGINT/SIGTERM, print the result (benchPrint).
func benchRun[O any, P interface {
	*O
	Validate() error
}, R any](c *cli.Context, opt P, run func(context.Context, O) (R, error), table func(io.Writer, R) error) error {
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	ctx, stop, _ := interrupt.Context(c.Context, c.App.ErrWriter, onSignalStop)
	defer stop()
	res, err := run(ctx, *opt)
	return benchPrint(c, res, err, table)
}

// benchPrint prints res as JSON with --json, else with table; or returns err.
func benchPrint[R any](c *cli.Context, res R, err error, table func(io.Writer, R) error) error {
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return search.WriteJSON(c.App.Writer, res)
	}
	return table(c.App.Writer, res)
}

func benchLogger(c *cli.Context) *slog.Logger {
	return slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
}

func benchSeqGANAction(c *cli.Context) error {
	opt, err := seqganoracle.LoadOptions(c.Bool("quick"), c.String("config"))
	if err != nil {
		return err
	}
	opt.Config.Seed, opt.Samples, opt.Out, opt.Logger = c.Uint64("seed"), c.Int("samples"), c.String("out"), benchLogger(c)
	return benchRun(c, &opt, seqganoracle.Run, seqganoracle.WriteTable)
}

// steerOracleCommand is `promptgan bench steer-oracle`.
func steerOracleCommand() *cli.Command {
	d := steeroracle.DefaultOptions(1)
	return &cli.Command{
		Name:  "steer-oracle",
		Usage: "a diagnostic: the whole loop against the frozen SeqGAN oracle as target, promptgan vs best-of-N and evolutionary search at equal target calls, scored by the symmetric KL between the continuations after each prompt and after its nearest hidden secret prefix",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "secrets", Value: 1, Usage: "hidden secret prefixes: 1 or 4"},
			&cli.Uint64Flag{Name: "seed", Value: d.Seed},
			&cli.IntFlag{Name: "budget", Value: d.Budget, Usage: "target calls per method, D pre-training included"},
			&cli.IntFlag{Name: "prompt-len", Value: d.Steer.PromptLen, Usage: "k: tokens per prompt"},
			&cli.IntFlag{Name: "gen-len", Value: d.Steer.GenLen, Usage: "m: tokens the target generates per prompt"},
			&cli.StringFlag{Name: "target", Value: steeroracle.TargetAuto, Usage: "auto (onnx when ONNX Runtime is found, else go), onnx or go"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.StringFlag{Name: "out", Value: d.OutDir, Usage: "directory for the exported target and the call ledgers (a rerun replays its calls from them)"},
			&cli.StringFlag{Name: "oracle", Value: d.Oracle, Usage: "SeqGAN oracle safetensors"},
			&cli.IntFlag{Name: "refs", Value: d.RefsTotal, Usage: "references in all (split evenly between the secrets)"},
			&cli.IntFlag{Name: "level-samples", Value: d.FloorN, Usage: "continuations behind the floor and the random level each"},
			&cli.IntFlag{Name: "forward-samples", Value: d.ForwardN, Usage: "continuations of each secret, drawn once, on which the forward KL of every prompt is estimated"},
			&cli.IntFlag{Name: "eval-prompts", Value: d.EvalPrompts, Usage: "prompts each method outputs and is scored on"},
			&cli.IntFlag{Name: "pretrain-g-steps", Value: d.PretrainGSteps, Usage: "MLE steps of G on the references' k-token windows (no target calls)"},
			&cli.IntFlag{Name: "pretrain-d-steps", Value: d.PretrainDSteps, Usage: "D pre-training steps shared by every method (batch-size calls each)"},
			&cli.IntFlag{Name: "batch-size", Value: d.Steer.BatchSize, Usage: "promptgan: prompts per step"},
			&cli.Float64Flag{Name: "g-adv-lr", Value: d.Steer.GAdvLR, Usage: "promptgan: G's adversarial learning rate"},
			&cli.IntFlag{Name: "d-steps-per-g", Value: d.Steer.DStepsPerG, Usage: "promptgan: D updates per G update"},
			&cli.Float64Flag{Name: "entropy-bonus", Value: d.Steer.EntropyBonus, Usage: "promptgan: weight of G's entropy bonus"},
			&cli.StringFlag{Name: "d-kind", Value: steeroracle.DKindName(d.Steer.Discriminator.Kind), Usage: "the shared D's members: lstm or linear (logistic regression on position×token features)"},
			&cli.Float64Flag{Name: "d-lr", Value: d.Steer.DAdam.LR, Usage: "D's Adam learning rate (pre-training and promptgan)"},
			&cli.Float64Flag{Name: "d-weight-decay", Value: d.Steer.DAdam.WeightDecay, Usage: "D's decoupled weight decay"},
			&cli.IntFlag{Name: "continuations", Value: max(d.Steer.ContinuationsPerPrompt, 1), Usage: "promptgan: continuations per prompt in a step (each a target call); the reward is their mean"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "ceiling", Usage: "also run promptgan's loop and the evolutionary search rewarded by the exact metric instead of D (diagnostics: what each optimiser reaches with a perfect evaluator)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress lines on stderr"},
		},
		Action: benchSteerAction,
	}
}

func benchSteerAction(c *cli.Context) error {
	opt := steeroracle.DefaultOptions(c.Int("secrets"))
	opt.Seed, opt.Budget, opt.Ceiling = c.Uint64("seed"), c.Int("budget"), c.Bool("ceiling")
	opt.Target, opt.ORTLib, opt.OutDir, opt.Oracle = c.String("target"), c.String("ort-lib"), c.String("out"), c.String("oracle")
	opt.RefsTotal, opt.PretrainGSteps, opt.PretrainDSteps, opt.Threads = c.Int("refs"), c.Int("pretrain-g-steps"), c.Int("pretrain-d-steps"), c.Int("threads")
	opt.FloorN, opt.RandomN, opt.ForwardN, opt.EvalPrompts = c.Int("level-samples"), c.Int("level-samples"), c.Int("forward-samples"), c.Int("eval-prompts")
	st := &opt.Steer
	st.PromptLen, st.GenLen, st.BatchSize, st.GAdvLR = c.Int("prompt-len"), c.Int("gen-len"), c.Int("batch-size"), c.Float64("g-adv-lr")
	st.DStepsPerG, st.EntropyBonus, st.ContinuationsPerPrompt = c.Int("d-steps-per-g"), c.Float64("entropy-bonus"), c.Int("continuations")
	st.Discriminator.Kind, st.DAdam.LR, st.DAdam.WeightDecay = steeroracle.DKind(c.String("d-kind")), c.Float64("d-lr"), c.Float64("d-weight-decay")
	if !c.Bool("quiet") {
		opt.Logger = benchLogger(c)
	}
	return benchRun(c, &opt, steeroracle.Run, steeroracle.WriteTable)
}

// benchDecodeCommand is `promptgan bench decode`: greedy decode throughput
// of any Optimum-layout directory through targets/onnx (benchmarks/decode).
// It doubles as a check that a user's own export loads and decodes.
func benchDecodeCommand() *cli.Command {
	d := decode.DefaultOptions()
	return &cli.Command{
		Name:  "decode",
		Usage: "greedy decode throughput (new tokens/s, ms per step) of an Optimum-layout ONNX causal LM through target/onnx",
		Description: "Opens --model as `promptgan train` would (printing the detected kind: plain, KV cache or LSTM state),\n" +
			"decodes --repeats times, after --warmup untimed runs, the same seeded random prompts at each --batch size,\n" +
			"greedily and without stop tokens beyond the model's own EOS, and reports new tokens per second of wall time.\n" +
			"--prompts-out and --tokens-out write the exact decoding task and its tokens for the Node.js peer of\n" +
			"benchmarks/decode-throughput, which runs the same ONNX file with onnxruntime-node.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Optimum-layout directory (model.onnx, config.json, optional tokenizer.json)"},
			&cli.StringFlag{Name: "batch", Value: decode.BatchList(d.Batches), Usage: "comma-separated batch sizes"},
			&cli.IntFlag{Name: "new-tokens", Value: d.NewTokens, Usage: "new tokens per request (fewer when the model's EOS comes first)"},
			&cli.IntFlag{Name: "prompt-len", Value: d.PromptLen, Usage: "random prompt tokens per request (BOS is prepended when the model asks for it)"},
			&cli.IntFlag{Name: "repeats", Value: d.Repeats, Usage: "timed decodes per batch size"},
			&cli.IntFlag{Name: "warmup", Value: d.Warmup, Usage: "untimed decodes per batch size before the timed ones"},
			&cli.Uint64Flag{Name: "seed", Value: d.Seed, Usage: "seed of the random prompts"},
			&cli.IntFlag{Name: "threads", Value: d.Threads, Usage: "ONNX Runtime intra-op threads (sequential execution, so no inter-op pool)"},
			&cli.StringFlag{Name: "device", Value: string(d.Device), Usage: "execution provider: cpu, cuda or auto"},
			&cli.BoolFlag{Name: "ignore-tokenizer", Usage: "do not load tokenizer.json (for one the pure-Go tokenizer library cannot read); the bench feeds token ids anyway"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.StringFlag{Name: "prompts-out", Usage: "write the decoding task (contexts as fed, new tokens, stop tokens, threads) as JSON for the Node.js peer"},
			&cli.StringFlag{Name: "tokens-out", Usage: "write the generated tokens, one line per request (lines \"batch B row I: ids\")"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a pprof CPU profile of the decodes"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: benchDecodeAction,
	}
}

// benchDecodeAction runs without signalContext: an interrupt stops it at once.
func benchDecodeAction(c *cli.Context) error {
	opt := decode.DefaultOptions()
	var err error
	if opt.Batches, err = decode.ParseBatches(c.String("batch")); err != nil {
		return usageError{err}
	}
	opt.Model, opt.NewTokens, opt.PromptLen, opt.Repeats, opt.Warmup = c.String("model"), c.Int("new-tokens"), c.Int("prompt-len"), c.Int("repeats"), c.Int("warmup")
	opt.Seed, opt.Threads, opt.Library, opt.IgnoreTokenizer, opt.Device = c.Uint64("seed"), c.Int("threads"), c.String("ort-lib"), c.Bool("ignore-tokenizer"), ort.Device(c.String("device"))
	opt.TaskFile, opt.TokensFile, opt.CPUProfile = c.String("prompts-out"), c.String("tokens-out"), c.String("cpuprofile")
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	if !c.Bool("json") {
		opt.SampleText, opt.OnOpen = true, func(res decode.Result) { decode.WriteHeader(c.App.Writer, res) }
	}
	res, err := decode.Run(c.Context, opt)
	return benchPrint(c, res, err, decode.WriteTable)
}

// textDiscCommand is `promptgan bench text-disc`.
func textDiscCommand() *cli.Command {
	return &cli.Command{
		Name:  "text-disc",
		Usage: "the text discriminator as an evaluator: held-out AUC, accuracy and ECE (before/after calibration) of the MLP ensemble beside a logistic regression on the same features, per encoder, over seeds",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "task", Value: task.BuiltinSentiment, Usage: "text task: a JSONL file or a built-in name"},
			&cli.StringSliceFlag{Name: "encoder", Value: cli.NewStringSlice("glove-sif", "hashing"), Usage: "encoders to compare (glove-sif, hashing, onnx:DIR); repeat the flag"},
			&cli.Uint64SliceFlag{Name: "seed", Value: cli.NewUint64Slice(1, 2, 3), Usage: "network seeds; repeat the flag"},
			&cli.Uint64Flag{Name: "split-seed", Value: task.DefaultSplitSeed, Usage: "seed of the train/validation/test split"},
			&cli.Float64Flag{Name: "validation-share", Value: 0.15, Usage: "share of the task's examples for early stopping and calibration"},
			&cli.Float64Flag{Name: "test-share", Value: 0.15, Usage: "share of the task's examples the figures are measured on"},
			&cli.IntFlag{Name: "hidden", Value: -1, Usage: "MLP width (0 = linear members; -1 = the default)"},
			&cli.IntFlag{Name: "members", Usage: "ensemble size (0 = the default)"},
			&cli.Float64Flag{Name: "label-smoothing", Value: 0.1, Usage: "one-sided smoothing of the good label while training"},
			&cli.StringFlag{Name: "ort-lib", Usage: "onnx encoders: " + ortLibUsage},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: benchTextDiscAction,
	}
}

func benchTextDiscAction(c *cli.Context) error {
	encoders, err := textdisc.ParseEncoders(c.StringSlice("encoder"), c.String("ort-lib"))
	if err != nil {
		return usageError{err}
	}
	opt := textdisc.Options{
		Task: c.String("task"), SplitSeed: c.Uint64("split-seed"), Seeds: c.Uint64Slice("seed"), Encoders: encoders,
		Validation: c.Float64("validation-share"), Test: c.Float64("test-share"),
		Hidden: c.Int("hidden"), Members: c.Int("members"), LabelSmoothing: c.Float64("label-smoothing"), Logger: benchLogger(c),
	}
	return benchRun(c, &opt, textdisc.Run, textdisc.WriteTable)
}

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
		ModelDir: c.String("model"), HasRun: c.String("run") != "", Concurrency: c.Int("concurrency"), Requests: c.Int("requests"), Duration: c.Duration("duration"),
		MaxTokens: c.Int("max-tokens"), Samples: c.Int("samples"), Pairs: c.Int("pairs"), MaxConcurrent: c.Int("max-concurrent"), MaxBatch: c.Int("max-batch"),
		BatchWindow: c.Duration("batch-window"), Threads: c.Int("threads"), Device: c.String("device"), Library: c.String("ort-lib"), Seed: c.Uint64("seed"),
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
