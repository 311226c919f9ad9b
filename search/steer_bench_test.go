package search

import (
	"context"
	"testing"

	"promptgan/internal/nn"
	"promptgan/target"
)

// instantTarget answers every request with fixed random tokens at no cost,
// so a benchmark of Steer.Step times only the work outside the target.
type instantTarget struct {
	gens [][]int32
}

func (t instantTarget) Generate(_ context.Context, reqs []target.Request) ([]target.Generation, error) {
	out := make([]target.Generation, len(reqs))
	for i := range reqs {
		out[i] = target.Generation{Tokens: t.gens[i%len(t.gens)]}
	}
	return out, nil
}

func (instantTarget) Fingerprint() string { return "instant" }

// BenchmarkSteerStep times one adversarial Steer step outside the target (G
// sampling, D step, rewards, G step) at the steer-oracle bench's sizes:
// vocabulary 5,000, k = 4, m = 16, batch 64, the default G and D.
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
	tg := instantTarget{}
	for range 256 {
		tg.gens = append(tg.gens, random(m))
	}
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
