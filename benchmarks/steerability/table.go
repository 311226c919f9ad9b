package steerability

import (
	"fmt"
	"io"
	"strings"

	"promptgan/audit"
	"promptgan/english"
)

// WriteTable writes res as the steerability table: how the audit and the
// fluency band were built, one row per task, then the notes and each task's
// seed prompts and ceiling sample.
func WriteTable(w io.Writer, res *Result) error {
	info, a := res.Judge, res.Judge.Audit
	fmt.Fprintf(w, "steerability of %s (template %q, %d new tokens; %d prompt words)\n", res.Target, res.Template, res.MaxNewTokens, res.VocabWords)
	fmt.Fprintf(w, "audit: hashing n-grams + one-vs-rest logistic regression on %d texts (parts %s); on %d \"test\" texts accuracy %.3f, mean AUC %.3f (%s)\n",
		info.AuditTexts, strings.Join(info.AuditParts, "+"), a.N, a.Accuracy, a.MeanAUC, aucList(a.AUC))
	fmt.Fprintf(w, "fluent: perplexity %.1f–%.1f (the test texts' %g–%g quantiles under the reference LM: %s) and ≤ %.2f repeated bigrams\n",
		info.Band.Lo, info.Band.Hi, info.Band.LoQ, info.Band.HiQ, info.RefKind, info.Band.MaxRepeat)
	fmt.Fprintf(w, "task score: mean over continuations of the audit's one-vs-rest P(class) when fluent, else 0; %d continuations a prompt on fixed seeds\n\n", res.Continuations)
	fmt.Fprintf(w, "%-17s %6s %-15s %-13s %-7s %-7s %-7s %6s %6s %-4s %s\n", "task", "real", "random ±sd", "seed mean/max", "ceiling", "search", "calls", "/real", "/rand", "ok", "ceiling prompt")
	for _, r := range res.Rows {
		ok := "no"
		if r.Pass {
			ok = "yes"
		}
		fmt.Fprintf(w, "%-17s %6.3f %-15s %-13s %-7.3f %-7.3f %-7d %6.2f %6.2f %-4s %q\n", r.Task, r.Real.Score,
			fmt.Sprintf("%.3f ± %.3f", r.Random.Mean, r.Random.SD), fmt.Sprintf("%.3f/%.3f", r.SeedMean, r.SeedBest),
			r.Ceiling.Score, r.Ceiling.SearchScore, r.Ceiling.Calls, r.OfReal, r.OfRandom, ok, r.Ceiling.Prompt)
	}
	fmt.Fprintf(w, "\nreal: the class's held-out \"test\" texts; random: %d prompts of %d–%d target words per seed, seeds %v; seed: the hand-written prompts' mean and best (the best is a max over noisy scores)\n",
		res.RandomPrompts, 3, 6, res.Seeds)
	from := "the seed prompts and random ones"
	if res.CeilingFromRandom {
		from = "random prompts"
	}
	fmt.Fprintf(w, "ceiling: (μ+λ) evolution over word prompts from %s, rewarded by the task score itself on its own seeds (a diagnostic, not a method), its best prompt (search: its mean score there, %d continuations a generation) re-scored on the evaluation seeds\n", from, res.SearchConts)
	fmt.Fprintf(w, "goal: ceiling ≥ %.0f%% of real and ≥ %.0f× random\n", audit.GoalOfReal*100, audit.GoalOfRandom)
	for _, r := range res.Rows {
		fmt.Fprintf(w, "  %-17s seed prompts:", r.Task)
		for _, p := range r.SeedScore {
			fmt.Fprintf(w, " %q %.3f;", p.Prompt, p.Score)
		}
		fmt.Fprintf(w, " ceiling sample: %q (%.1f s)\n", r.Ceiling.Sample, r.Seconds)
	}
	fmt.Fprintf(w, "\n%d target calls, %.1f s in all (judge built in %.1f s; %d CPUs)\n", res.Calls, res.WallS, info.TrainSeconds, res.CPUs)
	return nil
}

// aucList writes the audit's per-class AUCs in the corpus's class order.
func aucList(auc map[string]float64) string {
	var parts []string
	for _, c := range english.Classes() {
		if v, ok := auc[c]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", c, v))
		}
	}
	return strings.Join(parts, ", ")
}
