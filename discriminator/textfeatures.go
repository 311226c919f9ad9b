package discriminator

import (
	"fmt"
	"math"
	"strings"
	"unicode"
)

// TextConfig is the text discriminator's architecture: what its features
// are and the shape of its MLP ensemble.
type TextConfig struct {
	Dim       int  `yaml:"dim" json:"dim"`               // embedding dimension; required
	InputFree bool `yaml:"input_free" json:"input_free"` // features are e(y) alone (+ surface)
	// Hidden is the width of a member's hidden (ReLU) layer; 0 makes every
	// member a linear (logistic-regression) one.
	Hidden  int `yaml:"hidden" json:"hidden"`
	Members int `yaml:"members" json:"members"` // ensemble size K
	// InitScale sets the initial weights: a layer with fan-in f starts
	// uniform in ±InitScale·√(3/f), so that InitScale is the standard
	// deviation of a unit's initial pre-activation given unit-variance
	// inputs, whatever Dim is. Biases start at 0. Default 1.
	InitScale float64 `yaml:"init_scale" json:"init_scale"`
}

// DefaultTextConfig returns the default text discriminator for embeddings of
// dimension dim: K = 3 members, each with a 32-wide ReLU hidden layer. On
// 100-d embeddings that is 2·406·32·3 ≈ 78k FLOP a pair in the first layer,
// about all of the cost; BenchmarkTextScoreGo measures it against the
// 500,000 pairs/s goal. Three members are the fewest whose spread means
// something; Hidden 0 (logistic regression) is the baseline to compare with.
func DefaultTextConfig(dim int, inputFree bool) TextConfig {
	return TextConfig{Dim: dim, InputFree: inputFree, Hidden: 32, Members: 3, InitScale: 1}
}

// Validate reports the first invalid field, named as in a config file, with
// the range it must be in.
func (c TextConfig) Validate() error {
	switch {
	case c.Dim < 1 || c.Dim > 1<<16:
		return fmt.Errorf("discriminator.dim = %d: must be the encoder's embedding dimension, 1 to 65536 (e.g. 100 for GloVe-SIF)", c.Dim)
	case c.Hidden < 0 || c.Hidden > 4096:
		return fmt.Errorf("discriminator.hidden = %d: must be 0 (linear members) to 4096 (default 32)", c.Hidden)
	case c.Members < 1 || c.Members > 32:
		return fmt.Errorf("discriminator.members = %d: the ensemble needs 1 to 32 members (default 3)", c.Members)
	case !(c.InitScale > 0) || c.InitScale > 100:
		return fmt.Errorf("discriminator.init_scale = %v: must be in (0, 100], e.g. 1", c.InitScale)
	}
	return nil
}

// SurfaceFeatures is the number of surface features of a generation's text
// that follow the embedding features; see TextFeatures.
const SurfaceFeatures = 6

// Features returns F, the number of features per (input, generation) pair.
func (c TextConfig) Features() int {
	if c.InputFree {
		return c.Dim + SurfaceFeatures
	}
	return 4*c.Dim + SurfaceFeatures
}

// TextFeatures writes the (n, F) row-major features of n (input,
// generation) pairs, given the inputs' embeddings ex, the generations'
// embeddings ey and the generations' text gens. A row is
//
//	[e(x), e(y), e(x)⊙e(y), |e(x)−e(y)|, surface]   (InputFree: [e(y), surface])
//
// with the SurfaceFeatures surface features of the generation's text, each
// scaled to be of order 1 like the embedding coordinates:
//
//	log(1+words)/4, log(1+characters)/6   length (1 at about 54 words, 400 characters)
//	distinct words / words                repetition (1 when no word repeats, and for no words)
//	repeated word bigrams / bigrams       repetition (0 with fewer than 2 words)
//	most frequent word's share of words   one word said over and over
//	characters neither letter nor space   digits, punctuation, symbols
//	  / characters
//
// Words are maximal runs of letters and digits, compared in lower case.
// ex must be nil when InputFree. Every vector must have Dim finite values.
func TextFeatures(cfg TextConfig, ex, ey [][]float32, gens []string) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := len(gens)
	if len(ey) != n {
		return nil, fmt.Errorf("text features: %d generation embeddings for %d generations", len(ey), n)
	}
	if cfg.InputFree && ex != nil {
		return nil, fmt.Errorf("text features: input embeddings given for an input-free discriminator (discriminator.input_free is true)")
	}
	if !cfg.InputFree && len(ex) != n {
		return nil, fmt.Errorf("text features: %d input embeddings for %d generations (one input per generation; set discriminator.input_free for tasks without inputs)", len(ex), n)
	}
	D, F := cfg.Dim, cfg.Features()
	out := make([]float32, n*F)
	for i := range n {
		if err := checkVector(ey[i], D); err != nil {
			return nil, fmt.Errorf("text features: generation %d: %w", i, err)
		}
		row := out[i*F : (i+1)*F]
		if cfg.InputFree {
			copy(row, ey[i])
		} else {
			if err := checkVector(ex[i], D); err != nil {
				return nil, fmt.Errorf("text features: input of generation %d: %w", i, err)
			}
			x, y := ex[i], ey[i]
			copy(row, x)
			copy(row[D:], y)
			for j := range D {
				row[2*D+j] = x[j] * y[j]
				row[3*D+j] = float32(math.Abs(float64(x[j] - y[j])))
			}
		}
		surfaceFeatures(row[F-SurfaceFeatures:], gens[i])
	}
	return out, nil
}

func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("embedding has %d values, the discriminator's dim is %d", len(v), dim)
	}
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("embedding value %d is %v", j, x)
		}
	}
	return nil
}

// surfaceFeatures writes the SurfaceFeatures features of text into dst.
func surfaceFeatures(dst []float32, text string) {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	var chars, nonLetter int
	for _, r := range text {
		chars++
		if !unicode.IsLetter(r) && !unicode.IsSpace(r) {
			nonLetter++
		}
	}
	distinct, top := 1.0, 0.0
	if len(words) > 0 {
		counts := make(map[string]int, len(words))
		most := 0
		for _, w := range words {
			counts[w]++
			most = max(most, counts[w])
		}
		distinct = float64(len(counts)) / float64(len(words))
		top = float64(most) / float64(len(words))
	}
	repeated := 0.0
	if len(words) >= 2 {
		seen := make(map[[2]string]bool, len(words)-1)
		rep := 0
		for i := 1; i < len(words); i++ {
			bg := [2]string{words[i-1], words[i]}
			if seen[bg] {
				rep++
			}
			seen[bg] = true
		}
		repeated = float64(rep) / float64(len(words)-1)
	}
	nonLetterShare := 0.0
	if chars > 0 {
		nonLetterShare = float64(nonLetter) / float64(chars)
	}
	dst[0] = float32(math.Log1p(float64(len(words))) / 4)
	dst[1] = float32(math.Log1p(float64(chars)) / 6)
	dst[2] = float32(distinct)
	dst[3] = float32(repeated)
	dst[4] = float32(top)
	dst[5] = float32(nonLetterShare)
}
