package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/search"
	"promptgan/targets"
	"promptgan/targets/backend"
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
		return restoreError(ckDir, err)
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
// prints the result (and, when the run has an oracle, the MLE-vs-GAN table).
func runAndReport(c *cli.Context, tr *search.Trainer, out string) error {
	res, took, err := runInterruptibly(c, out, func(ctx context.Context, opt search.RunOptions) (search.Result, error) {
		return search.Run(ctx, tr, opt)
	})
	if err != nil {
		return err
	}
	w := c.App.Writer
	calls := ""
	if !tr.Cfg.IsIdentity() {
		calls = fmt.Sprintf("; %d target calls", tr.Calls)
	}
	fmt.Fprintf(w, "finished at step %d (%s) in %s using %s%s\n", res.Step, res.Stopped, took.Round(time.Second), nn.BLAS, calls)
	printResult(w, res, out, tr.Cfg)
	if tr.Data.HeldOut != nil {
		warnMemorising(w, out, res.Eval)
	}
	if adv := tr.Cfg.MLESteps + tr.Cfg.DPretrainSteps + 1; tr.Oracle != nil && tr.MLEWeights() != nil && res.Step < adv {
		fmt.Fprintf(w, "\nno MLE-vs-GAN table: the run stopped at step %d, before the adversarial phase (from step %d), so its generator is still the MLE one\n", res.Step, adv)
	} else if tr.Oracle != nil && tr.MLEWeights() != nil {
		ck, err := checkpoints.Load(res.Checkpoint)
		if err != nil {
			return err
		}
		rows, err := search.CompareCheckpoint(ck, tr, []float64{0.8, 0.9, 1.0, 1.1}, tr.Cfg.EvalSamples, tr.Cfg.EvalTest)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\nMLE (end of pre-training) vs GAN (now): NLL-oracle of %d samples, NLL-test of %s test sequences (per token, lower is better)\n", tr.Cfg.EvalSamples, countOrAll(tr.Cfg.EvalTest))
		search.WriteCompare(w, rows)
		if s := compareSentence(rows, 1.0); s != "" {
			fmt.Fprintln(w, s)
		}
	}
	printPlots(c, out)
	return nil
}

// runInterruptibly runs one training run with signal handling and progress
// (or log lines); an interruption becomes exit status 130/143 with where to
// resume. It returns the result and the wall time.
func runInterruptibly(c *cli.Context, out string, run func(context.Context, search.RunOptions) (search.Result, error)) (search.Result, time.Duration, error) {
	quiet := c.Bool("quiet")
	ctx, stop, sig := signalContext(c.Context)
	defer stop()
	logOut := io.Writer(c.App.ErrWriter)
	if quiet {
		logOut = io.Discard
	}
	var opt search.RunOptions
	if !quiet {
		opt.Progress, logOut = newProgress(c.App.ErrWriter, logOut)
	}
	opt.Dir, opt.Logger = out, slog.New(slog.NewTextHandler(logOut, nil))
	opt.NoCache = c.Bool("no-cache")
	start := time.Now()
	res, err := run(ctx, opt)
	if p, ok := opt.Progress.(interface{ Finish() }); ok {
		p.Finish()
	}
	if errors.Is(err, search.ErrInterrupted) {
		code := 130
		if s := sig(); s == syscall.SIGTERM {
			code = 143
		}
		return res, 0, interruptedError{fmt.Errorf("interrupted at step %d; checkpoint saved in %s; continue with `promptgan resume %s`", res.Step, res.Checkpoint, out), code}
	}
	return res, time.Since(start), err
}

// printResult prints a finished run's last evaluation, checkpoint and ledger counts.
func printResult(w io.Writer, res search.Result, out string, cfg search.Config) {
	search.WriteEvalLegend(w, res.Eval, cfg)
	fmt.Fprintf(w, "checkpoint: %s\n", res.Checkpoint)
	if l := res.Ledger; l != nil {
		fmt.Fprintf(w, "call ledger: %d calls answered from it, %d sent to the target, %d records in %s\n", l.Hits, l.Misses, l.Records, filepath.Join(out, search.LedgerDir))
		if l.Paid != (backend.Usage{}) || l.Saved != (backend.Usage{}) {
			fmt.Fprintf(w, "token usage: %d prompt + %d completion tokens paid (every call in the ledger); %d prompt + %d completion tokens answered from the ledger, not paid again\n",
				l.Paid.PromptTokens, l.Paid.CompletionTokens, l.Saved.PromptTokens, l.Saved.CompletionTokens)
		}
	}
}

// printPlots draws the run's plots and says where they are.
func printPlots(c *cli.Context, out string) {
	paths, err := plotRun(out, "")
	switch {
	case err != nil:
		fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: no plots: %v\n", err)
	case len(paths) > 0:
		fmt.Fprintf(c.App.Writer, "plots: %s\n", filepath.Dir(paths[0]))
	}
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

func countOrAll(n int) string {
	if n == 0 {
		return "all"
	}
	return fmt.Sprint(n)
}

// restoreError wraps a failed restore of checkpoint ckDir: a changed network
// shape is the user's config (exit 2), anything else a failure (exit 1).
func restoreError(ckDir string, err error) error {
	err = fmt.Errorf("resume %s: %w", ckDir, err)
	if errors.Is(err, search.ErrArchitectureChanged) {
		return usageError{err}
	}
	return err
}

// warnPhases warns when the run's budget ends before the adversarial phase.
func warnPhases(c *cli.Context, cfg search.Config) {
	if w := search.PhaseWarning(cfg); w != "" {
		fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: %s\n", w)
	}
}

// warnMemorising flags a discriminator that memorises its training sequences.
func warnMemorising(w io.Writer, out string, eval map[string]float64) {
	if s := search.MemorisingWarning(out, eval); s != "" {
		fmt.Fprintln(w, s)
	}
}

func compareSentence(rows []search.CompareRow, temp float64) string {
	return search.CompareSentence(rows, temp)
}
