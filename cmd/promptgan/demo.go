package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/audit"
	"promptgan/checkpoints"
	"promptgan/english"
	"promptgan/internal/atomicfile"
	"promptgan/search"
	"promptgan/task"
)

// demoCommand is `promptgan demo`: a prompt generator trained against the
// English target LM on a built-in English task, then its learned prompts
// beside the hand-written seed prompts, judged by D and by the audit.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name: "demo",
		Usage: "train a prompt generator for an English task (default positive-reviews) against the English target LM, " +
			"then compare its learned prompts with hand-written seed prompts by D's score and the audit's task score (needs `make english`)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "task", Value: "positive-reviews", Usage: "the English task: " + strings.Join(task.EnglishTaskNames(), ", ")},
			&cli.StringFlag{Name: "out", Value: "runs/demo", Usage: "run directory (must not hold a run)"},
			&cli.IntFlag{Name: "steps", Value: 1000, Usage: "training steps (D pre-training included)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the run"},
			&cli.IntFlag{Name: "draws", Value: 256, Usage: "prompts drawn from the trained generator to pick the learned ones from (ranked by D)"},
			&cli.IntFlag{Name: "top", Value: 5, Usage: "learned prompts shown"},
			&cli.IntFlag{Name: "continuations", Value: 32, Usage: "continuations per prompt the audit scores (fixed evaluation seeds)"},
			&cli.StringFlag{Name: "prompt-examples", Value: examplesInstructions, Usage: "example prompts G pre-trains on by MLE, one a line: " +
				"'instructions' (held-out instructions of every English class, written to the run directory), a FILE, or 'none' (windows of the task's good texts, the words vocabulary of the text preset)"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress bar or log lines, only the result"},
		},
		OnUsageError: onUsage,
		Action:       demoAction,
	}
}

func demoAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("demo takes no arguments (got %q)", c.Args().Slice())
	}
	t, err := audit.TaskByName(c.String("task"))
	if err != nil {
		return usagef("--task: %w", err)
	}
	for _, f := range []string{"steps", "draws", "top", "continuations"} {
		if c.Int(f) < 1 {
			return usagef("--%s %d: must be at least 1", f, c.Int(f))
		}
	}
	out := c.String("out")
	if _, err := checkpoints.Latest(filepath.Join(out, search.CheckpointsDir)); err == nil {
		return usagef("%s already holds a run: remove it or choose another --out", out)
	}
	lmDir, err := englishLMDir("")
	if err != nil {
		return err
	}
	corpus, err := englishCorpusPath("")
	if err != nil {
		return err
	}
	taskFile, err := task.Resolve(t.Name)
	if err != nil {
		return err
	}
	cfg, err := search.Preset("text")
	if err != nil {
		return err
	}
	cfg.Task, cfg.Target, cfg.Template = taskFile, lmDir, english.PromptTemplate
	cfg.TargetTemperature = english.Temperature
	cfg.GenLen = 16 // the English texts are ~12 words
	// D reads the task's texts as the target writes them (lower-case, <unk>
	// for words outside its vocabulary), so that it judges what a text says.
	cfg.LabelledAsTarget = true
	cfg.Steps, cfg.Seed = c.Int("steps"), c.Uint64("seed")
	if ex := c.String("prompt-examples"); ex != "none" {
		if cfg.PromptExamples, err = englishExamples(ex, out); err != nil {
			return err
		}
		// G starts from instruction-like prompts of every class: MLE on the
		// examples' 6-word windows (no target calls), 200 steps of the
		// default 1,000 (a fifth of shorter runs).
		cfg.PromptLen, cfg.MLESteps = 6, min(200, max(cfg.Steps/5, 1))
	}
	cfg.EvalEvery, cfg.CheckpointEvery = max(cfg.Steps/4, 1), max(cfg.Steps/4, 1)
	if err := cfg.Validate(); err != nil {
		return usageError{fmt.Errorf("invalid config: %w", err)}
	}
	if err := search.CheckText(cfg); err != nil {
		return err
	}
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return err
	}
	op, err := openTarget(c, &cfg)
	if err != nil {
		return err
	}
	defer op.Close()
	tr, err := search.New(cfg, op.Model)
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "demo: a prompt generator for %q (%s) against the English target LM %s (template %q, temperature %g), %d steps\n",
		t.Name, t.Class, cfg.Target, cfg.Template, cfg.TargetTemperature, cfg.Steps)
	if err := runAndReport(c, tr, out); err != nil {
		return err
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	closeLedger, err := tr.UseLedger(out, nil)
	if err != nil {
		return err
	}
	defer closeLedger()

	learned, err := tr.SearchPrompts(ctx, search.SearchOptions{Draws: c.Int("draws"), Temperature: 1, Screen: 4, Top: c.Int("top"), Verify: 16, Seed: cfg.Seed})
	if err != nil {
		return fmt.Errorf("demo: search the learned prompts: %w", err)
	}
	seedD, err := tr.ScorePrompts(ctx, t.Seeds, search.ScoreOptions{Samples: 16, Seed: cfg.Seed + 1})
	if err != nil {
		return fmt.Errorf("demo: score the seed prompts: %w", err)
	}
	judge, info, err := audit.NewJudge(ctx, docs, audit.JudgeOptions{})
	if err != nil {
		return fmt.Errorf("demo: build the audit from %s: %w", corpus, err)
	}
	var rows []demoRow
	for _, s := range seedD {
		rows = append(rows, demoRow{Kind: "seed", Prompt: s.Prompt, D: s.Score})
	}
	for _, s := range learned.Verified {
		rows = append(rows, demoRow{Kind: "learned", Prompt: s.Prompt, D: s.Score})
	}
	prompts := make([]string, len(rows))
	for i, r := range rows {
		prompts[i] = r.Prompt
	}
	tmpl, err := task.ParseTemplate(cfg.Template)
	if err != nil {
		return err
	}
	rep, err := audit.Score(ctx, judge, *op.Text, tmpl, t.Class, prompts, audit.EvalSeeds(c.Int("continuations")))
	if err != nil {
		return fmt.Errorf("demo: audit: %w", err)
	}
	for i := range rows {
		p := rep.Prompts[i]
		rows[i].Audit = p.Score
		rows[i].Samples = p.Continuations[:min(2, len(p.Continuations))]
	}
	var b strings.Builder
	writeDemoReport(&b, t, info, rows, c.Int("continuations"))
	fmt.Fprint(w, "\n"+b.String())
	report := filepath.Join(out, "REPORT.md")
	if err := atomicfile.Write(report, []byte(b.String())); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nreport: %s\ncheckpoint: %s\nplots: %s\n", report, filepath.Join(out, search.CheckpointsDir, "latest"), filepath.Join(out, "plots"))
	return nil
}

