package search

import (
	"fmt"
	"math"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
)

// This file holds the GAN losses as training uses them: L_D as trained
// (BCE with one-sided label smoothing over the real, fake and replay terms,
// in dStep), the non-saturating reward log D, the credit schemes that turn
// D's verdicts into per-token returns, and the baseline-normalised
// advantages of G's REINFORCE update.

// BCE returns the weighted mean binary cross-entropy of logits against the
// label y and adds its gradient into grad (same length as logits):
//
//	L = w · (1/n) Σ_i −[y·log σ(z_i) + (1−y)·log(1−σ(z_i))]
//	∂L/∂z_i = w · (σ(z_i) − y) / n
func BCE(logits []float32, y, w float64, grad []float32) float64 {
	if len(logits) == 0 || w == 0 {
		return 0
	}
	n := float64(len(logits))
	var s float64
	for i, z := range logits {
		zf := float64(z)
		// −[y log σ(z) + (1−y) log σ(−z)]
		s -= y*nn.LogSigmoid(zf) + (1-y)*nn.LogSigmoid(-zf)
		grad[i] += float32(w * (1/(1+math.Exp(-zf)) - y) / n)
	}
	return w * s / n
}

// DiscriminatorLoss is the GAN discriminator loss on per-prefix logits, with
// one-sided label smoothing ε and a replay term of weight λ on old fakes:
//
//	L_D = BCE(real, 1−ε) + BCE(fake, 0) + λ·BCE(replay, 0)
//
// It returns the loss and the gradients with respect to each set of logits.
func DiscriminatorLoss(real, fake, replay []float32, smoothing, lambda float64) (loss float64, dReal, dFake, dReplay []float32) {
	r, f, o := lossTerms(smoothing, lambda)
	dReal, dFake, dReplay = make([]float32, len(real)), make([]float32, len(fake)), make([]float32, len(replay))
	loss = BCE(real, r.y, r.w, dReal) + BCE(fake, f.y, f.w, dFake) + BCE(replay, o.y, o.w, dReplay)
	return loss, dReal, dFake, dReplay
}

// lossTerm is one BCE term of L_D: its label and weight.
type lossTerm struct{ y, w float64 }

// lossTerms returns the real, fake and replay terms of L_D.
func lossTerms(smoothing, lambda float64) (real, fake, replay lossTerm) {
	return lossTerm{1 - smoothing, 1}, lossTerm{0, 1}, lossTerm{0, lambda}
}

// NonSaturatingRewards returns the generator's reward for each judged
// prefix, r = log D(x) = log σ(z): the non-saturating form of L_G
// (Goodfellow et al. 2014), whose gradient does not vanish while D is
// confident that x is fake.
func NonSaturatingRewards(logits []float32) []float64 {
	r := make([]float64, len(logits))
	for i, z := range logits {
		r[i] = nn.LogSigmoid(float64(z))
	}
	return r
}

// RewardDeltas returns, for (B, T) per-prefix rewards r, how much each
// token changed its sequence's reward: d_bt = r_bt − r_b(t−1), with d_b0 =
// r_b0. Discounted sums of deltas credit a token with the change it caused
// rather than with the level its prefix had already reached.
func RewardDeltas(r []float64, B, T int) []float64 {
	d := make([]float64, B*T)
	for b := 0; b < B; b++ {
		prev := 0.0
		for t := 0; t < T; t++ {
			d[b*T+t] = r[b*T+t] - prev
			prev = r[b*T+t]
		}
	}
	return d
}

// DiscountedReturns returns, for (B, T) per-position rewards r, the
// per-token returns R_bt = Σ_{s≥t} γ^(s−t)·r_bs: the credit each token gets
// for the prefixes it leads to.
func DiscountedReturns(r []float64, B, T int, gamma float64) []float64 {
	R := make([]float64, B*T)
	for b := 0; b < B; b++ {
		acc := 0.0
		for t := T - 1; t >= 0; t-- {
			acc = r[b*T+t] + gamma*acc
			R[b*T+t] = acc
		}
	}
	return R
}

