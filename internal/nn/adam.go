package nn

import (
	"fmt"
	"math"
	"slices"
)

// AdamConfig holds Adam's hyper-parameters and learning-rate schedule.
type AdamConfig struct {
	LR          float64 `yaml:"lr" json:"lr"`                     // peak learning rate; must be > 0
	Beta1       float64 `yaml:"beta1" json:"beta1"`               // default 0.9
	Beta2       float64 `yaml:"beta2" json:"beta2"`               // default 0.999
	Eps         float64 `yaml:"eps" json:"eps"`                   // default 1e-8
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"` // decoupled (AdamW); 0 = none
	ClipNorm    float64 `yaml:"clip_norm" json:"clip_norm"`       // global-norm gradient clipping; 0 = none
	Warmup      int     `yaml:"warmup" json:"warmup"`             // linear warm-up steps; 0 = none
}

// DefaultAdam returns Adam's usual settings at learning rate lr.
func DefaultAdam(lr float64) AdamConfig {
	return AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, ClipNorm: 5}
}

// Validate reports the first invalid field, named as in a config file.
func (c AdamConfig) Validate(prefix string) error {
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("%s.lr = %v: must be a positive learning rate such as 0.001", prefix, c.LR)
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("%s.beta1 = %v: must be in [0, 1)", prefix, c.Beta1)
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("%s.beta2 = %v: must be in [0, 1)", prefix, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("%s.eps = %v: must be > 0, e.g. 1e-8", prefix, c.Eps)
	case c.WeightDecay < 0:
		return fmt.Errorf("%s.weight_decay = %v: must be >= 0", prefix, c.WeightDecay)
	case c.ClipNorm < 0:
		return fmt.Errorf("%s.clip_norm = %v: must be >= 0 (0 turns clipping off)", prefix, c.ClipNorm)
	case c.Warmup < 0:
		return fmt.Errorf("%s.warmup = %d: must be >= 0", prefix, c.Warmup)
	}
	return nil
}

// Adam is the Adam optimiser over one parameter set. Unlike gorgonia's
// solver its moments, step count and learning-rate scale are exported, so
// that checkpoints hold them and a resume continues bit-exactly.
type Adam struct {
	Cfg     AdamConfig
	Step    int     // updates taken so far
	LRScale float64 // multiplies the scheduled rate; the trainer lowers it to stabilise
	m, v    map[string][]float32
}

// NewAdam returns an optimiser with zero moments for ps.
func NewAdam(cfg AdamConfig, ps Params) *Adam {
	a := &Adam{Cfg: cfg, LRScale: 1, m: map[string][]float32{}, v: map[string][]float32{}}
	for _, p := range ps {
		a.m[p.Name] = make([]float32, len(p.W))
		a.v[p.Name] = make([]float32, len(p.W))
	}
	return a
}

// LR returns the learning rate the next update will use.
func (a *Adam) LR() float64 {
	lr := a.Cfg.LR * a.LRScale
	if a.Cfg.Warmup > 0 && a.Step < a.Cfg.Warmup {
		lr *= float64(a.Step+1) / float64(a.Cfg.Warmup)
	}
	return lr
}

// Update clips the gradients of ps to the configured global norm, takes one
// Adam step and returns the gradient norm before clipping.
func (a *Adam) Update(ps Params) float64 {
	norm := ps.GradNorm()
	scale := float32(1)
	if a.Cfg.ClipNorm > 0 && norm > a.Cfg.ClipNorm {
		scale = float32(a.Cfg.ClipNorm / norm)
	}
	lr := a.LR()
	a.Step++
	b1, b2 := a.Cfg.Beta1, a.Cfg.Beta2
	c1 := 1 - math.Pow(b1, float64(a.Step))
	c2 := 1 - math.Pow(b2, float64(a.Step))
	stepSize := float32(lr / c1)
	sqrtC2 := float32(math.Sqrt(c2))
	eps := float32(a.Cfg.Eps)
	k := adamConsts{
		scale: scale, b1: float32(b1), b2: float32(b2), stepSize: stepSize, sqrtC2: sqrtC2, eps: eps,
		decay: float32(1 - lr*a.Cfg.WeightDecay), useDecay: a.Cfg.WeightDecay != 0,
	}
	for _, p := range ps {
		m, v := a.m[p.Name], a.v[p.Name]
		if m == nil {
			panic("nn: Adam.Update: parameter " + p.Name + " was not registered")
		}
		if len(p.W) < adamSplit {
			adamStep(p.W, p.G, m, v, k)
			continue
		}
		// Element by element, so any split gives the same bits; a large
		// parameter (G's 5,000-wide embedding and output layer) is memory
		// bound, and two cores move it in about half the time.
		ParallelFor(len(p.W), func(lo, hi int) {
			adamStep(p.W[lo:hi], p.G[lo:hi], m[lo:hi], v[lo:hi], k)
		})
	}
	return norm
}

// adamSplit is the parameter size from which Update splits a parameter's
// update across goroutines.
const adamSplit = 1 << 16

// adamConsts are the per-update constants of adamStep.
type adamConsts struct {
	scale, b1, b2, stepSize, sqrtC2, eps, decay float32
	useDecay                                    bool
}

// adamStepGo is the Adam update of one parameter, element by element, in
// float32. adamStep is it (the OpenBLAS build has a vectorised C copy that
// gives the same bits; TestAdamStepBitExact checks).
func adamStepGo(w, g, m, v []float32, k adamConsts) {
	for i, gi := range g {
		gi *= k.scale
		m[i] = k.b1*m[i] + (1-k.b1)*gi
		v[i] = k.b2*v[i] + (1-k.b2)*gi*gi
		wi := w[i]
		if k.useDecay {
			wi *= k.decay
		}
		w[i] = wi - k.stepSize*m[i]/(float32(math.Sqrt(float64(v[i])))/k.sqrtC2+k.eps)
	}
}

// State returns the moments as arrays named "m.<param>" and "v.<param>".
func (a *Adam) State(ps Params) map[string]Array {
	out := make(map[string]Array, 2*len(ps))
	for _, p := range ps {
		out["m."+p.Name] = Array{Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), a.m[p.Name]...)}
		out["v."+p.Name] = Array{Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), a.v[p.Name]...)}
	}
	return out
}

// Restore sets the moments from arrays made by State, checking every name and shape.
func (a *Adam) Restore(ps Params, st map[string]Array) error {
	if len(st) != 2*len(ps) {
		return fmt.Errorf("optimiser state has %d tensors, want %d (m and v for each of %d parameters)", len(st), 2*len(ps), len(ps))
	}
	for _, p := range ps {
		for _, kind := range []string{"m.", "v."} {
			arr, ok := st[kind+p.Name]
			if !ok {
				return fmt.Errorf("optimiser state lacks %q", kind+p.Name)
			}
			if !slices.Equal(arr.Shape, p.Shape) || len(arr.Data) != len(p.W) {
				return fmt.Errorf("optimiser tensor %q has shape %v, want %v", kind+p.Name, arr.Shape, p.Shape)
			}
		}
	}
	for _, p := range ps {
		a.m[p.Name] = append([]float32(nil), st["m."+p.Name].Data...)
		a.v[p.Name] = append([]float32(nil), st["v."+p.Name].Data...)
	}
	return nil
}
