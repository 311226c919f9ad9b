package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/search"
)

func evalAction(c *cli.Context) error {
	path, err := oneArg(c, "run or checkpoint directory")
	if err != nil {
		return err
	}
	dir, _, err := search.ResolveCheckpoint(path)
	if err != nil {
		return err
	}
	ck, err := checkpoints.Load(dir)
	if err != nil {
		return err
	}
	res, err := search.EvaluateGenerator(ck, dir, search.EvalOptions{
		Data: c.String("data"), Temperature: c.Float64("temperature"), Samples: c.Int("samples"), MLE: c.Bool("mle"), Seed: c.Uint64("seed"),
	})
	if errors.Is(err, search.ErrNotSequenceGAN) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return search.WriteJSON(c.App.Writer, res)
	}
	return res.Write(c.App.Writer)
}

func inspectAction(c *cli.Context) error {
	path, err := oneArg(c, "run or checkpoint directory")
	if err != nil {
		return err
	}
	return search.Inspect(c.App.Writer, path, c.Bool("json"))
}

func plotAction(c *cli.Context) error {
	run, err := oneArg(c, "run directory")
	if err != nil {
		return err
	}
	paths, err := search.Plot(run, c.String("out"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(c.App.Writer, p)
	}
	return nil
}
