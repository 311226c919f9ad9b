package generator

import (
	"container/heap"
	"math"
	"slices"

	"promptgan/internal/nn"
)

// SampleOptions control decoding.
type SampleOptions struct {
	Temperature float64 // logits are divided by it; must be > 0 (1 = the model's own distribution)
	TopK        int     // keep only the K most likely tokens; 0 = all
}

// Sample draws B sequences of length T. The uniform numbers are drawn from
// rng in a fixed order, so the result depends only on the weights, the
// options and rng's state.
func (m *Model) Sample(B, T int, opt SampleOptions, cond []float32, rng *nn.RNG) []int32 {
	if !(opt.Temperature > 0) {
		panic("generator: Sample: temperature must be > 0")
	}
	m.checkBatch(make([]int32, B*T), B, T, cond)
	V, H, E := m.Cfg.Vocab, m.Cfg.Hidden, m.Cfg.Emb
	extra := m.condGates(cond, B)
	h, c := make([]float32, B*H), make([]float32, B*H)
	gates := make([]float32, B*4*H)
	logits := m.scratch(B * V)
	x := make([]float32, B*E)
	prev := make([]int32, B)
	for b := range prev {
		prev[b] = int32(m.Cfg.StartToken)
	}
	out := make([]int32, B*T)
	u := make([]float64, B)
	inv := float32(1 / opt.Temperature)
	for t := 0; t < T; t++ {
		for b, id := range prev {
			copy(x[b*E:(b+1)*E], m.Emb.W[int(id)*E:(int(id)+1)*E])
		}
		m.LSTM.Step(x, h, c, B, extra, gates)
		nn.Gemm(false, false, B, V, H, 1, h, H, m.Wout.W, V, 0, logits, V)
		for b := range u {
			u[b] = rng.Float64()
		}
		if opt.TopK > 0 && opt.TopK < V {
			nn.AddBias(logits, B, V, m.Bout.W)
			nn.ParallelFor(B, func(lo, hi int) {
				for b := lo; b < hi; b++ {
					prev[b] = int32(drawTopK(logits[b*V:(b+1)*V], inv, opt.TopK, u[b]))
				}
			})
		} else {
			nn.SampleRows(logits, m.Bout.W, B, V, inv, u, prev)
		}
		for b, id := range prev {
			out[b*T+t] = id
		}
	}
	return out
}

// drawTopK samples from softmax(z·inv) restricted to the k largest logits,
// by inverting the CDF at u ∈ [0, 1).
func drawTopK(z []float32, inv float32, k int, u float64) int {
	h := &minHeap{z: z}
	for j := range z {
		if h.Len() < k {
			heap.Push(h, j)
		} else if z[j] > z[h.idx[0]] {
			h.idx[0] = j
			heap.Fix(h, 0)
		}
	}
	// Ascending id order keeps the draw independent of heap layout.
	ids := append([]int(nil), h.idx...)
	slices.Sort(ids)
	mx := z[ids[0]]
	for _, j := range ids {
		mx = max(mx, z[j])
	}
	ws := make([]float64, len(ids))
	var s float64
	for i, j := range ids {
		ws[i] = math.Exp(float64((z[j] - mx) * inv))
		s += ws[i]
	}
	target := u * s
	var acc float64
	for i, w := range ws {
		acc += w
		if acc > target {
			return ids[i]
		}
	}
	return ids[len(ids)-1]
}

type minHeap struct {
	z   []float32
	idx []int
}

func (h *minHeap) Len() int { return len(h.idx) }
func (h *minHeap) Less(a, b int) bool {
	za, zb := h.z[h.idx[a]], h.z[h.idx[b]]
	if za != zb {
		return za < zb
	}
	return h.idx[a] > h.idx[b] // ties: the larger id is evicted first
}
func (h *minHeap) Swap(a, b int) { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *minHeap) Push(x any)    { h.idx = append(h.idx, x.(int)) }
func (h *minHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}
