package discriminator

import (
	"errors"
	"fmt"
	"math"

	"promptgan/internal/nn"
)

// TextMember is one network of the text ensemble: F → Hidden (ReLU) → 1
// logit, or F → 1 (logistic regression) when Hidden is 0, in which case W2
// and B2 are nil.
type TextMember struct {
	W1  *nn.Param // (F, Hidden), or (F, 1) for a linear member
	B1  *nn.Param // (Hidden), or (1)
	W2  *nn.Param // (Hidden, 1)
	B2  *nn.Param // (1)
	cfg TextConfig
}

func newTextMember(prefix string, cfg TextConfig, rng *nn.RNG) *TextMember {
	F, H := cfg.Features(), cfg.Hidden
	init := func(p *nn.Param, fanIn int) {
		nn.InitUniform(p, cfg.InitScale*math.Sqrt(3/float64(fanIn)), rng)
	}
	if H == 0 {
		m := &TextMember{W1: nn.NewParam(prefix+"lin.w", F, 1), B1: nn.NewParam(prefix+"lin.b", 1), cfg: cfg}
		init(m.W1, F)
		return m
	}
	m := &TextMember{
		W1: nn.NewParam(prefix+"fc1.w", F, H), B1: nn.NewParam(prefix+"fc1.b", H),
		W2: nn.NewParam(prefix+"out.w", H, 1), B2: nn.NewParam(prefix+"out.b", 1),
		cfg: cfg,
	}
	init(m.W1, F)
	init(m.W2, H)
	return m
}

// Params returns the member's learnables in a fixed order.
func (m *TextMember) Params() nn.Params {
	if m.W2 == nil {
		return nn.Params{m.W1, m.B1}
	}
	return nn.Params{m.W1, m.B1, m.W2, m.B2}
}

// TextCache holds what Backward needs from Forward.
type TextCache struct {
	x []float32 // (n, F) features, not copied
	h []float32 // (n, Hidden) hidden activations after ReLU; nil for a linear member
	n int
}

// Forward returns the n logits of the (n, F) row-major features x and the
// cache for Backward.
func (m *TextMember) Forward(x []float32, n int) (logits []float32, cache *TextCache) {
	F, H := m.cfg.Features(), m.cfg.Hidden
	if len(x) != n*F {
		panic(fmt.Sprintf("discriminator: %d feature values for %d rows of %d", len(x), n, F))
	}
	logits = make([]float32, n)
	if m.W2 == nil {
		nn.Gemm(false, false, n, 1, F, 1, x, F, m.W1.W, 1, 0, logits, 1)
		addScalar(logits, m.B1.W[0])
		return logits, &TextCache{x: x, n: n}
	}
	h := make([]float32, n*H)
	nn.Gemm(false, false, n, H, F, 1, x, F, m.W1.W, H, 0, h, H)
	nn.AddBias(h, n, H, m.B1.W)
	relu(h)
	nn.Gemm(false, false, n, 1, H, 1, h, H, m.W2.W, 1, 0, logits, 1)
	addScalar(logits, m.B2.W[0])
	return logits, &TextCache{x: x, h: h, n: n}
}

// Backward adds into the member's gradients the gradient given dlogits, the
// n gradients of the loss with respect to Forward's logits.
func (m *TextMember) Backward(c *TextCache, dlogits []float32) {
	F, H, n := m.cfg.Features(), m.cfg.Hidden, c.n
	if len(dlogits) != n {
		panic(fmt.Sprintf("discriminator: %d logit gradients for %d rows", len(dlogits), n))
	}
	if m.W2 == nil {
		nn.Gemm(true, false, F, 1, n, 1, c.x, F, dlogits, 1, 1, m.W1.G, 1)
		m.B1.G[0] += sum32(dlogits)
		return
	}
	nn.Gemm(true, false, H, 1, n, 1, c.h, H, dlogits, 1, 1, m.W2.G, 1)
	m.B2.G[0] += sum32(dlogits)
	dh := make([]float32, n*H)
	nn.Gemm(false, true, n, H, 1, 1, dlogits, 1, m.W2.W, 1, 0, dh, H)
	for i, a := range c.h {
		if a <= 0 { // ReLU: no gradient where the unit was off
			dh[i] = 0
		}
	}
	nn.ColSums(m.B1.G, dh, n, H)
	nn.Gemm(true, false, F, H, n, 1, c.x, F, dh, H, 1, m.W1.G, H)
}

