package onnx

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"promptgan/internal/ort"
)

// row is one request being decoded.
type row struct {
	seq []int32 // every token fed or to be fed: the context, then the new tokens but the last
	out []int32 // the new tokens
	rng *rand.Rand
}

// accept records the token picked for r and reports whether r goes on.
func (m *Model) accept(r *row, tok int32) bool {
	if m.stop[tok] {
		if m.dec.IncludeStop {
			r.out = append(r.out, tok)
		}
		return false
	}
	r.out = append(r.out, tok)
	if len(r.out) >= m.dec.MaxNewTokens {
		return false
	}
	r.seq = append(r.seq, tok)
	return true
}

// decodeBatch decodes rows together, in the way the model's signature
// allows.
func (m *Model) decodeBatch(ctx context.Context, rows []*row) error {
	s := &sampler{temperature: m.dec.Temperature, topK: m.dec.TopK, topP: m.dec.TopP}
	switch m.sig.kind {
	case KVCache:
		if m.sig.hasMask && m.sig.hasPos {
			return m.decodeKV(ctx, rows, s)
		}
		// Without attention_mask and position_ids, padding would shift
		// positions: decode each context length on its own.
		for _, g := range byLength(rows) {
			if err := m.decodeKV(ctx, g, s); err != nil {
				return err
			}
		}
		return nil
	case LSTMState:
		return m.decodeState(ctx, rows, s)
	default:
		return m.decodePlain(ctx, rows, s)
	}
}

