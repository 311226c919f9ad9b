package search

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"promptgan/metrics"
)

// What a run's report says about its figures: tables, legends and warnings
// that every command printing a run shares.

// PhaseWarning warns ("" = none) when the run's budget ends before the
// adversarial phase: such a run only pre-trains, whatever its report looks
// like.
func PhaseWarning(cfg Config) string {
	adv := cfg.MLESteps + cfg.DPretrainSteps + 1
	switch {
	case cfg.Steps < cfg.MLESteps:
		return fmt.Sprintf("steps = %d ends inside the generator's MLE pre-training (mle_steps = %d): no discriminator training and no adversarial phase (from step %d); give --steps %d or more for a GAN", cfg.Steps, cfg.MLESteps, adv, adv)
	case cfg.Steps < adv:
		return fmt.Sprintf("steps = %d ends before the adversarial phase, which starts at step %d (after mle_steps = %d and d_pretrain_steps = %d): the generator is only pre-trained; give --steps %d or more for a GAN", cfg.Steps, adv, cfg.MLESteps, cfg.DPretrainSteps, adv)
	}
	return ""
}

// MemoryNote says how much memory a run of cfg is estimated to need at its
// peak, and how much the machine has available.
func MemoryNote(cfg Config) string {
	est := EstimateMemory(cfg)
	avail := ""
	if a, _, ok := MachineMemory(); ok {
		avail = fmt.Sprintf("; %s available", BytesHuman(float64(a)))
	}
	return fmt.Sprintf("memory: about %s at the peak (estimated%s)", BytesHuman(est.Total), avail)
}

// WriteCompare writes the MLE-vs-GAN rows as a table (NaN as -).
func WriteCompare(w io.Writer, rows []CompareRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\ttemperature\tNLL-oracle\tNLL-test")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\n", r.Model, r.Temperature, num(r.NLLOracle), num(r.NLLTest))
	}
	tw.Flush()
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// evalMeaning says what an evaluation figure is and which way is better
// ("" = neither: a diagnostic).
var evalMeaning = map[string]struct{ better, what string }{
	"nll_oracle":        {"lower", "per-token NLL of the generator's samples under the oracle: how real they are"},
	"nll_test":          {"lower", "the generator's per-token NLL of held-out real sequences: how well it covers them"},
	"d_real":            {"", "D's mean P(real) on held-out real data; far below its training batches' = D memorises"},
	"d_fake":            {"higher", "D's mean P(real) on the generations: how well they fool D"},
	"d_std":             {"", "spread of the D ensemble's verdicts on the generations (its uncertainty)"},
	"d_oracle_corr":     {"higher", "correlation of D's verdict with the oracle's (is D's reward the true one?)"},
	"reward":            {"higher", "mean log D of the generations, the generator's reward"},
	"distinct_2":        {"higher", "share of distinct bigrams in the generations (diversity)"},
	"distinct_3":        {"higher", "share of distinct trigrams in the generations (diversity)"},
	"self_bleu_3":       {"lower", "how much the generations repeat each other (0 = all different)"},
	"prompt_distinct_1": {"higher", "share of distinct tokens in the prompts"},
	"auc":               {"higher", "D's AUC of good vs bad held-out task items (0.5 = chance)"},
	"accuracy":          {"higher", "D's accuracy on held-out task items at P = 0.5"},
	"ece":               {"lower", "D's calibration error on held-out task items"},
	"brier":             {"lower", "D's Brier score on held-out task items"},
	"temperature":       {"", "D's calibration temperature, fitted on the validation split"},
	"calibration_bias":  {"", "D's calibration bias, fitted on the validation split"},
	"calls":             {"", "target calls so far"},
	"stabilised":        {"", "1: the threshold was passed and G's learning rate lowered"},
}

