// Package demo is the recipe of `promptgan demo`: a prompt generator
// trained against the English target LM on a built-in English task, then
// its learned prompts beside the task's hand-written seed prompts, judged
// by the run's discriminator and by the audit that D never sees.
//
// Prepare builds the run, the caller trains it (search.Run), and Compare
// scores both kinds of prompts into a Report.
package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"promptgan/audit"
	"promptgan/checkpoints"
	"promptgan/english"
	"promptgan/internal/atomicfile"
	"promptgan/search"
	"promptgan/task"
)

// Options are the demo's settings (the CLI's flags).
type Options struct {
	Task          string // an English task name (task.EnglishTaskNames)
	Out           string // run directory; must not hold a run
	Steps         int    // training steps, D pre-training included
	Seed          uint64
	Draws         int // prompts drawn from the trained generator, ranked by D
	Top           int // learned prompts shown
	Continuations int // continuations per prompt the audit scores
	// PromptExamples are the prompts G pre-trains on: english.ExamplesInstructions,
	// a file, or "none" (windows of the task's good texts).
	PromptExamples string
	Library        string // ONNX Runtime shared library ("" = the default)
}

// Validate checks the options before anything is read: the task's name
// and the counts.
func (o Options) Validate() error {
	if _, err := audit.TaskByName(o.Task); err != nil {
		return fmt.Errorf("--task: %w", err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"steps", o.Steps}, {"draws", o.Draws}, {"top", o.Top}, {"continuations", o.Continuations}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: must be at least 1", f.name, f.v)
		}
	}
	if _, err := checkpoints.Latest(filepath.Join(o.Out, search.CheckpointsDir)); err == nil {
		return fmt.Errorf("%s already holds a run: remove it or choose another --out", o.Out)
	}
	return nil
}

// Demo is a prepared demo: its run, ready to train, and what Compare needs.
type Demo struct {
	Task   audit.Task
	Config search.Config // the run's config, as built by the recipe
	Run    *search.Loaded
	opt    Options
	corpus string
	docs   []english.Doc
}

// Config is the demo's recipe: the text preset against the English LM at
// lmDir on taskFile, D reading the task's texts as the target writes them,
// G pre-trained on the example prompts (when any).
func Config(opt Options, lmDir, taskFile string) (search.Config, error) {
	cfg, err := search.Preset("text")
	if err != nil {
		return cfg, err
	}
	cfg.Task, cfg.Target, cfg.Template = taskFile, lmDir, english.PromptTemplate
	cfg.TargetTemperature = english.Temperature
	cfg.GenLen = 16 // the English texts are ~12 words
	// D reads the task's texts as the target writes them (lower-case, <unk>
	// for words outside its vocabulary), so that it judges what a text says.
	cfg.LabelledAsTarget = true
	cfg.Steps, cfg.Seed = opt.Steps, opt.Seed
	if ex := opt.PromptExamples; ex != "none" {
		if cfg.PromptExamples, err = english.ExamplesFile(ex, opt.Out); err != nil {
			return cfg, err
		}
		// G starts from instruction-like prompts of every class: MLE on the
		// examples' 6-word windows (no target calls), 200 steps of the
		// default 1,000 (a fifth of shorter runs).
		cfg.PromptLen, cfg.MLESteps = 6, min(200, max(cfg.Steps/5, 1))
	}
	cfg.EvalEvery, cfg.CheckpointEvery = max(cfg.Steps/4, 1), max(cfg.Steps/4, 1)
	return cfg, nil
}

// Prepare finds the English LM, corpus and task in the setup cache, builds
// the recipe's config and the run (search.NewRun). opt must be valid
// (Validate). The caller trains d.Run and closes it.
func Prepare(ctx context.Context, opt Options) (*Demo, error) {
	t, err := audit.TaskByName(opt.Task)
	if err != nil {
		return nil, err
	}
	lmDir, err := english.LMDir("")
	if err != nil {
		return nil, err
	}
	corpus, err := english.CorpusPath("")
	if err != nil {
		return nil, err
	}
	taskFile, err := task.Resolve(t.Name)
	if err != nil {
		return nil, err
	}
	cfg, err := Config(opt, lmDir, taskFile)
	if err != nil {
		return nil, err
	}
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return nil, err
	}
	run, err := search.NewRun(ctx, cfg, opt.Out, search.OpenOptions{Library: opt.Library})
	if err != nil {
		return nil, err
	}
	return &Demo{Task: t, Config: cfg, Run: run, opt: opt, corpus: corpus, docs: docs}, nil
}

// Describe is the demo's first line: task, target, template, budget.
func (d *Demo) Describe() string {
	return fmt.Sprintf("demo: a prompt generator for %q (%s) against the English target LM %s (template %q, temperature %g), %d steps",
		d.Task.Name, d.Task.Class, d.Config.Target, d.Config.Template, d.Config.TargetTemperature, d.Config.Steps)
}

