package discriminator

import (
	"strings"
	"testing"

	"promptgan/internal/nn"
)

// FitText learns a separable problem, keeps the best epoch's weights, and
// reports a fit whose validation loss is never finite as diverged.
func TestFitText(t *testing.T) {
	cfg := TextConfig{Dim: 4, InputFree: true, Hidden: 8, Members: 2, InitScale: 1}
	F := cfg.Features()
	rng := nn.NewRNG(3, 1)
	data := func(n int) ([]float32, []bool) {
		x, good := make([]float32, n*F), make([]bool, n)
		for i := range n {
			good[i] = i%2 == 0
			for j := range F {
				x[i*F+j] = float32(rng.NormFloat64())
			}
			if good[i] {
				x[i*F] += 3 // the first embedding feature separates the classes
			}
		}
		return x, good
	}
	x, good := data(200)
	vx, vgood := data(100)
	for _, tc := range []struct {
		name string
		lr   float64
		err  string
	}{
		{"learns", 0.01, ""},
		{"diverges", 1e38, "the fit diverged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewText(cfg, nn.NewRNG(1, 1))
			opts := []*nn.Adam{nn.NewAdam(nn.DefaultAdam(tc.lr), e.Members[0].Params()), nn.NewAdam(nn.DefaultAdam(tc.lr), e.Members[1].Params())}
			epochs, loss, err := FitText(e, opts, x, 200, good, vx, 100, vgood, TextFitOptions{Seed: 1, MaxEpochs: 30, Patience: 5, BatchSize: 20})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || epochs < 1 || !(loss < 0.3) {
				t.Fatalf("epochs %d, validation loss %v, err %v: want a fit below 0.3", epochs, loss, err)
			}
		})
	}
}

// Calibration stays within its bounds when the scores say nothing about
// the labels (the best slope is 0, i.e. T = ∞): T is at most 20 and finite.
func TestCalibrateUninformativeScores(t *testing.T) {
	z := []float64{-0.06, -0.05, -0.07, -0.055, -0.11, -0.06, -0.05, -0.07}
	good := []bool{true, false, false, true, true, false, true, false}
	a, b := fitPlatt(z, good)
	if T := 1 / a; !(T > 0 && T <= 20) || b < -maxBias || b > maxBias {
		t.Fatalf("T = %v, b = %v: want T in (0, 20] and |b| <= %d", T, b, maxBias)
	}
}
