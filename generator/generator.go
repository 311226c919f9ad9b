package generator

import (
	"fmt"

	"promptgan/internal/nn"
)

// Config is the generator's architecture.
type Config struct {
	Vocab      int     `yaml:"vocab" json:"vocab"`             // vocabulary size; required
	Emb        int     `yaml:"emb" json:"emb"`                 // embedding width; default 32
	Hidden     int     `yaml:"hidden" json:"hidden"`           // LSTM width; default 32
	CondDim    int     `yaml:"cond_dim" json:"cond_dim"`       // conditioning vector width; 0 = unconditioned
	StartToken int     `yaml:"start_token" json:"start_token"` // id whose embedding is the first input; default 0
	InitScale  float64 `yaml:"init_scale" json:"init_scale"`   // weights start uniform in ±InitScale; default 0.1
}

// DefaultConfig returns the SeqGAN generator's shape for a vocabulary of size vocab.
func DefaultConfig(vocab int) Config {
	return Config{Vocab: vocab, Emb: 32, Hidden: 32, InitScale: 0.1}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("generator.vocab = %d: need a vocabulary of at least 2 tokens", c.Vocab)
	case c.Emb < 1:
		return fmt.Errorf("generator.emb = %d: must be >= 1 (SeqGAN uses 32)", c.Emb)
	case c.Hidden < 1:
		return fmt.Errorf("generator.hidden = %d: must be >= 1 (SeqGAN uses 32)", c.Hidden)
	case c.CondDim < 0:
		return fmt.Errorf("generator.cond_dim = %d: must be >= 0 (0 = no conditioning)", c.CondDim)
	case c.StartToken < 0 || c.StartToken >= c.Vocab:
		return fmt.Errorf("generator.start_token = %d: must be a token id in [0, %d)", c.StartToken, c.Vocab)
	case !(c.InitScale > 0):
		return fmt.Errorf("generator.init_scale = %v: must be > 0, e.g. 0.1", c.InitScale)
	}
	return nil
}

// Model is the generator network.
type Model struct {
	Cfg   Config
	Emb   *nn.Param // (V, E)
	LSTM  *nn.LSTM
	Wout  *nn.Param // (H, V)
	Bout  *nn.Param // (V)
	Wcond *nn.Param // (CondDim, 4H); nil when CondDim = 0

	logits []float32 // reused (rows, V) buffer: a Model is not safe for concurrent use
}

// scratch returns the model's logits buffer with room for n values.
func (m *Model) scratch(n int) []float32 {
	if cap(m.logits) < n {
		m.logits = make([]float32, n)
	}
	return m.logits[:n]
}

// New returns a generator with weights drawn from rng. It panics if cfg is
// invalid (callers validate configs first).
func New(cfg Config, rng *nn.RNG) *Model {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	m := &Model{
		Cfg:  cfg,
		Emb:  nn.NewParam("emb", cfg.Vocab, cfg.Emb),
		LSTM: nn.NewLSTM("lstm.", cfg.Emb, cfg.Hidden),
		Wout: nn.NewParam("out.w", cfg.Hidden, cfg.Vocab),
		Bout: nn.NewParam("out.b", cfg.Vocab),
	}
	if cfg.CondDim > 0 {
		m.Wcond = nn.NewParam("cond.w", cfg.CondDim, 4*cfg.Hidden)
	}
	for _, p := range m.Params() {
		if p != m.Bout && p != m.LSTM.B {
			nn.InitUniform(p, cfg.InitScale, rng)
		}
	}
	return m
}

// Params returns the learnables in a fixed order.
func (m *Model) Params() nn.Params {
	ps := nn.Params{m.Emb}
	ps = append(ps, m.LSTM.Params()...)
	ps = append(ps, m.Wout, m.Bout)
	if m.Wcond != nil {
		ps = append(ps, m.Wcond)
	}
	return ps
}

