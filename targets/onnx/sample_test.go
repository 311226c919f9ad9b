package onnx

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The sampler's draws follow softmax(z/T) restricted to the top-k set and
// then to the top-p nucleus.
func TestSamplerDistribution(t *testing.T) {
	z := []float32{2, 1, 0, -1, 3, 1}
	softmax := func(T float64, keep ...int) []float64 {
		p := make([]float64, len(z))
		var s float64
		for _, j := range keep {
			p[j] = math.Exp(float64(z[j]) / T)
			s += p[j]
		}
		for j := range p {
			p[j] /= s
		}
		return p
	}
	all := []int{0, 1, 2, 3, 4, 5}
	// Probabilities at T=1: 4: .574, 0: .211, 1 and 5: .078 each, 2: .029, 3: .011.
	for _, tc := range []struct {
		name string
		s    sampler
		want []float64
	}{
		{"temperature 1", sampler{temperature: 1}, softmax(1, all...)},
		{"temperature 0.5", sampler{temperature: 0.5}, softmax(0.5, all...)},
		{"top-k 2", sampler{temperature: 1, topK: 2}, softmax(1, 4, 0)},
		{"top-k 3 (tie at the cut: smaller id kept)", sampler{temperature: 1, topK: 3}, softmax(1, 4, 0, 1)},
		{"top-p 0.7", sampler{temperature: 1, topP: 0.7}, softmax(1, 4, 0)},
		{"top-p 0.9", sampler{temperature: 1, topP: 0.9}, softmax(1, 4, 0, 1, 5)},
		// After top-k 3 the probabilities are .665, .245, .090: top-p
		// works on them, renormalised, as Hugging Face's warpers chain.
		{"top-k 3 then top-p 0.9", sampler{temperature: 1, topK: 3, topP: 0.9}, softmax(1, 4, 0)},
		{"top-k 3 then top-p 0.95", sampler{temperature: 1, topK: 3, topP: 0.95}, softmax(1, 4, 0, 1)},
		{"top-p 0.5: the most likely alone", sampler{temperature: 1, topP: 0.5}, softmax(1, 4)},
	} {
		rng := newRNG(42)
		const n = 200000
		count := make([]float64, len(z))
		for range n {
			tok, err := tc.s.pick(z, rng)
			if err != nil {
				t.Fatal(err)
			}
			count[tok]++
		}
		for j := range z {
			if got := count[j] / n; math.Abs(got-tc.want[j]) > 0.005 || (tc.want[j] == 0 && got != 0) {
				t.Errorf("%s: token %d drawn %.4f of the time, want %.4f", tc.name, j, got, tc.want[j])
			}
		}
	}
}

func TestSamplerGreedyAndBadLogits(t *testing.T) {
	s := sampler{}
	if tok, err := s.pick([]float32{1, 3, 3, 2}, nil); err != nil || tok != 1 {
		t.Errorf("greedy with a tie: %d, %v; want 1 (the smaller id)", tok, err)
	}
	if tok, err := (&sampler{temperature: 1, topK: 1}).pick([]float32{1, 3, 3, 2}, newRNG(1)); err != nil || tok != 1 {
		t.Errorf("top-k 1 with a tie: %d, %v; want 1", tok, err)
	}
	neg := float32(math.Inf(-1))
	if tok, err := (&sampler{temperature: 1}).pick([]float32{neg, 0, neg}, newRNG(1)); err != nil || tok != 1 {
		t.Errorf("-Inf logits are never drawn: %d, %v", tok, err)
	}
	for _, tc := range []struct {
		z    []float32
		want string
	}{
		{[]float32{0, float32(math.NaN())}, "logit NaN for token 1"},
		{[]float32{float32(math.Inf(1)), 0}, "logit +Inf for token 0"},
		{[]float32{neg, neg}, "-Inf for every token"},
		{nil, "no logits"},
	} {
		for _, s := range []*sampler{{}, {temperature: 1}} {
			if _, err := s.pick(tc.z, newRNG(1)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("logits %v: %v, want %q", tc.z, err, tc.want)
			}
		}
	}
}

// BenchmarkPickGreedy times the arg-max over one row of 5,000 logits (the
// oracle LSTM's vocabulary), which decoding runs for every row at every step.
func BenchmarkPickGreedy(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 5000)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	s := &sampler{}
	for b.Loop() {
		if _, err := s.pick(logits, nil); err != nil {
			b.Fatal(err)
		}
	}
}
