package search

import (
	"context"
	"testing"

	"promptgan/targets"
)

// BenchmarkAdversarialStep times one GAN step (sample, D step, rewards, G
// step) at the seqgan-oracle preset's sizes.
func BenchmarkAdversarialStep(b *testing.B) {
	tr := adversarialBenchTrainer(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// adversarialBenchTrainer is a run of the seqgan-oracle preset's sizes
// whose every step is adversarial.
func adversarialBenchTrainer(b *testing.B) *Trainer {
	b.Helper()
	cfg, err := Preset("seqgan-oracle")
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []*string{&cfg.Train, &cfg.Test, &cfg.Oracle} {
		*p = "../" + *p
	}
	cfg.MLESteps, cfg.DPretrainSteps, cfg.Steps = 0, 0, 1<<30
	tr, err := New(cfg, targets.Identity{})
	if err != nil {
		b.Fatal(err)
	}
	return tr
}
