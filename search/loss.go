package search

import (
	"math"

	"promptgan/internal/nn"
)

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
