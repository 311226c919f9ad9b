package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/audit"
	"promptgan/benchmarks/englishsteer"
	"promptgan/benchmarks/steerability"
	"promptgan/english"
	"promptgan/task"
)

// steerabilityCommand is `promptgan bench steerability`.
func steerabilityCommand() *cli.Command {
	return &cli.Command{
		Name:  "steerability",
		Usage: "is the English target steerable? per task, the audit's task score of real held-out text, random word prompts, hand-written seed prompts and an evolutionary search rewarded by the audit itself (the ceiling, a diagnostic)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "corpus", Usage: "the English corpus (default: english/corpus.jsonl in the setup cache)"},
			&cli.StringFlag{Name: "target", Usage: "the target LM's Optimum-layout directory (default: english/lm in the setup cache)"},
			&cli.StringFlag{Name: "template", Value: english.PromptTemplate, Usage: "how a prompt is put to the target ({prompt} is replaced)"},
			&cli.StringSliceFlag{Name: "task", Usage: "tasks to measure (default all: " + strings.Join(task.EnglishTaskNames(), ", ") + "); repeat the flag"},
			&cli.StringFlag{Name: "reference", Value: "ngram", Usage: "the fluency filter's reference LM: ngram (a Kneser-Ney word bigram of the disc+audit parts, built here) lm (english's LSTM reference LM, english/ref in the setup cache) or lm:DIR"},
			&cli.StringSliceFlag{Name: "audit-part", Value: cli.NewStringSlice(audit.PartAudit), Usage: "corpus parts the audit trains on (audit; target may be added: D never sees it); repeat the flag"},
			&cli.IntFlag{Name: "max-new-tokens", Value: 16, Usage: "tokens the target decodes per continuation"},
			&cli.Float64Flag{Name: "target-temperature", Value: english.Temperature, Usage: "the target's sampling temperature"},
			&cli.Float64Flag{Name: "target-top-p", Usage: "the target's nucleus cut (0 = none)"},
			&cli.IntFlag{Name: "continuations", Value: 32, Usage: "continuations per prompt scored for the table (fixed evaluation seeds 1..n)"},
			&cli.IntFlag{Name: "search-continuations", Value: 8, Usage: "continuations per prompt and generation in the ceiling's search"},
			&cli.IntFlag{Name: "random-prompts", Value: 16, Usage: "random word prompts per seed"},
			&cli.Uint64SliceFlag{Name: "seed", Value: cli.NewUint64Slice(1, 2, 3), Usage: "seeds of the random prompts; repeat the flag"},
			&cli.IntFlag{Name: "budget", Value: 1536, Usage: "target calls of the ceiling's search per task"},
			&cli.IntFlag{Name: "population", Value: 16, Usage: "the ceiling search's population"},
			&cli.Uint64Flag{Name: "ceiling-seed", Value: 1, Usage: "seed of the ceiling's search"},
			&cli.BoolFlag{Name: "ceiling-from-random", Usage: "start the ceiling's search from random prompts only (default: the seed prompts and random ones)"},
			&cli.BoolFlag{Name: "quick", Usage: "a small budget (8 continuations, 8 random prompts a seed, a 256-call ceiling searching on 4): for tests and a first look"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "the target's execution provider: cpu, cuda or auto"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: benchSteerabilityAction,
	}
}

// steerabilityResult is `bench steerability --json`.
type steerabilityResult = steerability.Result

func benchSteerabilityAction(c *cli.Context) error {
	opt := steerability.Options{
		Corpus: c.String("corpus"), Target: c.String("target"), Template: c.String("template"), Tasks: c.StringSlice("task"), Reference: c.String("reference"),
		AuditParts: c.StringSlice("audit-part"), MaxNewTokens: c.Int("max-new-tokens"), Temperature: c.Float64("target-temperature"), TopP: c.Float64("target-top-p"),
		Device: c.String("device"), Library: c.String("ort-lib"), Threads: c.Int("threads"),
		Steer: audit.SteerOptions{
			Continuations: c.Int("continuations"), CeilingContinuations: c.Int("search-continuations"), RandomPrompts: c.Int("random-prompts"), Seeds: c.Uint64Slice("seed"),
			CeilingBudget: c.Int("budget"), CeilingPopulation: c.Int("population"), CeilingSeed: c.Uint64("ceiling-seed"), CeilingFromRandom: c.Bool("ceiling-from-random"), Logger: benchLogger(c),
		},
	}
	opt.Quick(c.Bool("quick"), c.IsSet)
	return benchRun(c, &opt, steerability.Run, steerability.WriteTable)
}

// englishSearchCommand is `promptgan bench english`.
func englishSearchCommand() *cli.Command {
	d := englishsteer.Defaults()
	return &cli.Command{
		Name:  "english",
		Usage: "prompt search on the English tasks at equal target calls: seed prompts, random word prompts, best-of-N and evolution ranked by D, promptgan's adversarial loop, and the audit-rewarded ceiling; every output scored by the audit",
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
			&cli.StringFlag{Name: "prompt-examples", Value: english.ExamplesInstructions, Usage: "the shared start: G pre-trains by MLE on these example prompts (one a line; its words vocabulary becomes theirs) instead of the good texts; 'instructions' = the held-out instructions of every class (english.ExamplePrompts); '' = the good texts"},
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
		Action: benchEnglishSearchAction,
	}
}

// englishSearchResult is `bench english --json`.
type englishSearchResult = englishsteer.BenchResult

func benchEnglishSearchAction(c *cli.Context) error {
	b := englishsteer.Bench{Options: englishsteer.Defaults(), Corpus: c.String("corpus"), TargetDir: c.String("target"), TaskNames: c.StringSlice("task"),
		Examples: c.String("prompt-examples"), Device: c.String("device"), Library: c.String("ort-lib"), Threads: c.Int("threads")}
	o, tc := &b.Options, &b.Options.Train
	o.TasksDir, o.Seeds, o.Logger = c.String("tasks-dir"), c.Uint64Slice("seed"), benchLogger(c)
	o.Budget, o.Output, o.EvalContinuations, o.Continuations = c.Int("budget"), c.Int("output"), c.Int("eval-continuations"), c.Int("continuations")
	o.CandidateBatch, o.Population, o.RandomPrompts, o.Ceiling = c.Int("candidate-batch"), c.Int("population"), c.Int("random-prompts"), !c.Bool("no-ceiling")
	o.ExpertIteration, o.ExpertLR, o.HallShrinkage, o.HallVerify = c.Float64("expert-iteration"), c.Float64("expert-lr"), c.Float64("hall-shrinkage"), c.Int("hall-verify")
	tc.PromptVocab, tc.Encoder, tc.LabelledAsTarget = c.String("prompt-vocab"), c.String("encoder"), c.Bool("labelled-as-target")
	tc.PromptLen, tc.BatchSize, tc.MLESteps, tc.DPretrainSteps = c.Int("prompt-len"), c.Int("batch-size"), c.Int("mle-steps"), c.Int("d-pretrain-steps")
	tc.DStepsPerG, tc.ContinuationsPerPrompt, tc.GAdvLR, tc.MLEWeight = c.Int("d-steps-per-g"), c.Int("continuations-per-prompt"), c.Float64("g-adv-lr"), c.Float64("mle-weight")
	tc.GenLen, tc.TargetTemperature = c.Int("max-new-tokens"), c.Float64("target-temperature")
	b.Quick(c.Bool("quick"), c.IsSet)
	return benchRun(c, &b, englishsteer.RunBench, englishsteer.WriteBench)
}
