package nn

import (
	"math"
	"testing"
)

func TestLSTMGradients(t *testing.T) {
	tests := []struct {
		name      string
		T, B      int
		in, hid   int
		withExtra bool
	}{
		{"single step", 1, 1, 3, 2, false},
		{"sequence", 5, 3, 4, 3, false},
		{"conditioned", 4, 2, 3, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := NewRNG(1, 0)
			l := NewLSTM("lstm.", tc.in, tc.hid)
			for _, p := range l.Params() {
				InitUniform(p, 0.5, rng)
			}
			x := NewParam("x", tc.T*tc.B, tc.in)
			InitUniform(x, 1, rng)
			var extra *Param
			ps := append(l.Params(), x)
			if tc.withExtra {
				extra = NewParam("extra", tc.B, 4*tc.hid)
				InitUniform(extra, 0.5, rng)
				ps = append(ps, extra)
			}
			// loss = Σ w ⊙ h, with fixed random w.
			w := make([]float32, tc.T*tc.B*tc.hid)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			ex := func() []float32 {
				if extra == nil {
					return nil
				}
				return extra.W
			}
			loss := func() float64 {
				c := l.Forward(x.W, tc.T, tc.B, ex())
				s := 0.0
				for i, h := range c.Outputs(tc.hid) {
					s += float64(w[i] * h)
				}
				return s
			}
			backward := func() {
				ps.ZeroGrad()
				c := l.Forward(x.W, tc.T, tc.B, ex())
				dx, dExtra := l.Backward(c, w, true)
				copy(x.G, dx)
				if extra != nil {
					copy(extra.G, dExtra)
				}
			}
			worst, where := GradCheck(ps, backward, loss, 1e-2, 1e-3, 20, rng)
			if worst > 2e-2 {
				t.Fatalf("gradient mismatch %.3g at %s", worst, where)
			}
		})
	}
}

func TestLSTMStepMatchesForward(t *testing.T) {
	rng := NewRNG(2, 0)
	T, B, in, hid := 4, 3, 5, 6
	l := NewLSTM("", in, hid)
	for _, p := range l.Params() {
		InitUniform(p, 0.5, rng)
	}
	x := make([]float32, T*B*in)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	c := l.Forward(x, T, B, nil)
	h, cell := make([]float32, B*hid), make([]float32, B*hid)
	gates := make([]float32, B*4*hid)
	for t2 := 0; t2 < T; t2++ {
		l.Step(x[t2*B*in:(t2+1)*B*in], h, cell, B, nil, gates)
		want := c.H[(t2+1)*B*hid : (t2+2)*B*hid]
		for i := range h {
			if math.Abs(float64(h[i]-want[i])) > 1e-6 {
				t.Fatalf("step %d: h[%d] = %v, forward gave %v", t2, i, h[i], want[i])
			}
		}
	}
}

func TestAdamStateRoundTrip(t *testing.T) {
	rng := NewRNG(3, 0)
	mk := func() Params {
		p := NewParam("p", 2, 3)
		q := NewParam("q", 4)
		return Params{p, q}
	}
	a, b := mk(), mk()
	for _, p := range a {
		InitUniform(p, 1, rng)
	}
	b.SetWeights(a.Weights())
	optA := NewAdam(DefaultAdam(0.01), a)
	step := func(ps Params, opt *Adam, k int) {
		for _, p := range ps {
			for i := range p.G {
				p.G[i] = float32(math.Sin(float64(k*7 + i)))
			}
		}
		opt.Update(ps)
	}
	for k := 0; k < 3; k++ {
		step(a, optA, k)
	}
	optB := NewAdam(DefaultAdam(0.01), b)
	b.SetWeights(a.Weights())
	if err := optB.Restore(b, optA.State(a)); err != nil {
		t.Fatal(err)
	}
	optB.Step = optA.Step
	for k := 3; k < 6; k++ {
		step(a, optA, k)
		step(b, optB, k)
	}
	for i := range a {
		for j := range a[i].W {
			if a[i].W[j] != b[i].W[j] {
				t.Fatalf("%s[%d]: %v after restore, %v uninterrupted", a[i].Name, j, b[i].W[j], a[i].W[j])
			}
		}
	}
	bad := optA.State(a)
	delete(bad, "v.q")
	if err := optB.Restore(b, bad); err == nil {
		t.Fatal("Restore accepted state with a missing tensor")
	}
}

func TestAdamClipsGlobalNorm(t *testing.T) {
	p := NewParam("p", 2)
	p.G[0], p.G[1] = 3, 4
	cfg := DefaultAdam(0.1)
	cfg.ClipNorm = 1
	opt := NewAdam(cfg, Params{p})
	if norm := opt.Update(Params{p}); math.Abs(norm-5) > 1e-9 {
		t.Fatalf("norm = %v, want 5", norm)
	}
	// Adam's first step moves each coordinate by ≈ lr in the gradient's sign.
	for i, w := range p.W {
		if math.Abs(float64(w)+0.1) > 1e-4 {
			t.Fatalf("w[%d] = %v, want ≈ -0.1", i, w)
		}
	}
}

func TestRNGStateRoundTrip(t *testing.T) {
	r := NewRNG(42, 7)
	r.Float64()
	st := r.State()
	want := []float64{r.Float64(), r.Float64()}
	s := NewRNG(0, 0)
	if err := s.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got := s.Float64(); got != w {
			t.Fatalf("draw %d = %v, want %v", i, got, w)
		}
	}
	if err := s.Restore("zz"); err == nil {
		t.Fatal("Restore accepted a non-hex state")
	}
}

func TestSetWeightsRefusesMismatch(t *testing.T) {
	ps := Params{NewParam("a", 2, 2)}
	tests := map[string]map[string]Array{
		"missing":     {},
		"wrong shape": {"a": {Shape: []int{4}, Data: make([]float32, 4)}},
		"extra":       {"a": {Shape: []int{2, 2}, Data: make([]float32, 4)}, "b": {Shape: []int{1}, Data: []float32{1}}},
	}
	for name, ws := range tests {
		if err := ps.SetWeights(ws); err == nil {
			t.Errorf("%s: SetWeights accepted it", name)
		}
	}
}
