package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/search"
	"promptgan/targets"
	"promptgan/targets/onnx"
)

// isSteerTrain reports whether `promptgan train` was asked for a steer run:
// --target DIR, or a --config with mode: steer or a target other than identity.
func isSteerTrain(c *cli.Context) (bool, error) {
	if c.IsSet("target") {
		return true, nil
	}
	if path := c.String("config"); path != "" {
		return search.IsSteerYAML(path)
	}
	return false, nil
}

// steerConfigFromFlags builds a steer run's config: the defaults, then the
// YAML file, then the flags. The vocabulary is the target's (set by openSteerTarget).
func steerConfigFromFlags(c *cli.Context) (search.SteerRunConfig, error) {
	if c.NArg() > 0 {
		return search.SteerRunConfig{}, usagef("train takes no arguments (got %q); use flags", c.Args().First())
	}
	for _, f := range []string{"test", "oracle", "preset"} {
		if c.IsSet(f) {
			return search.SteerRunConfig{}, usagef("--%s belongs to identity-target training; a steer run (--target DIR) does not take it", f)
		}
	}
	cfg := search.DefaultSteerRunConfig(0)
	if path := c.String("config"); path != "" {
		var err error
		if cfg, err = search.LoadSteerYAML(path, cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	if c.IsSet("steps") {
		cfg.Steps = c.Int("steps")
	}
	if c.IsSet("seed") {
		cfg.Seed = c.Uint64("seed")
	}
	for _, f := range []struct {
		flag string
		dst  *string
	}{{"target", &cfg.Target}, {"train", &cfg.Train}, {"prior", &cfg.Prior}, {"device", &cfg.Device}} {
		if c.IsSet(f.flag) {
			*f.dst = c.String(f.flag)
		}
	}
	for _, f := range []struct {
		flag string
		dst  *int
	}{{"prompt-len", &cfg.PromptLen}, {"gen-len", &cfg.GenLen}, {"max-new-tokens", &cfg.MaxNewTokens}} {
		if c.IsSet(f.flag) {
			*f.dst = c.Int(f.flag)
		}
	}
	if cfg.Target == "" {
		return cfg, usagef("a steer run needs --target DIR (an Optimum-layout model directory)")
	}
	if cfg.Train == "" {
		return cfg, usagef("a steer run needs --train REFS: good generations, gen_len (%d) token ids a line (.txt) or {\"ids\": [...]} (.jsonl)", cfg.GenLen)
	}
	return cfg, nil
}

// openSteerTarget opens cfg.Target with ONNX Runtime: sampling at
// temperature 1, max(max_new_tokens, gen_len) new tokens, stop tokens kept,
// each generation fitted to gen_len tokens (search.FitGenerations: a
// generation ended early by a stop token is padded with that stop token).
// It sets the networks' vocabulary to the model's.
func openSteerTarget(c *cli.Context, cfg *search.SteerRunConfig) (targets.Model, func(), error) {
	device, err := ort.ParseDevice(cfg.Device)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("device: %w", err)}
	}
	m, err := onnx.Open(cfg.Target, onnx.Options{
		Library: c.String("ort-lib"), Device: device,
		Decode: onnx.Decode{MaxNewTokens: max(cfg.MaxNewTokens, cfg.GenLen), Temperature: 1, IncludeStop: true},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: %w", cfg.Target, err)
	}
	V := m.Info().Vocab
	cfg.Generator.Vocab, cfg.Discriminator.Vocab = V, V
	if err := cfg.Validate(); err != nil {
		m.Close()
		return nil, nil, usageError{fmt.Errorf("invalid config: %w", err)}
	}
	return search.FitGenerations(m, cfg.GenLen), func() { m.Close() }, nil
}

func steerTrainAction(c *cli.Context) error {
	cfg, err := steerConfigFromFlags(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if _, err := checkpoints.Latest(filepath.Join(out, search.CheckpointsDir)); err == nil {
		return usagef("%s already holds a run: continue it with `promptgan resume %s` or choose another --out", out, out)
	}
	tg, closeTarget, err := openSteerTarget(c, &cfg)
	if err != nil {
		return err
	}
	defer closeTarget()
	sr, err := search.NewSteerRun(cfg, tg)
	if err != nil {
		return err
	}
	return runSteerAndReport(c, sr, out)
}

// steerResume continues the steer run of checkpoint ck (in ckDir) in run directory dir.
func steerResume(c *cli.Context, ck *checkpoints.Checkpoint, ckDir, dir string) error {
	cfg, err := search.SteerRunConfigOf(ck)
	if err != nil {
		return fmt.Errorf("resume %s: %w", ckDir, err)
	}
	if file := c.String("config"); file != "" {
		if cfg, err = search.LoadSteerYAML(file, cfg); err != nil {
			return usageError{err}
		}
	}
	if c.IsSet("steps") {
		cfg.Steps = c.Int("steps")
		if cfg.Steps < ck.Manifest.Step {
			return usagef("--steps %d is below the checkpoint's step %d", cfg.Steps, ck.Manifest.Step)
		}
	}
	if c.IsSet("device") {
		cfg.Device = c.String("device")
	}
	vocab := cfg.Generator.Vocab
	tg, closeTarget, err := openSteerTarget(c, &cfg)
	if err != nil {
		return fmt.Errorf("resume %s: %w", ckDir, err)
	}
	defer closeTarget()
	if cfg.Generator.Vocab != vocab {
		return fmt.Errorf("resume %s: the target %s now has a vocabulary of %d tokens, the run was trained on %d", ckDir, cfg.Target, cfg.Generator.Vocab, vocab)
	}
	sr, err := search.RestoreSteerRun(ck, cfg, tg)
	if err != nil {
		return restoreError(ckDir, err)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "resuming steer run %s at step %d of %d\n", ckDir, sr.StepCount(), cfg.Steps)
	}
	return runSteerAndReport(c, sr, dir)
}

// runSteerAndReport runs a steer run with signal handling and progress, then prints the result.
func runSteerAndReport(c *cli.Context, sr *search.SteerRun, out string) error {
	res, took, err := runInterruptibly(c, out, func(ctx context.Context, opt search.RunOptions) (search.Result, error) {
		return search.RunSteer(ctx, sr, opt)
	})
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "finished at step %d (%s) in %s using %s; %d target calls\n", res.Step, res.Stopped, took.Round(time.Second), nn.BLAS, sr.Steer.Calls)
	printResult(w, res, out)
	printPlots(c, out)
	return nil
}
