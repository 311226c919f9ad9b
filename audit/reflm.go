package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"promptgan/generator"
)

// PerplexityModel is a reference LM: the perplexity of each text under it
// (+Inf for a text it cannot score, such as one without words).
type PerplexityModel interface {
	Perplexity(ctx context.Context, texts []string) ([]float64, error)
}

// NGramLM is a word bigram LM with interpolated Kneser–Ney smoothing
// (discount 0.75), over generator.Words' lower-cased words; words seen once
// in training share one unknown-word entry, so an unseen word has the
// probability of a rare one. It is the reference LM the fluency filter
// uses: trained in milliseconds, deterministic, and it gives repeated words
// ("good good good") and word salad — bigrams real text does not have —
// a perplexity far above real sentences'.
type NGramLM struct {
	vocab   map[string]int32 // word → id; 0 = <unk>, 1 = <s>
	big     map[uint64]int   // c(v, w)
	ctx     []int            // c(v, ·)
	follow  []int            // N1+(v, ·): distinct words after v
	cont    []int            // N1+(·, w): distinct words before w
	contAll int              // N1+(·, ·)
}

const (
	ngUnk      = 0
	ngBOS      = 1
	ngDiscount = 0.75
)

// TrainNGram fits the LM on texts (one sentence or short document each).
func TrainNGram(texts []string) (*NGramLM, error) {
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range generator.Words(t) {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w, c := range counts {
		if c >= 2 {
			words = append(words, w)
		}
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("reference LM: %d training texts hold no word seen twice; it needs real text", len(texts))
	}
	slices.Sort(words)
	m := &NGramLM{vocab: make(map[string]int32, len(words)), big: map[uint64]int{}}
	for i, w := range words {
		m.vocab[w] = int32(i + 2)
	}
	n := len(words) + 2
	m.ctx, m.follow, m.cont = make([]int, n), make([]int, n), make([]int, n)
	for _, t := range texts {
		prev := int32(ngBOS)
		for _, w := range generator.Words(t) {
			id := m.id(w)
			k := key(prev, id)
			if m.big[k] == 0 {
				m.follow[prev]++
				m.cont[id]++
				m.contAll++
			}
			m.big[k]++
			m.ctx[prev]++
			prev = id
		}
	}
	return m, nil
}

func key(v, w int32) uint64 { return uint64(v)<<32 | uint64(uint32(w)) }

func (m *NGramLM) id(w string) int32 {
	if id, ok := m.vocab[w]; ok {
		return id
	}
	return ngUnk
}

// logProb is ln P(w | v).
func (m *NGramLM) logProb(v, w int32) float64 {
	// The continuation probability, mixed with a uniform floor so that a
	// word never seen after anything still has a probability.
	pc := 0.99*float64(m.cont[w])/float64(m.contAll) + 0.01/float64(len(m.cont))
	cv := m.ctx[v]
	if cv == 0 {
		return math.Log(pc)
	}
	c := float64(m.big[key(v, w)])
	p := max(c-ngDiscount, 0)/float64(cv) + ngDiscount*float64(m.follow[v])/float64(cv)*pc
	return math.Log(p)
}

// Perplexity returns exp(−mean ln P(word | previous word)) of each text's
// words, the first conditioned on the start of a text; there is no
// end-of-text term, as a continuation may be cut mid-sentence. A text
// without words gets +Inf.
func (m *NGramLM) Perplexity(ctx context.Context, texts []string) ([]float64, error) {
	if m == nil || m.contAll == 0 {
		return nil, errors.New("reference LM: not trained")
	}
	out := make([]float64, len(texts))
	for i, t := range texts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("reference LM: %w", err)
			}
		}
		ws := generator.Words(t)
		if len(ws) == 0 {
			out[i] = math.Inf(1)
			continue
		}
		prev, sum := int32(ngBOS), 0.0
		for _, w := range ws {
			id := m.id(w)
			sum += m.logProb(prev, id)
			prev = id
		}
		out[i] = math.Exp(-sum / float64(len(ws)))
	}
	return out, nil
}

// Band is what real sentences look like to the fluency filter: their
// perplexities under the reference LM lie in [Lo, Hi], and at most MaxRepeat
// of their word bigrams repeat an earlier one in the same text. A text is
// fluent when both hold. The repeat share is checked beside perplexity
// because a bigram LM scores a repeated fluent phrase ("the food was great
// the food was great") as fluent: each of its bigrams is common.
type Band struct {
	Lo        float64 `json:"ppl_lo"`
	Hi        float64 `json:"ppl_hi"`
	MaxRepeat float64 `json:"max_repeat"`
	// Quantiles the band was taken at, and the number of texts behind it.
	LoQ float64 `json:"lo_q"`
	HiQ float64 `json:"hi_q"`
	N   int     `json:"n"`
}

// Fluent reports whether a text with perplexity ppl and repeat share rep
// lies in the band.
func (b Band) Fluent(ppl, rep float64) bool { return ppl >= b.Lo && ppl <= b.Hi && rep <= b.MaxRepeat }

// RepeatShare is the share of a text's word bigrams that repeat an earlier
// bigram of the same text: 0 for a text without repeats (or under two
// words), 2/3 for "the the the the".
func RepeatShare(text string) float64 {
	ws := generator.Words(text)
	if len(ws) < 2 {
		return 0
	}
	seen := map[[2]string]bool{}
	rep := 0
	for i := 1; i < len(ws); i++ {
		k := [2]string{ws[i-1], ws[i]}
		if seen[k] {
			rep++
		}
		seen[k] = true
	}
	return float64(rep) / float64(len(ws)-1)
}

// FitBand returns the band of texts (real held-out sentences: the corpus's
// "test" part), computed once: perplexities between their loQ and hiQ
// quantiles (e.g. 0.05 and 0.95) under ref, repeat shares up to their hiQ
// quantile.
func FitBand(ctx context.Context, ref PerplexityModel, texts []string, loQ, hiQ float64) (Band, error) {
	if !(0 <= loQ && loQ < hiQ && hiQ <= 1) {
		return Band{}, fmt.Errorf("fluency band: quantiles %g..%g: need 0 ≤ lo < hi ≤ 1", loQ, hiQ)
	}
	ppl, err := ref.Perplexity(ctx, texts)
	if err != nil {
		return Band{}, fmt.Errorf("fluency band: %w", err)
	}
	var finite, reps []float64
	for i, p := range ppl {
		if !math.IsInf(p, 0) && !math.IsNaN(p) {
			finite = append(finite, p)
			reps = append(reps, RepeatShare(texts[i]))
		}
	}
	if len(finite) < 2 {
		return Band{}, fmt.Errorf("fluency band: %d of %d real texts have a perplexity; it needs real sentences", len(finite), len(texts))
	}
	slices.Sort(finite)
	slices.Sort(reps)
	return Band{Lo: quantile(finite, loQ), Hi: quantile(finite, hiQ), MaxRepeat: quantile(reps, hiQ), LoQ: loQ, HiQ: hiQ, N: len(finite)}, nil
}

// quantile of sorted values, linear between order statistics.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}
