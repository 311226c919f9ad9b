package nn

// Row-wise softmax kernels over (rows, V) logit matrices: the hot loops of
// every network with a vocabulary-sized output. kernels_go.go holds the
// pure-Go versions, kernels_c.go vectorised C versions (openblas builds),
// together with the LSTM cell kernel.

// Each kernel first adds bias (length V) to every row of z, so that callers
// can produce z with a gemm and no separate bias pass.

// SoftmaxXent overwrites each row r of z with the gradient, with respect to
// the logits, of
//
//	w_r·(−log p_r[y_r]) − e_r·H(p_r),   p_r = softmax(z_r)
//
// and writes −log p_r[y_r] into nll[r] and H(p_r) into ent[r]. e may be nil
// (no entropy term). It panics if the slices do not match rows and V.
func SoftmaxXent(z, bias []float32, rows, V int, y []int32, w, e []float32, nll, ent []float64) {
	if len(z) < rows*V || len(bias) != V || len(y) < rows || len(w) < rows || (e != nil && len(e) < rows) || len(nll) < rows || len(ent) < rows {
		panic("nn: SoftmaxXent: slices shorter than rows")
	}
	if e == nil {
		e = make([]float32, rows)
	}
	ParallelFor(rows, func(lo, hi int) {
		softmaxXent(z[lo*V:hi*V], bias, hi-lo, V, y[lo:hi], w[lo:hi], e[lo:hi], nll[lo:hi], ent[lo:hi])
	})
}

// LogSoftmaxPick overwrites z with z+bias and writes log softmax(z_r/T)[y_r] into out[r], where inv = 1/T.
func LogSoftmaxPick(z, bias []float32, rows, V int, y []int32, inv float32, out []float64) {
	if len(z) < rows*V || len(bias) != V || len(y) < rows || len(out) < rows {
		panic("nn: LogSoftmaxPick: slices shorter than rows")
	}
	ParallelFor(rows, func(lo, hi int) {
		logSoftmaxPick(z[lo*V:hi*V], bias, hi-lo, V, y[lo:hi], inv, out[lo:hi])
	})
}

// SampleRows draws out[r] from softmax(z_r/T) by inverting its CDF at
// u[r] ∈ [0, 1), where inv = 1/T. z is overwritten.
func SampleRows(z, bias []float32, rows, V int, inv float32, u []float64, out []int32) {
	if len(z) < rows*V || len(bias) != V || len(u) < rows || len(out) < rows {
		panic("nn: SampleRows: slices shorter than rows")
	}
	ParallelFor(rows, func(lo, hi int) {
		sampleRows(z[lo*V:hi*V], bias, hi-lo, V, inv, u[lo:hi], out[lo:hi])
	})
}

// invertCDF returns the first index where the running sum of p exceeds
// target, or the last index with mass if rounding left target at the end.
func invertCDF(p []float32, target float64) int {
	var acc float64
	for j, v := range p {
		acc += float64(v)
		if acc > target {
			return j
		}
	}
	for j := len(p) - 1; j >= 0; j-- {
		if p[j] > 0 {
			return j
		}
	}
	return len(p) - 1
}
