// Package steerability is `promptgan bench steerability`: is the English
// target steerable at all? Per English task it opens the corpus, builds the
// audit's judge, opens the target LM and measures (audit.Steerability) the
// audit's task score of real held-out text, random word prompts,
// hand-written seed prompts and an evolutionary search rewarded by the
// audit itself (the ceiling, a diagnostic).
package steerability

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/targets"
	"promptgan/task"
)

// Options are the benchmark's settings (the CLI's flags).
type Options struct {
	Corpus   string   // the English corpus ("" = english/corpus.jsonl in the setup cache)
	Target   string   // the target LM's Optimum-layout directory ("" = english/lm in the setup cache)
	Template string   // how a prompt is put to the target ({prompt} is replaced)
	Tasks    []string // task names (nil = every English task)
	// Reference is the fluency filter's reference LM: "ngram" (a
	// Kneser-Ney word bigram of the disc+audit parts, built here), "lm"
	// (english's LSTM reference LM in the setup cache) or "lm:DIR".
	Reference  string
	AuditParts []string // corpus parts the audit trains on: audit.PartAudit, optionally audit.PartTarget

	MaxNewTokens int     // tokens the target decodes per continuation
	Temperature  float64 // the target's sampling temperature
	TopP         float64 // the target's nucleus cut (0 = none)
	Device       string  // the target's execution provider: cpu, cuda or auto
	Library      string  // ONNX Runtime shared library ("" = the default search)
	Threads      int     // ONNX Runtime intra-op threads (0 = one per core)

	// Steer holds the measurement's numbers (continuations, random
	// prompts, seeds, the ceiling's search) and its logger; Validate sets
	// its Template and Tasks from the fields above, Run its target, judge,
	// corpus and vocabulary.
	Steer audit.SteerOptions
}

// Quick, when on, gives the numbers whose flag isSet does not report set a
// small budget (8 continuations, 4 in the ceiling's search, 8 random
// prompts a seed, a 256-call ceiling): `--quick`, for tests and a first
// look.
func (o *Options) Quick(on bool, isSet func(flag string) bool) {
	if !on {
		return
	}
	s := &o.Steer
	for _, f := range []struct {
		flag string
		p    *int
		v    int
	}{{"continuations", &s.Continuations, 8}, {"search-continuations", &s.CeilingContinuations, 4}, {"random-prompts", &s.RandomPrompts, 8}, {"budget", &s.CeilingBudget, 256}} {
		if !isSet(f.flag) {
			*f.p = f.v
		}
	}
}

// Validate checks the options, by their flag names, before the corpus and
// the target are loaded, and resolves the template and the task names into
// o.Steer.
func (o *Options) Validate() error {
	tmpl, err := task.ParseTemplate(o.Template)
	if err != nil {
		return fmt.Errorf("--template: %w", err)
	}
	o.Steer.Template, o.Steer.Tasks = tmpl, nil
	for _, name := range o.Tasks {
		t, err := audit.TaskByName(name)
		if err != nil {
			return fmt.Errorf("--task: %w", err)
		}
		o.Steer.Tasks = append(o.Steer.Tasks, t)
	}
	if o.MaxNewTokens < 1 {
		return fmt.Errorf("--max-new-tokens %d: need at least 1", o.MaxNewTokens)
	}
	if err := o.Steer.Validate(); err != nil {
		return err
	}
	for _, p := range o.AuditParts {
		if p != audit.PartAudit && p != audit.PartTarget {
			return fmt.Errorf("--audit-part %q: the audit trains on %q and, optionally, %q (never on D's %q nor the %q it is measured on)", p, audit.PartAudit, audit.PartTarget, audit.PartDisc, audit.PartTest)
		}
	}
	if r := o.Reference; r != "ngram" && r != "lm" && !strings.HasPrefix(r, "lm:") {
		return fmt.Errorf("--reference %q: choose ngram, lm or lm:DIR", r)
	}
	return nil
}

// Result is the benchmark's result (`bench steerability --json`).
type Result struct {
	Corpus        string           `json:"corpus"`
	Target        string           `json:"target"`
	Template      string           `json:"template"`
	MaxNewTokens  int              `json:"max_new_tokens"`
	Continuations int              `json:"continuations"`
	SearchConts   int              `json:"search_continuations"`
	Budget        int              `json:"ceiling_budget"`
	Judge         audit.JudgeInfo  `json:"judge"`
	VocabWords    int              `json:"prompt_words"`
	Rows          []audit.SteerRow `json:"rows"` // the seed prompts' continuations and verdicts left out
	Calls         int              `json:"calls"`
	WallS         float64          `json:"wall_s"`
	CPUs          int              `json:"cpus"`

	// For the table's notes.
	RandomPrompts     int      `json:"-"`
	Seeds             []uint64 `json:"-"`
	CeilingFromRandom bool     `json:"-"`
}

// Run validates o, loads the corpus, builds the judge, opens the target and
// measures every task.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	corpus, err := english.CorpusPath(o.Corpus)
	if err != nil {
		return nil, err
	}
	target, err := english.LMDir(o.Target)
	if err != nil {
		return nil, err
	}
	jo := audit.JudgeOptions{Audit: audit.ClassifierConfig{Parts: o.AuditParts}}
	if jo.Ref, err = reference(o.Reference); err != nil {
		return nil, err
	}
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return nil, err
	}
	judge, info, err := audit.NewJudge(ctx, docs, jo)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", corpus, err)
	}
	tg, err := targets.Open(targets.Config{Name: target, MaxNewTokens: o.MaxNewTokens, Temperature: o.Temperature, TopP: o.TopP, Device: o.Device, Library: o.Library, Threads: o.Threads})
	if err != nil {
		return nil, err
	}
	defer tg.Close()
	if tg.Text == nil {
		return nil, fmt.Errorf("target %s has no tokenizer.json the pure-Go tokenizer reads: the steerability bench writes prompts as text", target)
	}
	s := o.Steer
	if s.Vocab, err = audit.TargetWords(tg.Text.Tokenizer, tg.Vocab); err != nil {
		return nil, fmt.Errorf("target %s: %w", target, err)
	}
	s.Target, s.Judge, s.Docs = *tg.Text, judge, docs
	rows, err := audit.Steerability(ctx, s)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Corpus: corpus, Target: target, Template: s.Template.String(), MaxNewTokens: o.MaxNewTokens,
		Continuations: s.Continuations, SearchConts: s.CeilingContinuations, Budget: s.CeilingBudget, Judge: info, VocabWords: len(s.Vocab),
		Rows: rows, CPUs: runtime.NumCPU(), RandomPrompts: s.RandomPrompts, Seeds: s.Seeds, CeilingFromRandom: s.CeilingFromRandom,
	}
	for i, r := range rows {
		res.Calls += r.Calls
		for k := range r.SeedScore {
			rows[i].SeedScore[k].Continuations, rows[i].SeedScore[k].Verdicts = nil, nil
		}
	}
	res.WallS = time.Since(start).Seconds()
	return res, nil
}

// reference opens the fluency filter's reference LM ref (nil for "ngram":
// NewJudge builds it).
func reference(ref string) (audit.PerplexityModel, error) {
	if ref == "ngram" {
		return nil, nil
	}
	dir := strings.TrimPrefix(strings.TrimPrefix(ref, "lm"), ":")
	if dir == "" {
		var err error
		if dir, err = english.RefLMDir(); err != nil {
			return nil, err
		}
	}
	lm, err := english.LoadLM(dir)
	if err != nil {
		return nil, err
	}
	return audit.EnglishRef{LM: lm}, nil
}
