package generator

import (
	"fmt"
	"math"

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
// (T·B, V) logits, time-major.
func (m *Model) forward(tokens []int32, B, T int, cond []float32) (*nn.LSTMCache, []int32, []float32, []float32) {
	ids := m.inputs(tokens, B, T)
	x := nn.Lookup(m.Emb.W, m.Cfg.Emb, ids)
	extra := m.condGates(cond, B)
	cache := m.LSTM.Forward(x, T, B, extra)
	V, H := m.Cfg.Vocab, m.Cfg.Hidden
	logits := make([]float32, T*B*V)
	for r := 0; r < T*B; r++ {
		copy(logits[r*V:(r+1)*V], m.Bout.W)
	}
	nn.Gemm(false, false, T*B, V, H, 1, cache.Outputs(H), H, m.Wout.W, V, 1, logits, V)
	return cache, ids, extra, logits
}

// Backprop runs the network on bt, adds the gradient of
//
//	L = Σ_bt w_bt·(−log p(x_bt | x_<bt)) − Σ_bt e_bt·H(p(· | x_<bt))
//
// into the parameters' G slices and returns the loss statistics. It panics
// if the batch's slices do not match its shape.
func (m *Model) Backprop(bt Batch) Stats {
	B, T, V, H := bt.B, bt.T, m.Cfg.Vocab, m.Cfg.Hidden
	m.checkBatch(bt.Tokens, B, T, bt.Cond)
	if len(bt.Weights) != B*T || (bt.Entropy != nil && len(bt.Entropy) != B*T) {
		panic("generator: Backprop: weights do not match the batch shape")
	}
	cache, ids, _, logits := m.forward(bt.Tokens, B, T, bt.Cond)
	rowLoss := make([]float64, T*B)
	rowNLL := make([]float64, T*B)
	rowEnt := make([]float64, T*B)
	nn.ParallelFor(T*B, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t, b := r/B, r%B
			k := b*T + t
			var e float32
			if bt.Entropy != nil {
				e = bt.Entropy[k]
			}
			nll, ent := softmaxGrad(logits[r*V:(r+1)*V], int(bt.Tokens[k]), bt.Weights[k], e)
			rowNLL[r], rowEnt[r] = nll, ent
			rowLoss[r] = float64(bt.Weights[k])*nll - float64(e)*ent
		}
	})
	var st Stats
	for r := range rowLoss {
		st.Loss += rowLoss[r]
		st.NLL += rowNLL[r]
		st.Entropy += rowEnt[r]
	}
	st.NLL /= float64(T * B)
	st.Entropy /= float64(T * B)

	dlogits := logits // softmaxGrad overwrote the logits with their gradient
	hs := cache.Outputs(H)
	nn.Gemm(true, false, H, V, T*B, 1, hs, H, dlogits, V, 1, m.Wout.G, V)
	nn.SumRows(m.Bout.G, dlogits, T*B, V)
	dh := make([]float32, T*B*H)
	nn.Gemm(false, true, T*B, H, V, 1, dlogits, V, m.Wout.W, V, 0, dh, H)
	dx, dExtra := m.LSTM.Backward(cache, dh, true)
	nn.ScatterAdd(m.Emb.G, m.Cfg.Emb, ids, dx)
	if m.Wcond != nil {
		G := 4 * H
		nn.Gemm(true, false, m.Cfg.CondDim, G, B, 1, bt.Cond, m.Cfg.CondDim, dExtra, G, 1, m.Wcond.G, G)
	}
	return st
}

// softmaxGrad replaces the logits z of one position by the gradient of
// w·(−log p_y) − e·H(p) with respect to z, and returns −log p_y and H(p):
//
//	∂/∂z_j = w·(p_j − [j = y]) + e·p_j·(log p_j + H)
func softmaxGrad(z []float32, y int, w, e float32) (nll, ent float64) {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	var s, sz float64
	for j, v := range z {
		ex := float32(math.Exp(float64(v - mx)))
		s += float64(ex)
		sz += float64(ex) * float64(v)
		z[j] = ex // z now holds exp(z − max); the logit is recovered as log(ex)+max below only where needed
	}
	logZ := float64(mx) + math.Log(s)
	// Σ p_j z_j = sz/s, so H = logZ − Σ p_j z_j.
	ent = logZ - sz/s
	pY := float64(z[y]) / s
	nll = -math.Log(pY)
	if pY == 0 {
		// exp underflowed: recompute from the logit of y via the sum
		nll = math.Inf(1)
	}
	inv := float32(1 / s)
	entF := float32(ent)
	for j, ex := range z {
		p := ex * inv
		g := w * p
		if e != 0 && p > 0 {
			g += e * p * (float32(math.Log(float64(p))) + entF)
		}
		z[j] = g
	}
	z[y] -= w
	return nll, ent
}

// LogProbs returns the (B, T) log-probabilities of tokens under the model
// with its logits divided by temperature (1 = the model itself).
func (m *Model) LogProbs(tokens []int32, B, T int, temperature float64, cond []float32) []float32 {
	m.checkBatch(tokens, B, T, cond)
	_, _, _, logits := m.forward(tokens, B, T, cond)
	V := m.Cfg.Vocab
	out := make([]float32, B*T)
	inv := float32(1 / temperature)
	nn.ParallelFor(T*B, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t, b := r/B, r%B
			z := logits[r*V : (r+1)*V]
			out[b*T+t] = float32(logSoftmaxAt(z, int(tokens[b*T+t]), inv))
		}
	})
	return out
}

// logSoftmaxAt returns log softmax(z·inv)_y.
func logSoftmaxAt(z []float32, y int, inv float32) float64 {
	mx := z[0] * inv
	for _, v := range z[1:] {
		mx = max(mx, v*inv)
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v*inv - mx))
	}
	return float64(z[y]*inv-mx) - math.Log(s)
}
