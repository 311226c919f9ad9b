package englishsteer

import (
	"context"
	"fmt"
	"io"
	"os"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/targets"
	"promptgan/task"
)

// Bench is `promptgan bench english`: Options plus what RunBench opens for
// them. Its own fields and Options' numbers are the CLI's flags.
type Bench struct {
	Options
	Corpus    string   // the English corpus ("" = english/corpus.jsonl in the setup cache)
	TargetDir string   // the target LM's Optimum-layout directory ("" = english/lm in the setup cache)
	TaskNames []string // tasks to measure (none = Options.Tasks, nil there = every English task)
	// Examples are the example prompts G pre-trains on (english.ExamplesFile:
	// english.ExamplesInstructions, a file, or "" for the good texts).
	Examples string
	Device   string // the target's execution provider: cpu, cuda or auto
	Library  string // ONNX Runtime shared library ("" = the default search)
	Threads  int    // ONNX Runtime intra-op threads (0 = one per core)
}

// Quick, when on, gives what isSet does not report set a tiny budget, for
// a first look and tests (`--quick`): one task, one seed, 256 calls.
func (b *Bench) Quick(on bool, isSet func(flag string) bool) {
	if !on {
		return
	}
	if !isSet("task") {
		b.TaskNames = []string{"positive-reviews"}
	}
	if !isSet("seed") {
		b.Seeds = []uint64{1}
	}
	tc := &b.Train
	for _, f := range []struct {
		flag string
		p    *int
		v    int
	}{
		{"budget", &b.Budget, 256}, {"eval-continuations", &b.EvalContinuations, 8}, {"continuations", &b.Continuations, 2},
		{"candidate-batch", &b.CandidateBatch, 16}, {"population", &b.Population, 8}, {"random-prompts", &b.RandomPrompts, 8},
		{"batch-size", &tc.BatchSize, 16}, {"mle-steps", &tc.MLESteps, 40}, {"d-pretrain-steps", &tc.DPretrainSteps, 2}, {"hall-verify", &b.HallVerify, 4},
	} {
		if !isSet(f.flag) {
			*f.p = f.v
		}
	}
	b.CeilingPopulation, b.CeilingContinuations = 8, 4
}

// Validate checks b, by the flags' names, before the corpus, the task
// files and the target are loaded, and resolves TaskNames into Tasks. The
// evolution's tournament is cut to the population.
func (b *Bench) Validate() error {
	if len(b.TaskNames) > 0 {
		b.Tasks = nil
		for _, name := range b.TaskNames {
			t, err := audit.TaskByName(name)
			if err != nil {
				return fmt.Errorf("--task: %w", err)
			}
			b.Tasks = append(b.Tasks, t)
		}
	}
	tc := &b.Train
	if v := tc.PromptVocab; v != "words" && v != "target" {
		return fmt.Errorf("--prompt-vocab %q: choose words or target", v)
	}
	b.Tournament = min(b.Tournament, max(b.Population, 1))
	for _, f := range []struct {
		flag string
		v    int
	}{{"prompt-len", tc.PromptLen}, {"max-new-tokens", tc.GenLen}, {"d-steps-per-g", tc.DStepsPerG}, {"continuations-per-prompt", tc.ContinuationsPerPrompt}} {
		if f.v < 1 {
			return fmt.Errorf("--%s %d: must be at least 1", f.flag, f.v)
		}
	}
	switch {
	case !(tc.MLEWeight >= 0 && tc.MLEWeight <= 1000):
		return fmt.Errorf("--mle-weight %v: must be in [0, 1000]", tc.MLEWeight)
	case !(tc.GAdvLR > 0):
		return fmt.Errorf("--g-adv-lr %v: must be > 0", tc.GAdvLR)
	case !(tc.TargetTemperature > 0):
		return fmt.Errorf("--target-temperature %v: must be > 0", tc.TargetTemperature)
	}
	return b.Options.Validate()
}

// BenchResult is `bench english --json`.
type BenchResult struct {
	Corpus   string          `json:"corpus"`
	Target   string          `json:"target"`
	TasksDir string          `json:"tasks_dir"`
	Judge    audit.JudgeInfo `json:"judge"`
	Result   *Result         `json:"result"`
}

// RunBench validates b, writes the example prompts, loads the corpus and
// builds the audit's judge, opens the target, and runs the benchmark with
// the prompt template english.PromptTemplate.
func RunBench(ctx context.Context, b Bench) (*BenchResult, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	tc := &b.Train
	tmpl, err := task.ParseTemplate(english.PromptTemplate)
	if err != nil {
		return nil, err
	}
	b.Template = tmpl
	tmp, err := os.MkdirTemp("", "promptgan-bench-english-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if tc.PromptExamples, err = english.ExamplesFile(b.Examples, tmp); err != nil {
		return nil, err
	}
	corpus, err := english.CorpusPath(b.Corpus)
	if err != nil {
		return nil, err
	}
	if tc.Target, err = english.LMDir(b.TargetDir); err != nil {
		return nil, err
	}
	if b.TasksDir, err = english.TasksDir(b.TasksDir); err != nil {
		return nil, err
	}
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return nil, err
	}
	judge, info, err := audit.NewJudge(ctx, docs, audit.JudgeOptions{})
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", corpus, err)
	}
	op, err := targets.Open(targets.Config{Name: tc.Target, MaxNewTokens: tc.GenLen, Temperature: tc.TargetTemperature, Device: b.Device, Library: b.Library, Threads: b.Threads})
	if err != nil {
		return nil, err
	}
	defer op.Close()
	if op.Text == nil {
		return nil, fmt.Errorf("target %s has no tokenizer.json the pure-Go tokenizer reads: the English bench writes prompts as text", tc.Target)
	}
	if b.Vocab, err = audit.TargetWords(op.Text.Tokenizer, op.Vocab); err != nil {
		return nil, fmt.Errorf("target %s: %w", tc.Target, err)
	}
	if tc.PromptVocab == "target" {
		tc.Generator.Vocab = op.Vocab
	}
	b.Target, b.Judge, b.Docs = op.Text, judge, docs
	res, err := Run(ctx, b.Options)
	if err != nil {
		return nil, err
	}
	return &BenchResult{Corpus: corpus, Target: tc.Target, TasksDir: b.TasksDir, Judge: info, Result: res}, nil
}

// WriteBench prints b's result as WriteTable does.
func WriteBench(w io.Writer, b *BenchResult) error { return WriteTable(w, b.Result) }
