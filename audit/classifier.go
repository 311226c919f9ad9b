package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"promptgan/embeddings/hashing"
	"promptgan/metrics"
)

// ClassifierConfig sets the audit classifier's features and training.
type ClassifierConfig struct {
	// Dim is the number of hashing buckets (0 = 1<<15: enough that the
	// corpus's word, word-pair and character n-grams rarely collide).
	Dim int
	// Steps of full-batch Adam (0 = 300), LR its step size (0 = 0.05), L2
	// the weight of ½‖W‖² in the loss (0 = 1e-4; negative = none).
	Steps int
	LR    float64
	L2    float64
	// Parts are the corpus parts it trains on (nil = "audit" only). Never
	// "disc" (D's data) nor "test" (what it is measured on).
	Parts []string
}

func (c ClassifierConfig) withDefaults() ClassifierConfig {
	if c.Dim == 0 {
		c.Dim = 1 << 15
	}
	if c.Steps == 0 {
		c.Steps = 300
	}
	if c.LR == 0 {
		c.LR = 0.05
	}
	if c.L2 == 0 {
		c.L2 = 1e-4
	}
	if c.L2 < 0 {
		c.L2 = 0
	}
	if c.Parts == nil {
		c.Parts = []string{PartAudit}
	}
	return c
}

// Classifier is the audit: one logistic regression per class, that class
// against the rest, on signed hashing n-gram features (words, word pairs,
// character 3/4-grams; embeddings/hashing), a feature set disjoint in kind
// from the discriminator's GloVe-SIF averages. It is trained on the corpus's
// "audit" part only. Each class's regression sees balanced labels (its
// texts and the rest weigh half each), so P(class | text) = 0.5 means "no
// evidence either way" whatever the class's size, and a task's probability
// is not shared out among the other classes as a softmax over seven classes
// would (measured on the English corpus: a multinomial regression gave real
// science quotes a mean P(science) of 0.15 against 0.11 for other text).
// Training is full-batch Adam from zero weights: a pure function of the data
// and the config, no seed needed.
type Classifier struct {
	Classes []string // sorted
	cfg     ClassifierConfig
	enc     *hashing.Encoder
	w       []float64 // Dim×C, feature-major
	b       []float64 // C
}

// sparse is one text's non-zero hashing features.
type sparse struct {
	idx []int32
	val []float32
}

// features encodes texts in chunks (a dense Dim-long vector each) and keeps
// only their non-zeros.
func (c *Classifier) features(ctx context.Context, texts []string) ([]sparse, error) {
	out := make([]sparse, len(texts))
	const chunk = 256
	for lo := 0; lo < len(texts); lo += chunk {
		hi := min(lo+chunk, len(texts))
		vecs, err := c.enc.Encode(ctx, texts[lo:hi])
		if err != nil {
			return nil, err
		}
		for i, v := range vecs {
			var s sparse
			for j, x := range v {
				if x != 0 {
					s.idx = append(s.idx, int32(j))
					s.val = append(s.val, x)
				}
			}
			out[lo+i] = s
		}
	}
	return out, nil
}

// logits writes x's class scores into z.
func (c *Classifier) logits(x sparse, z []float64) {
	nc := len(c.Classes)
	copy(z, c.b)
	for k, j := range x.idx {
		v := float64(x.val[k])
		row := c.w[int(j)*nc : int(j)*nc+nc]
		for q := range z {
			z[q] += v * row[q]
		}
	}
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// TrainClassifier trains the audit on docs' "audit" part (cfg.Parts). It
// is an error when that part is empty or holds fewer than two classes.
func TrainClassifier(ctx context.Context, docs []Doc, cfg ClassifierConfig) (*Classifier, error) {
	cfg = cfg.withDefaults()
	for _, p := range cfg.Parts {
		if p == PartDisc || p == PartTest {
			return nil, fmt.Errorf("train the audit: part %q: the audit never trains on %q (the discriminator's data) or %q (what it is measured on)", p, PartDisc, PartTest)
		}
	}
	var texts []string
	var labels []string
	for _, d := range docs {
		if slices.Contains(cfg.Parts, d.Part) {
			texts = append(texts, d.Text)
			labels = append(labels, d.Class)
		}
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("train the audit: the corpus has no text in its %s part (%d texts in all); rebuild the corpus (make setup) so that every class has audit texts", strings.Join(cfg.Parts, "+"), len(docs))
	}
	classes := slices.Compact(slices.Sorted(slices.Values(labels)))
	if len(classes) < 2 {
		return nil, fmt.Errorf("train the audit: the corpus's %s part holds one class (%q); the audit tells classes apart and needs at least two", strings.Join(cfg.Parts, "+"), classes[0])
	}
	enc, err := hashing.New(cfg.Dim)
	if err != nil {
		return nil, fmt.Errorf("train the audit: %w", err)
	}
	c := &Classifier{Classes: classes, cfg: cfg, enc: enc, w: make([]float64, cfg.Dim*len(classes)), b: make([]float64, len(classes))}
	x, err := c.features(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("train the audit: %w", err)
	}
	nc := len(classes)
	y := make([]int, len(texts))
	count := make([]int, nc)
	for i, l := range labels {
		y[i], _ = slices.BinarySearch(classes, l)
		count[y[i]]++
	}
	// Per class, its texts and the rest each weigh ½ in total: every
	// one-vs-rest audit trains on balanced labels.
	wPos, wNeg := make([]float64, nc), make([]float64, nc)
	for q := range nc {
		wPos[q] = 0.5 / float64(count[q])
		wNeg[q] = 0.5 / float64(len(texts)-count[q])
	}
	gw := make([]float64, len(c.w))
	gb := make([]float64, nc)
	opt := newAdam(len(c.w)+nc, cfg.LR)
	z := make([]float64, nc)
	for step := 0; step < cfg.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train the audit: %w", err)
		}
		clear(gw)
		clear(gb)
		for i, xi := range x {
			c.logits(xi, z)
			for q := range z {
				if q == y[i] {
					z[q] = (sigmoid(z[q]) - 1) * wPos[q]
				} else {
					z[q] = sigmoid(z[q]) * wNeg[q]
				}
				gb[q] += z[q]
			}
			for k, j := range xi.idx {
				v := float64(xi.val[k])
				row := gw[int(j)*nc : int(j)*nc+nc]
				for q := range row {
					row[q] += v * z[q]
				}
			}
		}
		for i, w := range c.w {
			gw[i] += cfg.L2 * w
		}
		opt.step(step, c.w, gw, 0)
		opt.step(step, c.b, gb, len(c.w))
	}
	return c, nil
}