// byLength groups rows by context length, in order of first appearance.
func byLength(rows []*row) [][]*row {
	var groups [][]*row
	at := map[int]int{}
	for _, r := range rows {
		i, ok := at[len(r.seq)]
		if !ok {
			i = len(groups)
			at[len(r.seq)] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// run runs the session and checks that logits are (n, T, vocab). ONNX
// Runtime writes the outputs named in into (see ort.Session.RunInto)
// straight into those tensors; nil lets it allocate every output.
func (m *Model) run(ctx context.Context, in, into map[string]ort.Tensor, n, T int) (map[string]ort.Tensor, []float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	out, err := m.sess.RunInto(in, into)
	if err != nil {
		return nil, nil, fmt.Errorf("target/onnx: %w", err)
	}
	lg := out[outLogits]
	if !slices.Equal(lg.Shape, []int64{int64(n), int64(T), int64(m.vocab)}) {
		return nil, nil, fmt.Errorf("target/onnx: %s returned logits of shape %v for %d sequences of %d tokens; want [%d %d %d] (vocabulary from %s)",
			m.sess.Model, lg.Shape, n, T, n, T, m.vocab, ConfigFile)
	}
	return out, lg.Float32, nil
}

// step picks the next token of each row from its logits (at logits[at(i)·V:])
// and returns the rows that go on and their indices in rows.
func (m *Model) step(rows []*row, logits []float32, at func(i int) int, s *sampler) ([]*row, []int, error) {
	V := m.vocab
	var next []*row
	var keep []int
	for i, r := range rows {
		o := at(i) * V
		tok, err := s.pick(logits[o:o+V], r.rng)
		if err != nil {
			return nil, nil, fmt.Errorf("target/onnx: %s: %w", m.sess.Model, err)
		}
		if m.accept(r, tok) {
			next = append(next, r)
			keep = append(keep, i)
		}
	}
	return next, keep, nil
}

// decodePlain feeds the whole sequence at every step, right-padded to the
// longest: each row's next-token logits are at its own last position, which
// a causal model computes from that row's tokens only.
func (m *Model) decodePlain(ctx context.Context, rows []*row, s *sampler) error {
	// ONNX Runtime writes the logits into one buffer, reused at every step,
	// sized for the longest sequence fed: the longest context and
	// MaxNewTokens − 1 new tokens.
	longest := 0
	for _, r := range rows {
		longest = max(longest, len(r.seq))
	}
	logitsBuf := make([]float32, len(rows)*(longest+m.dec.MaxNewTokens-1)*m.vocab)
	for len(rows) > 0 {
		n, T := len(rows), 0
		for _, r := range rows {
			T = max(T, len(r.seq))
		}
		ids, mask, pos := make([]int64, n*T), make([]int64, n*T), make([]int64, n*T)
		for i, r := range rows {
			for t, id := range r.seq {
				ids[i*T+t], mask[i*T+t], pos[i*T+t] = int64(id), 1, int64(t)
			}
		}
		in := map[string]ort.Tensor{inIDs: ort.I64(ids, int64(n), int64(T))}
		if m.sig.hasMask {
			in[inMask] = ort.I64(mask, int64(n), int64(T))
		}
		if m.sig.hasPos {
			in[inPos] = ort.I64(pos, int64(n), int64(T))
		}
		into := map[string]ort.Tensor{outLogits: ort.F32(logitsBuf[:n*T*m.vocab], int64(n), int64(T), int64(m.vocab))}
		_, logits, err := m.run(ctx, in, into, n, T)
		if err != nil {
			return err
		}
		if rows, _, err = m.step(rows, logits, func(i int) int { return i*T + len(rows[i].seq) - 1 }, s); err != nil {
			return err
		}
	}
	return nil
}

// decodeKV decodes with Optimum's KV cache. The first call feeds the
// contexts left-padded to the longest (attention_mask 0 on the padding,
// position_ids counting real tokens only, as Hugging Face does) with empty
// past tensors; every later call feeds one new token per row with the
// returned present.* as past_key_values.* and the mask grown by one.
// Without position_ids the rows must all have the same length.
func (m *Model) decodeKV(ctx context.Context, rows []*row, s *sampler) error {
	n, T := len(rows), 0
	for _, r := range rows {
		T = max(T, len(r.seq))
	}
	ids, mask, pos := make([]int64, n*T), make([]int64, n*T), make([]int64, n*T)
	for i, r := range rows {
		pad := T - len(r.seq)
		for t := range T {
			if t < pad {
				pos[i*T+t] = 1 // any valid position: masked out
				continue
			}
			ids[i*T+t], mask[i*T+t], pos[i*T+t] = int64(r.seq[t-pad]), 1, int64(t-pad)
		}
	}
	H, D := m.sig.heads, m.sig.headDim
	past := make(map[string]ort.Tensor, 2*m.sig.layers)
	for l := range m.sig.layers {
		for _, kv := range []string{"key", "value"} {
			past[pastName(l, kv)] = ort.F32([]float32{}, int64(n), H, 0, D)
		}
	}
	// ONNX Runtime writes present.* into two sets of buffers taken in turn
	// (the present of one step is the past of the next, so it cannot be
	// overwritten by the next), and the one-token logits into one buffer:
	// no allocation or copy per step. A present is at most
	// T + MaxNewTokens − 1 tokens long.
	var presentBuf [2]map[string][]float32
	for p := range presentBuf {
		presentBuf[p] = make(map[string][]float32, 2*m.sig.layers)
		for l := range m.sig.layers {
			for _, kv := range []string{"key", "value"} {
				presentBuf[p][presentName(l, kv)] = make([]float32, n*int(H)*(T+m.dec.MaxNewTokens-1)*int(D))
			}
		}
	}
	logitsBuf := make([]float32, n*m.vocab)
	W := T // the mask's width: past length + new tokens
	for step := 0; ; step++ {
		in := map[string]ort.Tensor{inIDs: ort.I64(ids, int64(n), int64(len(ids)/n))}
		if m.sig.hasMask {
			in[inMask] = ort.I64(mask, int64(n), int64(W))
		}
		if m.sig.hasPos {
			in[inPos] = ort.I64(pos, int64(n), int64(len(pos)/n))
		}
		for k, v := range past {
			in[k] = v
		}
		cur := len(ids) / n
		into := make(map[string]ort.Tensor, 1+2*m.sig.layers)
		for name, buf := range presentBuf[step%2] {
			into[name] = ort.F32(buf[:n*int(H)*W*int(D)], int64(n), H, int64(W), D)
		}
		if cur == 1 {
			into[outLogits] = ort.F32(logitsBuf[:n*m.vocab], int64(n), 1, int64(m.vocab))
		}
		out, logits, err := m.run(ctx, in, into, n, cur)
		if err != nil {
			return err
		}
		next, keep, err := m.step(rows, logits, func(i int) int { return i*cur + cur - 1 }, s)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			return nil
		}
		// The present cache of the rows that go on becomes the past.
		for l := range m.sig.layers {
			for _, kv := range []string{"key", "value"} {
				p := out[presentName(l, kv)]
				if !slices.Equal(p.Shape, []int64{int64(n), H, int64(W), D}) {
					return fmt.Errorf("target/onnx: %s returned %s of shape %v; want [%d %d %d %d] (batch, heads, past + new tokens, head width)",
						m.sess.Model, presentName(l, kv), p.Shape, n, H, W, D)
				}
				past[pastName(l, kv)] = ort.F32(selectRows(p.Float32, n, keep), int64(len(keep)), H, int64(W), D)
			}
		}
		newMask := make([]int64, 0, len(keep)*(W+1))
		ids, pos = make([]int64, len(keep)), make([]int64, len(keep))
		for j, i := range keep {
			newMask = append(append(newMask, mask[i*W:(i+1)*W]...), 1)
			r := rows[i]
			ids[j] = int64(r.seq[len(r.seq)-1])
			pos[j] = int64(len(r.seq) - 1)
		}
		rows, mask, n, W = next, newMask, len(keep), W+1
	}
}

// decodeState decodes promptgan's stateful LSTM: the contexts are fed in
// groups of equal length from the zero state (no padding ever reaches the
// state), then all rows go on together, one token per call, carrying
// present_state.h/.c as past_state.h/.c.
func (m *Model) decodeState(ctx context.Context, rows []*row, s *sampler) error {
	n, H := len(rows), int(m.sig.hidden)
	h, c := make([]float32, n*H), make([]float32, n*H)
	last := make([]float32, n*m.vocab) // each row's next-token logits
	index := make(map[*row]int, n)
	for i, r := range rows {
		index[r] = i
	}
	for _, g := range byLength(rows) {
		G, T := len(g), len(g[0].seq)
		ids := make([]int64, 0, G*T)
		for _, r := range g {
			for _, id := range r.seq {
				ids = append(ids, int64(id))
			}
		}
		out, logits, err := m.run(ctx, m.stateInputs(ids, make([]float32, G*H), make([]float32, G*H), G, T), nil, G, T)
		if err != nil {
			return err
		}
		hs, cs, err := m.states(out, G)
		if err != nil {
			return err
		}
		for j, r := range g {
			i := index[r]
			copy(h[i*H:(i+1)*H], hs[j*H:(j+1)*H])
			copy(c[i*H:(i+1)*H], cs[j*H:(j+1)*H])
			copy(last[i*m.vocab:(i+1)*m.vocab], logits[(j*T+T-1)*m.vocab:(j*T+T)*m.vocab])
		}
	}
	// ONNX Runtime writes the states into two sets of buffers taken in turn
	// (a step's present state is the next step's past) and the logits into
	// one buffer: no allocation or copy per step.
	var hBuf, cBuf [2][]float32
	for p := range 2 {
		hBuf[p], cBuf[p] = make([]float32, n*H), make([]float32, n*H)
	}
	logitsBuf := make([]float32, n*m.vocab)
	for step := 0; ; step++ {
		next, keep, err := m.step(rows, last, func(i int) int { return i }, s)
		if err != nil {
			return err
		}
		if len(next) == 0 {
			return nil
		}
		ids := make([]int64, len(next))
		for j, r := range next {
			ids[j] = int64(r.seq[len(r.seq)-1])
		}
		h, c = selectRows(h, n, keep), selectRows(c, n, keep)
		rows, n = next, len(next)
		into := map[string]ort.Tensor{
			outLogits: ort.F32(logitsBuf[:n*m.vocab], int64(n), 1, int64(m.vocab)),
			outStateH: ort.F32(hBuf[step%2][:n*H], int64(n), int64(H)),
			outStateC: ort.F32(cBuf[step%2][:n*H], int64(n), int64(H)),
		}
		out, logits, err := m.run(ctx, m.stateInputs(ids, h, c, n, 1), into, n, 1)
		if err != nil {
			return err
		}
		if h, c, err = m.states(out, n); err != nil {
			return err
		}
		last = logits
	}
}

func (m *Model) stateInputs(ids []int64, h, c []float32, n, T int) map[string]ort.Tensor {
	H := m.sig.hidden
	in := map[string]ort.Tensor{
		inIDs:    ort.I64(ids, int64(n), int64(T)),
		inStateH: ort.F32(h, int64(n), H),
		inStateC: ort.F32(c, int64(n), H),
	}
	if m.sig.hasMask {
		mask := make([]int64, n*T)
		for i := range mask {
			mask[i] = 1
		}
		in[inMask] = ort.I64(mask, int64(n), int64(T))
	}
	if m.sig.hasPos {
		// The LSTM ignores positions; they are given for completeness.
		pos := make([]int64, n*T)
		for i := range pos {
			pos[i] = int64(i % T)
		}
		in[inPos] = ort.I64(pos, int64(n), int64(T))
	}
	return in
}

// states returns present_state.h and .c, checking their shapes.
func (m *Model) states(out map[string]ort.Tensor, n int) (h, c []float32, err error) {
	for _, name := range []string{outStateH, outStateC} {
		if t := out[name]; !slices.Equal(t.Shape, []int64{int64(n), m.sig.hidden}) {
			return nil, nil, fmt.Errorf("target/onnx: %s returned %s of shape %v; want [%d %d]", m.sess.Model, name, t.Shape, n, m.sig.hidden)
		}
	}
	return out[outStateH].Float32, out[outStateC].Float32, nil
}

// selectRows returns the rows keep (ascending) of data, n equal rows; data
// itself when every row is kept.
func selectRows(data []float32, n int, keep []int) []float32 {
	if len(keep) == n {
		return data
	}
	size := len(data) / n
	out := make([]float32, 0, len(keep)*size)
	for _, i := range keep {
		out = append(out, data[i*size:(i+1)*size]...)
	}
	return out
}
