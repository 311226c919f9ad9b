package discriminator

import (
	"math"
	"testing"

	"promptgan/internal/nn"
)

func TestMemberGradients(t *testing.T) {
	for _, tc := range []struct{ B, T int }{{1, 1}, {3, 5}, {2, 7}} {
		cfg := Config{Vocab: 6, Emb: 3, Hidden: 4, Members: 1, InitScale: 0.5}
		e := New(cfg, nn.NewRNG(1, 0))
		m := e.Members[0]
		rng := nn.NewRNG(2, 0)
		nn.InitUniform(m.Bhead, 0.5, rng)
		nn.InitUniform(m.LSTM.B, 0.5, rng)
		worst, where := gradCheckMember(m, cfg.Vocab, tc.B, tc.T, rng)
		if worst > 2e-2 {
			t.Fatalf("B=%d T=%d: gradient mismatch %.3g at %s", tc.B, tc.T, worst, where)
		}
	}
}

// gradCheckMember compares m's Backward with finite differences of a
// non-linear loss of its logits, Σ w·tanh(z), on B×T random tokens (tokens
// and weights drawn from rng); it returns nn.GradCheck's worst mismatch.
func gradCheckMember(m *Member, vocab, B, T int, rng *nn.RNG) (float64, string) {
	tokens := make([]int32, B*T)
	w := make([]float32, B*T)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(vocab))
		w[i] = float32(rng.NormFloat64())
	}
	ps := m.Params()
	loss := func() float64 {
		logits, _ := m.Forward(tokens, B, T)
		s := 0.0
		for i, z := range logits {
			s += float64(w[i]) * math.Tanh(float64(z))
		}
		return s
	}
	backward := func() {
		ps.ZeroGrad()
		logits, c := m.Forward(tokens, B, T)
		d := make([]float32, len(logits))
		for i, z := range logits {
			th := math.Tanh(float64(z))
			d[i] = w[i] * float32(1-th*th)
		}
		m.Backward(c, d)
	}
	return nn.GradCheck(ps, backward, loss, 1e-2, 1e-3, 15, rng)
}

func TestPrefixLogitsIgnoreTheFuture(t *testing.T) {
	cfg := Config{Vocab: 6, Emb: 3, Hidden: 4, Members: 1, InitScale: 0.5}
	m := New(cfg, nn.NewRNG(3, 0)).Members[0]
	a := []int32{1, 2, 3, 4}
	b := []int32{1, 2, 5, 0}
	la, _ := m.Forward(a, 1, 4)
	lb, _ := m.Forward(b, 1, 4)
	if la[0] != lb[0] || la[1] != lb[1] {
		t.Fatalf("logits of a shared prefix differ: %v vs %v", la[:2], lb[:2])
	}
	if la[2] == lb[2] {
		t.Fatal("logits after the sequences diverge are equal")
	}
}

func TestEnsembleScoreSpread(t *testing.T) {
	cfg := Config{Vocab: 6, Emb: 3, Hidden: 4, Members: 4, InitScale: 1}
	e := New(cfg, nn.NewRNG(4, 0))
	tokens := []int32{0, 1, 2, 3, 4, 5}
	mean, std := e.Score(tokens, 2, 3)
	var sum float64
	for i := range mean {
		if mean[i] <= 0 || mean[i] >= 1 || std[i] < 0 {
			t.Fatalf("score %d: mean %v std %v out of range", i, mean[i], std[i])
		}
		sum += float64(std[i])
	}
	if sum == 0 {
		t.Fatal("differently initialised members agree exactly: no uncertainty signal")
	}
}

func TestLinearMemberGradients(t *testing.T) {
	for _, tc := range []struct{ B, T, P int }{{1, 1, 1}, {3, 5, 5}, {2, 7, 4}} {
		cfg := Config{Vocab: 6, Members: 1, InitScale: 0.5, Kind: KindLinear, Positions: tc.P}
		m := New(cfg, nn.NewRNG(1, 0)).Members[0]
		rng := nn.NewRNG(2, 0)
		nn.InitUniform(m.Bhead, 0.5, rng)
		worst, where := gradCheckMember(m, cfg.Vocab, tc.B, tc.T, rng)
		if worst > 2e-2 {
			t.Fatalf("B=%d T=%d P=%d: gradient mismatch %.3g at %s", tc.B, tc.T, tc.P, worst, where)
		}
	}
}

func TestLinearPrefixLogitsIgnoreTheFuture(t *testing.T) {
	cfg := Config{Vocab: 6, Members: 1, InitScale: 0.5, Kind: KindLinear, Positions: 4}
	m := New(cfg, nn.NewRNG(3, 0)).Members[0]
	la, _ := m.Forward([]int32{1, 2, 3, 4}, 1, 4)
	lb, _ := m.Forward([]int32{1, 2, 5, 0}, 1, 4)
	if la[0] != lb[0] || la[1] != lb[1] {
		t.Fatalf("logits of a shared prefix differ: %v vs %v", la[:2], lb[:2])
	}
	if la[2] == lb[2] {
		t.Fatal("logits after the sequences diverge are equal")
	}
}

func TestConfigKind(t *testing.T) {
	c := DefaultConfig(10)
	if c.Kind != "" || c.IsLinear() {
		t.Fatalf("default kind %q: want the LSTM (empty)", c.Kind)
	}
	c.Kind = KindLinear
	if err := c.Validate(); err == nil {
		t.Fatal("a linear discriminator without positions validated")
	}
	c.Positions = 16
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if n := len(New(c, nn.NewRNG(1, 0)).Params()); n != 2*c.Members {
		t.Fatalf("linear ensemble has %d params, want %d", n, 2*c.Members)
	}
	c.Kind = "cnn"
	if err := c.Validate(); err == nil {
		t.Fatal("unknown kind validated")
	}
}

// TestOuterIsGemm checks that outer gives Gemm's bits for the product it
// replaces in Backward (inner dimension 1).
func TestOuterIsGemm(t *testing.T) {
	rng := nn.NewRNG(4, 0)
	for _, sz := range []struct{ m, n int }{{1, 1}, {7, 3}, {3200, 64}} {
		a, b := make([]float32, sz.m), make([]float32, sz.n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		want, got := make([]float32, sz.m*sz.n), make([]float32, sz.m*sz.n)
		nn.Gemm(false, true, sz.m, sz.n, 1, 1, a, 1, b, 1, 0, want, sz.n)
		outer(got, a, b)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%v: element %d = %v, Gemm %v", sz, i, got[i], want[i])
			}
		}
	}
}