// Row is one prompt of the demo's comparison.
type Row struct {
	Kind    string // "seed" (hand-written) or "learned"
	Prompt  string
	D       float64 // the run's calibrated discriminator, mean over 16 continuations
	Audit   float64 // the audit's task score (never seen by D or G)
	Samples []string
}

// Report is the demo's comparison of seed and learned prompts.
type Report struct {
	Task          audit.Task
	Judge         audit.JudgeInfo
	Rows          []Row
	Continuations int
}

// Compare draws the trained generator's prompts (ranked by D, the best
// verified), scores the task's seed prompts with D, and has the audit score
// both on fixed seeds, through the run's call ledger.
func (d *Demo) Compare(ctx context.Context) (*Report, error) {
	tr, cfg := d.Run.Trainer, d.Config
	closeLedger, err := tr.UseLedger(d.opt.Out, nil)
	if err != nil {
		return nil, err
	}
	defer closeLedger()

	learned, err := tr.SearchPrompts(ctx, search.SearchOptions{Draws: d.opt.Draws, Temperature: 1, Screen: 4, Top: d.opt.Top, Verify: 16, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("demo: search the learned prompts: %w", err)
	}
	seedD, err := tr.ScorePrompts(ctx, d.Task.Seeds, search.ScoreOptions{Samples: 16, Seed: cfg.Seed + 1})
	if err != nil {
		return nil, fmt.Errorf("demo: score the seed prompts: %w", err)
	}
	judge, info, err := audit.NewJudge(ctx, d.docs, audit.JudgeOptions{})
	if err != nil {
		return nil, fmt.Errorf("demo: build the audit from %s: %w", d.corpus, err)
	}
	var rows []Row
	for _, s := range seedD {
		rows = append(rows, Row{Kind: "seed", Prompt: s.Prompt, D: s.Score})
	}
	for _, s := range learned.Verified {
		rows = append(rows, Row{Kind: "learned", Prompt: s.Prompt, D: s.Score})
	}
	prompts := make([]string, len(rows))
	for i, r := range rows {
		prompts[i] = r.Prompt
	}
	tmpl, err := task.ParseTemplate(cfg.Template)
	if err != nil {
		return nil, err
	}
	rep, err := audit.Score(ctx, judge, *d.Run.Target.Text, tmpl, d.Task.Class, prompts, audit.EvalSeeds(d.opt.Continuations))
	if err != nil {
		return nil, fmt.Errorf("demo: audit: %w", err)
	}
	for i := range rows {
		p := rep.Prompts[i]
		rows[i].Audit = p.Score
		rows[i].Samples = p.Continuations[:min(2, len(p.Continuations))]
	}
	return &Report{Task: d.Task, Judge: info, Rows: rows, Continuations: d.opt.Continuations}, nil
}

// WriteMarkdown writes the report as REPORT.md holds it: a table of the
// prompts and the mean audit score of each kind.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "## Prompts for %q: hand-written seeds vs learned\n\n", r.Task.Name)
	fmt.Fprintf(w, "D: the run's discriminator (what the generator was trained against), mean calibrated P(good) on 16 continuations.\n")
	fmt.Fprintf(w, "audit: the task score of an independent judge D never saw (hashing n-grams + logistic regression on the corpus's audit part, AUC %.3f;\n", r.Judge.Audit.MeanAUC)
	fmt.Fprintf(w, "a continuation counts only when fluent), mean over %d continuations on fixed seeds.\n\n", r.Continuations)
	fmt.Fprintf(w, "| kind | prompt | D | audit | sample continuations |\n|---|---|---:|---:|---|\n")
	var seedSum, learnedSum float64
	var seeds, learned int
	for _, row := range r.Rows {
		fmt.Fprintf(w, "| %s | %q | %.3f | %.3f | %s |\n", row.Kind, row.Prompt, row.D, row.Audit, strings.Join(quoteAll(row.Samples), " · "))
		if row.Kind == "seed" {
			seedSum, seeds = seedSum+row.Audit, seeds+1
		} else {
			learnedSum, learned = learnedSum+row.Audit, learned+1
		}
	}
	if seeds > 0 && learned > 0 {
		fmt.Fprintf(w, "\nmean audit score: seed prompts %.3f, learned prompts %.3f\n", seedSum/float64(seeds), learnedSum/float64(learned))
	}
}

// Save writes the report to w and to out/REPORT.md, then where the report,
// the run's latest checkpoint and its plots are.
func (r *Report) Save(w io.Writer, out string) error {
	var b strings.Builder
	r.WriteMarkdown(&b)
	fmt.Fprint(w, "\n"+b.String())
	report := filepath.Join(out, "REPORT.md")
	if err := atomicfile.Write(report, []byte(b.String())); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nreport: %s\ncheckpoint: %s\nplots: %s\n", report, filepath.Join(out, search.CheckpointsDir, "latest"), filepath.Join(out, "plots"))
	return err
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", strings.TrimSpace(x))
	}
	return out
}
