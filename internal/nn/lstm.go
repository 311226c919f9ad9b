package nn

// LSTM is a single-layer LSTM in the row-vector convention of the SeqGAN
// oracle (x is 1×In, h is 1×H):
//
//	i = σ(x·Wi + h·Ui + bi)    f = σ(x·Wf + h·Uf + bf)
//	o = σ(x·Wo + h·Uo + bo)    g = tanh(x·Wc + h·Uc + bc)
//	c' = f⊙c + i⊙g             h' = o⊙tanh(c')
//
// The four gates' weights are stored side by side in the order i, f, o, g.
type LSTM struct {
	In, Hidden int
	Wx         *Param // (In, 4H)
	Wh         *Param // (H, 4H)
	B          *Param // (4H)
}

// NewLSTM returns an LSTM with zero weights whose parameters are named
// prefix+"wx", prefix+"wh" and prefix+"b".
func NewLSTM(prefix string, in, hidden int) *LSTM {
	return &LSTM{
		In: in, Hidden: hidden,
		Wx: NewParam(prefix+"wx", in, 4*hidden),
		Wh: NewParam(prefix+"wh", hidden, 4*hidden),
		B:  NewParam(prefix+"b", 4*hidden),
	}
}

// Params returns the layer's learnables.
func (l *LSTM) Params() Params { return Params{l.Wx, l.Wh, l.B} }

// LSTMCache holds what Backward needs from a Forward pass, and Backward's
// working buffers, so that a cache passed back to ForwardInto is reused
// without allocating.
type LSTMCache struct {
	T, B  int
	X     []float32 // (T, B, In) inputs
	Act   []float32 // (T, B, 4H) gate activations i, f, o, g
	C     []float32 // (T+1, B, H) cell states; C[0] = 0
	H     []float32 // (T+1, B, H) hidden states; H[0] = 0
	TanhC []float32 // (T, B, H) tanh of C[1..T]
	extra bool

	dG, dhNext, dcNext, dx, dExtra []float32 // Backward's buffers
}

// Outputs returns h_1..h_T as a (T, B, H) view into the cache.
func (c *LSTMCache) Outputs(hidden int) []float32 { return c.H[c.B*hidden:] }

// grow returns buf resliced to n values, reallocated only when too small;
// the contents are not cleared.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// Forward runs the layer over x, a (T, B, In) batch, from zero state. If
// extra is not nil it is a (B, 4H) term added to the gate pre-activations at
// every step (a conditioning vector projected by the caller).
func (l *LSTM) Forward(x []float32, T, B int, extra []float32) *LSTMCache {
	return l.ForwardInto(nil, x, T, B, extra)
}

// ForwardInto is Forward writing into c's buffers (a new cache if c is
// nil), growing them when needed: a caller that runs batches of one shape
// over and over allocates nothing after the first. c is returned.
func (l *LSTM) ForwardInto(c *LSTMCache, x []float32, T, B int, extra []float32) *LSTMCache {
	H, G := l.Hidden, 4*l.Hidden
	if c == nil {
		c = &LSTMCache{}
	}
	c.T, c.B, c.X, c.extra = T, B, x, extra != nil
	c.Act = grow(c.Act, T*B*G)
	c.C = grow(c.C, (T+1)*B*H)
	c.H = grow(c.H, (T+1)*B*H)
	c.TanhC = grow(c.TanhC, T*B*H)
	// Every value but the zero initial state is written below.
	clear(c.C[:B*H])
	clear(c.H[:B*H])
	pre := c.Act // pre-activations are computed in place, then activated
	Gemm(false, false, T*B, G, l.In, 1, x, l.In, l.Wx.W, G, 0, pre, G)
	AddBias(pre, T*B, G, l.B.W)
	for t := 0; t < T; t++ {
		pt := pre[t*B*G : (t+1)*B*G]
		if extra != nil {
			for i, v := range extra[:B*G] {
				pt[i] += v
			}
		}
		Gemm(false, false, B, G, H, 1, c.H[t*B*H:(t+1)*B*H], H, l.Wh.W, G, 1, pt, G)
		cellStep(pt, c.C[t*B*H:(t+1)*B*H], c.C[(t+1)*B*H:(t+2)*B*H], c.TanhC[t*B*H:(t+1)*B*H], c.H[(t+1)*B*H:(t+2)*B*H], B, H)
	}
	return c
}