// Advantages turns (B, T) returns into normalised advantages: each position
// t subtracts its baseline b_t (a running mean of past returns, updated here
// with the batch mean at rate 1−decay; initialised from the first batch when
// init is false), then all are divided by their standard deviation. It
// returns the advantages and whether the baseline is now initialised.
func Advantages(R []float64, B, T int, baseline []float64, init bool, decay float64) ([]float64, bool) {
	A := make([]float64, B*T)
	for t := 0; t < T; t++ {
		mean := 0.0
		for b := 0; b < B; b++ {
			mean += R[b*T+t]
		}
		mean /= float64(B)
		if !init {
			baseline[t] = mean
		}
		for b := 0; b < B; b++ {
			A[b*T+t] = R[b*T+t] - baseline[t]
		}
		baseline[t] = decay*baseline[t] + (1-decay)*mean
	}
	var sq float64
	for _, a := range A {
		sq += a * a
	}
	std := math.Sqrt(sq / float64(len(A)))
	if std > 1e-8 {
		for i := range A {
			A[i] /= std
		}
	}
	return A, true
}

// advantages turns D's verdict on the step's generations into one
// normalised advantage per prompt token, by the configured credit, and
// returns the mean reward. With the per-token schemes (identity target)
// every prefix of a prompt is judged; with credit: sequence a generation's
// reward is log D at its last position (or Reward's), a prompt's is the
// mean over its continuations, and every token of the prompt gets it.
func (tr *Trainer) advantages(prompts, gens []int32) ([]float64, float64, error) {
	B, k, m, C := tr.Cfg.BatchSize, tr.Cfg.PromptLen, tr.Cfg.GenLen, tr.Cfg.continuations()
	if tr.Cfg.Credit != "sequence" {
		r := NonSaturatingRewards(tr.Disc.MeanLogits(gens, B, k))
		var R []float64
		switch tr.Cfg.Credit {
		case "delta":
			R = DiscountedReturns(RewardDeltas(r, B, k), B, k, tr.Cfg.Gamma)
		case "rollout":
			R = tr.rolloutReturns(prompts, r)
		default:
			R = DiscountedReturns(r, B, k, tr.Cfg.Gamma)
		}
		A, init := Advantages(R, B, k, tr.baseline, tr.baselineInit, tr.Cfg.BaselineDecay)
		tr.baselineInit = init
		return A, mean(r), nil
	}
	var rc []float64 // one reward per generation
	if tr.Reward != nil {
		if rc = tr.Reward(gens); len(rc) != B*C {
			return nil, 0, fmt.Errorf("the reward function returned %d rewards for %d generations", len(rc), B*C)
		}
	} else {
		rc = NonSaturatingRewards(lastPosition(tr.Disc.MeanLogits(gens, B*C, m), B*C, m))
	}
	A, r := tr.sequenceAdvantages(rc)
	return A, r, nil
}

// sequenceAdvantages is credit: sequence from one reward per generation
// (B prompts × C continuations, prompt-major): a prompt's reward is the
// mean of its continuations', every token of the prompt gets its
// baseline-normalised advantage. It returns the advantages and the mean
// reward.
func (tr *Trainer) sequenceAdvantages(rc []float64) ([]float64, float64) {
	B, k, C := tr.Cfg.BatchSize, tr.Cfg.PromptLen, tr.Cfg.continuations()
	r := make([]float64, B)
	for b := range r {
		for c := 0; c < C; c++ {
			r[b] += rc[b*C+c] / float64(C)
		}
	}
	Aseq, init := Advantages(r, B, 1, tr.baseline, tr.baselineInit, tr.Cfg.BaselineDecay)
	tr.baselineInit = init
	A := make([]float64, B*k)
	for b, a := range Aseq {
		for t := 0; t < k; t++ {
			A[b*k+t] = a
		}
	}
	return A, mean(r)
}

// lastPosition returns the last of each of the (n, T) per-position values:
// D's verdict on whole sequences.
func lastPosition(z []float32, n, T int) []float32 {
	out := make([]float32, n)
	for b := range out {
		out[b] = z[b*T+T-1]
	}
	return out
}

// rolloutReturns values each prefix as SeqGAN does: the mean of log D over
// Rollouts completions of it sampled from G (the whole sequence's own log D
// for the last token). r holds the per-prefix rewards of the sequences.
// Completions are judged directly, which assumes the identity target.
func (tr *Trainer) rolloutReturns(prompts []int32, r []float64) []float64 {
	B, T, n := tr.Cfg.BatchSize, tr.Cfg.PromptLen, tr.Cfg.Rollouts
	R := make([]float64, B*T)
	opt := generator.SampleOptions{Temperature: tr.Cfg.Temperature}
	for t := 1; t < T; t++ {
		seqs := tr.Gen.Rollout(prompts, B, T, t, n, opt, tr.sampleRNG)
		final := NonSaturatingRewards(tr.Disc.MeanLogits(seqs, B*n, T))
		for b := 0; b < B; b++ {
			s := 0.0
			for k := 0; k < n; k++ {
				s += final[(b*n+k)*T+T-1]
			}
			R[b*T+t-1] = s / float64(n)
		}
	}
	for b := 0; b < B; b++ {
		R[b*T+T-1] = r[b*T+T-1]
	}
	return R
}

