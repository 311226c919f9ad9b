package main

import (
	"fmt"
	"promptgan/internal/interrupt"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/demo"
	"promptgan/english"
	"promptgan/task"
)

// demoCommand is `promptgan demo`: a prompt generator trained against the
// English target LM on a built-in English task, then its learned prompts
// beside the hand-written seed prompts, judged by D and by the audit.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "train a prompt generator for an English task (default positive-reviews) against the English target LM, then compare its learned prompts with hand-written seed prompts by D's score and the audit's task score (needs `make english`)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "task", Value: "positive-reviews", Usage: "the English task: " + strings.Join(task.EnglishTaskNames(), ", ")},
			&cli.StringFlag{Name: "out", Value: "runs/demo", Usage: "run directory (must not hold a run)"},
			&cli.IntFlag{Name: "steps", Value: 1000, Usage: "training steps (D pre-training included)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the run"},
			&cli.IntFlag{Name: "draws", Value: 256, Usage: "prompts drawn from the trained generator to pick the learned ones from (ranked by D)"},
			&cli.IntFlag{Name: "top", Value: 5, Usage: "learned prompts shown"},
			&cli.IntFlag{Name: "continuations", Value: 32, Usage: "continuations per prompt the audit scores (fixed evaluation seeds)"},
			&cli.StringFlag{Name: "prompt-examples", Value: english.ExamplesInstructions, Usage: "example prompts G pre-trains on by MLE, one a line: 'instructions' (held-out instructions of every English class, written to the run directory), a FILE, or 'none' (windows of the task's good texts, the words vocabulary of the text preset)"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar or log lines, only the result"},
		},
		Action: demoAction,
	}
}

func demoAction(c *cli.Context) error {
	opt := demo.Options{
		Task: c.String("task"), Out: c.String("out"), Steps: c.Int("steps"), Seed: c.Uint64("seed"), Draws: c.Int("draws"), Top: c.Int("top"),
		Continuations: c.Int("continuations"), PromptExamples: c.String("prompt-examples"), Library: c.String("ort-lib"),
	}
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	d, err := demo.Prepare(c.Context, opt)
	if err != nil {
		return err
	}
	defer d.Run.Close()
	fmt.Fprintln(c.App.Writer, d.Describe())
	if err := runAndReport(c, d.Run.Trainer, opt.Out); err != nil {
		return err
	}
	ctx, stop, _ := interrupt.Context(c.Context, c.App.ErrWriter, onSignalStop)
	defer stop()
	rep, err := d.Compare(ctx)
	if err != nil {
		return err
	}
	return rep.Save(c.App.Writer, opt.Out)
}
