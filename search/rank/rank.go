// Package rank holds promptgan's search baselines, once, for every kind of
// prompt: best-of-N (sample candidate prompts from a prior generator G in
// batches, evaluate them, keep the N ranked highest), a (μ+λ) evolutionary
// search over G's token prompts (tournament selection, one-point crossover,
// token mutation from fresh samples of G, elitism), and WordEvolution, an
// evolutionary search over word prompts of a vocabulary that re-scores its
// survivors every generation (the audit's ceiling).
//
// A search only ranks: it does not train G or D. What it ranks by is the
// caller's. BestOfN and Evolution run either on a token Problem (prompts
// continued on a token target, the continuations scored by a Scorer such as
// DiscriminatorScorer) or on a Space, where the caller supplies how prompts
// are drawn and evaluated: continued as text and judged by a text D or by
// the audit, several continuations a prompt. A search spends exactly its
// budget of target calls (as far as whole evaluations fit). Given the same
// prior, evaluator, settings and RNG states, a search draws the same
// numbers in the same order and so returns the same candidates: the
// steer-oracle and English benchmarks rely on this, so a change to the
// order of draws here changes their published figures.
//
// The package serves the benchmarks' baselines and diagnostics and is meant
// for the `promptgan score` and `promptgan search` commands; it depends on
// neither the adversarial trainer (package search) nor the audit, which
// supply their evaluators from above.
package rank

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
)

// Scorer returns one score per m-token generation of the (n, m) gens,
// higher is better.
type Scorer func(gens []int32) []float64

// ScoreChunk is the number of generations DiscriminatorScorer hands the
// discriminator at once, which bounds its memory.
const ScoreChunk = 256

// DiscriminatorScorer scores each m-token generation by d's mean member
// probability that it is real, read at its last position. Generations are
// scored ScoreChunk at a time, so up to ScoreChunk of them the scores are
// exactly those of one Score call (with an optimised BLAS the last bits of
// a score may depend on the size of the batch it was computed in).
func DiscriminatorScorer(d *discriminator.Ensemble, m int) Scorer {
	return func(gens []int32) []float64 {
		n := len(gens) / m
		out := make([]float64, n)
		for lo := 0; lo < n; lo += ScoreChunk {
			c := min(ScoreChunk, n-lo)
			p, _ := d.Score(gens[lo*m:(lo+c)*m], c, m)
			for i := 0; i < c; i++ {
				out[lo+i] = float64(p[i*m+m-1])
			}
		}
		return out
	}
}

// Candidate is a prompt and its score.
type Candidate struct {
	Prompt []int32 // its tokens (nil for a prompt that is only text)
	// Text is the prompt as the target reads it, where prompts are text
	// (Space.Text); "" for token prompts.
	Text  string
	Score float64
}

// Top returns the best n of pool, best first; ties keep their order in
// pool (a stable sort). pool itself is not reordered; the candidates'
// prompts are shared, not copied.
func Top(pool []Candidate, n int) []Candidate {
	out := slices.Clone(pool)
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return slices.Clip(out[:max(0, min(n, len(out)))])
}

// Distinct returns the best n of pool with distinct texts, best first, as
// Top does (stable; pool is not reordered): a prompt met twice keeps its
// best score. Text prompts need it because different token prompts can
// read as the same text, which is one prompt to the target and to a user.
func Distinct(pool []Candidate, n int) []Candidate {
	var out []Candidate
	seen := map[string]bool{}
	for _, c := range Top(pool, len(pool)) {
		if len(out) == n {
			break
		}
		if !seen[c.Text] {
			seen[c.Text] = true
			out = append(out, c)
		}
	}
	return slices.Clip(out)
}

// Prompts returns the candidates' prompts concatenated, (len(cs), k).
func Prompts(cs []Candidate) []int32 {
	var out []int32
	for _, c := range cs {
		out = append(out, c.Prompt...)
	}
	return out
}

// Texts returns the candidates' texts.
func Texts(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Text
	}
	return out
}

// Space is what BestOfN and Evolution search over: prompts of PromptLen
// tokens drawn from a prior, and a caller's evaluator. A token Problem is
// one Space (Problem.space); a text run's generator whose prompts are read
// as text, continued several times each and judged by D or by the audit is
// another.
type Space struct {
	PromptLen int // k: tokens per prompt
	// Sample draws n prompts, (n, k) tokens, from the prior with rng: the
	// candidates of best-of-N, and evolution's first population and
	// mutations.
	Sample func(n int, rng *nn.RNG) ([]int32, error)
	// Text, if set, reads (n, k) prompts as text (Candidate.Text): a
	// search then outputs prompts with distinct texts (Distinct).
	Text func(prompts []int32) ([]string, error)
	// Evaluate scores the (n, k) prompts, one score each, higher is better;
	// texts are theirs when Text is set (else nil). It spends Calls target
	// calls a prompt, and draws its continuations' seeds from a stream of
	// its own, so that the search's draws do not depend on it.
	Evaluate func(ctx context.Context, prompts []int32, texts []string) ([]float64, error)
	// Calls is what one evaluation of a prompt costs in target calls (0 =
	// 1): its continuations.
	Calls int
}

