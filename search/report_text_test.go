package search

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/metrics"
)

// Moved from cmd/promptgan/clarity_test.go with CompareSentence's and
// MemorisingWarning's last CLI wrappers.

func TestCompareSentence(t *testing.T) {
	row := func(model string, oracle, test float64) CompareRow {
		return CompareRow{Model: model, Temperature: 1, NLLOracle: oracle, NLLTest: test}
	}
	for _, tc := range []struct {
		name string
		rows []CompareRow
		want string // "" = no sentence
	}{
		{"gan better, less coverage", []CompareRow{row("MLE", 9.0, 8.0), row("GAN", 8.5, 8.2)}, "(-0.500): the oracle finds its samples more like its own sequences than MLE's; with NLL-test 8.200 against 8.000 (+0.200) it covers the held-out sequences less well"},
		{"gan worse", []CompareRow{row("MLE", 9.0, 8.0), row("GAN", 9.5, 7.9)}, "less like its own sequences than MLE's; with NLL-test 7.900 against 8.000 (-0.100) it covers the held-out sequences better."},
		{"no change", []CompareRow{row("MLE", 9.0, math.NaN()), row("GAN", 9.001, math.NaN())}, "no change in how the oracle judges its samples."},
		{"no oracle", []CompareRow{row("MLE", math.NaN(), 8), row("GAN", math.NaN(), 8)}, ""},
		{"no GAN row", []CompareRow{row("MLE", 9, 8)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CompareSentence(tc.rows, 1)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWarnMemorising(t *testing.T) {
	for _, tc := range []struct {
		name      string
		train     float64 // d_real of the training batches
		held      float64 // d_real of the evaluation
		memorises bool
	}{
		{"make demo's", 0.79, 0.13, true},
		{"close", 0.79, 0.70, false},
		{"held-out higher", 0.5, 0.6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var recs []metrics.Record
			for s := 1; s <= 8; s++ {
				recs = append(recs, metrics.Record{Step: s * 10, Phase: PhaseAdversarial, Values: map[string]float64{"d_real": tc.train}})
			}
			recs = append(recs, metrics.Record{Step: 80, Phase: "eval", Values: map[string]float64{"d_real": tc.held}})
			if err := metrics.AppendRecords(filepath.Join(dir, MetricsFile), recs...); err != nil {
				t.Fatal(err)
			}
			out := MemorisingWarning(dir, map[string]float64{"d_real": tc.held})
			if got := strings.Contains(out, "the discriminator memorises"); got != tc.memorises {
				t.Fatalf("warned %v, want %v: %q", got, tc.memorises, out)
			}
		})
	}
}

func TestTiedWithFirst(t *testing.T) {
	ps := func(pairs ...float64) []PromptScore {
		var out []PromptScore
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, PromptScore{Score: pairs[i], ScoreSE: pairs[i+1]})
		}
		return out
	}
	tests := []struct {
		name   string
		scores []PromptScore
		want   int
	}{
		{"none", nil, 0},
		{"one", ps(0.5, 0.1), 1},
		{"apart", ps(0.9, 0.01, 0.5, 0.01, 0.4, 0.01), 1},
		{"inside the noise", ps(0.30, 0.05, 0.27, 0.05, 0.25, 0.05, 0.01, 0.01), 3},
		{"no spread, equal", ps(0.5, 0, 0.5, 0), 1},
	}
	for _, tc := range tests {
		if got := TiedWithFirst(tc.scores); got != tc.want {
			t.Errorf("%s: %d tied with the first, want %d", tc.name, got, tc.want)
		}
	}
}
