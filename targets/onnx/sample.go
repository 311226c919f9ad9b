package onnx

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// rngStream is the PCG stream of every request's sampler: the seed is the
// request's, the stream fixed, so a request draws the same numbers whatever
// batch it is decoded in.
const rngStream = 0x7461726765746f6e // "targeton"

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, rngStream)) }

// sampler picks the next token from one row of logits.
type sampler struct {
	temperature float64
	topK        int
	topP        float64

	// scratch, reused across calls (a sampler serves one goroutine)
	cand []int
	w    []float64
}

// pick returns the next token: the arg-max when temperature is 0, else a
// draw from softmax(logits/temperature) restricted to the top-k tokens, then
// to the top-p nucleus, by inverting the CDF at one uniform number from rng.
// Ties between equal logits go to the smaller token id. It fails on logits
// that are NaN or +Inf.
func (s *sampler) pick(logits []float32, rng *rand.Rand) (int32, error) {
	if len(logits) == 0 {
		return 0, fmt.Errorf("no logits")
	}
	best, bv := 0, logits[0]
	for j, v := range logits {
		// One comparison rejects both NaN and +Inf (this loop runs over
		// every logit of every row at every step).
		if !(v <= math.MaxFloat32) {
			return 0, fmt.Errorf("the model returned logit %v for token %d", v, j)
		}
		if v > bv {
			best, bv = j, v
		}
	}
	if math.IsInf(float64(logits[best]), -1) {
		return 0, fmt.Errorf("the model returned -Inf for every token")
	}
	if s.temperature == 0 {
		return int32(best), nil
	}
	u := rng.Float64() // drawn before anything can return: one number per sampled token

	// Candidates, most likely first when a cut (top-k, top-p) needs the order;
	// in id order otherwise.
	V := len(logits)
	s.cand = s.cand[:0]
	switch {
	case s.topK > 0 && s.topK < V:
		s.cand = topK(logits, s.topK, s.cand)
	case s.topP > 0 && s.topP < 1:
		for j := range V {
			s.cand = append(s.cand, j)
		}
		slices.SortFunc(s.cand, func(a, b int) int { return byLogit(logits, a, b) })
	default:
		for j := range V {
			s.cand = append(s.cand, j)
		}
	}
	mx := float64(logits[best])
	s.w = s.w[:0]
	var sum float64
	for _, j := range s.cand {
		w := math.Exp((float64(logits[j]) - mx) / s.temperature)
		s.w = append(s.w, w)
		sum += w
	}
	if s.topP > 0 && s.topP < 1 {
		// Keep the smallest prefix whose probability reaches topP (at
		// least one token), as Hugging Face's TopPLogitsWarper does.
		var acc float64
		n := len(s.w)
		for i, w := range s.w {
			acc += w
			if acc >= s.topP*sum {
				n = i + 1
				break
			}
		}
		s.w, s.cand = s.w[:n], s.cand[:n]
		sum = acc
	}
	target := u * sum
	var acc float64
	for i, w := range s.w {
		acc += w
		if acc > target {
			return int32(s.cand[i]), nil
		}
	}
	// Rounding left target at the end: the last candidate with mass.
	for i := len(s.w) - 1; i >= 0; i-- {
		if s.w[i] > 0 {
			return int32(s.cand[i]), nil
		}
	}
	return int32(best), nil
}

// byLogit orders token ids by logit, largest first, then by id.
func byLogit(z []float32, a, b int) int {
	switch {
	case z[a] > z[b]:
		return -1
	case z[a] < z[b]:
		return 1
	}
	return a - b
}

// topK appends to dst the k ids with the largest logits, most likely first
// (ties: smaller id first).
func topK(z []float32, k int, dst []int) []int {
	h := &idHeap{z: z, idx: dst[:0]}
	for j := range z {
		if h.Len() < k {
			heap.Push(h, j)
		} else if byLogit(z, j, h.idx[0]) < 0 {
			h.idx[0] = j
			heap.Fix(h, 0)
		}
	}
	slices.SortFunc(h.idx, func(a, b int) int { return byLogit(z, a, b) })
	return h.idx
}

// idHeap is a min-heap of token ids: its root is the least likely kept id.
type idHeap struct {
	z   []float32
	idx []int
}

func (h *idHeap) Len() int           { return len(h.idx) }
func (h *idHeap) Less(a, b int) bool { return byLogit(h.z, h.idx[a], h.idx[b]) > 0 }
func (h *idHeap) Swap(a, b int)      { h.idx[a], h.idx[b] = h.idx[b], h.idx[a] }
func (h *idHeap) Push(x any)         { h.idx = append(h.idx, x.(int)) }
func (h *idHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}
