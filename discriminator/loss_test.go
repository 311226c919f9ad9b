package discriminator

import (
	"math"
	"testing"
)

func TestBCEValueAndGradient(t *testing.T) {
	tests := []struct {
		z, y, w  float64
		wantLoss float64
		wantGrad float64
	}{
		// −log σ(0) = log 2; ∂/∂z = σ(0) − 1 = −0.5
		{0, 1, 1, math.Ln2, -0.5},
		// y = 0: −log(1 − σ(2)) = log(1 + e²); ∂ = σ(2)
		{2, 0, 1, math.Log(1 + math.Exp(2)), 1 / (1 + math.Exp(-2))},
		// smoothed label 0.9, weight 0.5
		{1, 0.9, 0.5, 0.5 * -(0.9*math.Log(1/(1+math.Exp(-1))) + 0.1*math.Log(1-1/(1+math.Exp(-1)))), 0.5 * (1/(1+math.Exp(-1)) - 0.9)},
		// very confident and wrong: stays finite
		{-40, 1, 1, 40, -1},
	}
	for _, tc := range tests {
		g := make([]float32, 1)
		loss := BCE([]float32{float32(tc.z)}, tc.y, tc.w, g)
		if math.Abs(loss-tc.wantLoss) > 1e-6 || math.Abs(float64(g[0])-tc.wantGrad) > 1e-6 {
			t.Errorf("BCE(z=%v, y=%v, w=%v) = %v, grad %v; want %v, %v", tc.z, tc.y, tc.w, loss, g[0], tc.wantLoss, tc.wantGrad)
		}
	}
}

// TestLossFiniteDifference checks L_D's gradient against finite
// differences of its value: per-prefix logits (T = 2) of the GAN's real,
// fake and replay sets, and one-logit sets of their own label (the fit on
// labelled items); with each set's mean final verdict.
func TestLossFiniteDifference(t *testing.T) {
	tests := []struct {
		name string
		z    []float32
		T    int
		sets []Set
	}{
		{"gan", []float32{0.3, -1.2, 2, 0.1, -0.5, 1.5, 0.7, -2}, 2, GANSets(2, 1, 1, 0.1, 0.5)},
		{"rows", []float32{0.3, -1.2, 2}, 1, []Set{{1, 0.9, 1.0 / 3}, {1, 0, 1.0 / 3}, {1, 0.9, 1.0 / 3}}},
		{"bad term", []float32{0.3, -1.2, 2, 0.4}, 1, []Set{{1, 0.9, 0.4}, {2, 0, 0.4}, {1, 0, 0.2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := func() float64 { l, _ := Loss(tc.z, tc.T, tc.sets, make([]float32, len(tc.z))); return l }
			grad := make([]float32, len(tc.z))
			_, verdicts := Loss(tc.z, tc.T, tc.sets, grad)
			for i := range tc.z {
				orig := tc.z[i]
				tc.z[i] = orig + 1e-3
				up := f()
				tc.z[i] = orig - 1e-3
				down := f()
				tc.z[i] = orig
				num := (up - down) / 2e-3
				if math.Abs(num-float64(grad[i])) > 1e-4 {
					t.Errorf("logit %d (%v): analytic %v, numeric %v", i, orig, grad[i], num)
				}
			}
			at := 0
			for s, set := range tc.sets {
				want := 0.0
				for b := range set.N {
					want += 1 / (1 + math.Exp(-float64(tc.z[(at+b)*tc.T+tc.T-1]))) / float64(set.N)
				}
				if math.Abs(verdicts[s]-want) > 1e-12 {
					t.Errorf("set %d: verdict %v, want %v", s, verdicts[s], want)
				}
				at += set.N
			}
		})
	}
}
