package nn

import "testing"

// BenchmarkGemm times the generator's three output-layer products at
// SeqGAN scale (T·B = 1280 rows, hidden 32, vocabulary 5000).
func BenchmarkGemm(b *testing.B) {
	const rows, H, V = 1280, 32, 5000
	h := make([]float32, rows*H)
	w := make([]float32, H*V)
	z := make([]float32, rows*V)
	for i := range z {
		z[i] = float32(i%7) * 0.1
	}
	cases := []struct {
		name string
		run  func()
	}{
		{"logits=h·W", func() { Gemm(false, false, rows, V, H, 1, h, H, w, V, 0, z, V) }},
		{"dW=hᵀ·dz", func() { Gemm(true, false, H, V, rows, 1, h, H, z, V, 1, w, V) }},
		{"dh=dz·Wᵀ", func() { Gemm(false, true, rows, H, V, 1, z, V, w, V, 0, h, H) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				c.run()
			}
			b.ReportMetric(2*rows*H*V*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemmSquare is the BLAS's rate on a square 1024² float32 product:
// the reference the training benchmarks' GFLOP/s are read against.
func BenchmarkGemmSquare(b *testing.B) {
	const n = 1024
	x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range x {
		x[i], y[i] = float32(i%13)*0.01, float32(i%7)*0.02
	}
	for range b.N {
		Gemm(false, false, n, n, n, 1, x, n, y, n, 0, z, n)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
