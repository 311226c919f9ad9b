package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/audit"
	"promptgan/benchmarks/steerability"
	"promptgan/english"
	"promptgan/task"
)

// steerabilityCommand is `promptgan bench steerability`.
func steerabilityCommand() *cli.Command {
	return &cli.Command{
		Name: "steerability",
		Usage: "is the English target steerable? per task, the audit's task score of real held-out text, random word prompts, " +
			"hand-written seed prompts and an evolutionary search rewarded by the audit itself (the ceiling, a diagnostic)",
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
		Corpus: c.String("corpus"), Target: c.String("target"), Template: c.String("template"), Tasks: c.StringSlice("task"),
		Reference: c.String("reference"), AuditParts: c.StringSlice("audit-part"),
		MaxNewTokens: c.Int("max-new-tokens"), Temperature: c.Float64("target-temperature"), TopP: c.Float64("target-top-p"),
		Device: c.String("device"), Library: c.String("ort-lib"), Threads: c.Int("threads"),
		Steer: audit.SteerOptions{
			Continuations: c.Int("continuations"), CeilingContinuations: c.Int("search-continuations"), RandomPrompts: c.Int("random-prompts"), Seeds: c.Uint64Slice("seed"),
			CeilingBudget: c.Int("budget"), CeilingPopulation: c.Int("population"), CeilingSeed: c.Uint64("ceiling-seed"), CeilingFromRandom: c.Bool("ceiling-from-random"),
			Logger: benchLogger(c),
		},
	}
	if c.Bool("quick") {
		opt.Quick(c.IsSet)
	}
	return benchRun(c, &opt, steerability.Run, steerability.WriteTable)
}
