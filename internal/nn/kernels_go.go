//go:build !openblas

package nn

import "math"

func addBias(row, bias []float32) {
	for j, b := range bias {
		row[j] += b
	}
}

func rowMax(z []float32) float32 {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	return mx
}

func softmaxXent(z, bias []float32, rows, V int, y []int32, w, e []float32, nll, ent []float64) {
	for r := 0; r < rows; r++ {
		row := z[r*V : (r+1)*V]
		addBias(row, bias)
		mx := rowMax(row)
		var s, sz float64
		for _, v := range row {
			ex := math.Exp(float64(v - mx))
			s += ex
			sz += ex * float64(v)
		}
		logZ := float64(mx) + math.Log(s)
		h := logZ - sz/s
		nll[r] = logZ - float64(row[y[r]])
		ent[r] = h
		wr, er := float64(w[r]), float64(e[r])
		for j, v := range row {
			lp := float64(v) - logZ
			p := math.Exp(lp)
			row[j] = float32(wr*p + er*p*(lp+h))
		}
		row[y[r]] -= w[r]
	}
}

func logSoftmaxPick(z, bias []float32, rows, V int, y []int32, inv float32, out []float64) {
	for r := 0; r < rows; r++ {
		row := z[r*V : (r+1)*V]
		addBias(row, bias)
		mx := rowMax(row) * inv
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v*inv - mx))
		}
		out[r] = float64(row[y[r]]*inv-mx) - math.Log(s)
	}
}

func sampleRows(z, bias []float32, rows, V int, inv float32, u []float64, out []int32) {
	for r := 0; r < rows; r++ {
		row := z[r*V : (r+1)*V]
		addBias(row, bias)
		mx := rowMax(row)
		var s float64
		for j, v := range row {
			ex := math.Exp(float64((v - mx) * inv))
			row[j] = float32(ex)
			s += ex
		}
		out[r] = int32(invertCDF(row, u[r]*s))
	}
}

// cellStep activates the LSTM pre-activations in gates (B, 4H) in place and
// computes the new cell state, tanh of it, and the new hidden state.
func cellStep(gates, cPrev, cNext, tanhC, hNext []float32, B, H int) {
	G := 4 * H
	for b := 0; b < B; b++ {
		g := gates[b*G : (b+1)*G]
		for j := 0; j < 3*H; j++ {
			g[j] = Sigmoid(g[j])
		}
		for j := 3 * H; j < G; j++ {
			g[j] = Tanh(g[j])
		}
		for j := 0; j < H; j++ {
			k := b*H + j
			cn := g[H+j]*cPrev[k] + g[j]*g[3*H+j]
			cNext[k] = cn
			tc := Tanh(cn)
			tanhC[k] = tc
			hNext[k] = g[2*H+j] * tc
		}
	}
}

func adamStep(w, g, m, v []float32, k adamConsts) { adamStepGo(w, g, m, v, k) }

func lstmGates(act, cPrev, tanhC, dht, dhNext, dcNext, dgt []float32, B, H int) {
	lstmGatesGo(act, cPrev, tanhC, dht, dhNext, dcNext, dgt, B, H)
}

func addBiasRows(x []float32, m, n int, bias []float32) { addBiasGo(x, m, n, bias) }

func sumRows(dst, x []float32, m, n int) { sumRowsGo(dst, x, m, n) }

func scatterAdd(grad []float32, dim int, ids []int32, d []float32) { scatterAddGo(grad, dim, ids, d) }

// cdfWalk inverts the CDFs of the rows of p (rows × V) at target, as
// sampleRows does; for tests.
func cdfWalk(p []float32, rows, V int, target []float64, out []int32) {
	for r := range rows {
		out[r] = int32(invertCDF(p[r*V:(r+1)*V], target[r]))
	}
}