// dStep is one D update whose fresh fakes may arrive later. newDStep draws
// the replayed fakes; prepare (optional) runs every member's forward and
// backward pass over the real sequences and the replayed fakes, which do not
// depend on the fresh fakes; finish runs what is left (all three sets in one
// pass when prepare was not called), updates every member and adds the
// fakes to the replay buffer. A run against a model calls prepare while the
// target generates the fakes. The loss is the same either way; two passes only sum it in
// another order (equal up to float rounding).
type dStep struct {
	disc              *discriminator.Ensemble
	opts              []*nn.Adam
	replay            *Replay[int32]
	T                 int
	real, old         []int32
	smoothing, lambda float64
	prepared          bool
	loss, dReal       []float64 // per member, so far
}

func newDStep(disc *discriminator.Ensemble, opts []*nn.Adam, replay *Replay[int32], rng *nn.RNG, real []int32, T, nReplay int, smoothing, lambda float64) *dStep {
	K := len(disc.Members)
	return &dStep{
		disc: disc, opts: opts, replay: replay, T: T, real: real, old: replay.Sample(nReplay, rng),
		smoothing: smoothing, lambda: lambda, loss: make([]float64, K), dReal: make([]float64, K),
	}
}

// prepare runs the real and replay terms of L_D now.
func (d *dStep) prepare() {
	realT, _, replayT := lossTerms(d.smoothing, d.lambda)
	final := d.pass(concat(d.real, d.old), []lossSet{{len(d.real) / d.T, realT}, {len(d.old) / d.T, replayT}}, true, false)
	for k := range final {
		d.dReal[k] = final[k][0]
	}
	d.prepared = true
}

// finish runs the fake term (and the others unless prepared), updates every
// member and stores the fakes in the replay buffer.
func (d *dStep) finish(fake []int32) map[string]float64 {
	realT, fakeT, replayT := lossTerms(d.smoothing, d.lambda)
	fakes := lossSet{len(fake) / d.T, fakeT}
	dFake := make([]float64, len(d.disc.Members))
	if d.prepared {
		for k, f := range d.pass(fake, []lossSet{fakes}, false, true) {
			dFake[k] = f[0]
		}
	} else {
		for k, f := range d.pass(concat(d.real, fake, d.old), []lossSet{{len(d.real) / d.T, realT}, fakes, {len(d.old) / d.T, replayT}}, true, true) {
			d.dReal[k], dFake[k] = f[0], f[1]
		}
	}
	d.replay.Add(fake)
	return map[string]float64{"loss_d": mean(d.loss), "d_real": mean(d.dReal), "d_fake": mean(dFake)}
}

// lossSet is n consecutive sequences of one term of L_D.
type lossSet struct {
	n int
	lossTerm
}

// pass runs every member, in parallel, forward and backward over seqs, the
// sets one after another: the gradients of their terms accumulate (zeroed
// first if zero) and, if update, the optimiser steps. It adds each member's
// loss to d.loss and returns per member each set's mean final probability.
func (d *dStep) pass(seqs []int32, sets []lossSet, zero, update bool) [][]float64 {
	T, K := d.T, len(d.disc.Members)
	final := make([][]float64, K)
	nn.ForEach(K, func(k int) {
		m := d.disc.Members[k]
		if zero {
			m.Params().ZeroGrad()
		}
		z, cache := m.Forward(seqs, len(seqs)/T, T)
		g := make([]float32, len(z))
		l, at := 0.0, 0
		for _, s := range sets {
			zs := z[at*T : (at+s.n)*T]
			l += BCE(zs, s.y, s.w, g[at*T:(at+s.n)*T])
			final[k] = append(final[k], meanFinalProb(zs, s.n, T))
			at += s.n
		}
		m.Backward(cache, g)
		if update {
			d.opts[k].Update(m.Params())
		}
		d.loss[k] += l
	})
	return final
}

func concat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// meanFinalProb is the mean σ(logit) at the last position: D's verdict on whole sequences.
func meanFinalProb(logits []float32, B, T int) float64 {
	s := 0.0
	for b := 0; b < B; b++ {
		s += 1 / (1 + math.Exp(-float64(logits[b*T+T-1])))
	}
	return s / float64(B)
}