// Batch is the input of a gradient step.
type Batch struct {
	Tokens  []int32   // (B, T) sequences
	B, T    int       // batch size and length
	Weights []float32 // (B, T) weight of −log p of each token; required
	Entropy []float32 // (B, T) weight of the entropy bonus at each position; nil = none
	Cond    []float32 // (B, CondDim) conditioning vectors; nil iff CondDim = 0
}

// Stats summarises one Backprop call.
type Stats struct {
	Loss    float64 // Σ w·(−log p) − Σ e·H, the objective whose gradient was taken
	NLL     float64 // mean −log p per token (unweighted)
	Entropy float64 // mean entropy of the next-token distribution per position, in nats
}

// inputs returns the time-major (T, B) input ids: the start token, then each
// sequence shifted right by one.
func (m *Model) inputs(tokens []int32, B, T int) []int32 {
	ids := make([]int32, T*B)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			if t == 0 {
				ids[b] = int32(m.Cfg.StartToken)
			} else {
				ids[t*B+b] = tokens[b*T+t-1]
			}
		}
	}
	return ids
}

func (m *Model) condGates(cond []float32, B int) []float32 {
	if m.Wcond == nil {
		return nil
	}
	G := 4 * m.Cfg.Hidden
	extra := make([]float32, B*G)
	nn.Gemm(false, false, B, G, m.Cfg.CondDim, 1, cond, m.Cfg.CondDim, m.Wcond.W, G, 0, extra, G)
	return extra
}

func (m *Model) checkBatch(tokens []int32, B, T int, cond []float32) {
	if len(tokens) != B*T {
		panic(fmt.Sprintf("generator: %d tokens for a (%d, %d) batch", len(tokens), B, T))
	}
	if (m.Wcond != nil) != (cond != nil) || (cond != nil && len(cond) != B*m.Cfg.CondDim) {
		panic("generator: conditioning vectors do not match Config.CondDim")
	}
}

// forward runs the network teacher-forced and returns the LSTM cache and the
// (T·B, V) logits, time-major, without the output bias (the softmax kernels
// add it). The logits live in the model's scratch buffer.
func (m *Model) forward(tokens []int32, B, T int, cond []float32) (*nn.LSTMCache, []int32, []float32, []float32) {
	ids := m.inputs(tokens, B, T)
	x := nn.Lookup(m.Emb.W, m.Cfg.Emb, ids)
	extra := m.condGates(cond, B)
	cache := m.LSTM.Forward(x, T, B, extra)
	V, H := m.Cfg.Vocab, m.Cfg.Hidden
	logits := m.scratch(T * B * V)
	nn.Gemm(false, false, T*B, V, H, 1, cache.Outputs(H), H, m.Wout.W, V, 0, logits, V)
	return cache, ids, extra, logits
}

// Pass is a teacher-forced forward pass over a batch of sequences, kept
// for a gradient step whose loss weights are not known yet: a trainer runs
// it while it still computes them. It lives in the model's buffers, so it
// holds until the model next runs forward or samples.
type Pass struct {
	tokens []int32
	B, T   int
	cache  *nn.LSTMCache
	ids    []int32
	logits []float32
}

// Forward runs the network teacher-forced over the (B, T) sequences in
// tokens for a later BackpropPass. It panics if the slices do not match the
// shape.
func (m *Model) Forward(tokens []int32, B, T int, cond []float32) *Pass {
	m.checkBatch(tokens, B, T, cond)
	cache, ids, _, logits := m.forward(tokens, B, T, cond)
	return &Pass{tokens: tokens, B: B, T: T, cache: cache, ids: ids, logits: logits}
}

// Backprop runs the network on bt, adds the gradient of
//
//	L = Σ_bt w_bt·(−log p(x_bt | x_<bt)) − Σ_bt e_bt·H(p(· | x_<bt))
//
// into the parameters' G slices and returns the loss statistics. It panics
// if the batch's slices do not match its shape.
func (m *Model) Backprop(bt Batch) Stats {
	return m.BackpropPass(m.Forward(bt.Tokens, bt.B, bt.T, bt.Cond), bt)
}

