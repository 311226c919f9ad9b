package main

import (
	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/textdisc"
	"promptgan/task"
)

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
	opt := textdisc.Options{
		Task: c.String("task"), SplitSeed: c.Uint64("split-seed"), Seeds: c.Uint64Slice("seed"),
		Validation: c.Float64("validation-share"), Test: c.Float64("test-share"),
		Hidden: c.Int("hidden"), Members: c.Int("members"), LabelSmoothing: c.Float64("label-smoothing"),
		Logger: benchLogger(c),
	}
	var err error
	if opt.Encoders, err = textdisc.ParseEncoders(c.StringSlice("encoder"), c.String("ort-lib")); err != nil {
		return usageError{err}
	}
	return benchRun(c, &opt, textdisc.Run, textdisc.WriteTable)
}
