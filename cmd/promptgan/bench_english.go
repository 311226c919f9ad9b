package main

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/internal/cache"
	"promptgan/targets"
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
		OnUsageError: onUsage,
		Action:       benchSteerabilityAction,
	}
}

// steerabilityResult is `bench steerability --json`.
type steerabilityResult struct {
	Corpus        string           `json:"corpus"`
	Target        string           `json:"target"`
	Template      string           `json:"template"`
	MaxNewTokens  int              `json:"max_new_tokens"`
	Continuations int              `json:"continuations"`
	SearchConts   int              `json:"search_continuations"`
	Budget        int              `json:"ceiling_budget"`
	Judge         audit.JudgeInfo  `json:"judge"`
	VocabWords    int              `json:"prompt_words"`
	Rows          []audit.SteerRow `json:"rows"`
	Calls         int              `json:"calls"`
	WallS         float64          `json:"wall_s"`
	CPUs          int              `json:"cpus"`
}

func benchSteerabilityAction(c *cli.Context) error {
	start := time.Now()
	corpus, err := english.CorpusPath(c.String("corpus"))
	if err != nil {
		return err
	}
	target, err := english.LMDir(c.String("target"))
	if err != nil {
		return err
	}
	tmpl, err := task.ParseTemplate(c.String("template"))
	if err != nil {
		return usagef("--template: %w", err)
	}
	var tasks []audit.Task
	for _, name := range c.StringSlice("task") {
		t, err := audit.TaskByName(name)
		if err != nil {
			return usagef("--task: %w", err)
		}
		tasks = append(tasks, t)
	}
	opt := audit.SteerOptions{
		Template: tmpl, Tasks: tasks,
		Continuations: c.Int("continuations"), CeilingContinuations: c.Int("search-continuations"), RandomPrompts: c.Int("random-prompts"), Seeds: c.Uint64Slice("seed"),
		CeilingBudget: c.Int("budget"), CeilingPopulation: c.Int("population"), CeilingSeed: c.Uint64("ceiling-seed"),
		CeilingFromRandom: c.Bool("ceiling-from-random"),
		Logger:            benchLogger(c),
	}
	if c.Bool("quick") {
		quick := map[string]int{"continuations": 8, "search-continuations": 4, "random-prompts": 8, "budget": 256}
		for name, p := range map[string]*int{"continuations": &opt.Continuations, "search-continuations": &opt.CeilingContinuations, "random-prompts": &opt.RandomPrompts, "budget": &opt.CeilingBudget} {
			if !c.IsSet(name) {
				*p = quick[name]
			}
		}
	}
	if n := c.Int("max-new-tokens"); n < 1 {
		return usagef("--max-new-tokens %d: need at least 1", n)
	}
	// The numbers are checked before the data and the model are loaded.
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	jo := audit.JudgeOptions{Audit: audit.ClassifierConfig{Parts: c.StringSlice("audit-part")}}
	for _, p := range jo.Audit.Parts {
		if p != audit.PartAudit && p != audit.PartTarget {
			return usagef("--audit-part %q: the audit trains on %q and, optionally, %q (never on D's %q nor the %q it is measured on)", p, audit.PartAudit, audit.PartTarget, audit.PartDisc, audit.PartTest)
		}
	}
	switch ref := c.String("reference"); {
	case ref == "ngram":
	case ref == "lm" || strings.HasPrefix(ref, "lm:"):
		dir := strings.TrimPrefix(strings.TrimPrefix(ref, "lm"), ":")
		if dir == "" {
			p, err := cache.Find("english/"+english.RefDir+"/"+english.WeightsFile, "the English reference LM", "make english")
			if err != nil {
				return err
			}
			dir = filepath.Dir(p)
		}
		lm, err := english.LoadLM(dir)
		if err != nil {
			return err
		}
		jo.Ref = audit.EnglishRef{LM: lm}
	default:
		return usagef("--reference %q: choose ngram, lm or lm:DIR", ref)
	}
	docs, err := english.LoadCorpus(corpus)
	if err != nil {
		return err
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	judge, info, err := audit.NewJudge(ctx, docs, jo)
	if err != nil {
		return fmt.Errorf("corpus %s: %w", corpus, err)
	}
	o, err := targets.Open(targets.Config{Name: target, MaxNewTokens: c.Int("max-new-tokens"), Temperature: c.Float64("target-temperature"), TopP: c.Float64("target-top-p"), Device: c.String("device"), Library: c.String("ort-lib"), Threads: c.Int("threads")})
	if err != nil {
		return err
	}
	defer o.Close()
	if o.Text == nil {
		return fmt.Errorf("target %s has no tokenizer.json the pure-Go tokenizer reads: the steerability bench writes prompts as text", target)
	}
	if opt.Vocab, err = audit.TargetWords(o.Text.Tokenizer, o.Vocab); err != nil {
		return fmt.Errorf("target %s: %w", target, err)
	}
	opt.Target, opt.Judge, opt.Docs = *o.Text, judge, docs
	rows, err := audit.Steerability(ctx, opt)
	if err != nil {
		return err
	}
	res := steerabilityResult{
		Corpus: corpus, Target: target, Template: tmpl.String(), MaxNewTokens: c.Int("max-new-tokens"),
		Continuations: opt.Continuations, SearchConts: opt.CeilingContinuations, Budget: opt.CeilingBudget, Judge: info, VocabWords: len(opt.Vocab),
		Rows: rows, CPUs: runtime.NumCPU(),
	}
	for _, r := range rows {
		res.Calls += r.Calls
	}
	res.WallS = time.Since(start).Seconds()
	w := c.App.Writer
	if c.Bool("json") {
		for i := range res.Rows {
			for k := range res.Rows[i].SeedScore {
				res.Rows[i].SeedScore[k].Continuations, res.Rows[i].SeedScore[k].Verdicts = nil, nil
			}
		}
		return writeJSON(w, res)
	}
	a := info.Audit
	fmt.Fprintf(w, "steerability of %s (template %q, %d new tokens; %d prompt words)\n", target, tmpl.String(), res.MaxNewTokens, res.VocabWords)
	fmt.Fprintf(w, "audit: hashing n-grams + one-vs-rest logistic regression on %d texts (parts %s); on %d \"test\" texts accuracy %.3f, mean AUC %.3f (%s)\n",
		info.AuditTexts, strings.Join(info.AuditParts, "+"), a.N, a.Accuracy, a.MeanAUC, aucList(a.AUC))
	fmt.Fprintf(w, "fluent: perplexity %.1f–%.1f (the test texts' %g–%g quantiles under the reference LM: %s) and ≤ %.2f repeated bigrams\n",
		info.Band.Lo, info.Band.Hi, info.Band.LoQ, info.Band.HiQ, info.RefKind, info.Band.MaxRepeat)
	fmt.Fprintf(w, "task score: mean over continuations of the audit's one-vs-rest P(class) when fluent, else 0; %d continuations a prompt on fixed seeds\n\n", res.Continuations)
	fmt.Fprintf(w, "%-17s %6s %-15s %-13s %-7s %-7s %-7s %6s %6s %-4s %s\n", "task", "real", "random ±sd", "seed mean/max", "ceiling", "search", "calls", "/real", "/rand", "ok", "ceiling prompt")
	for _, r := range rows {
		ok := "no"
		if r.Pass {
			ok = "yes"
		}
		fmt.Fprintf(w, "%-17s %6.3f %-15s %-13s %-7.3f %-7.3f %-7d %6.2f %6.2f %-4s %q\n", r.Task, r.Real.Score,
			fmt.Sprintf("%.3f ± %.3f", r.Random.Mean, r.Random.SD), fmt.Sprintf("%.3f/%.3f", r.SeedMean, r.SeedBest),
			r.Ceiling.Score, r.Ceiling.SearchScore, r.Ceiling.Calls, r.OfReal, r.OfRandom, ok, r.Ceiling.Prompt)
	}
	fmt.Fprintf(w, "\nreal: the class's held-out \"test\" texts; random: %d prompts of %d–%d target words per seed, seeds %v; seed: the hand-written prompts' mean and best (the best is a max over noisy scores)\n",
		opt.RandomPrompts, 3, 6, opt.Seeds)
	from := "the seed prompts and random ones"
	if opt.CeilingFromRandom {
		from = "random prompts"
	}
	fmt.Fprintf(w, "ceiling: (μ+λ) evolution over word prompts from %s, rewarded by the task score itself on its own seeds (a diagnostic, not a method), its best prompt (search: its mean score there, %d continuations a generation) re-scored on the evaluation seeds\n", from, opt.CeilingContinuations)
	fmt.Fprintf(w, "goal: ceiling ≥ %.0f%% of real and ≥ %.0f× random\n", audit.GoalOfReal*100, audit.GoalOfRandom)
	for _, r := range rows {
		fmt.Fprintf(w, "  %-17s seed prompts:", r.Task)
		for _, p := range r.SeedScore {
			fmt.Fprintf(w, " %q %.3f;", p.Prompt, p.Score)
		}
		fmt.Fprintf(w, " ceiling sample: %q (%.1f s)\n", r.Ceiling.Sample, r.Seconds)
	}
	fmt.Fprintf(w, "\n%d target calls, %.1f s in all (judge built in %.1f s; %d CPUs)\n", res.Calls, res.WallS, info.TrainSeconds, res.CPUs)
	return nil
}

func aucList(auc map[string]float64) string {
	var parts []string
	for _, c := range english.Classes() {
		if v, ok := auc[c]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", c, v))
		}
	}
	return strings.Join(parts, ", ")
}
