package search

import (
	"math"
	"testing"

	"promptgan/discriminator"
	"promptgan/internal/nn"
)

func TestDiscountedReturnsAndAdvantages(t *testing.T) {
	r := []float64{1, 2, 3, 0, 0, 1}
	R := DiscountedReturns(r, 2, 3, 0.5)
	want := []float64{1 + 0.5*2 + 0.25*3, 2 + 0.5*3, 3, 0.25, 0.5, 1}
	for i := range want {
		if math.Abs(R[i]-want[i]) > 1e-12 {
			t.Fatalf("R = %v, want %v", R, want)
		}
	}
	baseline := make([]float64, 3)
	A, init := Advantages(R, 2, 3, baseline, false, 0.9)
	if !init {
		t.Fatal("baseline not marked initialised")
	}
	var mean, sq float64
	for _, a := range A {
		mean += a
		sq += a * a
	}
	if math.Abs(mean) > 1e-12 || math.Abs(sq/float64(len(A))-1) > 1e-9 {
		t.Fatalf("advantages %v: want zero mean and unit scale on the first batch", A)
	}
	if math.Abs(baseline[2]-2) > 1e-12 {
		t.Fatalf("baseline[2] = %v, want the batch mean 2", baseline[2])
	}
}

func TestNonSaturatingRewards(t *testing.T) {
	r := NonSaturatingRewards([]float32{0, -50, 50})
	if math.Abs(r[0]-math.Log(0.5)) > 1e-12 || math.Abs(r[1]+50) > 1e-9 || r[2] > 0 || r[2] < -1e-9 {
		t.Fatalf("rewards %v", r)
	}
}

func TestRewardDeltas(t *testing.T) {
	d := RewardDeltas([]float64{-1, -0.5, -2, 0, 0, -1}, 2, 3)
	want := []float64{-1, 0.5, -1.5, 0, 0, -1}
	for i := range want {
		if math.Abs(d[i]-want[i]) > 1e-12 {
			t.Fatalf("deltas %v, want %v", d, want)
		}
	}
	// With γ = 1 the returns of deltas telescope to r_T − r_(t−1).
	R := DiscountedReturns(d, 2, 3, 1)
	if math.Abs(R[1]-(-2-(-1))) > 1e-12 {
		t.Fatalf("R = %v", R)
	}
}

func TestPearson(t *testing.T) {
	tests := []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3}, []float64{2, 4, 6}, 1},
		{[]float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		{[]float64{1, 2, 3}, []float64{5, 5, 5}, 0},
		{[]float64{1, 2, 3, 4}, []float64{1, 3, 2, 4}, 0.8},
	}
	for _, tc := range tests {
		if got := pearson(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("pearson(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

// TestDStepPassFiniteDifference checks the gradient of L_D as training
// computes it — dStep.pass over the real, fake and replay sets with their
// labels and weights (discriminator.GANSets) — against finite differences of the loss
// pass itself reports, for both kinds of D member.
func TestDStepPassFiniteDifference(t *testing.T) {
	const V, T = 7, 5
	for _, kind := range []string{"lstm", "linear"} {
		t.Run(kind, func(t *testing.T) {
			cfg := discriminator.Config{Vocab: V, Emb: 3, Hidden: 4, Members: 1, InitScale: 0.5, Kind: kind, Positions: T}
			if kind == "lstm" {
				cfg.Positions = 0
			}
			disc := discriminator.New(cfg, nn.NewRNG(4, 1))
			rng := nn.NewRNG(4, 2)
			seqs := make([]int32, 9*T) // 3 real, 4 fake, 2 replayed
			for i := range seqs {
				seqs[i] = int32(rng.IntN(V))
			}
			sets := discriminator.GANSets(3, 4, 2, 0.1, 0.5)
			loss := func() float64 {
				d := &dStep{disc: disc, T: T, loss: make([]float64, 1)}
				d.pass(seqs, sets, true, false)
				return d.loss[0]
			}
			ps := disc.Members[0].Params()
			if worst, where := nn.GradCheck(ps, func() { loss() }, loss, 1e-2, 1e-3, 15, rng); worst > 2e-2 {
				t.Fatalf("gradient mismatch %.3g at %s", worst, where)
			}
		})
	}
}