// Validate reports the first missing or invalid field.
func (s Space) Validate() error {
	switch {
	case s.PromptLen < 1:
		return fmt.Errorf("rank: Space.PromptLen = %d: must be >= 1", s.PromptLen)
	case s.Sample == nil:
		return errors.New("rank: Space.Sample: no sampler")
	case s.Evaluate == nil:
		return errors.New("rank: Space.Evaluate: no evaluator")
	case s.Calls < 0:
		return fmt.Errorf("rank: Space.Calls = %d: must be >= 0 (0 = 1)", s.Calls)
	}
	return nil
}

func (s Space) cost() int { return max(s.Calls, 1) }

// top is Distinct for text prompts, Top for token prompts.
func (s Space) top(pool []Candidate, n int) []Candidate {
	if s.Text != nil {
		return Distinct(pool, n)
	}
	return Top(pool, n)
}

// evaluate scores the (n, k) prompts and returns them as candidates.
func (s Space) evaluate(ctx context.Context, prompts []int32, n int) ([]Candidate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var texts []string
	if s.Text != nil {
		var err error
		if texts, err = s.Text(prompts); err != nil {
			return nil, fmt.Errorf("prompts as text: %w", err)
		}
	}
	scores, err := s.Evaluate(ctx, prompts, texts)
	if err != nil {
		return nil, err
	}
	if len(scores) != n {
		return nil, fmt.Errorf("evaluator returned %d scores for %d prompts", len(scores), n)
	}
	k := s.PromptLen
	out := make([]Candidate, n)
	for i, sc := range scores {
		out[i] = Candidate{Prompt: prompts[i*k : (i+1)*k], Score: sc}
		if texts != nil {
			out[i].Text = texts[i]
		}
	}
	return out, nil
}

// Problem is a search over token prompts: G's samples continued on a
// token target, one call each, the continuations scored by Score.
type Problem struct {
	Prior  *generator.Model // unconditioned G: the candidates' (and mutations') distribution
	Target targets.Model    // continues each prompt by GenLen tokens
	Score  Scorer           // ranks the continuations
	// PromptLen (k) is the tokens per prompt, GenLen (m) per continuation.
	PromptLen, GenLen int
	// Sample is how candidates are drawn from Prior; a zero Temperature
	// means 1 (the prior's own distribution).
	Sample generator.SampleOptions
}

// Validate reports the first missing or invalid field.
func (p Problem) Validate() error {
	switch {
	case p.Prior == nil:
		return errors.New("rank: Problem.Prior: no generator")
	case p.Prior.Wcond != nil:
		return fmt.Errorf("rank: Problem.Prior: the generator is conditioned (cond_dim %d); a prior is unconditioned", p.Prior.Cfg.CondDim)
	case p.Target == nil:
		return errors.New("rank: Problem.Target: no target")
	case p.Score == nil:
		return errors.New("rank: Problem.Score: no scorer")
	case p.PromptLen < 1:
		return fmt.Errorf("rank: Problem.PromptLen = %d: must be >= 1", p.PromptLen)
	case p.GenLen < 1:
		return fmt.Errorf("rank: Problem.GenLen = %d: must be >= 1", p.GenLen)
	case p.Sample.Temperature < 0:
		return fmt.Errorf("rank: Problem.Sample.Temperature = %g: must be > 0 (0 = 1)", p.Sample.Temperature)
	case p.Sample.TopK < 0:
		return fmt.Errorf("rank: Problem.Sample.TopK = %d: must be >= 0", p.Sample.TopK)
	}
	return nil
}

