package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"promptgan/internal/interrupt"
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
	preset := "" // unset: search.NewConfig picks it by target
	if c.IsSet("preset") {
		preset = c.String("preset")
	}
	cfg, err := search.NewConfig(preset, c.String("config"), c.String("task"), c.String("target"))
	if err != nil {
		return cfg, err
	}
	for _, f := range []struct {
		flag string
		dst  any
	}{{"steps", &cfg.Steps}, {"seed", &cfg.Seed}, {"target", &cfg.Target}, {"train", &cfg.Train}, {"test", &cfg.Test}, {"oracle", &cfg.Oracle},
		{"prior", &cfg.Prior}, {"device", &cfg.Device}, {"task", &cfg.Task}, {"template", &cfg.Template}, {"encoder", &cfg.Encoder},
		{"prompt-vocab", &cfg.PromptVocab}, {"prompt-examples", &cfg.PromptExamples}, {"base-url", &cfg.OpenAI.BaseURL},
		{"api-key-env", &cfg.OpenAI.APIKeyEnv}, {"endpoint", &cfg.OpenAI.Endpoint}, {"prompt-len", &cfg.PromptLen}, {"gen-len", &cfg.GenLen},
		{"max-new-tokens", &cfg.MaxNewTokens}, {"target-temperature", &cfg.TargetTemperature}, {"target-top-p", &cfg.TargetTopP},
		{"mle-steps", &cfg.MLESteps}, {"labelled-as-target", &cfg.LabelledAsTarget}} {
		if !c.IsSet(f.flag) {
			continue
		}
		switch dst := f.dst.(type) {
		case *string:
			*dst = c.String(f.flag)
		case *int:
			*dst = c.Int(f.flag)
		case *uint64:
			*dst = c.Uint64(f.flag)
		case *float64:
			*dst = c.Float64(f.flag)
		case *bool:
			*dst = c.Bool(f.flag)
		default:
			panic(fmt.Sprintf("--%s: no case for %T", f.flag, dst))
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
	if !c.Bool("quiet") { // the memory check itself ran in search.NewRun
		fmt.Fprintln(c.App.ErrWriter, search.MemoryNote(tr.Cfg))
	}
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
	if !c.Bool("quiet") { // the memory check itself ran in Saved.Open
		fmt.Fprintln(c.App.ErrWriter, search.MemoryNote(tr.Cfg))
		fmt.Fprintf(c.App.ErrWriter, "resuming %s at step %d of %d\n", ckDir, tr.StepCount(), cfg.Steps)
	}
	warnPhases(c, cfg)
	return runAndReport(c, tr, dir)
}

// runAndReport runs the trainer with signal handling and progress (or log
// lines), then prints its report (search.WriteFinished) and draws its
// plots. An interruption becomes exit status 130/143 with where to resume.
func runAndReport(c *cli.Context, tr *search.Trainer, out string) error {
	ctx, stop, sig := interrupt.Context(c.Context, c.App.ErrWriter, onSignalTrain)
	defer stop()
	opt, finish := search.ConsoleOptions(c.App.ErrWriter, c.Bool("quiet"))
	opt.Dir, opt.NoCache = out, c.Bool("no-cache")
	start := time.Now()
	res, err := search.Run(ctx, tr, opt)
	finish()
	if errors.Is(err, search.ErrInterrupted) {
		code := 130
		if sig() == syscall.SIGTERM {
			code = 143
		}
		return interruptedError{fmt.Errorf("interrupted at step %d; checkpoint saved in %s; continue with `promptgan resume %s`", res.Step, res.Checkpoint, out), code}
	}
	if err == nil {
		err = search.WriteFinished(c.App.Writer, tr, res, out, time.Since(start))
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

// What a command says on its first SIGINT/SIGTERM (interrupt.Context).
const (
	onSignalTrain = "promptgan: interrupted: finishing the current step and saving a checkpoint (press Ctrl-C again to abort at once)"
	onSignalStop  = "promptgan: interrupted: stopping after the work in hand (press Ctrl-C again to abort at once)"
	onSignalScore = "promptgan: interrupted: stopping; the calls answered so far are in the run's ledger (press Ctrl-C again to abort at once)"
	onSignalServe = "promptgan: interrupted: stopping the server after the requests in flight (press Ctrl-C again to stop at once)"
)
