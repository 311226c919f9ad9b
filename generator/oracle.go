package generator

import (
	"fmt"
	"strconv"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
)

// LoadOracle reads a SeqGAN oracle LSTM (the 15 tensors of
// benchmarks/seqgan-oracle: embedding, W_/U_/b_ for gates i, f, o, c, W_out,
// b_out) into a generator network with the same equations, so that sampling
// from it and scoring under it use the generator's code.
func LoadOracle(path string) (*Model, error) {
	ts, meta, err := checkpoints.ReadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("load oracle: %w", err)
	}
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := ts[name]
		if !ok {
			return nil, fmt.Errorf("load oracle %s: tensor %q is missing (a SeqGAN oracle has embedding, W_i…b_c, W_out, b_out)", path, name)
		}
		if t.F32 == nil || len(t.Shape) != len(shape) {
			return nil, fmt.Errorf("load oracle %s: tensor %q has shape %v, want %v float32", path, name, t.Shape, shape)
		}
		for i := range shape {
			if t.Shape[i] != shape[i] {
				return nil, fmt.Errorf("load oracle %s: tensor %q has shape %v, want %v", path, name, t.Shape, shape)
			}
		}
		return t.F32, nil
	}
	emb, ok := ts["embedding"]
	if !ok || len(emb.Shape) != 2 {
		return nil, fmt.Errorf("load oracle %s: tensor \"embedding\" (vocab × emb) is missing or not 2-D", path)
	}
	V, E := emb.Shape[0], emb.Shape[1]
	wi, ok := ts["W_i"]
	if !ok || len(wi.Shape) != 2 {
		return nil, fmt.Errorf("load oracle %s: tensor \"W_i\" (emb × hidden) is missing or not 2-D", path)
	}
	H := wi.Shape[1]
	start := 0
	if s, ok := meta["start_token"]; ok {
		if start, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("load oracle %s: metadata start_token = %q is not an integer", path, s)
		}
	}
	cfg := Config{Vocab: V, Emb: E, Hidden: H, StartToken: start, InitScale: 0.1}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load oracle %s: %w", path, err)
	}
	m := New(cfg, nn.NewRNG(0, 0))
	e, err := get("embedding", V, E)
	if err != nil {
		return nil, err
	}
	copy(m.Emb.W, e)
	G := 4 * H
	for g, gate := range []string{"i", "f", "o", "c"} {
		w, err := get("W_"+gate, E, H)
		if err != nil {
			return nil, err
		}
		u, err := get("U_"+gate, H, H)
		if err != nil {
			return nil, err
		}
		b, err := get("b_"+gate, H)
		if err != nil {
			return nil, err
		}
		for r := 0; r < E; r++ {
			copy(m.LSTM.Wx.W[r*G+g*H:r*G+(g+1)*H], w[r*H:(r+1)*H])
		}
		for r := 0; r < H; r++ {
			copy(m.LSTM.Wh.W[r*G+g*H:r*G+(g+1)*H], u[r*H:(r+1)*H])
		}
		copy(m.LSTM.B.W[g*H:(g+1)*H], b)
	}
	wout, err := get("W_out", H, V)
	if err != nil {
		return nil, err
	}
	bout, err := get("b_out", V)
	if err != nil {
		return nil, err
	}
	copy(m.Wout.W, wout)
	copy(m.Bout.W, bout)
	return m, nil
}
