package discriminator

import (
	"fmt"
	"math"

	"promptgan/internal/nn"
)

// TextFitOptions are the settings of FitText.
type TextFitOptions struct {
	Seed           uint64  // the order of the rows: epoch e is a permutation drawn from (Seed, e)
	MaxEpochs      int     // passes over the rows at most; >= 1
	Patience       int     // epochs without a lower validation loss before stopping; >= 1
	BatchSize      int     // rows per update; >= 1 (at most the number of rows)
	LabelSmoothing float64 // the good label is 1 − LabelSmoothing (one-sided, as in the GAN loss)
}

// FitText trains e on labelled feature rows (x: (n, F), good) with
// minibatch steps of every member on L_D with one-sided label smoothing
// (TrainStep with opts), keeping the
// weights of the epoch whose validation loss (the log loss of σ(mean
// logit), uncalibrated, on vx, vgood) was lowest and stopping after
// Patience epochs without a better one. It returns the epochs run and that
// best validation loss. It is how the text discriminator learns a task's
// good and bad examples before it meets generations, and how the text-disc
// benchmark measures it as an evaluator.
func FitText(e *TextEnsemble, opts []*nn.Adam, x []float32, n int, good []bool, vx []float32, vn int, vgood []bool, o TextFitOptions) (int, float64, error) {
	F := e.Cfg.Features()
	switch {
	case n < 1 || len(x) != n*F || len(good) != n:
		return 0, 0, fmt.Errorf("fit: %d feature values and %d labels for %d rows of %d features", len(x), len(good), n, F)
	case vn < 1 || len(vx) != vn*F || len(vgood) != vn:
		return 0, 0, fmt.Errorf("fit: %d validation feature values and %d labels for %d rows of %d features", len(vx), len(vgood), vn, F)
	case o.MaxEpochs < 1 || o.Patience < 1 || o.BatchSize < 1:
		return 0, 0, fmt.Errorf("fit: max epochs %d, patience %d, batch size %d: each must be >= 1", o.MaxEpochs, o.Patience, o.BatchSize)
	case o.LabelSmoothing < 0 || o.LabelSmoothing >= 0.5:
		return 0, 0, fmt.Errorf("fit: label smoothing %v: must be in [0, 0.5)", o.LabelSmoothing)
	}
	B := min(o.BatchSize, n)
	// One set a row: each row its own label, every row the weight 1/B (the
	// batch's mean BCE).
	bx, sets := make([]float32, B*F), make([]Set, B)
	vloss := func() float64 {
		s := e.Score(vx, vn)
		l := 0.0
		for i, logit := range s.Logit {
			if vgood[i] {
				l -= nn.LogSigmoid(logit)
			} else {
				l -= nn.LogSigmoid(-logit)
			}
		}
		return l / float64(vn)
	}
	best, bestEpoch := math.Inf(1), 0
	var bestW map[string]nn.Array
	epoch := 1
	for ; epoch <= o.MaxEpochs; epoch++ {
		perm := nn.NewRNG(o.Seed, uint64(epoch)).Perm(n)
		for lo := 0; lo+B <= n; lo += B {
			for j := range B {
				i := perm[lo+j]
				copy(bx[j*F:(j+1)*F], x[i*F:(i+1)*F])
				sets[j] = Set{N: 1, Label: 0, Weight: 1 / float64(B)}
				if good[i] {
					sets[j].Label = 1 - o.LabelSmoothing
				}
			}
			e.TrainStep(opts, bx, sets)
		}
		if l := vloss(); l < best {
			best, bestEpoch, bestW = l, epoch, e.Params().Weights()
		} else if epoch-bestEpoch >= o.Patience {
			break
		}
	}
	if bestW == nil { // no epoch had a finite validation loss
		return 0, 0, fmt.Errorf("fit: the validation loss is not finite from epoch 1 on: the fit diverged; lower d_adam.lr")
	}
	if err := e.Params().SetWeights(bestW); err != nil {
		return 0, 0, err
	}
	return min(epoch, o.MaxEpochs), best, nil
}
