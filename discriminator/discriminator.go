package discriminator

import (
	"fmt"
	"math"
	"sync"

	"promptgan/internal/nn"
)

// Config is the discriminator's architecture.
type Config struct {
	Vocab     int     `yaml:"vocab" json:"vocab"`           // vocabulary size; required
	Emb       int     `yaml:"emb" json:"emb"`               // embedding width; default 64
	Hidden    int     `yaml:"hidden" json:"hidden"`         // LSTM width; default 64
	Members   int     `yaml:"members" json:"members"`       // ensemble size K; default 3
	InitScale float64 `yaml:"init_scale" json:"init_scale"` // weights start uniform in ±InitScale; default 0.1

	// Kind is the member architecture: KindLSTM ("" or "lstm", the
	// default: embedding, LSTM, linear head) or KindLinear (logistic
	// regression on position×token one-hot features: one weight per
	// position and token plus a bias; the logit of a prefix is the bias plus
	// the sum of its positions' weights). Emb and Hidden are ignored by
	// linear members.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Positions is the number of position rows of a linear member; tokens
	// at later positions share the last row. Required (>= 1) for KindLinear,
	// ignored otherwise.
	Positions int `yaml:"positions,omitempty" json:"positions,omitempty"`
}

// Member kinds of Config.Kind.
const (
	KindLSTM   = "lstm"
	KindLinear = "linear"
)

// IsLinear reports whether the members are linear (logistic-regression) ones.
func (c Config) IsLinear() bool { return c.Kind == KindLinear }

// DefaultConfig returns the default discriminator for a vocabulary of size vocab.
func DefaultConfig(vocab int) Config {
	return Config{Vocab: vocab, Emb: 64, Hidden: 64, Members: 3, InitScale: 0.1}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch c.Kind {
	case "", KindLSTM:
	case KindLinear:
		if c.Positions < 1 {
			return fmt.Errorf("discriminator.positions = %d: a linear discriminator needs >= 1 position rows (the generation length, e.g. 16)", c.Positions)
		}
	default:
		return fmt.Errorf("discriminator.kind = %q: want lstm or linear", c.Kind)
	}
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("discriminator.vocab = %d: need a vocabulary of at least 2 tokens", c.Vocab)
	case !c.IsLinear() && c.Emb < 1:
		return fmt.Errorf("discriminator.emb = %d: must be >= 1", c.Emb)
	case !c.IsLinear() && c.Hidden < 1:
		return fmt.Errorf("discriminator.hidden = %d: must be >= 1", c.Hidden)
	case c.Members < 1 || c.Members > 32:
		return fmt.Errorf("discriminator.members = %d: the ensemble needs 1 to 32 members (default 3)", c.Members)
	case !(c.InitScale > 0):
		return fmt.Errorf("discriminator.init_scale = %v: must be > 0, e.g. 0.1", c.InitScale)
	}
	return nil
}

// Member is one network of the ensemble. An LSTM member has Emb, LSTM,
// Whead and Bhead; a linear member has Lin and Bhead.
type Member struct {
	Emb   *nn.Param // (V, E)
	LSTM  *nn.LSTM
	Whead *nn.Param // (H, 1)
	Bhead *nn.Param // (1)
	Lin   *nn.Param // (Positions, V): linear members only
	cfg   Config

	// caches holds the buffers of finished passes (Backward hands its cache
	// back), so that an update of the usual shape allocates nothing; a pool
	// keeps a Member safe for concurrent use.
	caches sync.Pool
}

func newMember(prefix string, cfg Config, rng *nn.RNG) *Member {
	if cfg.IsLinear() {
		m := &Member{
			Lin:   nn.NewParam(prefix+"lin.w", cfg.Positions, cfg.Vocab),
			Bhead: nn.NewParam(prefix+"head.b", 1),
			cfg:   cfg,
		}
		nn.InitUniform(m.Lin, cfg.InitScale, rng)
		return m
	}
	m := &Member{
		Emb:   nn.NewParam(prefix+"emb", cfg.Vocab, cfg.Emb),
		LSTM:  nn.NewLSTM(prefix+"lstm.", cfg.Emb, cfg.Hidden),
		Whead: nn.NewParam(prefix+"head.w", cfg.Hidden, 1),
		Bhead: nn.NewParam(prefix+"head.b", 1),
		cfg:   cfg,
	}
	for _, p := range m.Params() {
		if p != m.Bhead && p != m.LSTM.B {
			nn.InitUniform(p, cfg.InitScale, rng)
		}
	}
	return m
}

