package nn

import "testing"

// BenchmarkSampleRows times drawing one token for each of 64 rows of 5,000
// logits (the sampling kernel of one decoding step of a batch).
func BenchmarkSampleRows(b *testing.B) {
	const rows, V = 64, 5000
	rng := NewRNG(3, 1)
	z0 := make([]float32, rows*V)
	for i := range z0 {
		z0[i] = float32(3 * rng.NormFloat64())
	}
	bias := make([]float32, V)
	z := make([]float32, rows*V)
	u := make([]float64, rows)
	out := make([]int32, rows)
	for i := range u {
		u[i] = rng.Float64()
	}
	b.ResetTimer()
	for range b.N {
		copy(z, z0)
		SampleRows(z, bias, rows, V, 1, u, out)
	}
}