func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}

func addScalar(x []float32, b float32) {
	for i := range x {
		x[i] += b
	}
}

func sum32(x []float32) float32 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return float32(s)
}

// TextEnsemble is the text discriminator: K members judged together, and the
// temperature that calibrates their mean logit.
type TextEnsemble struct {
	Cfg     TextConfig
	Members []*TextMember
	// Temperature divides the members' mean logit before the sigmoid; 1 is
	// uncalibrated. Calibrate fits it; checkpoints must keep it.
	Temperature float64
	// Bias is added after the division: the calibrated probability is
	// σ(z/T + Bias). 0 is uncalibrated. Calibrate fits it with T: one-sided
	// label smoothing (the GAN's) shifts the good class's logits, which a
	// temperature alone cannot undo.
	Bias float64
}

// NewText returns an ensemble at temperature 1 whose members are
// initialised each from its own stream, seeded by a draw from rng, so that
// members differ by their initial weights. It panics if cfg is invalid (callers validate
// configs first).
func NewText(cfg TextConfig, rng *nn.RNG) *TextEnsemble {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	e := &TextEnsemble{Cfg: cfg, Temperature: 1}
	for k := range cfg.Members {
		// One stream per member, seeded from rng: adding a member leaves
		// the others' initial weights as they were.
		mrng := nn.NewRNG(rng.Uint64(), uint64(k))
		e.Members = append(e.Members, newTextMember(fmt.Sprintf("m%d.", k), cfg, mrng))
	}
	return e
}

// Params returns every member's learnables, member by member.
func (e *TextEnsemble) Params() nn.Params {
	var ps nn.Params
	for _, m := range e.Members {
		ps = append(ps, m.Params()...)
	}
	return ps
}

// TrainStep takes one step of every member on L_D (Loss), each with its
// own optimiser (opts[k] for member k, made over Members[k].Params()), on
// the rows of features x: the sets' rows one after another (a set of one
// row gives a row its own label and weight). It returns the loss's mean
// over the members, before the update.
func (e *TextEnsemble) TrainStep(opts []*nn.Adam, x []float32, sets []Set) float64 {
	if len(opts) != len(e.Members) {
		panic(fmt.Sprintf("discriminator: %d optimisers for %d members", len(opts), len(e.Members)))
	}
	n := 0
	for _, s := range sets {
		n += s.N
	}
	if len(x) != n*e.Cfg.Features() {
		panic(fmt.Sprintf("discriminator: %d feature values for %d rows of %d features", len(x), n, e.Cfg.Features()))
	}
	losses := make([]float64, len(e.Members))
	// Members are independent: each goroutine writes only its member's
	// parameters, optimiser and loss, so the result does not depend on the split.
	nn.ParallelFor(len(e.Members), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			m := e.Members[k]
			ps := m.Params()
			ps.ZeroGrad()
			logits, cache := m.Forward(x, n)
			dl := make([]float32, n)
			losses[k], _ = Loss(logits, 1, sets, dl)
			m.Backward(cache, dl)
			opts[k].Update(ps)
		}
	})
	var mean float64
	for _, l := range losses {
		mean += l
	}
	return mean / float64(len(losses))
}

// TextScores are the ensemble's judgements of n pairs.
type TextScores struct {
	// P is the calibrated probability that the generation is good:
	// σ(Logit/T + b), the sigmoid of the members' mean logit over the
	// temperature plus the bias.
	P []float64
	// Std is the members' spread: the standard deviation (over the K
	// members, population form) of their calibrated probabilities σ(z_k/T + b).
	Std []float64
	// Logit is the members' mean raw logit (not divided by T).
	Logit []float64
}

