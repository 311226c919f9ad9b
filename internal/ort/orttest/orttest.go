// Package orttest holds the helpers the ONNX Runtime agreement tests of
// several packages share. Only tests import it.
package orttest

import (
	"errors"
	"math"
	"testing"

	"promptgan/internal/ort"
)

// LoadOrSkip loads ONNX Runtime or skips the test when the library is absent.
func LoadOrSkip(t *testing.T) *ort.Runtime {
	t.Helper()
	rt, err := ort.Load("")
	if errors.Is(err, ort.ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// MaxDiff returns the largest |got − want| over rows of n values, absolute
// and relative to the row's scale max(1, max |want|).
//
// Why relative: the oracle's logits reach ±13 and each is a 32-term dot
// product of h with weights up to ±5, so two correct float32 implementations
// differ by ~1e-5 absolute (measured: pure-Go vs a float64 reference 1.1e-5,
// ONNX Runtime vs float64 7.6e-6, OpenBLAS-built Go vs ONNX Runtime 1.2e-5).
// The well-conditioned quantities are held to 1e-5 absolute instead: the
// log-probabilities generator.LogProbs computes, and the LSTM state.
func MaxDiff(got, want []float32, n int) (abs, rel float64) {
	for r := 0; r < len(want)/n; r++ {
		scale := 1.0
		for _, w := range want[r*n : (r+1)*n] {
			scale = max(scale, math.Abs(float64(w)))
		}
		for i := r * n; i < (r+1)*n; i++ {
			d := math.Abs(float64(got[i]) - float64(want[i]))
			abs = max(abs, d)
			rel = max(rel, d/scale)
		}
	}
	return abs, rel
}

// I64 widens token ids to ONNX int64 inputs.
func I64(ids []int32) []int64 {
	out := make([]int64, len(ids))
	for i, v := range ids {
		out[i] = int64(v)
	}
	return out
}

// Ones is an all-ones attention mask of n values.
func Ones(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}
