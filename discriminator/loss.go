package discriminator

import (
	"math"

	"promptgan/internal/nn"
)

// Set is one term of the discriminator loss: N consecutive examples of a
// batch, the label they are trained towards and the term's weight.
type Set struct {
	N      int
	Label  float64
	Weight float64
}

// GANSets are the terms of L_D on n real examples, n fake ones and nReplay
// replayed old fakes: real at 1 − smoothing (one-sided label smoothing),
// fake at 0, replayed at 0 with weight lambda.
func GANSets(nReal, nFake, nReplay int, smoothing, lambda float64) []Set {
	return []Set{{nReal, 1 - smoothing, 1}, {nFake, 0, 1}, {nReplay, 0, lambda}}
}

// Loss is the GAN discriminator loss L_D, the one every D trains on (the
// token D's per-prefix logits, the text D's one logit a pair, the text D's
// fit on labelled items): on one member's logits z of consecutive sets of
// examples, T logits an example,
//
//	L_D = Σ_s w_s · BCE(z_s, y_s)     e.g. BCE(real, 1−ε) + BCE(fake, 0) + λ·BCE(replay, 0)
//
// where BCE is the mean over the set's logits (BCE). It adds ∂L_D/∂z into
// grad (len(z)) and returns L_D and each set's mean verdict σ(z) at an
// example's last position (0 for an empty set).
func Loss(z []float32, T int, sets []Set, grad []float32) (float64, []float64) {
	var loss float64
	verdicts := make([]float64, len(sets))
	at := 0
	for i, s := range sets {
		zs := z[at*T : (at+s.N)*T]
		loss += BCE(zs, s.Label, s.Weight, grad[at*T:(at+s.N)*T])
		verdicts[i] = meanFinalProb(zs, s.N, T)
		at += s.N
	}
	return loss, verdicts
}

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

// meanFinalProb is the mean σ(logit) at the last of each example's T
// positions: D's verdict on whole sequences; 0 for no example.
func meanFinalProb(logits []float32, B, T int) float64 {
	if B == 0 {
		return 0
	}
	s := 0.0
	for b := 0; b < B; b++ {
		s += 1 / (1 + math.Exp(-float64(logits[b*T+T-1])))
	}
	return s / float64(B)
}
