package checkpoints

import (
	"errors"
	"fmt"
	"slices"
)

// ErrNonFinite marks a float tensor that holds a NaN or an infinity: Save
// refuses to write one and Load refuses to return one (as ErrCorrupt too),
// because weights or optimiser moments that are not finite come from a run
// that diverged, and training on from them only spreads the NaN.
var ErrNonFinite = errors.New("non-finite tensor value")

// FirstNonFinite returns the index of the first NaN or ±Inf in xs, or -1
// when every value is finite. It costs about one multiply-add per value
// (x·0 is 0 for a finite x and NaN otherwise, so a sum of them tests the
// whole slice without a branch per value), cheap enough for a trainer to
// scan its weights after every update.
func FirstNonFinite(xs []float32) int {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		s0 += xs[i] * 0
		s1 += xs[i+1] * 0
		s2 += xs[i+2] * 0
		s3 += xs[i+3] * 0
	}
	for ; i < len(xs); i++ {
		s0 += xs[i] * 0
	}
	if s0+s1+s2+s3 == 0 {
		return -1
	}
	for i, x := range xs {
		if x-x != 0 { // NaN for NaN and ±Inf
			return i
		}
	}
	return -1
}

// nonFiniteMessage describes the first non-finite value of a tensor, for
// errors that name the file and tensor: `tensor "emb" holds NaN at element
// 17 (3 of its 40000 values are not finite)`.
func nonFiniteMessage(name string, xs []float32, at int) string {
	bad := 0
	for _, x := range xs[at:] {
		if x-x != 0 {
			bad++
		}
	}
	return fmt.Sprintf("tensor %q holds %v at element %d (%d of its %d values are not finite)", name, xs[at], at, bad, len(xs))
}

// checkFinite returns the first F32 tensor of tensors (in name order) that
// holds a NaN or an infinity, with its message; "" when all are finite.
func checkFinite(tensors map[string]Tensor) string {
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if xs := tensors[name].F32; xs != nil {
			if at := FirstNonFinite(xs); at >= 0 {
				return nonFiniteMessage(name, xs, at)
			}
		}
	}
	return ""
}
