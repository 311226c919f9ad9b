package search

import (
	"context"
	"testing"

	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/task"
)

// BenchmarkSteerStep times one adversarial step against a model target outside the target (G
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
	tg := targets.FitGenerations(fixedTarget{}, m)
	refs, err := task.FromTokens(random(1024*m), m)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := Preset("steer")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Target = "echo"
	cfg.Generator.Vocab, cfg.Discriminator.Vocab = V, V
	cfg.MLESteps, cfg.DPretrainSteps, cfg.Steps = 0, 0, b.N
	s, err := NewFromData(cfg, tg, Data{Train: refs})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if _, err := Run(context.Background(), s, RunOptions{NoEvaluation: true}); err != nil {
		b.Fatal(err)
	}
}