// MemberLogits returns the (n, K) row-major raw logits of every member on
// the (n, F) features x. All members' first layers run as one matrix
// product, which is what makes scoring fast.
func (e *TextEnsemble) MemberLogits(x []float32, n int) []float32 {
	F, H, K := e.Cfg.Features(), e.Cfg.Hidden, len(e.Members)
	if len(x) != n*F {
		panic(fmt.Sprintf("discriminator: %d feature values for %d rows of %d", len(x), n, F))
	}
	w1, b1, w2, b2 := e.stacked()
	out := make([]float32, n*K)
	if H == 0 {
		nn.Gemm(false, false, n, K, F, 1, x, F, w1, K, 0, out, K)
		nn.AddBias(out, n, K, b1)
		return out
	}
	// Rows go in blocks so that the hidden block stays small for any n;
	// Gemm splits each block's products across the cores itself. The
	// output layer is one product with the block-diagonal (K·H, K) matrix
	// of every member's output weights.
	const chunk = 4096
	KH := K * H
	w2 = blockDiagonal(w2, K, H)
	h := make([]float32, min(chunk, n)*KH)
	for r0 := 0; r0 < n; r0 += chunk {
		r1 := min(r0+chunk, n)
		hb := h[:(r1-r0)*KH]
		nn.Gemm(false, false, r1-r0, KH, F, 1, x[r0*F:r1*F], F, w1, KH, 0, hb, KH)
		nn.ParallelFor(r1-r0, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				row := hb[r*KH : (r+1)*KH]
				for j, b := range b1[:len(row)] {
					row[j] = max(row[j]+b, 0) // max, not a branch: units are off at random
				}
			}
		})
		o := out[r0*K : r1*K]
		for i := 0; i < len(o); i += K {
			copy(o[i:i+K], b2)
		}
		nn.Gemm(false, false, r1-r0, K, KH, 1, hb, KH, w2, K, 1, o, K)
	}
	return out
}

// blockDiagonal returns the (K·H, K) matrix whose column k holds member
// k's H output weights (w2[k·H:(k+1)·H]) and is zero elsewhere.
func blockDiagonal(w2 []float32, K, H int) []float32 {
	bd := make([]float32, K*H*K)
	for k := range K {
		for j := range H {
			bd[(k*H+j)*K+k] = w2[k*H+j]
		}
	}
	return bd
}

// stacked returns the members' weights side by side: w1 (F, K·H) with
// member k's first layer in columns k·H..(k+1)·H (for linear members
// (F, K)), b1 (K·H), w2 (K·H) holding every member's output weights, b2 (K).
func (e *TextEnsemble) stacked() (w1, b1, w2, b2 []float32) {
	F, K := e.Cfg.Features(), len(e.Members)
	H := max(e.Cfg.Hidden, 1)
	w1 = make([]float32, F*K*H)
	for k, m := range e.Members {
		for f := range F {
			copy(w1[f*K*H+k*H:f*K*H+(k+1)*H], m.W1.W[f*H:(f+1)*H])
		}
		b1 = append(b1, m.B1.W...)
		if m.W2 != nil {
			w2 = append(w2, m.W2.W...)
			b2 = append(b2, m.B2.W[0])
		}
	}
	return w1, b1, w2, b2
}

// Score judges the n pairs whose (n, F) features are x. Large batches run on
// every core.
func (e *TextEnsemble) Score(x []float32, n int) TextScores {
	return scoresFromLogits(e.MemberLogits(x, n), n, len(e.Members), e.Temperature, e.Bias)
}

