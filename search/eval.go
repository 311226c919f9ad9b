package search

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"promptgan/generator"
	"promptgan/internal/nn"
)

// Evaluate samples eval_samples fresh prompts from G at temperature 1 (and
// their request seeds, from a stream of the step: training draws are not
// disturbed and a rerun asks the same requests), has the target continue
// each once and reports what the critic measures (tokenCritic.evaluate,
// textRun.evaluate) and calls, the target requests so far. It updates the
// hall of fame and applies the feedback rule: once the metric passes the
// threshold G's learning rate is lowered once; without improvement for
// patience adversarial evaluations, ShouldStop turns true.
func (tr *Trainer) Evaluate(ctx context.Context) (Stats, error) {
	cfg := tr.Cfg
	n, k := cfg.EvalSamples, cfg.PromptLen
	rng := nn.NewRNG(cfg.Seed, streamEval+uint64(tr.step))
	prompts := generator.SampleBatched(tr.Gen, n, k, 1, rng)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	vals := map[string]float64{}
	candidates, err := tr.critic.evaluate(ctx, prompts, seeds, vals)
	if err != nil {
		return Stats{}, fmt.Errorf("evaluation at step %d: %w", tr.step, err)
	}
	vals["calls"] = float64(tr.Calls)
	tr.updateHall(candidates)
	tr.feedback(vals)
	tr.lastEval, tr.lastEvalStep = vals, tr.step
	return Stats{Step: tr.step, Phase: "eval", Values: vals}, nil
}

// feedback tracks the best metric and applies the threshold and patience rules.
func (tr *Trainer) feedback(vals map[string]float64) {
	cfg := tr.Cfg
	metric, ok := vals[cfg.Metric]
	adversarial := cfg.PhaseOf(tr.step) == PhaseAdversarial
	// D's verdict means nothing before D has trained: d_fake counts from
	// the adversarial phase on (an evaluation during G's MLE pre-training
	// would otherwise be "best" with an untrained D's 0.5).
	if cfg.Metric == "d_fake" && !adversarial {
		ok = false
	}
	if ok && !math.IsNaN(metric) {
		score := metric // lower is better
		if cfg.Metric == "d_fake" {
			score = -metric
		}
		if score < tr.best {
			tr.best, tr.bestStep, tr.sinceBest = score, tr.step, 0
		} else if adversarial {
			tr.sinceBest++
		}
		if cfg.Threshold > 0 && score < tr.threshold() && !tr.stabilised && adversarial {
			tr.stabilised = true
			tr.gAdv.LRScale *= cfg.StabiliseFactor
		}
	}
	if best, _ := tr.Best(); !math.IsNaN(best) {
		vals["best"] = best
	}
	if tr.stabilised {
		vals["stabilised"] = 1
	}
}

// threshold is Threshold in the lower-is-better units of tr.best.
func (tr *Trainer) threshold() float64 {
	if tr.Cfg.Metric == "d_fake" {
		return -tr.Cfg.Threshold
	}
	return tr.Cfg.Threshold
}

// meanAt is the mean over the (B, T) values of the last position's.
func meanAt(p []float32, B, T int) float64 {
	s := 0.0
	for b := 0; b < B; b++ {
		s += float64(p[b*T+T-1])
	}
	return s / float64(B)
}

// updateHall keeps the hall_of_fame distinct prompts (by text in a text
// run, by tokens otherwise) whose generations D rated highest, from an
// evaluation's candidates, one a prompt.
func (tr *Trainer) updateHall(candidates []HallEntry) {
	if tr.Cfg.HallOfFame == 0 {
		return
	}
	key := func(h HallEntry) string {
		if h.PromptText != "" {
			return h.PromptText
		}
		return fmt.Sprint(h.Tokens)
	}
	seen := map[string]bool{}
	for _, h := range tr.hall {
		seen[key(h)] = true
	}
	order := slices.Clone(candidates)
	slices.SortStableFunc(order, func(a, b HallEntry) int { return cmp.Compare(b.DScore, a.DScore) }) // best first
	for _, e := range order[:min(len(order), tr.Cfg.HallOfFame)] {
		if seen[key(e)] {
			continue
		}
		seen[key(e)] = true
		e.Tokens, e.Generation, e.Step = slices.Clone(e.Tokens), slices.Clone(e.Generation), tr.step
		if tr.Oracle != nil {
			e.NLLOracle = generator.MeanNLL(tr.Oracle, e.Tokens, 1, tr.Cfg.PromptLen, 1)
		}
		tr.hall = append(tr.hall, e)
	}
	slices.SortStableFunc(tr.hall, func(a, b HallEntry) int { return cmp.Compare(b.DScore, a.DScore) })
	if len(tr.hall) > tr.Cfg.HallOfFame {
		tr.hall = tr.hall[:tr.Cfg.HallOfFame]
	}
}

// pearson returns the correlation of x and y (0 if either is constant).
func pearson(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
