package nn

import (
	"math"
	"testing"
)

// TestAdamStepBitExact checks that adamStep (the vectorised C kernel in the
// OpenBLAS build) gives bit for bit what adamStepGo gives, so an optimiser
// step does not depend on the build.
func TestAdamStepBitExact(t *testing.T) {
	base := adamConsts{scale: 1, b1: 0.9, b2: 0.999, stepSize: 0.01, sqrtC2: 0.0447, eps: 1e-8, decay: 1}
	clipped, decayed, late := base, base, base
	clipped.scale = 0.37
	decayed.useDecay, decayed.decay = true, 0.9995
	late.stepSize, late.sqrtC2 = 0.00123, 0.99999
	for _, tc := range []struct {
		name string
		n    int
		k    adamConsts
	}{
		{"plain", 1000, base},
		{"clipped", 1003, clipped},
		{"weight decay", 517, decayed},
		{"late step", 4099, late},
		{"one element", 1, base},
		{"empty", 0, base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := NewRNG(7, uint64(tc.n))
			w, g, m, v := make([]float32, tc.n), make([]float32, tc.n), make([]float32, tc.n), make([]float32, tc.n)
			for i := range w {
				w[i] = float32(rng.NormFloat64())
				g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-8)))
				m[i] = float32(rng.NormFloat64() * 0.01)
				v[i] = float32(math.Abs(rng.NormFloat64()) * 1e-4)
				switch i % 7 { // the edges: zero gradient, zero moments, a subnormal
				case 3:
					g[i] = 0
				case 5:
					m[i], v[i] = 0, 0
				case 6:
					g[i] = 1e-40
				}
			}
			w2, g2, m2, v2 := clone(w), clone(g), clone(m), clone(v)
			for range 3 { // moments carried from step to step
				adamStep(w, g, m, v, tc.k)
				adamStepGo(w2, g2, m2, v2, tc.k)
			}
			for i := range w {
				if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || math.Float32bits(m[i]) != math.Float32bits(m2[i]) || math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
					t.Fatalf("element %d: kernel w %v m %v v %v, Go w %v m %v v %v", i, w[i], m[i], v[i], w2[i], m2[i], v2[i])
				}
			}
		})
	}
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// BenchmarkAdamUpdate times one Adam update of a 5,000×64 embedding (a D
// member's largest parameter at the benchmarks' vocabulary).
func BenchmarkAdamUpdate(b *testing.B) {
	p := NewParam("emb", 5000, 64)
	rng := NewRNG(1, 1)
	for i := range p.G {
		p.G[i] = float32(rng.NormFloat64())
	}
	ps := Params{p}
	a := NewAdam(DefaultAdam(0.005), ps)
	b.ResetTimer()
	for range b.N {
		a.Update(ps)
	}
}