// scoresFromLogits turns (n, K) member logits into scores calibrated by
// temperature T and bias b.
func scoresFromLogits(logits []float32, n, K int, T, b float64) TextScores {
	s := TextScores{P: make([]float64, n), Std: make([]float64, n), Logit: make([]float64, n)}
	nn.ParallelFor(n, func(lo, hi int) {
		p := make([]float64, K)
		for i := lo; i < hi; i++ {
			var zs, ps float64
			for k, z := range logits[i*K : (i+1)*K] {
				zs += float64(z)
				p[k] = sigmoid(float64(z)/T + b)
				ps += p[k]
			}
			mz, mp := zs/float64(K), ps/float64(K)
			var v float64
			for _, pk := range p {
				v += (pk - mp) * (pk - mp)
			}
			s.Logit[i] = mz
			s.P[i] = sigmoid(mz/T + b)
			s.Std[i] = math.Sqrt(v / float64(K))
		}
	})
	return s
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// Calibration bounds: T is kept in [1/20, 20].
const (
	minTemperature = 0.05
	maxTemperature = 20.0 // a float constant: 1/maxTemperature must not be integer division
)

// Calibrate fits the temperature T and bias b that minimise the negative
// log-likelihood of the labels good under σ(z̄/T + b), z̄ the members' mean
// logit, on n labelled validation rows — temperature scaling (Guo et al.
// 2017) with Platt's bias term (Platt 1999), which one-sided label
// smoothing makes necessary: it lowers the good class's logits, a shift no
// temperature removes (measured on the sentiment task: ECE 0.055 with the
// temperature alone, 0.040 with the bias, over three splits; docs/BENCHMARKS.md). The NLL is
// convex in (1/T, b); Newton's method with a backtracking line search from
// (1, 0) finds its minimum deterministically, kept within T ∈ [1/20, 20]
// and |b| ≤ 20. It sets e.Temperature and e.Bias and returns T. It is an
// error when there are no rows, the labels do not match the rows, or all
// labels are one class (any scaling that pushes every score to that class
// wins); e is then unchanged.
func (e *TextEnsemble) Calibrate(x []float32, n int, good []bool) (float64, error) {
	F := e.Cfg.Features()
	switch {
	case n < 1:
		return 0, errors.New("calibrate: no validation rows")
	case len(x) != n*F:
		return 0, fmt.Errorf("calibrate: %d feature values for %d rows of %d features", len(x), n, F)
	case len(good) != n:
		return 0, fmt.Errorf("calibrate: %d labels for %d rows", len(good), n)
	}
	var pos int
	for _, g := range good {
		if g {
			pos++
		}
	}
	if pos == 0 || pos == n {
		return 0, fmt.Errorf("calibrate: all %d validation rows are labelled %s; calibration needs both good and bad rows", n, map[bool]string{true: "good", false: "bad"}[pos == n])
	}
	z := e.Score(x, n).Logit
	a, b := fitPlatt(z, good)
	e.Temperature, e.Bias = 1/a, b
	return e.Temperature, nil
}

// Bounds of the calibration: T = 1/a in [minTemperature, maxTemperature], |b| <= maxBias.
const maxBias = 20

// fitPlatt minimises NLL(a, b) = −Σ log σ(±(a·z + b)) by Newton steps with
// backtracking, within the bounds.
func fitPlatt(z []float64, good []bool) (a, b float64) {
	nll := func(a, b float64) float64 {
		var s float64
		for i, zi := range z {
			u := a*zi + b
			if good[i] {
				s -= nn.LogSigmoid(u)
			} else {
				s -= nn.LogSigmoid(-u)
			}
		}
		return s
	}
	clamp := func(a, b float64) (float64, float64) {
		return min(max(a, 1/maxTemperature), 1/minTemperature), min(max(b, -maxBias), maxBias)
	}
	a, b = 1, 0
	cur := nll(a, b)
	for range 100 {
		// gradient and Hessian of the NLL in (a, b)
		var ga, gb, haa, hab, hbb float64
		for i, zi := range z {
			p := sigmoid(a*zi + b)
			y := 0.0
			if good[i] {
				y = 1
			}
			r, w := p-y, p*(1-p)
			ga, gb = ga+r*zi, gb+r
			haa, hab, hbb = haa+w*zi*zi, hab+w*zi, hbb+w
		}
		det := haa*hbb - hab*hab
		var da, db float64
		if det > 1e-12*(haa*hbb+1e-300) {
			da, db = -(hbb*ga-hab*gb)/det, -(haa*gb-hab*ga)/det
		} else { // flat curvature: a gradient step
			da, db = -ga/float64(len(z)), -gb/float64(len(z))
		}
		step, moved := 1.0, false
		for range 40 {
			na, nb := clamp(a+step*da, b+step*db)
			if v := nll(na, nb); v < cur {
				a, b, cur, moved = na, nb, v, true
				break
			}
			step /= 2
		}
		if !moved || math.Abs(step*da)+math.Abs(step*db) < 1e-10 {
			break
		}
	}
	return a, b
}