// WriteEvalLegend writes an evaluation with what each figure means and
// which direction is better; "best" names the metric it is the best of.
func WriteEvalLegend(w io.Writer, vals map[string]float64, cfg Config) {
	if len(vals) == 0 {
		return
	}
	rc, err := cfg.Resolved()
	if err == nil {
		cfg = rc
	}
	fmt.Fprintln(w, "last evaluation:")
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		m, ok := evalMeaning[k]
		note := m.what
		switch {
		case k == "best":
			better := "lower"
			if cfg.Metric == "d_fake" {
				better = "higher"
			}
			note = fmt.Sprintf("the run's best %s at an evaluation (%s is better): its checkpoint is checkpoints/best", cfg.Metric, better)
		case ok && m.better != "":
			note = m.better + " is better: " + note
		case strings.HasPrefix(k, "surface_r2_"):
			note = fmt.Sprintf("lower is better: share of the variance of D's verdict on the generations that their %s alone explains (the task's good and bad texts differ in it)", strings.TrimPrefix(k, "surface_r2_"))
		case !ok:
			note = ""
		}
		if k == "calls" { // a count
			fmt.Fprintf(tw, "  %s\t%.0f\t%s\n", k, vals[k], note)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%.4f\t%s\n", k, vals[k], note)
	}
	tw.Flush()
}

// memorisingGap is how far held-out D(real) may fall below D(real) on
// training batches before the report says D memorises: 0.13 against 0.79
// (make demo) clearly is; a few hundredths are noise.
const memorisingGap = 0.25

// MemorisingWarning flags ("" = none) a discriminator that memorises its training
// sequences: its verdict on held-out real sequences (the last evaluation)
// far below its verdict on the training batches (the last logged steps).
func MemorisingWarning(out string, eval map[string]float64) string {
	held, ok := eval["d_real"]
	if !ok {
		return ""
	}
	recs, err := metrics.ReadRecords(filepath.Join(out, MetricsFile))
	if err != nil {
		return ""
	}
	var sum float64
	n := 0
	for i := len(recs) - 1; i >= 0 && n < 5; i-- {
		if v, ok := recs[i].Values["d_real"]; ok && recs[i].Phase != "eval" {
			sum += v
			n++
		}
	}
	if n == 0 {
		return ""
	}
	if train := sum / float64(n); train-held >= memorisingGap {
		return fmt.Sprintf("warning: the discriminator memorises: D(real) is %.2f on held-out real sequences but %.2f on its training batches, so it recognises the training set rather than what makes a sequence real, and its rewards are less informative; more training data, a smaller discriminator, fewer d_steps_per_g or more replay help", held, train)
	}
	return ""
}

// CompareSentence says in one sentence what the GAN changed against MLE at
// temperature temp: NLL-oracle (are its samples more like the oracle's?)
// and NLL-test (does it still cover held-out data?).
func CompareSentence(rows []CompareRow, temp float64) string {
	var mle, gan *CompareRow
	for i := range rows {
		if rows[i].Temperature == temp {
			switch rows[i].Model {
			case "MLE":
				mle = &rows[i]
			case "GAN":
				gan = &rows[i]
			}
		}
	}
	if mle == nil || gan == nil || math.IsNaN(mle.NLLOracle) || math.IsNaN(gan.NLLOracle) {
		return ""
	}
	d := gan.NLLOracle - mle.NLLOracle
	verdict := "the oracle finds its samples more like its own sequences than MLE's"
	switch {
	case math.Abs(d) < 0.005:
		verdict = "no change in how the oracle judges its samples"
	case d > 0:
		verdict = "the oracle finds its samples less like its own sequences than MLE's"
	}
	s := fmt.Sprintf("At temperature %.1f the GAN's samples score NLL-oracle %.3f against MLE's %.3f (%+.3f): %s", temp, gan.NLLOracle, mle.NLLOracle, d, verdict)
	if !math.IsNaN(gan.NLLTest) && !math.IsNaN(mle.NLLTest) {
		dt := gan.NLLTest - mle.NLLTest
		cover := "covers the held-out sequences about as well"
		switch {
		case dt <= -0.005:
			cover = "covers the held-out sequences better"
		case dt >= 0.005:
			cover = "covers the held-out sequences less well (it gave up some diversity)"
		}
		s += fmt.Sprintf("; with NLL-test %.3f against %.3f (%+.3f) it %s", gan.NLLTest, mle.NLLTest, dt, cover)
	}
	return s + "."
}
