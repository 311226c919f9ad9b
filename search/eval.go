package search

import (
	"context"
	"fmt"
	"math"
	"sort"

	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/task"
)

// Evaluate samples eval_samples fresh prompts from G at temperature 1 (and
// their request seeds, from a stream of the step: training draws are not
// disturbed and a rerun asks the same requests), has the target continue
// them and reports:
//   - d_fake, d_std, reward: D's mean verdict on the generations, the
//     members' spread, and the mean log D;
//   - d_real: D's verdict on held-out real sequences (on the training ones
//     without a held-out set) — far below the training batches' d_real
//     means D memorises;
//   - distinct_2/3, self_bleu_3 of the generations, prompt_distinct_1 of
//     the prompts (model targets);
//   - nll_oracle and d_oracle_corr with an oracle, nll_test (G's NLL of the
//     held-out sequences) with the identity target.
//
// It updates the hall of fame and applies the feedback rule: once the
// metric passes the threshold G's learning rate is lowered once; without
// improvement for patience adversarial evaluations, ShouldStop turns true.
func (tr *Trainer) Evaluate(ctx context.Context) (Stats, error) {
	if tr.text != nil {
		return tr.textEvaluate(ctx)
	}
	cfg := tr.Cfg
	n, k, m := cfg.EvalSamples, cfg.PromptLen, cfg.GenLen
	rng := nn.NewRNG(cfg.Seed, streamEval+uint64(tr.step))
	prompts := generator.SampleBatched(tr.Gen, n, k, 1, rng)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	gens, err := tr.generate(ctx, prompts, seeds)
	if err != nil {
		return Stats{}, fmt.Errorf("evaluation at step %d: %w", tr.step, err)
	}
	vals := map[string]float64{"calls": float64(tr.Calls)}
	var perSample []float64 // oracle NLL of each sample
	if tr.Oracle != nil {
		perSample = generator.SequenceNLL(tr.Oracle, prompts, n, k, 1)
		vals["nll_oracle"] = mean(perSample)
	}
	held := tr.Data.HeldOut
	if held != nil && cfg.IsIdentity() {
		nt := held.N
		if cfg.EvalTest > 0 && cfg.EvalTest < nt {
			nt = cfg.EvalTest
		}
		vals["nll_test"] = generator.MeanNLL(tr.Gen, held.Tokens[:nt*k], nt, k, 1)
	}
	seqs := task.ToInts(gens, n, m)
	if m >= 2 {
		vals["distinct_2"] = metrics.DistinctN(seqs, 2)
	}
	if m >= 3 {
		vals["distinct_3"] = metrics.DistinctN(seqs, 3)
		vals["self_bleu_3"] = metrics.SelfBLEU(seqs, 3, 200)
	}
	if !cfg.IsIdentity() {
		vals["prompt_distinct_1"] = metrics.DistinctN(task.ToInts(prompts, n, k), 1)
	}
	dMean, dStd := tr.Disc.Score(gens, n, m)
	realSet := tr.Data.Train
	if held != nil {
		realSet = held
	}
	nReal := min(n, realSet.N)
	realMean, _ := tr.Disc.Score(realSet.Tokens[:nReal*m], nReal, m)
	vals["d_fake"] = meanAt(dMean, n, m)
	vals["d_real"] = meanAt(realMean, nReal, m)
	vals["d_std"] = meanAt(dStd, n, m)
	reward := 0.0
	for b := 0; b < n; b++ {
		reward += math.Log(max(float64(dMean[b*m+m-1]), 1e-12))
	}
	vals["reward"] = reward / float64(n)
	if perSample != nil {
		// Is the learned evaluator aligned with the true metric? Correlation
		// of D's verdict with −NLL-oracle across samples (audit for reward hacking).
		score := make([]float64, n)
		for b := range score {
			score[b] = float64(dMean[b*m+m-1])
		}
		neg := make([]float64, len(perSample))
		for i, v := range perSample {
			neg[i] = -v
		}
		vals["d_oracle_corr"] = pearson(score, neg)
	}
	tr.updateHall(prompts, gens, dMean, dStd)
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

// updateHall keeps the hall_of_fame distinct prompts whose generations D
// rated highest.
func (tr *Trainer) updateHall(prompts, gens []int32, mean, std []float32) {
	if tr.Cfg.HallOfFame == 0 {
		return
	}
	k, m := tr.Cfg.PromptLen, tr.Cfg.GenLen
	n := len(prompts) / k
	seen := map[string]bool{}
	for _, h := range tr.hall {
		seen[fmt.Sprint(h.Tokens)] = true
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return mean[order[a]*m+m-1] > mean[order[b]*m+m-1] })
	for _, i := range order[:min(n, tr.Cfg.HallOfFame)] {
		prompt := append([]int32(nil), prompts[i*k:(i+1)*k]...)
		key := fmt.Sprint(prompt)
		if seen[key] {
			continue
		}
		seen[key] = true
		e := HallEntry{Tokens: prompt, DScore: float64(mean[i*m+m-1]), DStd: float64(std[i*m+m-1]), Step: tr.step}
		if !tr.Cfg.IsIdentity() {
			e.Generation = append([]int32(nil), gens[i*m:(i+1)*m]...)
		}
		if tr.Oracle != nil {
			e.NLLOracle = generator.MeanNLL(tr.Oracle, prompt, 1, k, 1)
		}
		tr.hall = append(tr.hall, e)
	}
	sort.SliceStable(tr.hall, func(a, b int) bool { return tr.hall[a].DScore > tr.hall[b].DScore })
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
