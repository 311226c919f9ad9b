package search

import (
	"context"
	"testing"

	"promptgan/internal/nn"
)

// BenchmarkSteerStep times one adversarial Steer step outside the target (G
// sampling, D step, rewards, G step) at the steer-oracle bench's sizes:
// vocabulary 5,000, k = 4, m = 16, batch 64, the default G and D. The
// target answers at once (each prompt, padded to m tokens with its last).
func BenchmarkSteerStep(b *testing.B) {
	const V, k, m = 5000, 4, 16
	rng := nn.NewRNG(1, 1)
	random := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(rng.IntN(V))
		}
		return out
	}
	tg := FitGenerations(fixedTarget{}, m)
	refs := random(1024 * m)
	s, err := NewSteer(DefaultSteerConfig(V), tg, refs, PromptWindows(refs, m, k))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := s.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
