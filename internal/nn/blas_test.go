package nn

import (
	"math"
	"runtime"
	"testing"
)

// TestGemm compares Gemm with a naive triple loop for every transpose
// combination, at sizes small and large enough to be split across goroutines.
func TestGemm(t *testing.T) {
	rng := NewRNG(1, 0)
	for _, sz := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 2}, {130, 70, 300}, {40, 900, 64}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				m, n, k := sz.m, sz.n, sz.k
				a, b := make([]float32, m*k), make([]float32, k*n)
				c := make([]float32, m*n)
				for i := range a {
					a[i] = float32(rng.NormFloat64())
				}
				for i := range b {
					b[i] = float32(rng.NormFloat64())
				}
				for i := range c {
					c[i] = float32(rng.NormFloat64())
				}
				want := append([]float32(nil), c...)
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				at := func(i, p int) float32 {
					if tA {
						return a[p*lda+i]
					}
					return a[i*lda+p]
				}
				bt := func(p, j int) float32 {
					if tB {
						return b[j*ldb+p]
					}
					return b[p*ldb+j]
				}
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for p := 0; p < k; p++ {
							s += float64(at(i, p)) * float64(bt(p, j))
						}
						want[i*n+j] = float32(0.5*s + 2*float64(want[i*n+j]))
					}
				}
				Gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c, n)
				for i := range c {
					if math.Abs(float64(c[i]-want[i])) > 1e-3*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%v tA=%v tB=%v: c[%d] = %v, want %v", sz, tA, tB, i, c[i], want[i])
					}
				}
			}
		}
	}
}

// TestSoftmaxKernels checks the build's kernels against float64 references.
func TestSoftmaxKernels(t *testing.T) {
	rng := NewRNG(2, 0)
	rows, V := 5, 37
	z := make([]float32, rows*V)
	for i := range z {
		z[i] = float32(3 * rng.NormFloat64())
	}
	y := []int32{0, 36, 5, 5, 17}
	w := []float32{1, 0.5, -2, 0, 1}
	e := []float32{0, 0.3, 0.1, 1, 0}
	ref := func(r int) (logp []float64, h float64) {
		row := z[r*V : (r+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		logp = make([]float64, V)
		for j, v := range row {
			logp[j] = float64(v) - mx - math.Log(s)
			h -= math.Exp(logp[j]) * logp[j]
		}
		return logp, h
	}
	// The kernels add a bias; give them z − bias so the reference sees z.
	bias := make([]float32, V)
	for j := range bias {
		bias[j] = float32(j%5) - 2
	}
	shifted := make([]float32, len(z))
	for i := range z {
		shifted[i] = z[i] - bias[i%V]
	}
	pick := make([]float64, rows)
	LogSoftmaxPick(append([]float32(nil), shifted...), bias, rows, V, y, 1, pick)
	grad := append([]float32(nil), shifted...)
	nll, ent := make([]float64, rows), make([]float64, rows)
	SoftmaxXent(grad, bias, rows, V, y, w, e, nll, ent)
	for r := 0; r < rows; r++ {
		logp, h := ref(r)
		if math.Abs(pick[r]-logp[y[r]]) > 1e-5 || math.Abs(nll[r]+logp[y[r]]) > 1e-5 || math.Abs(ent[r]-h) > 1e-5 {
			t.Fatalf("row %d: pick %v nll %v ent %v; want %v, %v, %v", r, pick[r], nll[r], ent[r], logp[y[r]], -logp[y[r]], h)
		}
		for j := 0; j < V; j++ {
			p := math.Exp(logp[j])
			want := float64(w[r])*p + float64(e[r])*p*(logp[j]+h)
			if j == int(y[r]) {
				want -= float64(w[r])
			}
			if math.Abs(float64(grad[r*V+j])-want) > 2e-5 {
				t.Fatalf("row %d grad[%d] = %v, want %v", r, j, grad[r*V+j], want)
			}
		}
	}
	// Sampling at u just below the CDF steps picks each token.
	out := make([]int32, 1)
	row := []float32{0, float32(math.Log(3)), -100}
	for _, tc := range []struct {
		u    float64
		want int32
	}{{0.1, 0}, {0.3, 1}, {0.99, 1}} {
		zz := append([]float32(nil), row...)
		SampleRows(zz, make([]float32, 3), 1, 3, 1, []float64{tc.u}, out)
		if out[0] != tc.want {
			t.Errorf("u=%v: drew %d, want %d", tc.u, out[0], tc.want)
		}
	}
}

// TestGemmBitsIndependentOfCores checks that a product's bits do not depend
// on GOMAXPROCS. They did: gemm cut large products into one piece per core,
// and OpenBLAS's result for an element depends on the shape of the call that
// computes it, so a run resumed on a machine with another core count took
// another path.
func TestGemmBitsIndependentOfCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := NewRNG(3, 0)
	for _, sz := range []struct {
		tA, tB  bool
		m, n, k int
	}{
		{false, false, 3200, 256, 64}, // a D member's input projection
		{false, true, 160, 64, 256},   // a D member's recurrent backward step
		{true, false, 32, 5000, 1280}, // G's output weight gradient
		{false, false, 64, 5000, 32},  // G's sampling logits
	} {
		a, b := make([]float32, sz.m*sz.k), make([]float32, sz.k*sz.n)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		lda, ldb := sz.k, sz.n
		if sz.tA {
			lda = sz.m
		}
		if sz.tB {
			ldb = sz.k
		}
		var want []float32
		for _, procs := range []int{1, 2, 3, 8} {
			runtime.GOMAXPROCS(procs)
			c := make([]float32, sz.m*sz.n)
			Gemm(sz.tA, sz.tB, sz.m, sz.n, sz.k, 1, a, lda, b, ldb, 0, c, sz.n)
			if want == nil {
				want = c
				continue
			}
			diff := 0
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("%+v: GOMAXPROCS=%d changes %d of %d elements against GOMAXPROCS=1", sz, procs, diff, len(c))
			}
		}
	}
}