// adam is plain Adam over a flat parameter vector split into pieces.
type adam struct {
	m, v []float64
	lr   float64
}

func newAdam(n int, lr float64) *adam {
	return &adam{m: make([]float64, n), v: make([]float64, n), lr: lr}
}

// step updates p (which starts at offset off of the optimiser's state) with
// gradient g at 0-based step t.
func (a *adam) step(t int, p, g []float64, off int) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	c1 := 1 - math.Pow(b1, float64(t+1))
	c2 := 1 - math.Pow(b2, float64(t+1))
	m, v := a.m[off:off+len(p)], a.v[off:off+len(p)]
	for i := range p {
		m[i] = b1*m[i] + (1-b1)*g[i]
		v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		p[i] -= a.lr * (m[i] / c1) / (math.Sqrt(v[i]/c2) + eps)
	}
}

// Probs returns each class's one-vs-rest P(class | text) for each text, in
// Classes' order (they need not sum to 1).
func (c *Classifier) Probs(ctx context.Context, texts []string) ([][]float64, error) {
	x, err := c.features(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	out := make([][]float64, len(texts))
	for i, xi := range x {
		z := make([]float64, len(c.Classes))
		c.logits(xi, z)
		for q := range z {
			z[q] = sigmoid(z[q])
		}
		out[i] = z
	}
	return out, nil
}

// ClassIndex returns class's position in Classes, or an error that lists them.
func (c *Classifier) ClassIndex(class string) (int, error) {
	i, ok := slices.BinarySearch(c.Classes, class)
	if !ok {
		return 0, fmt.Errorf("the audit knows no class %q (it was trained on %s); a task's class must be one of the corpus's", class, strings.Join(c.Classes, ", "))
	}
	return i, nil
}

// Eval is the audit's quality on held-out text.
type Eval struct {
	N        int                `json:"n"`
	Accuracy float64            `json:"accuracy"` // argmax = true class
	AUC      map[string]float64 `json:"auc"`      // per class, one-vs-rest on P(class)
	MeanAUC  float64            `json:"mean_auc"`
}

// Evaluate measures the audit on docs' "test" part: accuracy of its top
// class, and per class the AUC of P(class) for telling that class's texts
// from the rest. Classes absent from the test part get no AUC.
func (c *Classifier) Evaluate(ctx context.Context, docs []Doc) (Eval, error) {
	var texts, labels []string
	for _, d := range docs {
		if d.Part == PartTest {
			texts = append(texts, d.Text)
			labels = append(labels, d.Class)
		}
	}
	if len(texts) == 0 {
		return Eval{}, errors.New("evaluate the audit: the corpus has no \"test\" part")
	}
	p, err := c.Probs(ctx, texts)
	if err != nil {
		return Eval{}, err
	}
	e := Eval{N: len(texts), AUC: map[string]float64{}}
	hits := 0
	for i, pi := range p {
		top := c.Classes[argmax(pi)]
		if top == labels[i] {
			hits++
		}
	}
	e.Accuracy = float64(hits) / float64(len(texts))
	for q, class := range c.Classes {
		scores := make([]float64, len(texts))
		is := make([]bool, len(texts))
		for i := range texts {
			scores[i], is[i] = p[i][q], labels[i] == class
		}
		a, err := metrics.AUC(scores, is)
		if err != nil {
			continue // the class is absent from (or alone in) the test part
		}
		e.AUC[class] = a
		e.MeanAUC += a
	}
	if len(e.AUC) > 0 {
		e.MeanAUC /= float64(len(e.AUC))
	}
	return e, nil
}

func argmax(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}
