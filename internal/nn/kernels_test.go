package nn

import (
	"math"
	"slices"
	"testing"
)

// TestKernelsBitExact checks that the LSTM backward step, AddBias, SumRows
// and ScatterAdd (vectorised C in the OpenBLAS build) give bit for bit
// what their Go loops give, on shapes whose widths are and are not
// multiples of the vector width, with values spread over many magnitudes.
func TestKernelsBitExact(t *testing.T) {
	fillRand := func(rng *RNG, n int, lo, hi float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32((lo + (hi-lo)*rng.Float64()) * math.Pow(10, float64(rng.IntN(6)-3)))
		}
		return out
	}
	for _, sh := range []struct{ B, H int }{{1, 1}, {3, 5}, {16, 8}, {7, 64}, {160, 64}} {
		rng := NewRNG(11, uint64(sh.B*1000+sh.H))
		B, H, G := sh.B, sh.H, 4*sh.H
		act := fillRand(rng, B*G, 0, 1) // sigmoid/tanh outputs
		cPrev, tanhC, dht := fillRand(rng, B*H, -1, 1), fillRand(rng, B*H, -1, 1), fillRand(rng, B*H, -1, 1)
		dhNext, dcNext := fillRand(rng, B*H, -1, 1), fillRand(rng, B*H, -1, 1)
		dcNext2 := slices.Clone(dcNext)
		dg, dg2 := make([]float32, B*G), make([]float32, B*G)
		for range 2 { // the carried cell gradient feeds the next call
			lstmGates(act, cPrev, tanhC, dht, dhNext, dcNext, dg, B, H)
			lstmGatesGo(act, cPrev, tanhC, dht, dhNext, dcNext2, dg2, B, H)
		}
		if !bitsEqual(dg, dg2) || !bitsEqual(dcNext, dcNext2) {
			t.Errorf("lstmGates (B %d, H %d) differs from lstmGatesGo", B, H)
		}

		m, n := B, G
		x, bias := fillRand(rng, m*n, -1, 1), fillRand(rng, n, -1, 1)
		x2 := slices.Clone(x)
		addBiasRows(x, m, n, bias)
		addBiasGo(x2, m, n, bias)
		if !bitsEqual(x, x2) {
			t.Errorf("AddBias (%d×%d) differs from its Go loop", m, n)
		}
		dst := fillRand(rng, n, -1, 1)
		dst2 := slices.Clone(dst)
		sumRows(dst, x, m, n)
		sumRowsGo(dst2, x, m, n)
		if !bitsEqual(dst, dst2) {
			t.Errorf("SumRows (%d×%d) differs from its Go loop", m, n)
		}
		rows := 5 // few rows: ids repeat, so sums accumulate in order
		ids := make([]int32, B)
		for i := range ids {
			ids[i] = int32(rng.IntN(rows))
		}
		grad, d := fillRand(rng, rows*H, -1, 1), fillRand(rng, B*H, -1, 1)
		grad2 := slices.Clone(grad)
		scatterAdd(grad, H, ids, d)
		scatterAddGo(grad2, H, ids, d)
		if !bitsEqual(grad, grad2) {
			t.Errorf("ScatterAdd (%d ids, dim %d) differs from its Go loop", B, H)
		}
	}
}

func bitsEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestForwardIntoReusesCleanly checks that a cache reused for another batch
// (as the discriminator does every update) gives what a fresh one gives:
// no state leaks from the previous batch into the zero initial state or
// into Backward's carried gradients.
func TestForwardIntoReusesCleanly(t *testing.T) {
	const In, H, T, B = 5, 6, 4, 3
	rng := NewRNG(5, 1)
	l := NewLSTM("l.", In, H)
	for _, p := range l.Params() {
		InitUniform(p, 0.5, rng)
	}
	xa, xb := fillUniform(rng, T*B*In), fillUniform(rng, T*B*In)
	dh := fillUniform(rng, T*B*H)
	c := l.ForwardInto(nil, xa, T, B, nil)
	l.Backward(c, dh, true)
	for _, p := range l.Params() {
		clear(p.G)
	}
	c = l.ForwardInto(c, xb, T, B, nil)
	dxReused, _ := l.Backward(c, dh, true)
	gReused := l.Params().Weights()
	for _, p := range l.Params() {
		gReused[p.Name] = Array{Data: slices.Clone(p.G)}
		clear(p.G)
	}
	fresh := l.Forward(xb, T, B, nil)
	dxFresh, _ := l.Backward(fresh, dh, true)
	if !bitsEqual(c.H, fresh.H) || !bitsEqual(c.C, fresh.C) || !bitsEqual(dxReused, dxFresh) {
		t.Fatal("a reused cache gives other states or input gradients than a fresh one")
	}
	for _, p := range l.Params() {
		if !bitsEqual(gReused[p.Name].Data, p.G) {
			t.Fatalf("a reused cache gives another gradient of %s", p.Name)
		}
	}
}