// space is p as a Space: candidates sampled from Prior, each continued
// once on Target with the request's seed the next number of seeds, and its
// continuation scored by Score.
func (p Problem) space(seeds *nn.RNG) Space {
	opt := p.Sample
	if opt.Temperature == 0 {
		opt.Temperature = 1
	}
	return Space{
		PromptLen: p.PromptLen,
		Sample: func(n int, rng *nn.RNG) ([]int32, error) {
			return p.Prior.Sample(n, p.PromptLen, opt, nil, rng), nil
		},
		Evaluate: func(ctx context.Context, prompts []int32, _ []string) ([]float64, error) {
			n := len(prompts) / p.PromptLen
			s := make([]uint64, n)
			for i := range s {
				s[i] = seeds.Uint64()
			}
			gens, err := targets.Continue(ctx, p.Target, prompts, p.PromptLen, p.GenLen, s)
			if err != nil {
				return nil, err
			}
			scores := p.Score(gens)
			if len(scores) != n {
				return nil, fmt.Errorf("scorer returned %d scores for %d generations", len(scores), n)
			}
			return scores, nil
		},
	}
}

// RNGs are a token search's random streams: Sample for G's samples and the
// search's own choices, Seeds for the target requests' seeds (one Uint64
// per call, in call order).
type RNGs struct {
	Sample, Seeds *nn.RNG
}

// Validate reports a missing stream.
func (r RNGs) Validate() error {
	switch {
	case r.Sample == nil:
		return errors.New("rank: RNGs.Sample: nil")
	case r.Seeds == nil:
		return errors.New("rank: RNGs.Seeds: nil")
	}
	return nil
}

// Progress is called after each batch (best-of-N) or generation
// (evolution) with the target calls spent so far and the current best
// candidates, best first. The search does not modify best afterwards; the
// callee must not modify it either. A non-nil error stops the search: Stop
// ends it cleanly, any other error is returned.
type Progress func(calls int, best []Candidate) error

// Search is a search over prompts: BestOfN or Evolution.
type Search interface {
	// Run runs the search on the token problem p with the streams r,
	// calling progress (if not nil) as it goes, and returns its best
	// candidates, best first, and the target calls it spent.
	Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error)
	// RunSpace runs it on s, drawing its samples and choices from rng; as
	// Run otherwise.
	RunSpace(ctx context.Context, s Space, rng *nn.RNG, progress Progress) ([]Candidate, int, error)
}

var (
	_ Search = BestOfN{}
	_ Search = Evolution{}
)

// Stop, returned by a Progress, ends a search early without an error.
var Stop = errors.New("rank: stop")

// BestOfN is best-of-N search: batches of Batch candidates are sampled from
// the prior and evaluated until Budget calls are spent (the last batch is
// cut to the evaluations that fit); the output is the Keep best-scored
// candidates of all batches.
type BestOfN struct {
	Batch  int // candidates sampled and evaluated per batch
	Budget int // target calls in all
	Keep   int // N: candidates kept and returned
}

// Validate reports the first invalid field.
func (c BestOfN) Validate() error {
	switch {
	case c.Batch < 1:
		return fmt.Errorf("rank: BestOfN.Batch = %d: must be >= 1", c.Batch)
	case c.Budget < 1:
		return fmt.Errorf("rank: BestOfN.Budget = %d: must be >= 1", c.Budget)
	case c.Keep < 1:
		return fmt.Errorf("rank: BestOfN.Keep = %d: must be >= 1", c.Keep)
	}
	return nil
}

// Run runs the search on the token problem p (see Search).
func (c BestOfN) Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), p.Validate(), r.Validate()); err != nil {
		return nil, 0, err
	}
	return c.RunSpace(ctx, p.space(r.Seeds), r.Sample, progress)
}

// RunSpace runs the search on s, calling progress (if not nil) after each
// batch. It returns the best candidates and the calls spent, Budget (less
// what no whole evaluation fits in) unless progress stopped it; on an
// error, also what it had so far.
func (c BestOfN) RunSpace(ctx context.Context, s Space, rng *nn.RNG, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), s.Validate(), validRNG(rng)); err != nil {
		return nil, 0, err
	}
	var best []Candidate
	calls, cost := 0, s.cost()
	for calls+cost <= c.Budget {
		n := min(c.Batch, (c.Budget-calls)/cost)
		prompts, err := s.Sample(n, rng)
		if err != nil {
			return best, calls, fmt.Errorf("rank: best-of-n: sample at %d calls: %w", calls, err)
		}
		batch, err := s.evaluate(ctx, prompts, n)
		if err != nil {
			return best, calls, fmt.Errorf("rank: best-of-n: batch at %d calls: %w", calls, err)
		}
		calls += n * cost
		best = s.top(append(best, batch...), c.Keep)
		if stop, err := report(progress, calls, best); err != nil {
			return best, calls, fmt.Errorf("rank: best-of-n at %d calls: %w", calls, err)
		} else if stop {
			break
		}
	}
	return best, calls, nil
}

