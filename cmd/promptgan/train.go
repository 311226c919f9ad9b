package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/search"
	"promptgan/targets"
)

// configFromFlags builds a new run's Config: a preset, then the YAML
// file, then the flags. Without --preset the run starts from "quick" with
// the identity target and from "steer" with a model target (--target DIR,
// or a target in the YAML).
func configFromFlags(c *cli.Context) (search.Config, error) {
	if c.NArg() > 0 {
		return search.Config{}, usagef("train takes no arguments (got %q); use flags", c.Args().First())
	}
	preset, task, target := "", "", ""
	if c.IsSet("preset") {
		preset = c.String("preset")
	}
	if c.IsSet("task") {
		task = c.String("task")
	}
	if c.IsSet("target") {
		target = c.String("target")
	}
	cfg, err := search.NewConfig(preset, c.String("config"), task, target)
	if err != nil {
		return cfg, err
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
	}{{"target", &cfg.Target}, {"train", &cfg.Train}, {"test", &cfg.Test}, {"oracle", &cfg.Oracle}, {"prior", &cfg.Prior}, {"device", &cfg.Device},
		{"task", &cfg.Task}, {"template", &cfg.Template}, {"encoder", &cfg.Encoder}, {"prompt-vocab", &cfg.PromptVocab}, {"prompt-examples", &cfg.PromptExamples},
		{"base-url", &cfg.OpenAI.BaseURL}, {"api-key-env", &cfg.OpenAI.APIKeyEnv}, {"endpoint", &cfg.OpenAI.Endpoint}} {
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
	for _, f := range []struct {
		flag string
		dst  *float64
	}{{"target-temperature", &cfg.TargetTemperature}, {"target-top-p", &cfg.TargetTopP}} {
		if c.IsSet(f.flag) {
			*f.dst = c.Float64(f.flag)
		}
	}
	if cfg.IsText() && cfg.IsIdentity() {
		return cfg, usagef("task is set but target is identity: a text run needs a model that reads and writes text (--target DIR of an Optimum export with tokenizer.json)")
	}
	if cfg.IsText() && cfg.Target == "" {
		return cfg, usagef("a text run needs --target DIR: an Optimum-layout export of a model with tokenizer.json (model.onnx, config.json, tokenizer.json), or --target openai:MODEL --base-url URL")
	}
	if targets.IsOpenAI(cfg.Target) && cfg.OpenAI.BaseURL == "" {
		return cfg, usagef("--target %s needs --base-url: the server's API root, e.g. http://127.0.0.1:8000/v1 (or openai.base_url in the YAML)", cfg.Target)
	}
	if !cfg.IsIdentity() && !cfg.IsText() && cfg.Train == "" {
		return cfg, usagef("a run against a model needs --train REFS: good generations, gen_len (%d) token ids a line (.txt) or {\"ids\": [...]} (.jsonl)", cfg.GenLen)
	}
	return cfg, nil
}

// printMemory says, on a run that is about to start, how much memory it is
// estimated to need (the check itself ran in search.NewRun or Saved.Open).
func printMemory(c *cli.Context, cfg search.Config) {
	if !c.Bool("quiet") {
		fmt.Fprintln(c.App.ErrWriter, search.MemoryNote(cfg))
	}
}

// warnPhases warns when the run's budget ends before the adversarial phase.
func warnPhases(c *cli.Context, cfg search.Config) {
	if w := search.PhaseWarning(cfg); w != "" {
		fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: %s\n", w)
	}
}

func trainAction(c *cli.Context) error {
	cfg, err := configFromFlags(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if _, err := checkpoints.Latest(filepath.Join(out, search.CheckpointsDir)); err == nil {
		return usagef("%s already holds a run: continue it with `promptgan resume %s` or choose another --out", out, out)
	}
	run, err := search.NewRun(c.Context, cfg, out, search.OpenOptions{Library: c.String("ort-lib")})
	if err != nil {
		return err
	}
	defer run.Close()
	tr := run.Trainer
	warnPhases(c, tr.Cfg)
	printMemory(c, tr.Cfg)
	return runAndReport(c, tr, out)
}

func resumeAction(c *cli.Context) error {
	path, err := oneArg(c, "run directory")
	if err != nil {
		return err
	}
	sv, err := search.ResumePoint(path, c.Bool("fallback"))
	if err != nil {
		return err
	}
	if sv.Warning != "" {
		fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: %s\n", sv.Warning)
	}
	ck, ckDir, dir, cfg := sv.Checkpoint, sv.Dir, sv.RunDir, sv.Config
	if file := c.String("config"); file != "" {
		if cfg, err = search.LoadYAML(file, cfg); err != nil {
			return err
		}
	}
	if c.IsSet("steps") {
		cfg.Steps = c.Int("steps")
		if cfg.Steps < ck.Manifest.Step {
			return usagef("--steps %d is below the checkpoint's step %d", cfg.Steps, ck.Manifest.Step)
		}
	}
	if ck.Manifest.Step >= cfg.Steps {
		// Nothing to train: the checkpoint stays as it is (a resume used
		// to save it again).
		w := c.App.Writer
		fmt.Fprintf(w, "%s is finished: step %d of %d, nothing to do (continue it with --steps N above %d)\n", dir, ck.Manifest.Step, cfg.Steps, ck.Manifest.Step)
		search.WriteEvalLegend(w, ck.Manifest.Metrics, cfg)
		fmt.Fprintf(w, "checkpoint: %s\n", ckDir)
		return nil
	}
	if c.IsSet("device") {
		cfg.Device = c.String("device")
	}
	if c.IsSet("base-url") { // the server moved; the fingerprint (and so the ledger's keys) follows it
		cfg.OpenAI.BaseURL = c.String("base-url")
	}
	sv.Config = cfg
	run, err := sv.Open(c.Context, search.OpenOptions{Library: c.String("ort-lib")})
	if err != nil {
		return fmt.Errorf("resume %s: %w", ckDir, err) // search.ErrArchitectureChanged: exit 2 (report)
	}
	defer run.Close()
	tr := run.Trainer
	printMemory(c, tr.Cfg)
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.ErrWriter, "resuming %s at step %d of %d\n", ckDir, tr.StepCount(), cfg.Steps)
	}
	warnPhases(c, cfg)
	return runAndReport(c, tr, dir)
}

