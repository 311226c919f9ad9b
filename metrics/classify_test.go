package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestAUC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		good   []bool
		want   float64
	}{
		// Positive {0.35, 0.8} beats negative {0.1, 0.4} in 3 of 4 pairs.
		{"three of four pairs", []float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75},
		{"perfect", []float64{0.9, 0.1, 0.8}, []bool{true, false, true}, 1},
		{"reversed", []float64{0.9, 0.1}, []bool{false, true}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}, 0.5},
		// Pairs (2,1) 1, (2,2) ½, (3,1) 1, (3,2) 1: 3.5 of 4.
		{"one tie", []float64{1, 2, 2, 3}, []bool{false, true, false, true}, 0.875},
	} {
		got, err := AUC(tc.scores, tc.good)
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: AUC = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// naiveAUC counts the pairs directly.
func naiveAUC(scores []float64, good []bool) float64 {
	var wins, pairs float64
	for i := range scores {
		for j := range scores {
			if good[i] && !good[j] {
				pairs++
				switch {
				case scores[i] > scores[j]:
					wins++
				case scores[i] == scores[j]:
					wins += 0.5
				}
			}
		}
	}
	return wins / pairs
}

func TestAUCMatchesPairCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		n := 2 + rng.IntN(60)
		scores, good := make([]float64, n), make([]bool, n)
		for i := range n {
			scores[i] = float64(rng.IntN(8)) // many ties
			good[i] = rng.IntN(3) == 0
		}
		good[0], good[1] = true, false
		got, err := AUC(scores, good)
		if want := naiveAUC(scores, good); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("trial %d: AUC = %v, %v; pair count %v", trial, got, err, want)
		}
	}
}

func TestAccuracyECEBrier(t *testing.T) {
	p := []float64{0.1, 0.2, 0.8, 0.9}
	good := []bool{false, true, true, true}
	for _, tc := range []struct {
		name string
		got  func() (float64, error)
		want float64
	}{
		// 0.1 bad ✓, 0.2 bad ✗, 0.8 ✓, 0.9 ✓.
		{"accuracy at 0.5", func() (float64, error) { return Accuracy(p, good, 0.5) }, 0.75},
		// p >= threshold counts as good: 0.2 is then right, 0.1 still bad.
		{"accuracy at 0.2", func() (float64, error) { return Accuracy(p, good, 0.2) }, 1},
		// Bins [0, .5): 1 good vs 0.3 → 0.7; [.5, 1]: 2 vs 1.7 → 0.3; (0.7+0.3)/4.
		{"ECE 2 bins", func() (float64, error) { return ECE(p, good, 2) }, 0.25},
		// Each row alone: (0.1 + 0.8 + 0.2 + 0.1)/4.
		{"ECE 10 bins", func() (float64, error) { return ECE(p, good, 10) }, 0.3},
		// One bin: |3 − 2.0|/4.
		{"ECE 1 bin", func() (float64, error) { return ECE(p, good, 1) }, 0.25},
		// p = 1 falls into the last bin, and p = 0 into the first.
		{"ECE at the edges", func() (float64, error) { return ECE([]float64{1, 0}, []bool{true, false}, 4) }, 0},
		// (0.01 + 0.64 + 0.04 + 0.01)/4.
		{"Brier", func() (float64, error) { return BrierScore(p, good) }, 0.175},
	} {
		got, err := tc.got()
		if err != nil || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestClassifyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"AUC one class", func() error { _, err := AUC([]float64{1, 2}, []bool{true, true}); return err }, "all one class"},
		{"AUC lengths", func() error { _, err := AUC([]float64{1}, []bool{true, false}); return err }, "1 scores for 2 labels"},
		{"AUC empty", func() error { _, err := AUC(nil, nil); return err }, "no scores"},
		{"AUC NaN", func() error { _, err := AUC([]float64{math.NaN(), 1}, []bool{true, false}); return err }, "score 0 is NaN"},
		{"ECE bins", func() error { _, err := ECE([]float64{0.5}, []bool{true}, 0); return err }, "0 bins"},
		{"ECE range", func() error { _, err := ECE([]float64{1.5}, []bool{true}, 10); return err }, "outside [0, 1]"},
		{"Brier range", func() error { _, err := BrierScore([]float64{-0.1}, []bool{true}); return err }, "outside [0, 1]"},
		{"accuracy NaN threshold", func() error { _, err := Accuracy([]float64{0.5}, []bool{true}, math.NaN()); return err }, "threshold is NaN"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}
