package main

import (
	"fmt"

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
		OnUsageError: onUsage,
		Action:       benchDecodeAction,
	}
}

func benchDecodeAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("bench decode takes no arguments, got %q (the model is --model DIR)", c.Args().Slice())
	}
	opt := decode.DefaultOptions()
	opt.Model = c.String("model")
	var err error
	if opt.Batches, err = decode.ParseBatches(c.String("batch")); err != nil {
		return usageError{err}
	}
	if opt.Device, err = ort.ParseDevice(c.String("device")); err != nil {
		return usageError{fmt.Errorf("--device: %w", err)}
	}
	opt.NewTokens, opt.PromptLen, opt.Repeats, opt.Warmup = c.Int("new-tokens"), c.Int("prompt-len"), c.Int("repeats"), c.Int("warmup")
	opt.Seed, opt.Threads, opt.Library = c.Uint64("seed"), c.Int("threads"), c.String("ort-lib")
	opt.IgnoreTokenizer = c.Bool("ignore-tokenizer")
	opt.TaskFile, opt.TokensFile, opt.CPUProfile = c.String("prompts-out"), c.String("tokens-out"), c.String("cpuprofile")
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	asJSON := c.Bool("json")
	opt.SampleText = !asJSON
	if !asJSON {
		opt.OnOpen = func(res decode.Result) { decode.WriteHeader(c.App.Writer, res) }
	}

	res, err := decode.Run(c.Context, opt)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.App.Writer, res)
	}
	decode.WriteTable(c.App.Writer, res.Rows)
	if res.Tokenizer {
		fmt.Fprintf(c.App.Writer, "\nfirst prompt + generation as text: %q\n", res.Sample)
	}
	return nil
}
