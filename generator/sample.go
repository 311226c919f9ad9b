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
	m.checkBatch(make([]int32, B*T), B, T, cond)
	return m.decode(B, T, opt, cond, rng, nil, 0, 1)
}

// Rollout completes every (B, T) sequence in tokens n times from its first
// t tokens: tokens 0..t−1 are kept and the rest sampled, as SeqGAN's
// Monte-Carlo roll-outs do to value a prefix. It returns (B·n, T) sequences;
// row b·n+k is the k-th completion of sequence b. It panics if t is not in
// [0, T].
func (m *Model) Rollout(tokens []int32, B, T, t, n int, opt SampleOptions, rng *nn.RNG) []int32 {
	if t < 0 || t > T || len(tokens) != B*T {
		panic("generator: Rollout: prefix length or token count does not match the batch")
	}
	if m.Wcond != nil {
		panic("generator: Rollout: conditioned generators are not supported")
	}
	return m.decode(B*n, T, opt, nil, rng, tokens, t, n)
}

// decode samples R sequences of length T token by token. If prefix is not
// nil, row r keeps the first t tokens of prefix sequence r/n and samples
// only the rest; no random numbers are drawn for kept positions.
func (m *Model) decode(R, T int, opt SampleOptions, cond []float32, rng *nn.RNG, prefix []int32, t, n int) []int32 {
	if !(opt.Temperature > 0) {
		panic("generator: Sample: temperature must be > 0")
	}
	V, H, E := m.Cfg.Vocab, m.Cfg.Hidden, m.Cfg.Emb
	extra := m.condGates(cond, R)
	h, c := make([]float32, R*H), make([]float32, R*H)
	gates := make([]float32, R*4*H)
	logits := m.scratch(R * V)
	x := make([]float32, R*E)
	prev := make([]int32, R)
	for r := range prev {
		prev[r] = int32(m.Cfg.StartToken)
	}
	out := make([]int32, R*T)
	u := make([]float64, R)
	inv := float32(1 / opt.Temperature)
	for s := 0; s < T; s++ {
		for r, id := range prev {
			copy(x[r*E:(r+1)*E], m.Emb.W[int(id)*E:(int(id)+1)*E])
		}
		m.LSTM.Step(x, h, c, R, extra, gates)
		if prefix != nil && s < t {
			for r := range prev {
				prev[r] = prefix[(r/n)*T+s]
				out[r*T+s] = prev[r]
			}
			continue
		}
		nn.Gemm(false, false, R, V, H, 1, h, H, m.Wout.W, V, 0, logits, V)
		for r := range u {
			u[r] = rng.Float64()
		}
		if opt.TopK > 0 && opt.TopK < V {
			nn.AddBias(logits, R, V, m.Bout.W)
			nn.ParallelFor(R, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					prev[r] = int32(drawTopK(logits[r*V:(r+1)*V], inv, opt.TopK, u[r]))
				}
			})
		} else {
			nn.SampleRows(logits, m.Bout.W, R, V, inv, u, prev)
		}
		for r, id := range prev {
			out[r*T+s] = id
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
