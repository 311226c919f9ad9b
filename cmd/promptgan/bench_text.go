package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/textdisc"
	"promptgan/embeddings"
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
		OnUsageError: onUsage,
		Action:       benchTextDiscAction,
	}
}

func benchTextDiscAction(c *cli.Context) error {
	opt := textdisc.Options{
		Task: c.String("task"), SplitSeed: c.Uint64("split-seed"), Seeds: c.Uint64Slice("seed"),
		Validation: c.Float64("validation-share"), Test: c.Float64("test-share"),
		Hidden: c.Int("hidden"), Members: c.Int("members"), LabelSmoothing: c.Float64("label-smoothing"),
		Logger: benchLogger(c),
	}
	for _, e := range c.StringSlice("encoder") {
		spec, err := embeddings.ParseSpec(e)
		if err != nil {
			return usageError{fmt.Errorf("--encoder %s: %w", e, err)}
		}
		spec.Library = c.String("ort-lib")
		opt.Encoders = append(opt.Encoders, spec)
	}
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	res, err := textdisc.Run(ctx, opt)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, res)
	}
	sp := res.Split
	fmt.Fprintf(w, "text-disc on %s (sha256 %.12s…): train %d, test %d items; split seed %d; network seeds %v\n", res.Task, res.TaskSHA256, res.TrainItems, res.TestItems, sp.Seed, res.Seeds)
	fmt.Fprintf(w, "held-out test split, mean ± std over seeds; ECE with %d equal-width bins; calibration: %s\n\n", res.ECEBins, res.Calibration)
	fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10s %-6s %s\n", "encoder", "model", "AUC", "accuracy", "ECE raw", "ECE calibrated", "ECE floor", "T", "spread")
	for _, r := range res.Rows {
		fmt.Fprintf(w, "%-12s %-22s %-15s %-15s %-15s %-15s %-10.3f %-6.2f %.3f\n", r.Encoder, r.Model, pm(r.AUC), pm(r.Accuracy), pm(r.ECERaw), pm(r.ECE), r.ECEFloor.Mean, r.Temperature.Mean, r.Spread.Mean)
	}
	fmt.Fprintf(w, "\nECE floor: the ECE a perfectly calibrated predictor with the same scores shows on %d test items (mean of %d label draws)\n", res.TestItems, textdisc.FloorDraws)
	var enc []string
	for _, spec := range opt.Encoders {
		enc = append(enc, fmt.Sprintf("%s %.2f s", spec.Name, res.EncodeS[spec.Name]))
	}
	fmt.Fprintf(w, "\nencoding every text once: %s\n", strings.Join(enc, ", "))
	return nil
}

func pm(s textdisc.Stat) string { return fmt.Sprintf("%.3f ± %.3f", s.Mean, s.Std) }
