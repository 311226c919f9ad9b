package main

import (
	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/decode"
	"promptgan/internal/ort"
)

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

// benchDecodeAction runs without signalContext: an interrupt stops the
// process at once.
func benchDecodeAction(c *cli.Context) error {
	opt := decode.DefaultOptions()
	var err error
	if opt.Batches, err = decode.ParseBatches(c.String("batch")); err != nil {
		return usageError{err}
	}
	if opt.Device, err = ort.ParseDevice(c.String("device")); err != nil {
		return usagef("--device: %w", err)
	}
	opt.Model, opt.NewTokens, opt.PromptLen, opt.Repeats, opt.Warmup = c.String("model"), c.Int("new-tokens"), c.Int("prompt-len"), c.Int("repeats"), c.Int("warmup")
	opt.Seed, opt.Threads, opt.Library, opt.IgnoreTokenizer = c.Uint64("seed"), c.Int("threads"), c.String("ort-lib"), c.Bool("ignore-tokenizer")
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
