package rank

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"promptgan/internal/nn"
)

// RandomWords returns lo..hi words drawn uniformly from vocab: a random
// word prompt (one draw for its length, then one a word).
func RandomWords(rng *nn.RNG, vocab []string, lo, hi int) []string {
	n := lo + rng.IntN(hi-lo+1)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = vocab[rng.IntN(len(vocab))]
	}
	return ws
}

// WordEvaluator scores word prompts (words joined by spaces) in
// generation gen (0 first), one score each, higher is better, spending Continuations target calls a prompt. A prompt is scored
// again in every generation it survives, so the evaluator should draw each
// generation's continuations afresh (seeds of gen), the same for every
// prompt of it.
type WordEvaluator func(ctx context.Context, prompts []string, gen int) ([]float64, error)

// WordEvolution is an elitist evolutionary search over word prompts of
// Vocab, without a prior: the search the audit's ceiling runs with the
// audit itself as evaluator. The population starts with the Start prompts
// (distinct, non-empty, at most Population of them) and is filled with
// random prompts (RandomWords). Each generation keeps the better half by
// mean score and fills the other half with mutants of it (replace, insert
// or delete a word, or splice two parents, within MinWords..MaxWords;
// never a prompt already seen), then scores the whole population: a
// survivor is re-scored, so a prompt that got in on a lucky draw of
// continuations is found out rather than kept (measured: scored once on
// fixed seeds, the best prompts fell from their search score to below the
// seed prompts' on the evaluation seeds). Generations run while a whole
// one fits in Budget. The result is the best mean among prompts scored at
// least twice, when any are.
type WordEvolution struct {
	Population    int // prompts scored each generation
	Continuations int // target calls per prompt and generation
	Budget        int // target calls in all
	// Vocab is the words random prompts and mutations draw from; each is
	// one word (non-empty, no spaces), so that a prompt's text splits back
	// into its words.
	Vocab              []string
	MinWords, MaxWords int      // words per random prompt and mutant
	Start              []string // prompts the first population starts with
}

// Validate reports the first invalid field.
func (c WordEvolution) Validate() error {
	switch {
	case c.Population < 2:
		return fmt.Errorf("rank: WordEvolution.Population = %d: must be >= 2", c.Population)
	case c.Continuations < 1:
		return fmt.Errorf("rank: WordEvolution.Continuations = %d: must be >= 1", c.Continuations)
	case c.Budget < c.Population*c.Continuations:
		return fmt.Errorf("rank: WordEvolution.Budget = %d: under one generation (%d prompts × %d continuations)", c.Budget, c.Population, c.Continuations)
	case c.MinWords < 1 || c.MaxWords < c.MinWords:
		return fmt.Errorf("rank: WordEvolution words per prompt %d..%d: need 1 ≤ min ≤ max", c.MinWords, c.MaxWords)
	case len(c.Vocab) < 2:
		return fmt.Errorf("rank: WordEvolution.Vocab: %d words, need at least 2", len(c.Vocab))
	}
	for _, w := range c.Vocab {
		if w == "" || strings.IndexFunc(w, unicode.IsSpace) >= 0 {
			return fmt.Errorf("rank: WordEvolution.Vocab: %q is not one word", w)
		}
	}
	return nil
}

// WordResult is what WordEvolution found.
type WordResult struct {
	// Best is the result: Text its prompt, Score its mean over the
	// generations it was scored in (optimistic: it was selected on them).
	Best        Candidate
	Calls       int // target calls spent
	Prompts     int // distinct prompts scored
	Generations int
}

// wordCandidate is a prompt of the population: its words and the running
// mean of its score over every generation it was scored in.
type wordCandidate struct {
	words []string
	sum   float64
	evals int
}

func (c wordCandidate) mean() float64 { return c.sum / float64(max(c.evals, 1)) }

func (c wordCandidate) candidate() Candidate {
	return Candidate{Text: strings.Join(c.words, " "), Score: c.mean()}
}

// byMean orders candidates best mean first.
func byMean(a, b wordCandidate) int {
	switch {
	case a.mean() > b.mean():
		return -1
	case a.mean() < b.mean():
		return 1
	}
	return 0
}

