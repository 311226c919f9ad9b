package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/audit"
	"promptgan/benchmarks/englishsteer"
	"promptgan/english"
	"promptgan/internal/cache"
	"promptgan/targets"
	"promptgan/task"
)

// englishSearchCommand is `promptgan bench english`.
func englishSearchCommand() *cli.Command {
	d := englishsteer.Defaults()
	return &cli.Command{
		Name: "english",
		Usage: "prompt search on the English tasks at equal target calls: seed prompts, random word prompts, best-of-N and evolution ranked by D, " +
			"promptgan's adversarial loop, and the audit-rewarded ceiling; every output scored by the audit",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "corpus", Usage: "the English corpus (default: english/corpus.jsonl in the setup cache)"},
			&cli.StringFlag{Name: "target", Usage: "the target LM's Optimum-layout directory (default: english/lm in the setup cache)"},
			&cli.StringFlag{Name: "tasks-dir", Usage: "the task files, TASK.jsonl (default: english/tasks in the setup cache)"},
			&cli.StringSliceFlag{Name: "task", Usage: "tasks to measure (default all: " + strings.Join(task.EnglishTaskNames(), ", ") + "); repeat the flag"},
			&cli.Uint64SliceFlag{Name: "seed", Value: cli.NewUint64Slice(d.Seeds...), Usage: "seeds; repeat the flag"},
			&cli.IntFlag{Name: "budget", Value: d.Budget, Usage: "target calls per method, the shared pre-training included"},
			&cli.IntFlag{Name: "output", Value: d.Output, Usage: "prompts a method outputs at each point of the schedule"},
			&cli.IntFlag{Name: "eval-continuations", Value: d.EvalContinuations, Usage: "the audit's continuations per output prompt (fixed evaluation seeds, not counted)"},
			&cli.IntFlag{Name: "continuations", Value: d.Continuations, Usage: "continuations per candidate prompt that D's verdict is averaged over (seed prompts, best-of-n, evolution)"},
			&cli.IntFlag{Name: "candidate-batch", Value: d.CandidateBatch, Usage: "best-of-n: prompts per batch"},
			&cli.IntFlag{Name: "population", Value: d.Population, Usage: "evolution: population and children per generation"},
			&cli.IntFlag{Name: "random-prompts", Value: d.RandomPrompts, Usage: "random word prompts per seed"},
			&cli.StringFlag{Name: "prompt-vocab", Value: d.Train.PromptVocab, Usage: "G's tokens: words (the task's frequent good words) or target (the target's tokens)"},
			&cli.StringFlag{Name: "prompt-examples", Value: english.ExamplesInstructions, Usage: "the shared start: G pre-trains by MLE on these example prompts (one a line; its words vocabulary becomes theirs) instead of the good texts; " +
				"'instructions' = the held-out instructions of every class (english.ExamplePrompts); '' = the good texts"},
			&cli.StringFlag{Name: "encoder", Value: d.Train.Encoder, Usage: "D's sentence encoder: glove-sif, hashing[:DIM] or onnx:DIR"},
			&cli.IntFlag{Name: "prompt-len", Value: d.Train.PromptLen, Usage: "tokens G writes per prompt"},
			&cli.IntFlag{Name: "batch-size", Value: d.Train.BatchSize, Usage: "promptgan: prompts per step"},
			&cli.IntFlag{Name: "mle-steps", Value: d.Train.MLESteps, Usage: "the shared start: G's MLE steps on the example prompts or the good texts (no calls)"},
			&cli.IntFlag{Name: "d-pretrain-steps", Value: d.Train.DPretrainSteps, Usage: "the shared start: D's steps on generations (batch-size calls each, counted against every method)"},
			&cli.IntFlag{Name: "d-steps-per-g", Value: d.Train.DStepsPerG, Usage: "promptgan: D updates per G update"},
			&cli.IntFlag{Name: "continuations-per-prompt", Value: d.Train.ContinuationsPerPrompt, Usage: "promptgan: continuations of each prompt per D update, rewards averaged"},
			&cli.Float64Flag{Name: "mle-weight", Value: d.Train.MLEWeight, Usage: "promptgan: weight of G's MLE term on its prior (the good texts' windows or the example prompts) in its adversarial loss"},
			&cli.BoolFlag{Name: "labelled-as-target", Value: d.Train.LabelledAsTarget, Usage: "the shared start: D reads the task's texts as the target writes them (through its tokenizer)"},
			&cli.Float64Flag{Name: "g-adv-lr", Value: d.Train.GAdvLR, Usage: "promptgan: G's adversarial learning rate"},
			&cli.Float64Flag{Name: "expert-iteration", Usage: "promptgan: after each step, an MLE step of G on the step's prompts D rates in this top share (0 = off; an item-5 lever)"},
			&cli.Float64Flag{Name: "expert-lr", Usage: "promptgan: the expert iteration's learning rate (0 = 0.005)"},
			&cli.IntFlag{Name: "hall-verify", Value: d.HallVerify, Usage: "promptgan: before each output, the hall's first N unchecked prompts by D get --continuations more continuations each (counted; training stops that much earlier); 0 = off"},
			&cli.Float64Flag{Name: "hall-shrinkage", Usage: "promptgan: rank its hall of fame by each prompt's mean D verdict shrunk toward the hall's mean as if this many more continuations had scored it (0 = the plain mean)"},
			&cli.BoolFlag{Name: "no-ceiling", Usage: "skip the audit-rewarded ceiling"},
			&cli.IntFlag{Name: "max-new-tokens", Value: d.Train.GenLen, Usage: "tokens the target decodes per continuation"},
			&cli.Float64Flag{Name: "target-temperature", Value: english.Temperature, Usage: "the target's sampling temperature"},
			&cli.BoolFlag{Name: "quick", Usage: "a tiny budget for a first look and tests: one task, one seed, 256 calls (seconds)"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "the target's execution provider: cpu, cuda or auto"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		OnUsageError: onUsage,
		Action:       benchEnglishSearchAction,
	}
}