// BackpropPass is Backprop with the forward pass already run: p must be
// Forward's pass over bt's tokens and conditioning, with no other use of
// the model in between. It consumes p.
func (m *Model) BackpropPass(p *Pass, bt Batch) Stats {
	B, T, V, H := bt.B, bt.T, m.Cfg.Vocab, m.Cfg.Hidden
	m.checkBatch(bt.Tokens, B, T, bt.Cond)
	if len(bt.Weights) != B*T || (bt.Entropy != nil && len(bt.Entropy) != B*T) {
		panic("generator: Backprop: weights do not match the batch shape")
	}
	if p.B != B || p.T != T || len(p.tokens) != len(bt.Tokens) || (len(p.tokens) > 0 && &p.tokens[0] != &bt.Tokens[0]) {
		panic("generator: BackpropPass: the pass is not over the batch's tokens")
	}
	cache, ids, logits := p.cache, p.ids, p.logits
	// Per-row targets and weights in the logits' time-major order.
	y, w, e := make([]int32, T*B), make([]float32, T*B), make([]float32, T*B)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			y[t*B+b], w[t*B+b] = bt.Tokens[b*T+t], bt.Weights[b*T+t]
			if bt.Entropy != nil {
				e[t*B+b] = bt.Entropy[b*T+t]
			}
		}
	}
	nll, ent := make([]float64, T*B), make([]float64, T*B)
	nn.SoftmaxXent(logits, m.Bout.W, T*B, V, y, w, e, nll, ent)
	var st Stats
	for r := range nll {
		st.Loss += float64(w[r])*nll[r] - float64(e[r])*ent[r]
		st.NLL += nll[r]
		st.Entropy += ent[r]
	}
	st.NLL /= float64(T * B)
	st.Entropy /= float64(T * B)

	dlogits := logits // SoftmaxXent overwrote the logits with their gradient
	hs := cache.Outputs(H)
	// The output layer's gradients and the path back through the LSTM read
	// dlogits and write disjoint gradients, so they run side by side: the
	// LSTM's backward steps are too small to use both cores on their own.
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		nn.Gemm(true, false, H, V, T*B, 1, hs, H, dlogits, V, 1, m.Wout.G, V)
		nn.ColSums(m.Bout.G, dlogits, T*B, V)
	}()
	dh := make([]float32, T*B*H)
	nn.Gemm(false, true, T*B, H, V, 1, dlogits, V, m.Wout.W, V, 0, dh, H)
	dx, dExtra := m.LSTM.Backward(cache, dh, true)
	nn.ScatterAdd(m.Emb.G, m.Cfg.Emb, ids, dx)
	if m.Wcond != nil {
		G := 4 * H
		nn.Gemm(true, false, m.Cfg.CondDim, G, B, 1, bt.Cond, m.Cfg.CondDim, dExtra, G, 1, m.Wcond.G, G)
	}
	<-outDone
	return st
}

// LogProbs returns the (B, T) log-probabilities of tokens under the model
// with its logits divided by temperature (1 = the model itself).
func (m *Model) LogProbs(tokens []int32, B, T int, temperature float64, cond []float32) []float32 {
	m.checkBatch(tokens, B, T, cond)
	_, _, _, logits := m.forward(tokens, B, T, cond)
	V := m.Cfg.Vocab
	y := make([]int32, T*B)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			y[t*B+b] = tokens[b*T+t]
		}
	}
	lp := make([]float64, T*B)
	nn.LogSoftmaxPick(logits, m.Bout.W, T*B, V, y, float32(1/temperature), lp)
	out := make([]float32, B*T)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			out[b*T+t] = float32(lp[t*B+b])
		}
	}
	return out
}
