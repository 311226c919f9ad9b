// Package rank holds promptgan's search baselines over token prompts, as
// reusable code: best-of-N (sample candidate prompts from a prior generator
// G in batches, continue them on the target, keep the N that a scorer ranks
// highest) and a (μ+λ) evolutionary search (tournament selection, one-point
// crossover, token mutation from fresh samples of G, elitism).
//
// A search only ranks: it does not train G or D. Its fitness is a Scorer of
// the target's continuations: the discriminator's probability of "real"
// (DiscriminatorScorer) or any exact metric. Every continuation is one call
// of the target (one request), and a search spends exactly its budget of
// calls. Given the same prior, target, scorer, settings and RNG states, a
// search draws the same numbers in the same order and so returns the same
// candidates (the steer-oracle benchmark relies on this).
//
// The package is meant for the `promptgan score` and `promptgan search`
// commands and serves the steer-oracle benchmark's baselines; it does not
// depend on the adversarial trainer (package search).
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
	Prompt []int32
	Score  float64
}

// Top returns the best n of pool, best first; ties keep their order in
// pool (a stable sort). pool itself is not reordered; the candidates'
// prompts are shared, not copied.
func Top(pool []Candidate, n int) []Candidate {
	out := slices.Clone(pool)
	sort.SliceStable(out, func(a, b int) bool { return out[a].Score > out[b].Score })
	return slices.Clip(out[:max(0, min(n, len(out)))])
}

// Prompts returns the candidates' prompts concatenated, (len(cs), k).
func Prompts(cs []Candidate) []int32 {
	var out []int32
	for _, c := range cs {
		out = append(out, c.Prompt...)
	}
	return out
}

// Problem is what a search runs on.
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

// RNGs are a search's random streams: Sample for G's samples and the
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
	// Run runs the search on p with the streams r, calling progress (if
	// not nil) as it goes, and returns its best candidates, best first, and
	// the target calls it spent.
	Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error)
}

var (
	_ Search = BestOfN{}
	_ Search = Evolution{}
)

// Stop, returned by a Progress, ends a search early without an error.
var Stop = errors.New("rank: stop")

// BestOfN is best-of-N search: batches of Batch candidates are sampled from
// the prior and continued on the target until Budget calls are spent (the
// last batch is cut to fit); the output is the Keep best-scored candidates
// of all batches.
type BestOfN struct {
	Batch  int // candidates sampled and continued per batch
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

// Run runs the search on p, calling progress (if not nil) after each batch.
// It returns the best candidates and the calls spent, Budget unless
// progress stopped it; on an error, also what it had so far.
func (c BestOfN) Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), p.Validate(), r.Validate()); err != nil {
		return nil, 0, err
	}
	opt := p.sampleOptions()
	var best []Candidate
	calls := 0
	for calls < c.Budget {
		n := min(c.Batch, c.Budget-calls)
		prompts := p.Prior.Sample(n, p.PromptLen, opt, nil, r.Sample)
		scores, err := p.evaluate(ctx, prompts, n, r.Seeds)
		if err != nil {
			return best, calls, fmt.Errorf("rank: best-of-n: batch at %d calls: %w", calls, err)
		}
		calls += n
		pool := best
		for i, s := range scores {
			pool = append(pool, Candidate{Prompt: prompts[i*p.PromptLen : (i+1)*p.PromptLen], Score: s})
		}
		best = Top(pool, c.Keep)
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
// marginals); every child is continued once and scored; the best Population
// of parents and children survive (elitism). Generations run until Budget
// calls are spent (the last is cut to fit). The output is the population's
// best Keep (at most Population).
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

// Run runs the search on p, calling progress (if not nil) after each
// generation. It returns the population's best Keep candidates and the
// calls spent, Budget unless progress stopped it; on an error, also what it
// had so far.
func (c Evolution) Run(ctx context.Context, p Problem, r RNGs, progress Progress) ([]Candidate, int, error) {
	if err := errors.Join(c.Validate(), p.Validate(), r.Validate()); err != nil {
		return nil, 0, err
	}
	opt := p.sampleOptions()
	k, rng := p.PromptLen, r.Sample
	var pop []Candidate // sorted, best first
	calls := 0
	for calls < c.Budget {
		n := min(c.Population, c.Budget-calls)
		fresh := p.Prior.Sample(n, k, opt, nil, rng)
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
		scores, err := p.evaluate(ctx, children, n, r.Seeds)
		if err != nil {
			return Top(pop, c.Keep), calls, fmt.Errorf("rank: evolution: generation at %d calls: %w", calls, err)
		}
		calls += n
		for i, s := range scores {
			pop = append(pop, Candidate{Prompt: children[i*k : (i+1)*k], Score: s})
		}
		pop = Top(pop, c.Population)
		if stop, err := report(progress, calls, Top(pop, c.Keep)); err != nil {
			return Top(pop, c.Keep), calls, fmt.Errorf("rank: evolution at %d calls: %w", calls, err)
		} else if stop {
			break
		}
	}
	return Top(pop, c.Keep), calls, nil
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

// sampleOptions returns p.Sample with the zero temperature taken as 1.
func (p Problem) sampleOptions() generator.SampleOptions {
	opt := p.Sample
	if opt.Temperature == 0 {
		opt.Temperature = 1
	}
	return opt
}

// evaluate continues the (n, k) prompts on the target, request i seeded
// with the next number of seeds, and scores the continuations.
func (p Problem) evaluate(ctx context.Context, prompts []int32, n int, seeds *nn.RNG) ([]float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
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
}