// demoRow is one prompt of the demo's comparison.
type demoRow struct {
	Kind    string // "seed" (hand-written) or "learned"
	Prompt  string
	D       float64 // the run's calibrated discriminator, mean over 16 continuations
	Audit   float64 // the audit's task score (never seen by D or G)
	Samples []string
}

func writeDemoReport(w io.Writer, t audit.Task, info audit.JudgeInfo, rows []demoRow, n int) {
	fmt.Fprintf(w, "## Prompts for %q: hand-written seeds vs learned\n\n", t.Name)
	fmt.Fprintf(w, "D: the run's discriminator (what the generator was trained against), mean calibrated P(good) on 16 continuations.\n")
	fmt.Fprintf(w, "audit: the task score of an independent judge D never saw (hashing n-grams + logistic regression on the corpus's audit part, AUC %.3f;\n", info.Audit.MeanAUC)
	fmt.Fprintf(w, "a continuation counts only when fluent), mean over %d continuations on fixed seeds.\n\n", n)
	fmt.Fprintf(w, "| kind | prompt | D | audit | sample continuations |\n|---|---|---:|---:|---|\n")
	var seedSum, learnedSum float64
	var seeds, learned int
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %q | %.3f | %.3f | %s |\n", r.Kind, r.Prompt, r.D, r.Audit, strings.Join(quoteAll(r.Samples), " · "))
		if r.Kind == "seed" {
			seedSum, seeds = seedSum+r.Audit, seeds+1
		} else {
			learnedSum, learned = learnedSum+r.Audit, learned+1
		}
	}
	if seeds > 0 && learned > 0 {
		fmt.Fprintf(w, "\nmean audit score: seed prompts %.3f, learned prompts %.3f\n", seedSum/float64(seeds), learnedSum/float64(learned))
	}
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", strings.TrimSpace(x))
	}
	return out
}