func benchEnglishSearchAction(c *cli.Context) error {
	o := englishsteer.Defaults()
	tmpl, err := task.ParseTemplate(english.PromptTemplate)
	if err != nil {
		return err
	}
	o.Template = tmpl
	for _, name := range c.StringSlice("task") {
		t, err := audit.TaskByName(name)
		if err != nil {
			return usagef("--task: %w", err)
		}
		o.Tasks = append(o.Tasks, t)
	}
	o.Seeds = c.Uint64Slice("seed")
	o.Budget, o.Output, o.EvalContinuations, o.Continuations = c.Int("budget"), c.Int("output"), c.Int("eval-continuations"), c.Int("continuations")
	o.CandidateBatch, o.Population, o.RandomPrompts = c.Int("candidate-batch"), c.Int("population"), c.Int("random-prompts")
	o.Tournament = min(o.Tournament, max(o.Population, 1))
	o.Ceiling = !c.Bool("no-ceiling")
	o.ExpertIteration, o.ExpertLR, o.HallShrinkage, o.HallVerify = c.Float64("expert-iteration"), c.Float64("expert-lr"), c.Float64("hall-shrinkage"), c.Int("hall-verify")
	tc := &o.Train
	switch v := c.String("prompt-vocab"); v {
	case "words", "target":
		tc.PromptVocab = v
	default:
		return usagef("--prompt-vocab %q: choose words or target", v)
	}
	tc.Encoder, tc.LabelledAsTarget = c.String("encoder"), c.Bool("labelled-as-target")
	tmp, err := os.MkdirTemp("", "promptgan-bench-english-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if tc.PromptExamples, err = english.ExamplesFile(c.String("prompt-examples"), tmp); err != nil {
		return err
	}
	tc.PromptLen, tc.BatchSize, tc.MLESteps, tc.DPretrainSteps = c.Int("prompt-len"), c.Int("batch-size"), c.Int("mle-steps"), c.Int("d-pretrain-steps")
	tc.DStepsPerG, tc.ContinuationsPerPrompt, tc.GAdvLR, tc.MLEWeight = c.Int("d-steps-per-g"), c.Int("continuations-per-prompt"), c.Float64("g-adv-lr"), c.Float64("mle-weight")
	tc.GenLen, tc.TargetTemperature = c.Int("max-new-tokens"), c.Float64("target-temperature")
	if c.Bool("quick") {
		if !c.IsSet("task") {
			t, _ := audit.TaskByName("positive-reviews")
			o.Tasks = []audit.Task{t}
		}
		if !c.IsSet("seed") {
			o.Seeds = []uint64{1}
		}
		quick := map[string]int{"budget": 256, "eval-continuations": 8, "continuations": 2, "candidate-batch": 16, "population": 8, "random-prompts": 8, "batch-size": 16, "mle-steps": 40, "d-pretrain-steps": 2, "hall-verify": 4}
		for name, p := range map[string]*int{"budget": &o.Budget, "eval-continuations": &o.EvalContinuations, "continuations": &o.Continuations,
			"candidate-batch": &o.CandidateBatch, "population": &o.Population, "random-prompts": &o.RandomPrompts,
			"batch-size": &tc.BatchSize, "mle-steps": &tc.MLESteps, "d-pretrain-steps": &tc.DPretrainSteps, "hall-verify": &o.HallVerify} {
			if !c.IsSet(name) {
				*p = quick[name]
			}
		}
		o.CeilingPopulation, o.CeilingContinuations = 8, 4
		o.Tournament = min(o.Tournament, o.Population)
	}
	for name, v := range map[string]int{"prompt-len": tc.PromptLen, "max-new-tokens": tc.GenLen, "d-steps-per-g": tc.DStepsPerG, "continuations-per-prompt": tc.ContinuationsPerPrompt} {
		if v < 1 {
			return usagef("--%s %d: must be at least 1", name, v)
		}
	}
	if w := tc.MLEWeight; !(w >= 0 && w <= 1000) {
		return usagef("--mle-weight %v: must be in [0, 1000]", w)
	}
	if g := tc.GAdvLR; !(g > 0) {
		return usagef("--g-adv-lr %v: must be > 0", g)
	}
	if t := tc.TargetTemperature; !(t > 0) {
		return usagef("--target-temperature %v: must be > 0", t)
	}
	// The numbers are checked before the data and the model are loaded.
	if err := o.Validate(); err != nil {
		return usageError{err}
	}
	corpus, err := english.CorpusPath(c.String("corpus"))
	if err != nil {
		return err
	}
	target, err := english.LMDir(c.String("target"))
	if err != nil {
		return err
	}
	if o.TasksDir, err = cachedOr(c.String("tasks-dir"), "english/tasks/positive-reviews.jsonl", "the English task files", "make setup"); err != nil {
		return err
	}
	if c.String("tasks-dir") == "" {
		o.TasksDir = filepath.Dir(o.TasksDir)
	}
	tc.Target = target
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return err
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	judge, info, err := audit.NewJudge(ctx, docs, audit.JudgeOptions{})
	if err != nil {
		return fmt.Errorf("corpus %s: %w", corpus, err)
	}
	op, err := targets.Open(targets.Config{Name: target, MaxNewTokens: tc.GenLen, Temperature: tc.TargetTemperature, Device: c.String("device"), Library: c.String("ort-lib"), Threads: c.Int("threads")})
	if err != nil {
		return err
	}
	defer op.Close()
	if op.Text == nil {
		return fmt.Errorf("target %s has no tokenizer.json the pure-Go tokenizer reads: the English bench writes prompts as text", target)
	}
	if o.Vocab, err = audit.TargetWords(op.Text.Tokenizer, op.Vocab); err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	if tc.PromptVocab == "target" {
		tc.Generator.Vocab = op.Vocab
	}
	o.Target, o.Judge, o.Docs, o.Logger = op.Text, judge, docs, benchLogger(c)
	res, err := englishsteer.Run(ctx, o)
	if err != nil {
		return err
	}
	out := englishSearchResult{Corpus: corpus, Target: target, TasksDir: o.TasksDir, Judge: info, Result: res}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	return englishsteer.WriteTable(c.App.Writer, res)
}

// englishSearchResult is `bench english --json`.
type englishSearchResult struct {
	Corpus   string               `json:"corpus"`
	Target   string               `json:"target"`
	TasksDir string               `json:"tasks_dir"`
	Judge    audit.JudgeInfo      `json:"judge"`
	Result   *englishsteer.Result `json:"result"`
}

// cachedOr returns path, or when it is empty the setup cache's rel.
func cachedOr(path, rel, what, fix string) (string, error) {
	if path != "" {
		return path, nil
	}
	return cache.Find(rel, what, fix)
}
