package search

import (
	"math"

	"promptgan/discriminator"
	"promptgan/internal/nn"
)

// This file holds the GAN losses as training uses them: L_D (written once,
// discriminator.Loss: BCE with one-sided label smoothing over the real,
// fake and replay terms) as the token D's update takes it (dStep), the
// non-saturating reward log D, the credit schemes that turn
// D's verdicts into per-token returns, and the baseline-normalised
// advantages of G's REINFORCE update.

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

// advantages turns the critic's returns for a round into one normalised
// advantage per prompt token, by the configured credit, and returns the
// mean reward: per-token returns get a baseline per position; with credit:
// sequence a prompt's reward is the mean over its continuations and every
// token of the prompt gets its advantage.
func (tr *Trainer) advantages(j judged) ([]float64, float64, error) {
	R, reward, err := tr.critic.rewards(j)
	if err != nil {
		return nil, 0, err
	}
	if tr.Cfg.Credit == "sequence" {
		A, r := tr.sequenceAdvantages(R)
		return A, r, nil
	}
	B, k := tr.Cfg.BatchSize, tr.Cfg.PromptLen
	A, init := Advantages(R, B, k, tr.baseline, tr.baselineInit, tr.Cfg.BaselineDecay)
	tr.baselineInit = init
	return A, reward, nil
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
	smoothing, lambda float64 // of L_D's terms (discriminator.GANSets)
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
	sets := discriminator.GANSets(len(d.real)/d.T, 0, len(d.old)/d.T, d.smoothing, d.lambda)
	final := d.pass(concat(d.real, d.old), []discriminator.Set{sets[0], sets[2]}, true, false)
	for k := range final {
		d.dReal[k] = final[k][0]
	}
	d.prepared = true
}

// finish runs the fake term (and the others unless prepared), updates every
// member and stores the fakes in the replay buffer.
func (d *dStep) finish(fake []int32) map[string]float64 {
	sets := discriminator.GANSets(len(d.real)/d.T, len(fake)/d.T, len(d.old)/d.T, d.smoothing, d.lambda)
	dFake := make([]float64, len(d.disc.Members))
	if d.prepared {
		for k, f := range d.pass(fake, sets[1:2], false, true) {
			dFake[k] = f[0]
		}
	} else {
		for k, f := range d.pass(concat(d.real, fake, d.old), sets, true, true) {
			d.dReal[k], dFake[k] = f[0], f[1]
		}
	}
	d.replay.Add(fake)
	return map[string]float64{"loss_d": mean(d.loss), "d_real": mean(d.dReal), "d_fake": mean(dFake)}
}

// pass runs every member, in parallel, forward and backward over seqs, the
// sets one after another, on L_D (discriminator.Loss): the gradients of
// their terms accumulate (zeroed first if zero) and, if update, the
// optimiser steps. It adds each member's loss to d.loss and returns per
// member each set's mean final probability.
func (d *dStep) pass(seqs []int32, sets []discriminator.Set, zero, update bool) [][]float64 {
	T, K := d.T, len(d.disc.Members)
	final := make([][]float64, K)
	nn.ForEach(K, func(k int) {
		m := d.disc.Members[k]
		if zero {
			m.Params().ZeroGrad()
		}
		z, cache := m.Forward(seqs, len(seqs)/T, T)
		g := make([]float32, len(z))
		var l float64
		l, final[k] = discriminator.Loss(z, T, sets, g)
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
