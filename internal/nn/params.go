package nn

import (
	"fmt"
	"math"
	"slices"
)

// Param is one named learnable array with its gradient.
type Param struct {
	Name  string
	Shape []int
	W     []float32 // values, row-major
	G     []float32 // gradient of the loss, same layout as W
}

// NewParam returns a zero-valued parameter of the given shape.
func NewParam(name string, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: append([]int(nil), shape...), W: make([]float32, n), G: make([]float32, n)}
}

// Params is an ordered set of parameters; the order fixes every loop over
// them, so updates are reproducible.
type Params []*Param

// ZeroGrad sets every gradient to zero.
func (ps Params) ZeroGrad() {
	for _, p := range ps {
		clear(p.G)
	}
}

// GradNorm returns the global L2 norm of all gradients.
func (ps Params) GradNorm() float64 {
	var s float64
	for _, p := range ps {
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

// Count returns the number of scalars in ps.
func (ps Params) Count() int {
	n := 0
	for _, p := range ps {
		n += len(p.W)
	}
	return n
}

// Array is a shaped float32 array as stored in checkpoints.
type Array struct {
	Shape []int
	Data  []float32
}

// Weights returns a copy of every parameter's values keyed by name.
func (ps Params) Weights() map[string]Array {
	out := make(map[string]Array, len(ps))
	for _, p := range ps {
		out[p.Name] = Array{Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.W...)}
	}
	return out
}

// CheckWeights reports whether ws holds exactly the parameters of ps with
// their shapes: every parameter present, no extra names.
func (ps Params) CheckWeights(ws map[string]Array) error {
	for _, p := range ps {
		a, ok := ws[p.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q", p.Name)
		}
		if !slices.Equal(a.Shape, p.Shape) || len(a.Data) != len(p.W) {
			return fmt.Errorf("tensor %q has shape %v, the network needs %v", p.Name, a.Shape, p.Shape)
		}
	}
	if len(ws) != len(ps) {
		known := make(map[string]bool, len(ps))
		for _, p := range ps {
			known[p.Name] = true
		}
		for name := range ws {
			if !known[name] {
				return fmt.Errorf("unexpected tensor %q", name)
			}
		}
	}
	return nil
}

// SetWeights copies values from ws into the parameters after CheckWeights,
// so that a checkpoint of another architecture is refused rather than half
// loaded.
func (ps Params) SetWeights(ws map[string]Array) error {
	if err := ps.CheckWeights(ws); err != nil {
		return err
	}
	for _, p := range ps {
		copy(p.W, ws[p.Name].Data)
	}
	return nil
}

// InitUniform fills p with values drawn uniformly from [-scale, scale].
func InitUniform(p *Param, scale float64, rng *RNG) {
	for i := range p.W {
		p.W[i] = float32((2*rng.Float64() - 1) * scale)
	}
}

// InitNormal fills p with values drawn from N(0, std²).
func InitNormal(p *Param, std float64, rng *RNG) {
	for i := range p.W {
		p.W[i] = float32(rng.NormFloat64() * std)
	}
}