func fillUniform(rng *RNG, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(2*rng.Float64() - 1)
	}
	return out
}

// TestCDFWalkMatchesInvertCDF checks that sampling's CDF walk (in the
// OpenBLAS build, several rows at once in C) picks what invertCDF picks
// row by row: targets anywhere in the mass, at its very end (where
// rounding can leave no index above the target), past it and exactly on a
// running sum, rows ending
// in zeros, row counts that do not fill a group and widths that do not
// fill a block.
func TestCDFWalkMatchesInvertCDF(t *testing.T) {
	for _, sh := range []struct{ rows, V int }{{1, 1}, {3, 7}, {8, 16}, {13, 100}, {64, 5000}} {
		rng := NewRNG(17, uint64(sh.rows*10000+sh.V))
		p := make([]float32, sh.rows*sh.V)
		target := make([]float64, sh.rows)
		for r := range sh.rows {
			row := p[r*sh.V : (r+1)*sh.V]
			var s float64
			for j := range row {
				row[j] = float32(math.Exp(-20 * rng.Float64()))
				if r%3 == 1 && j > sh.V/2 {
					row[j] = 0 // trailing zeros
				}
				s += float64(row[j])
			}
			switch r % 4 {
			case 0:
				target[r] = rng.Float64() * s
			case 1:
				target[r] = s // the walk may end without passing it
			case 2:
				target[r] = 2 * s
			default: // exactly a running sum: the pick is the index after it
				var acc float64
				for _, v := range row[:rng.IntN(sh.V)+1] {
					acc += float64(v)
				}
				target[r] = acc
			}
		}
		got, want := make([]int32, sh.rows), make([]int32, sh.rows)
		cdfWalk(p, sh.rows, sh.V, target, got)
		for r := range sh.rows {
			want[r] = int32(invertCDF(p[r*sh.V:(r+1)*sh.V], target[r]))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d rows of %d: picks %v, invertCDF picks %v", sh.rows, sh.V, got[:min(8, sh.rows)], want[:min(8, sh.rows)])
		}
	}
}

// TestSplitUpdatesBitExact checks that ColSums and Adam.Update, which split
// large arrays across goroutines, give the bits of one sequential pass.
func TestSplitUpdatesBitExact(t *testing.T) {
	rng := NewRNG(23, 1)
	const m, n = 70, 4001 // over colSumsSplit, columns not a multiple of any vector width
	x := fillUniform(rng, m*n)
	dst, want := fillUniform(rng, n), make([]float32, n)
	copy(want, dst)
	ColSums(dst, x, m, n)
	sumRowsGo(want, x, m, n)
	if !bitsEqual(dst, want) {
		t.Error("ColSums differs from a sequential sum over the rows")
	}

	p := NewParam("p", adamSplit+77)
	InitUniform(p, 1, rng)
	for i := range p.G {
		p.G[i] = float32(rng.NormFloat64())
	}
	cfg := DefaultAdam(0.01)
	cfg.ClipNorm = 0
	a := NewAdam(cfg, Params{p})
	w, mm, vv := slices.Clone(p.W), make([]float32, len(p.W)), make([]float32, len(p.W))
	for step := 1; step <= 2; step++ {
		a.Update(Params{p})
		c1, c2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		adamStepGo(w, p.G, mm, vv, adamConsts{scale: 1, b1: 0.9, b2: 0.999, stepSize: float32(0.01 / c1), sqrtC2: float32(math.Sqrt(c2)), eps: 1e-8, decay: 1})
	}
	if !bitsEqual(p.W, w) {
		t.Error("Adam.Update of a large parameter differs from one sequential adamStepGo")
	}
}

// TestForEachRunsEveryIndexOnce checks ForEach's contract for the sizes the
// ensembles use.
func TestForEachRunsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7} {
		hits := make([]int32, n)
		ForEach(n, func(i int) { hits[i]++ })
		for i, h := range hits {
			if h != 1 {
				t.Errorf("n = %d: index %d ran %d times", n, i, h)
			}
		}
	}
}