// runAndReport runs the trainer with signal handling and progress, then
// prints its report (search.WriteFinished) and draws its plots.
func runAndReport(c *cli.Context, tr *search.Trainer, out string) error {
	res, took, err := runInterruptibly(c, out, func(ctx context.Context, opt search.RunOptions) (search.Result, error) {
		return search.Run(ctx, tr, opt)
	})
	if err == nil {
		err = search.WriteFinished(c.App.Writer, tr, res, out, took)
	}
	if err != nil {
		return err
	}
	switch paths, err := search.Plot(out, ""); {
	case err != nil:
		fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: no plots: %v\n", err)
	case len(paths) > 0:
		fmt.Fprintf(c.App.Writer, "plots: %s\n", filepath.Dir(paths[0]))
	}
	return nil
}

// runInterruptibly runs one training run with signal handling and progress
// (or log lines); an interruption becomes exit status 130/143 with where to
// resume. It returns the result and the wall time.
func runInterruptibly(c *cli.Context, out string, run func(context.Context, search.RunOptions) (search.Result, error)) (search.Result, time.Duration, error) {
	ctx, stop, sig := signalContext(c.Context)
	defer stop()
	opt, finish := search.ConsoleOptions(c.App.ErrWriter, c.Bool("quiet"))
	opt.Dir, opt.NoCache = out, c.Bool("no-cache")
	start := time.Now()
	res, err := run(ctx, opt)
	finish()
	if errors.Is(err, search.ErrInterrupted) {
		code := 130
		if s := sig(); s == syscall.SIGTERM {
			code = 143
		}
		return res, 0, interruptedError{fmt.Errorf("interrupted at step %d; checkpoint saved in %s; continue with `promptgan resume %s`", res.Step, res.Checkpoint, out), code}
	}
	return res, time.Since(start), err
}

// signalContext cancels on the first SIGINT/SIGTERM (the run checkpoints and
// exits); a second signal kills the process at once, as the default handler does.
func signalContext(parent context.Context) (context.Context, func(), func() os.Signal) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	var got os.Signal
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			got = s
			fmt.Fprintln(os.Stderr, "\npromptgan: interrupted: finishing the current step and saving a checkpoint (press Ctrl-C again to abort at once)")
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel()
		case <-done:
		}
	}()
	stop := func() {
		close(done)
		signal.Stop(ch)
		cancel()
	}
	return ctx, stop, func() os.Signal { return got }
}