// Step advances B sequences by one step for sampling: x is (B, In), h and c
// (B, H) are updated in place, gates is (B, 4H) scratch and extra as in
// Forward.
func (l *LSTM) Step(x, h, c []float32, B int, extra, gates []float32) {
	H, G := l.Hidden, 4*l.Hidden
	for b := 0; b < B; b++ {
		copy(gates[b*G:(b+1)*G], l.B.W)
	}
	if extra != nil {
		for i, v := range extra[:B*G] {
			gates[i] += v
		}
	}
	Gemm(false, false, B, G, l.In, 1, x, l.In, l.Wx.W, G, 1, gates, G)
	Gemm(false, false, B, G, H, 1, h, H, l.Wh.W, G, 1, gates, G)
	// The cell kernels read c[k] before writing it, so c is updated in place.
	tanhC := make([]float32, B*H)
	cellStep(gates, c, c, tanhC, h, B, H)
}

// Backward takes dh, the (T, B, H) gradient of the loss with respect to the
// outputs h_1..h_T, adds the parameter gradients into the layer's Params and
// returns the (T, B, In) gradient with respect to the inputs (nil unless
// wantDX) and, if Forward had an extra term, its (B, 4H) gradient. Both
// live in c's buffers: they hold until c is next used.
func (l *LSTM) Backward(c *LSTMCache, dh []float32, wantDX bool) (dx, dExtra []float32) {
	T, B, H, G := c.T, c.B, l.Hidden, 4*l.Hidden
	// Every value of dG is written below; the carried gradients start at zero.
	c.dG = grow(c.dG, T*B*G)
	c.dhNext, c.dcNext = grow(c.dhNext, B*H), grow(c.dcNext, B*H)
	dG, dhNext, dcNext := c.dG, c.dhNext, c.dcNext
	clear(dhNext)
	clear(dcNext)
	for t := T - 1; t >= 0; t-- {
		dgt := dG[t*B*G : (t+1)*B*G]
		lstmGates(c.Act[t*B*G:(t+1)*B*G], c.C[t*B*H:(t+1)*B*H], c.TanhC[t*B*H:(t+1)*B*H], dh[t*B*H:(t+1)*B*H], dhNext, dcNext, dgt, B, H)
		if t > 0 {
			Gemm(false, true, B, H, G, 1, dgt, G, l.Wh.W, G, 0, dhNext, H)
		}
	}
	// Weight gradients over all steps at once: h_0..h_{T-1} are the first T rows of H.
	Gemm(true, false, H, G, T*B, 1, c.H[:T*B*H], H, dG, G, 1, l.Wh.G, G)
	Gemm(true, false, l.In, G, T*B, 1, c.X, l.In, dG, G, 1, l.Wx.G, G)
	SumRows(l.B.G, dG, T*B, G)
	if wantDX {
		c.dx = grow(c.dx, T*B*l.In)
		dx = c.dx
		Gemm(false, true, T*B, l.In, G, 1, dG, G, l.Wx.W, G, 0, dx, l.In)
	}
	if c.extra {
		c.dExtra = grow(c.dExtra, B*G)
		dExtra = c.dExtra
		clear(dExtra)
		SumRows(dExtra, dG, T, B*G)
	}
	return dx, dExtra
}

// lstmGatesGo is one step of Backward: from the step's activations, the
// previous cell state, tanh of the new one and the gradient reaching h
// (dht from above plus dhNext from the next step) it writes the gate
// pre-activations' gradient dgt and carries the cell gradient in dcNext.
// lstmGates is it (the OpenBLAS build has a vectorised C copy that gives
// the same bits; TestLSTMGatesBitExact checks).
func lstmGatesGo(act, cPrev, tanhC, dht, dhNext, dcNext, dgt []float32, B, H int) {
	G := 4 * H
	for b := 0; b < B; b++ {
		a := act[b*G : (b+1)*G]
		d := dgt[b*G : (b+1)*G]
		for j := 0; j < H; j++ {
			k := b*H + j
			i, f, o, g := a[j], a[H+j], a[2*H+j], a[3*H+j]
			tc := tanhC[k]
			dhv := dht[k] + dhNext[k]
			dc := dcNext[k] + dhv*o*(1-tc*tc)
			d[j] = dc * g * i * (1 - i)
			d[H+j] = dc * cPrev[k] * f * (1 - f)
			d[2*H+j] = dhv * tc * o * (1 - o)
			d[3*H+j] = dc * i * (1 - g*g)
			dcNext[k] = dc * f
		}
	}
}