// Params returns the member's learnables in a fixed order.
func (m *Member) Params() nn.Params {
	if m.Lin != nil {
		return nn.Params{m.Lin, m.Bhead}
	}
	return append(append(nn.Params{m.Emb}, m.LSTM.Params()...), m.Whead, m.Bhead)
}

// Cache holds what Backward needs from Forward, and the buffers both use.
// Backward consumes it: a cache is not used again after its Backward.
type Cache struct {
	lstm *nn.LSTMCache
	ids  []int32 // (T, B)
	B, T int

	x, tm, dh []float32 // embedded inputs, time-major logits and their gradient, dh
}

// cache returns a cache from the pool, or a new one.
func (m *Member) cache() *Cache {
	if c, ok := m.caches.Get().(*Cache); ok {
		return c
	}
	return &Cache{}
}

// grow returns buf resliced to n values, reallocated only when too small.
func grow[E any](buf []E, n int) []E {
	if cap(buf) < n {
		return make([]E, n)
	}
	return buf[:n]
}

// Forward returns the (B, T) logits judging every prefix of the (B, T)
// sequences in tokens, and the cache for Backward.
func (m *Member) Forward(tokens []int32, B, T int) ([]float32, *Cache) {
	if len(tokens) != B*T {
		panic(fmt.Sprintf("discriminator: %d tokens for a (%d, %d) batch", len(tokens), B, T))
	}
	if m.Lin != nil {
		return m.forwardLinear(tokens, B, T)
	}
	c := m.cache()
	c.B, c.T = B, T
	c.ids = grow(c.ids, T*B)
	ids := c.ids
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			ids[t*B+b] = tokens[b*T+t]
		}
	}
	c.x = nn.LookupInto(c.x, m.Emb.W, m.cfg.Emb, ids)
	c.lstm = m.LSTM.ForwardInto(c.lstm, c.x, T, B, nil)
	H := m.cfg.Hidden
	c.tm = grow(c.tm, T*B) // time-major logits
	tm := c.tm
	nn.Gemm(false, false, T*B, 1, H, 1, c.lstm.Outputs(H), H, m.Whead.W, 1, 0, tm, 1)
	logits := make([]float32, B*T)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			logits[b*T+t] = tm[t*B+b] + m.Bhead.W[0]
		}
	}
	return logits, c
}

// release hands a cache that no Backward will use back to the pool.
func (m *Member) release(c *Cache) {
	if c != nil && c.lstm != nil {
		m.caches.Put(c)
	}
}

// Backward adds into the member's gradients the gradient given dlogits, the
// (B, T) gradient of the loss with respect to Forward's logits. It consumes
// c.
func (m *Member) Backward(c *Cache, dlogits []float32) {
	if m.Lin != nil {
		m.backwardLinear(c, dlogits)
		return
	}
	B, T, H := c.B, c.T, m.cfg.Hidden
	tm := c.tm // Forward's logits are not needed any more
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			d := dlogits[b*T+t]
			tm[t*B+b] = d
			m.Bhead.G[0] += d
		}
	}
	nn.Gemm(true, false, H, 1, T*B, 1, c.lstm.Outputs(H), H, tm, 1, 1, m.Whead.G, 1)
	c.dh = grow(c.dh, T*B*H)
	dh := c.dh
	outer(dh, tm, m.Whead.W[:H])
	dx, _ := m.LSTM.Backward(c.lstm, dh, true)
	nn.ScatterAdd(m.Emb.G, m.cfg.Emb, c.ids, dx)
	m.release(c)
}