// Search runs the search, scoring with evaluate and drawing random prompts
// and mutations from rng; progress (if not nil) sees each generation's
// calls so far and best prompt (Stop ends the search cleanly). On an error
// it returns what it had so far.
func (c WordEvolution) Search(ctx context.Context, rng *nn.RNG, evaluate WordEvaluator, progress Progress) (WordResult, error) {
	var res WordResult
	if err := errors.Join(c.Validate(), validRNG(rng)); err != nil {
		return res, err
	}
	if evaluate == nil {
		return res, errors.New("rank: WordEvolution: no evaluator")
	}
	seen := map[string]bool{}
	score := func(pop []wordCandidate) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		prompts := make([]string, len(pop))
		for i, cd := range pop {
			prompts[i] = strings.Join(cd.words, " ")
		}
		s, err := evaluate(ctx, prompts, res.Generations)
		if err != nil {
			return fmt.Errorf("rank: word evolution: generation %d: %w", res.Generations, err)
		}
		if len(s) != len(pop) {
			return fmt.Errorf("rank: word evolution: generation %d: evaluator returned %d scores for %d prompts", res.Generations, len(s), len(pop))
		}
		for i := range pop {
			pop[i].sum += s[i]
			pop[i].evals++
			if pop[i].evals == 1 {
				res.Prompts++
			}
		}
		res.Calls += len(pop) * c.Continuations
		res.Generations++
		return nil
	}
	// fresh returns a prompt gen makes that has not been seen, in 20 tries,
	// else nil.
	fresh := func(gen func() []string) []string {
		for range 20 {
			w := gen()
			if k := strings.Join(w, " "); !seen[k] {
				seen[k] = true
				return w
			}
		}
		return nil
	}
	pop := make([]wordCandidate, 0, c.Population)
	for _, p := range c.Start {
		w := strings.Fields(p)
		if k := strings.Join(w, " "); len(w) > 0 && !seen[k] && len(pop) < c.Population {
			seen[k] = true
			pop = append(pop, wordCandidate{words: w})
		}
	}
	for len(pop) < c.Population {
		w := fresh(func() []string { return RandomWords(rng, c.Vocab, c.MinWords, c.MaxWords) })
		if w == nil {
			break
		}
		pop = append(pop, wordCandidate{words: w})
	}
	if err := score(pop); err != nil {
		return res, err
	}
	keep := max(c.Population/2, 1)
	for stop := false; !stop; {
		slices.SortStableFunc(pop, byMean)
		pop = pop[:min(keep, len(pop))]
		var kids []wordCandidate
		for range c.Population - len(pop) {
			if w := fresh(func() []string { return c.mutate(rng, pop) }); w != nil {
				kids = append(kids, wordCandidate{words: w})
			}
		}
		if len(kids) == 0 || res.Calls+(len(pop)+len(kids))*c.Continuations > c.Budget {
			break
		}
		pop = append(pop, kids...)
		if err := score(pop); err != nil {
			return res, err
		}
		slices.SortStableFunc(pop, byMean)
		var err error
		if stop, err = report(progress, res.Calls, []Candidate{pop[0].candidate()}); err != nil {
			return res, fmt.Errorf("rank: word evolution at %d calls: %w", res.Calls, err)
		}
	}
	slices.SortStableFunc(pop, byMean)
	best := pop[0]
	for _, cd := range pop {
		if cd.evals >= 2 {
			best = cd // the best mean among the re-scored ones
			break
		}
	}
	res.Best = best.candidate()
	return res, nil
}

// mutate returns a new word list from the elite pop: a random parent with
// one word replaced, inserted or deleted, or spliced with another parent,
// kept within MinWords..MaxWords.
func (c WordEvolution) mutate(rng *nn.RNG, pop []wordCandidate) []string {
	a := slices.Clone(pop[rng.IntN(len(pop))].words)
	word := func() string { return c.Vocab[rng.IntN(len(c.Vocab))] }
	switch rng.IntN(4) {
	case 0:
		a[rng.IntN(len(a))] = word()
	case 1:
		if len(a) < c.MaxWords {
			a = slices.Insert(a, rng.IntN(len(a)+1), word())
		} else {
			a[rng.IntN(len(a))] = word()
		}
	case 2:
		if len(a) > c.MinWords {
			i := rng.IntN(len(a))
			a = slices.Delete(a, i, i+1)
			break
		}
		a[rng.IntN(len(a))] = word()
	default:
		b := pop[rng.IntN(len(pop))].words
		cut := 1 + rng.IntN(len(a))
		a = append(a[:cut:cut], b[min(cut, len(b)):]...)
		for len(a) < c.MinWords {
			a = append(a, word())
		}
		if len(a) > c.MaxWords {
			a = a[:c.MaxWords]
		}
	}
	return a
}