// Evolution is a (μ+λ) genetic search. The population starts as Population
// samples of the prior; each generation breeds Population children by
// tournament selection (the best score of Tournament uniform draws from the
// population), one-point crossover with a second parent (probability ½,
// when k > 1) and token mutation (each position with probability 1/k, the
// new token taken from a fresh sample of the prior, so mutations follow its
// marginals); every child is evaluated once; the best Population of parents
// and children survive (elitism). Generations run until Budget calls are
// spent (the last is cut to the evaluations that fit). The output is the
// population's best Keep (at most Population).
type Evolution struct {
	Population int // μ = λ: survivors and children per generation
	Tournament int // draws per tournament selection, in [1, Population]
	Budget     int // target calls in all
	Keep       int // N: candidates returned (and passed to Progress)
}

// Validate reports the first invalid field.
func (c Evolution) Validate() error {
	switch {
	case c.Population < 2:
		return fmt.Errorf("rank: Evolution.Population = %d: must be >= 2", c.Population)
	case c.Tournament < 1 || c.Tournament > c.Population:
		return fmt.Errorf("rank: Evolution.Tournament = %d: must be in [1, Population = %d]", c.Tournament, c.Population)
	case c.Budget < 1:
		return fmt.Errorf("rank: Evolution.Budget = %d: must be >= 1", c.Budget)
	case c.Keep < 1:
		return fmt.Errorf("rank: Evolution.Keep = %d: must be >= 1", c.Keep)
	}
	return nil
}

// Run runs the search on the token problem p (see Search).
func (c Evolution) Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), p.Validate(), r.Validate()); err != nil {
		return nil, 0, err
	}
	return c.RunSpace(ctx, p.space(r.Seeds), r.Sample, progress)
}

// RunSpace runs the search on s, calling progress (if not nil) after each
// generation. It returns the population's best Keep candidates (distinct
// texts, for text prompts) and the calls spent, Budget (less what no whole
// evaluation fits in) unless progress stopped it; on an error, also what
// it had so far.
func (c Evolution) RunSpace(ctx context.Context, s Space, rng *nn.RNG, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), s.Validate(), validRNG(rng)); err != nil {
		return nil, 0, err
	}
	k := s.PromptLen
	var pop []Candidate // sorted, best first
	calls, cost := 0, s.cost()
	for calls+cost <= c.Budget {
		n := min(c.Population, (c.Budget-calls)/cost)
		fresh, err := s.Sample(n, rng)
		if err != nil {
			return s.top(pop, c.Keep), calls, fmt.Errorf("rank: evolution: sample at %d calls: %w", calls, err)
		}
		children := fresh
		if len(pop) > 0 {
			children = make([]int32, 0, n*k)
			pick := func() []int32 {
				w := pop[rng.IntN(len(pop))]
				for range c.Tournament - 1 {
					if o := pop[rng.IntN(len(pop))]; o.Score > w.Score {
						w = o
					}
				}
				return w.Prompt
			}
			for i := 0; i < n; i++ {
				child := slices.Clone(pick())
				if other := pick(); k > 1 && rng.Float64() < 0.5 {
					cut := 1 + rng.IntN(k-1)
					copy(child[cut:], other[cut:])
				}
				for t := 0; t < k; t++ {
					if rng.Float64() < 1/float64(k) {
						child[t] = fresh[i*k+t]
					}
				}
				children = append(children, child...)
			}
		}
		batch, err := s.evaluate(ctx, children, n)
		if err != nil {
			return s.top(pop, c.Keep), calls, fmt.Errorf("rank: evolution: generation at %d calls: %w", calls, err)
		}
		calls += n * cost
		// Survival ranks by score alone, repeats included: a repeated
		// prompt is a fitter parent, as it always was.
		pop = Top(append(pop, batch...), c.Population)
		if stop, err := report(progress, calls, s.top(pop, c.Keep)); err != nil {
			return s.top(pop, c.Keep), calls, fmt.Errorf("rank: evolution at %d calls: %w", calls, err)
		} else if stop {
			break
		}
	}
	return s.top(pop, c.Keep), calls, nil
}

func validRNG(rng *nn.RNG) error {
	if rng == nil {
		return errors.New("rank: no RNG")
	}
	return nil
}

// report calls progress, if any, and says whether it asked to stop (Stop)
// or failed (any other error).
func report(progress Progress, calls int, best []Candidate) (stop bool, err error) {
	if progress == nil {
		return false, nil
	}
	switch err := progress(calls, best); {
	case errors.Is(err, Stop):
		return true, nil
	case err != nil:
		return true, err
	}
	return false, nil
}