// outer writes the outer product of a and b into dst (len(a) × len(b),
// row-major). Gemm with an inner dimension of 1 goes through OpenBLAS's
// whole packing path (measured ~3 GFLOP/s, ~130 µs for a member's 3200 × 64
// dh); every element is one rounded product either way, so the bits are
// Gemm's (TestOuterIsGemm).
func outer(dst, a, b []float32) {
	n := len(b)
	for i, x := range a {
		row := dst[i*n : i*n+n]
		for j, y := range b {
			row[j] = x * y
		}
	}
}

// row returns the offset in Lin of position t's weight for token id.
func (m *Member) row(t int, id int32) int {
	return min(t, m.cfg.Positions-1)*m.cfg.Vocab + int(id)
}

// forwardLinear: logit(b, t) = bias + Σ_{s<=t} Lin[s, x_bs].
func (m *Member) forwardLinear(tokens []int32, B, T int) ([]float32, *Cache) {
	logits := make([]float32, B*T)
	for b := 0; b < B; b++ {
		acc := m.Bhead.W[0]
		for t := 0; t < T; t++ {
			acc += m.Lin.W[m.row(t, tokens[b*T+t])]
			logits[b*T+t] = acc
		}
	}
	return logits, &Cache{ids: append([]int32(nil), tokens...), B: B, T: T}
}

// backwardLinear: position s's weight gets the sum of dlogits at t >= s.
func (m *Member) backwardLinear(c *Cache, dlogits []float32) {
	B, T := c.B, c.T
	for b := 0; b < B; b++ {
		var acc float32
		for t := T - 1; t >= 0; t-- {
			acc += dlogits[b*T+t]
			m.Lin.G[m.row(t, c.ids[b*T+t])] += acc
		}
		m.Bhead.G[0] += acc
	}
}

// Ensemble is the discriminator: K members judged together.
type Ensemble struct {
	Cfg     Config
	Members []*Member
}

// New returns an ensemble whose members are initialised from rng in turn.
// It panics if cfg is invalid (callers validate configs first).
func New(cfg Config, rng *nn.RNG) *Ensemble {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	e := &Ensemble{Cfg: cfg}
	for k := 0; k < cfg.Members; k++ {
		e.Members = append(e.Members, newMember(fmt.Sprintf("m%d.", k), cfg, rng))
	}
	return e
}

// Params returns every member's learnables, member by member.
func (e *Ensemble) Params() nn.Params {
	var ps nn.Params
	for _, m := range e.Members {
		ps = append(ps, m.Params()...)
	}
	return ps
}

// memberLogits runs every member on tokens, in parallel.
func (e *Ensemble) memberLogits(tokens []int32, B, T int) [][]float32 {
	out := make([][]float32, len(e.Members))
	nn.ForEach(len(e.Members), func(k int) {
		var c *Cache
		out[k], c = e.Members[k].Forward(tokens, B, T)
		e.Members[k].release(c)
	})
	return out
}

// Score returns, for every (b, t), the members' mean probability that the
// prefix x_1..x_t is real, and the standard deviation across members.
func (e *Ensemble) Score(tokens []int32, B, T int) (mean, std []float32) {
	mean, std = make([]float32, B*T), make([]float32, B*T)
	sum, sq := make([]float64, B*T), make([]float64, B*T)
	for _, logits := range e.memberLogits(tokens, B, T) {
		for i, z := range logits {
			p := 1 / (1 + math.Exp(-float64(z)))
			sum[i] += p
			sq[i] += p * p
		}
	}
	k := float64(len(e.Members))
	for i := range sum {
		mu := sum[i] / k
		mean[i] = float32(mu)
		std[i] = float32(math.Sqrt(math.Max(sq[i]/k-mu*mu, 0)))
	}
	return mean, std
}

// MeanLogits returns the members' mean logit at every (b, t).
func (e *Ensemble) MeanLogits(tokens []int32, B, T int) []float32 {
	out := make([]float32, B*T)
	for _, logits := range e.memberLogits(tokens, B, T) {
		for i, z := range logits {
			out[i] += z / float32(len(e.Members))
		}
	}
	return out
}
