// Package lstm is a target backed by one of promptgan's own LSTM networks in
// pure Go: it continues each request by sampling from a generator.Model (the
// SeqGAN oracle of steer-oracle, or a small random network in tests). It is
// the pure-Go twin of the same network exported to ONNX and served by
// targets/onnx, and needs no ONNX Runtime.
package lstm

import (
	"context"
	"fmt"

	"promptgan/generator"
	"promptgan/internal/filehash"
	"promptgan/internal/nn"
	"promptgan/targets/backend"
)

// streamTarget is the RNG stream of Target's sampling; the seed
// is each request's Seed.
const streamTarget = 7

// Target is a backend.Model that continues each request with an
// unconditioned generator network (the SeqGAN oracle of steer-oracle): the
// context Prompt ⊕ Input is fed after the start token and M tokens are
// sampled at temperature 1. Every request draws its own numbers from an RNG
// seeded with Request.Seed, so an answer does not depend on the rest of the
// batch. It is the pure-Go twin of the oracle exported to ONNX and served by
// targets/onnx: the same seeds need not give the same tokens on both, but the
// distributions are the same.
type Target struct {
	Oracle *generator.Model
	M      int // tokens generated per request
	fp     string
}

// NewOracle loads the oracle at path (see generator.LoadOracle) and returns a
// target that generates m tokens per request. Its fingerprint is
// "go-oracle:<sha256 of the file>:m=<m>".
func NewOracle(path string, m int) (*Target, error) {
	if m < 1 {
		return nil, fmt.Errorf("oracle target: m = %d generated tokens: must be >= 1", m)
	}
	oracle, err := generator.LoadOracle(path)
	if err != nil {
		return nil, err
	}
	sum, err := filehash.SHA256(path)
	if err != nil {
		return nil, fmt.Errorf("oracle target: %w", err)
	}
	return New(oracle, m, sum)
}

// New returns a target that continues requests with oracle (an
// unconditioned generator network), m tokens each. id names the weights in
// the fingerprint "go-oracle:<id>:m=<m>" (NewOracle uses the file's
// SHA-256), so that a ledger never mixes two oracles' answers.
func New(oracle *generator.Model, m int, id string) (*Target, error) {
	switch {
	case oracle == nil:
		return nil, fmt.Errorf("oracle target: no oracle network")
	case oracle.Wcond != nil:
		return nil, fmt.Errorf("oracle target: the network is conditioned (cond_dim %d); an oracle is unconditioned", oracle.Cfg.CondDim)
	case m < 1:
		return nil, fmt.Errorf("oracle target: m = %d generated tokens: must be >= 1", m)
	case id == "":
		return nil, fmt.Errorf("oracle target: empty id: the fingerprint must name the weights")
	}
	return &Target{Oracle: oracle, M: m, fp: fmt.Sprintf("go-oracle:%s:m=%d", id, m)}, nil
}

// Fingerprint identifies the oracle's weights and the number of generated tokens.
func (t *Target) Fingerprint() string { return t.fp }

// Generate continues every request's Prompt ⊕ Input by M sampled tokens.
// Requests with contexts of equal length are decoded together as one batch.
func (t *Target) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	V := t.Oracle.Cfg.Vocab
	groups := map[int][]int{} // context length → request indices
	var lens []int
	for i, r := range reqs {
		for j, id := range append(append([]int32(nil), r.Prompt...), r.Input...) {
			if id < 0 || int(id) >= V {
				return nil, fmt.Errorf("oracle target: request %d: context token %d is %d, outside the vocabulary [0, %d)", i, j, id, V)
			}
		}
		L := len(r.Prompt) + len(r.Input)
		if _, ok := groups[L]; !ok {
			lens = append(lens, L)
		}
		groups[L] = append(groups[L], i)
	}
	out := make([]backend.Generation, len(reqs))
	for _, L := range lens {
		idx := groups[L]
		ctxTokens := make([]int32, 0, len(idx)*L)
		rngs := make([]*nn.RNG, len(idx))
		for j, i := range idx {
			ctxTokens = append(append(ctxTokens, reqs[i].Prompt...), reqs[i].Input...)
			rngs[j] = nn.NewRNG(reqs[i].Seed, streamTarget)
		}
		gens := Continue(t.Oracle, ctxTokens, len(idx), L, t.M, rngs)
		for j, i := range idx {
			out[i] = backend.Generation{Tokens: gens[j*t.M : (j+1)*t.M]}
		}
	}
	return out, nil
}

// Continue feeds each of the (B, L) contexts to m after its start
// token and samples M more tokens at temperature 1, row b drawing its
// uniform numbers from rngs[b] only. It returns the (B, M) continuations.
func Continue(m *generator.Model, contexts []int32, B, L, M int, rngs []*nn.RNG) []int32 {
	V, H, E := m.Cfg.Vocab, m.Cfg.Hidden, m.Cfg.Emb
	h, c := make([]float32, B*H), make([]float32, B*H)
	gates := make([]float32, B*4*H)
	logits := make([]float32, B*V)
	x := make([]float32, B*E)
	prev := make([]int32, B)
	for b := range prev {
		prev[b] = int32(m.Cfg.StartToken)
	}
	out := make([]int32, B*M)
	u := make([]float64, B)
	for s := 0; s < L+M; s++ {
		for b, id := range prev {
			copy(x[b*E:(b+1)*E], m.Emb.W[int(id)*E:(int(id)+1)*E])
		}
		m.LSTM.Step(x, h, c, B, nil, gates)
		if s < L {
			for b := range prev {
				prev[b] = contexts[b*L+s]
			}
			continue
		}
		nn.Gemm(false, false, B, V, H, 1, h, H, m.Wout.W, V, 0, logits, V)
		for b := range u {
			u[b] = rngs[b].Float64()
		}
		nn.SampleRows(logits, m.Bout.W, B, V, 1, u, prev)
		for b, id := range prev {
			out[b*M+s-L] = id
		}
	}
	return out
}
