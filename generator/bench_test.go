package generator

import (
	"testing"

	"promptgan/internal/nn"
)

// BenchmarkMLEStep measures one teacher-forced training step (forward,
// backward, Adam update) of the SeqGAN-shaped generator (vocab 5000, emb 32,
// hidden 32) at batch 64, T 20.
func BenchmarkMLEStep(b *testing.B) {
	m := New(DefaultConfig(5000), nn.NewRNG(1, 0))
	rng := nn.NewRNG(2, 0)
	B, T := 64, 20
	bt := Batch{B: B, T: T, Tokens: make([]int32, B*T), Weights: make([]float32, B*T)}
	for i := range bt.Tokens {
		bt.Tokens[i] = int32(rng.IntN(5000))
		bt.Weights[i] = 1 / float32(B*T)
	}
	ps := m.Params()
	opt := nn.NewAdam(nn.DefaultAdam(0.01), ps)
	b.ResetTimer()
	for range b.N {
		ps.ZeroGrad()
		m.Backprop(bt)
		opt.Update(ps)
	}
	b.ReportMetric(float64(b.N*B*T)/b.Elapsed().Seconds(), "tokens/s")
	// The products only, as seqganoracle.MLEStepFLOPs counts them: the
	// output layer's three and the LSTM's input and recurrent ones, forward
	// and backward (2 FLOPs per multiply-add).
	c := m.Cfg
	rows := float64(B * T)
	flops := 2 * (3*rows*float64(c.Hidden*c.Vocab) + 3*rows*float64((c.Emb+c.Hidden)*4*c.Hidden))
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSample measures drawing 64 sequences of 20 tokens.
func BenchmarkSample(b *testing.B) {
	m := New(DefaultConfig(5000), nn.NewRNG(1, 0))
	rng := nn.NewRNG(2, 0)
	for range b.N {
		m.Sample(64, 20, SampleOptions{Temperature: 1}, nil, rng)
	}
}
