package search

import (
	"context"
	"testing"

	"promptgan/generator"
	"promptgan/targets"
)

// The FLOP counts below are of the matrix products only (2 per
// multiply-add), as seqganoracle.MLEStepFLOPs counts an MLE step: an LSTM
// over r rows (sequences × steps) costs r·(E+H)·4H multiply-adds forward
// and twice that backward (the weights' and the inputs' gradients).

// lstmMACs is the multiply-adds of an LSTM over rows rows, forward only or
// forward and backward.
func lstmMACs(rows, E, H int, backward bool) float64 {
	f := float64(rows) * float64(E+H) * float64(4*H)
	if backward {
		return 3 * f
	}
	return f
}

// dUpdateFLOPs is one D update: every member forward and backward over
// batch real, batch fresh and batch/2 replayed sequences.
func dUpdateFLOPs(cfg Config) float64 {
	d := cfg.Discriminator
	rows := (2*cfg.BatchSize + cfg.BatchSize/2) * cfg.GenLen
	return 2 * float64(d.Members) * lstmMACs(rows, d.Emb, d.Hidden, true)
}

// sampleFLOPs is drawing batch prompts from G: an LSTM step and the output
// layer per token.
func sampleFLOPs(cfg Config) float64 {
	g := cfg.Generator
	rows := cfg.BatchSize * cfg.PromptLen
	return 2 * (lstmMACs(rows, g.Emb, g.Hidden, false) + float64(rows)*float64(g.Hidden)*float64(g.Vocab))
}

// gStepFLOPs is G's policy-gradient (or MLE) update: the output layer's
// three products and the LSTM forward and backward.
func gStepFLOPs(cfg Config) float64 {
	g := cfg.Generator
	rows := cfg.BatchSize * cfg.PromptLen
	return 2 * (3*float64(rows)*float64(g.Hidden)*float64(g.Vocab) + lstmMACs(rows, g.Emb, g.Hidden, true))
}

// adversarialStepFLOPs is d_steps_per_g × (sampling + D update), D's
// verdict on the last fakes (forward only) and G's update.
func adversarialStepFLOPs(cfg Config) float64 {
	d := cfg.Discriminator
	judge := 2 * float64(d.Members) * lstmMACs(cfg.BatchSize*cfg.GenLen, d.Emb, d.Hidden, false)
	return float64(cfg.DStepsPerG)*(sampleFLOPs(cfg)+dUpdateFLOPs(cfg)) + judge + gStepFLOPs(cfg)
}

// reportGFLOPs reports the achieved rate of b's loop at flops per iteration.
func reportGFLOPs(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

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
	reportGFLOPs(b, adversarialStepFLOPs(tr.Cfg))
}

// BenchmarkDUpdate times one D update at the seqgan-oracle preset's sizes:
// three LSTM members forward and backward over 64 real, 64 fresh and 32
// replayed sequences, and their Adam steps.
func BenchmarkDUpdate(b *testing.B) {
	tr := adversarialBenchTrainer(b)
	c := tr.critic.(*tokenCritic)
	prompts, _ := tr.drawPrompts(1)
	real := tr.real.next()
	for range 4 { // fill the replay buffer past batch/2 fakes
		c.replay.Add(prompts)
	}
	b.ResetTimer()
	for range b.N {
		c.newDStep(real).finish(prompts)
	}
	reportGFLOPs(b, dUpdateFLOPs(tr.Cfg))
}

// BenchmarkPolicyStep times G's REINFORCE update on 64 sampled prompts at
// the seqgan-oracle preset's sizes.
func BenchmarkPolicyStep(b *testing.B) {
	tr := adversarialBenchTrainer(b)
	cfg := tr.Cfg
	prompts := tr.Gen.Sample(cfg.BatchSize, cfg.PromptLen, generator.SampleOptions{Temperature: 1}, nil, tr.sampleRNG)
	A := make([]float64, len(prompts))
	for i := range A {
		A[i] = tr.sampleRNG.NormFloat64()
	}
	b.ResetTimer()
	for range b.N {
		tr.policyStep(prompts, A)
	}
	reportGFLOPs(b, gStepFLOPs(cfg))
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
