package nn

import (
	"fmt"
	"math"
)

// GradCheck compares the analytic gradients in ps with central finite
// differences of loss. backward must zero the gradients, run the forward and
// backward passes and leave dLoss/dW in each Param.G; loss must run the
// forward pass only and return the loss (accumulated in float64). For each
// parameter, up to samples coordinates are checked, chosen with rng.
//
// It returns the largest error found, where the error of one coordinate is
//
//	|analytic − numeric| / max(|analytic| + |numeric|, floor)
//
// and a description of the worst coordinate.
func GradCheck(ps Params, backward func(), loss func() float64, eps, floor float64, samples int, rng *RNG) (float64, string) {
	backward()
	analytic := make(map[*Param][]float32, len(ps))
	for _, p := range ps {
		analytic[p] = append([]float32(nil), p.G...)
	}
	worst, where := 0.0, ""
	for _, p := range ps {
		n := len(p.W)
		idx := make([]int, 0, samples)
		if n <= samples {
			for i := 0; i < n; i++ {
				idx = append(idx, i)
			}
		} else {
			for range samples {
				idx = append(idx, rng.IntN(n))
			}
		}
		for _, i := range idx {
			orig := p.W[i]
			p.W[i] = orig + float32(eps)
			up := loss()
			p.W[i] = orig - float32(eps)
			down := loss()
			p.W[i] = orig
			// The step actually taken in float32 may differ from eps.
			h := float64(orig+float32(eps)) - float64(orig-float32(eps))
			num := (up - down) / h
			ana := float64(analytic[p][i])
			err := math.Abs(ana-num) / math.Max(math.Abs(ana)+math.Abs(num), floor)
			if err > worst || math.IsNaN(err) {
				worst = err
				where = fmt.Sprintf("%s[%d]: analytic %.6g, numeric %.6g", p.Name, i, ana, num)
			}
		}
	}
	return worst, where
}
