package rank

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/lstm"
)

const (
	toyVocab = 12
	toyToken = 3 // the exact scorer rewards this token in generations
)

// toyProblem is a steerable pure-Go target (a random LSTM with large
// weights), a weak random prior and an exact scorer: the share of
// generated tokens equal to toyToken.
func toyProblem(t testing.TB, k, m int) Problem {
	t.Helper()
	oracle := generator.New(generator.Config{Vocab: toyVocab, Emb: 8, Hidden: 32, InitScale: 2}, nn.NewRNG(42, 1))
	tg, err := lstm.New(oracle, m, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	prior := generator.New(generator.Config{Vocab: toyVocab, Emb: 8, Hidden: 16, InitScale: 0.5}, nn.NewRNG(7, 1))
	exact := func(gens []int32) []float64 {
		out := make([]float64, len(gens)/m)
		for i := range out {
			for _, id := range gens[i*m : (i+1)*m] {
				if id == toyToken {
					out[i]++
				}
			}
			out[i] /= float64(m)
		}
		return out
	}
	return Problem{Prior: prior, Target: tg, Score: exact, PromptLen: k, GenLen: m}
}

func toyRNGs(seed uint64) RNGs {
	return RNGs{Sample: nn.NewRNG(seed, 1), Seeds: nn.NewRNG(seed, 2)}
}

func TestTop(t *testing.T) {
	c := func(id int32, s float64) Candidate { return Candidate{Prompt: []int32{id}, Score: s} }
	pool := []Candidate{c(0, 1), c(1, 3), c(2, 2), c(3, 3), c(4, 1), c(5, -1)}
	for _, tc := range []struct {
		name string
		pool []Candidate
		n    int
		want []int32 // prompt ids, best first
	}{
		{"all", pool, 6, []int32{1, 3, 2, 0, 4, 5}},
		{"ties keep pool order", pool, 2, []int32{1, 3}},
		{"cut inside a tie", pool, 4, []int32{1, 3, 2, 0}},
		{"n above the pool", pool, 10, []int32{1, 3, 2, 0, 4, 5}},
		{"zero", pool, 0, []int32{}},
		{"negative", pool, -1, []int32{}},
		{"empty pool", nil, 3, []int32{}},
		{"all tied", []Candidate{c(9, 0), c(8, 0), c(7, 0)}, 2, []int32{9, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.pool)
			got := Top(tc.pool, tc.n)
			ids := []int32{}
			for _, g := range got {
				ids = append(ids, g.Prompt[0])
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Top(n=%d) = %v, want %v", tc.n, ids, tc.want)
			}
			for i := range before {
				if before[i].Prompt[0] != tc.pool[i].Prompt[0] {
					t.Fatalf("Top reordered its input: %v", tc.pool)
				}
			}
			if cap(got) != len(got) {
				t.Errorf("Top's result has spare capacity %d > %d: appending would write past it", cap(got), len(got))
			}
		})
	}
}

func TestPrompts(t *testing.T) {
	got := Prompts([]Candidate{{Prompt: []int32{1, 2}}, {Prompt: []int32{3, 4}}})
	if want := []int32{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("Prompts = %v, want %v", got, want)
	}
}

func TestValidate(t *testing.T) {
	ok := toyProblem(t, 3, 4)
	with := func(f func(p *Problem)) Problem { p := ok; f(&p); return p }
	cond := generator.New(generator.Config{Vocab: toyVocab, Emb: 4, Hidden: 4, CondDim: 2, InitScale: 0.1}, nn.NewRNG(1, 1))
	for _, tc := range []struct {
		name string
		err  error
		want string // substring; "" = valid
	}{
		{"problem ok", ok.Validate(), ""},
		{"no prior", with(func(p *Problem) { p.Prior = nil }).Validate(), "Problem.Prior"},
		{"conditioned prior", with(func(p *Problem) { p.Prior = cond }).Validate(), "Problem.Prior: the generator is conditioned"},
		{"no target", with(func(p *Problem) { p.Target = nil }).Validate(), "Problem.Target"},
		{"no scorer", with(func(p *Problem) { p.Score = nil }).Validate(), "Problem.Score"},
		{"prompt len", with(func(p *Problem) { p.PromptLen = 0 }).Validate(), "Problem.PromptLen = 0"},
		{"gen len", with(func(p *Problem) { p.GenLen = -1 }).Validate(), "Problem.GenLen = -1"},
		{"temperature", with(func(p *Problem) { p.Sample.Temperature = -1 }).Validate(), "Problem.Sample.Temperature"},
		{"top-k", with(func(p *Problem) { p.Sample.TopK = -2 }).Validate(), "Problem.Sample.TopK"},

		{"best-of-n ok", BestOfN{Batch: 1, Budget: 1, Keep: 1}.Validate(), ""},
		{"best-of-n batch", BestOfN{Batch: 0, Budget: 1, Keep: 1}.Validate(), "BestOfN.Batch = 0"},
		{"best-of-n budget", BestOfN{Batch: 1, Budget: 0, Keep: 1}.Validate(), "BestOfN.Budget = 0"},
		{"best-of-n keep", BestOfN{Batch: 1, Budget: 1, Keep: 0}.Validate(), "BestOfN.Keep = 0"},

		{"evolution ok", Evolution{Population: 2, Tournament: 2, Budget: 1, Keep: 5}.Validate(), ""},
		{"evolution population", Evolution{Population: 1, Tournament: 1, Budget: 1, Keep: 1}.Validate(), "Evolution.Population = 1"},
		{"evolution tournament 0", Evolution{Population: 4, Tournament: 0, Budget: 1, Keep: 1}.Validate(), "Evolution.Tournament = 0"},
		{"evolution tournament above", Evolution{Population: 4, Tournament: 5, Budget: 1, Keep: 1}.Validate(), "Evolution.Tournament = 5: must be in [1, Population = 4]"},
		{"evolution budget", Evolution{Population: 4, Tournament: 2, Budget: 0, Keep: 1}.Validate(), "Evolution.Budget = 0"},
		{"evolution keep", Evolution{Population: 4, Tournament: 2, Budget: 1, Keep: -1}.Validate(), "Evolution.Keep = -1"},

		{"rngs sample", RNGs{Seeds: nn.NewRNG(1, 1)}.Validate(), "RNGs.Sample"},
		{"rngs seeds", RNGs{Sample: nn.NewRNG(1, 1)}.Validate(), "RNGs.Seeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case tc.want == "" && tc.err != nil:
				t.Errorf("unexpected error: %v", tc.err)
			case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
}

// TestRunRejectsInvalid checks that Run validates before it calls anything.
func TestRunRejectsInvalid(t *testing.T) {
	p := toyProblem(t, 3, 4)
	for _, tc := range []struct {
		name string
		s    Search
		p    Problem
		r    RNGs
		want string
	}{
		{"best-of-n settings", BestOfN{Batch: 0, Budget: 4, Keep: 1}, p, toyRNGs(1), "BestOfN.Batch"},
		{"evolution settings", Evolution{Population: 4, Tournament: 9, Budget: 4, Keep: 1}, p, toyRNGs(1), "Evolution.Tournament"},
		{"problem", BestOfN{Batch: 2, Budget: 4, Keep: 1}, Problem{}, toyRNGs(1), "Problem.Prior"},
		{"rngs", Evolution{Population: 4, Tournament: 2, Budget: 4, Keep: 1}, p, RNGs{}, "RNGs.Sample"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			best, calls, err := tc.s.Run(context.Background(), tc.p, tc.r, func(int, []Candidate) error { called = true; return nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if best != nil || calls != 0 || called {
				t.Errorf("an invalid run returned %d candidates, %d calls, progress called %v", len(best), calls, called)
			}
		})
	}
}

// progressLog records what Progress saw.
type progressLog struct {
	calls []int
	best  [][]Candidate
}

func (l *progressLog) progress(calls int, best []Candidate) error {
	l.calls = append(l.calls, calls)
	l.best = append(l.best, slices.Clone(best))
	return nil
}

// checkRun checks what every search must do: spend the budget in steps of
// at most step calls, report increasing call counts ending at the budget,
// return the last reported candidates, best first, at most keep of them.
func checkRun(t *testing.T, log *progressLog, best []Candidate, calls, budget, step, keep, k int) {
	t.Helper()
	if calls != budget {
		t.Errorf("spent %d calls, want the budget %d", calls, budget)
	}
	if len(log.calls) == 0 || log.calls[len(log.calls)-1] != budget {
		t.Fatalf("progress saw calls %v, want them to end at %d", log.calls, budget)
	}
	for i, c := range log.calls {
		prev := 0
		if i > 0 {
			prev = log.calls[i-1]
		}
		if want := prev + min(step, budget-prev); c != want {
			t.Errorf("progress call %d saw %d calls, want %d (steps of %d)", i, c, want, step)
		}
	}
	if !slices.EqualFunc(best, log.best[len(log.best)-1], candidateEqual) {
		t.Errorf("returned candidates differ from the last reported ones")
	}
	if len(best) > keep || len(best) == 0 {
		t.Errorf("returned %d candidates, want 1..%d", len(best), keep)
	}
	if !sort.SliceIsSorted(best, func(a, b int) bool { return best[a].Score > best[b].Score }) {
		t.Errorf("candidates not best first: %v", best)
	}
	for _, c := range best {
		if len(c.Prompt) != k {
			t.Fatalf("candidate prompt %v: want %d tokens", c.Prompt, k)
		}
		for _, id := range c.Prompt {
			if id < 0 || id >= toyVocab {
				t.Fatalf("candidate prompt %v: token outside the vocabulary", c.Prompt)
			}
		}
	}
}

func candidateEqual(a, b Candidate) bool {
	return a.Score == b.Score && slices.Equal(a.Prompt, b.Prompt)
}

func TestBestOfN(t *testing.T) {
	for _, tc := range []struct {
		name              string
		k, m              int
		batch, budget, nk int
		seed              uint64
	}{
		{"even batches", 4, 6, 16, 64, 8, 1},
		{"last batch cut", 4, 6, 16, 50, 8, 2},
		{"one batch above the budget", 3, 5, 100, 30, 5, 3},
		{"keep above all", 2, 4, 4, 12, 100, 4},
		{"one-token prompts", 1, 8, 8, 24, 3, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := toyProblem(t, tc.k, tc.m)
			s := BestOfN{Batch: tc.batch, Budget: tc.budget, Keep: tc.nk}
			var log progressLog
			best, calls, err := s.Run(context.Background(), p, toyRNGs(tc.seed), log.progress)
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, &log, best, calls, tc.budget, tc.batch, tc.nk, tc.k)
			if want := min(tc.nk, tc.budget); len(best) != want {
				t.Errorf("returned %d candidates, want %d", len(best), want)
			}
			for i := 1; i < len(log.best); i++ { // the kept set only improves
				if log.best[i][0].Score < log.best[i-1][0].Score {
					t.Errorf("best score fell from %g to %g", log.best[i-1][0].Score, log.best[i][0].Score)
				}
			}
			again, _, err := s.Run(context.Background(), p, toyRNGs(tc.seed), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(best, again, candidateEqual) {
				t.Errorf("a second run with the same seed returned other candidates")
			}
			ref := referenceBestOfN(t, p, s, toyRNGs(tc.seed))
			if !slices.EqualFunc(best, ref, candidateEqual) {
				t.Errorf("candidates differ from the reference implementation's draws")
			}
		})
	}
}

func TestEvolution(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		k, m                    int
		pop, tour, budget, keep int
		seed                    uint64
	}{
		{"default shape", 4, 6, 16, 4, 160, 8, 1},
		{"last generation cut", 4, 6, 16, 3, 150, 16, 2},
		{"tournament of one", 3, 5, 10, 1, 60, 5, 3},
		{"keep above population", 4, 6, 8, 2, 40, 20, 4},
		{"one-token prompts", 1, 8, 8, 2, 48, 4, 5},
		{"budget below one population", 4, 6, 32, 4, 20, 4, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := toyProblem(t, tc.k, tc.m)
			s := Evolution{Population: tc.pop, Tournament: tc.tour, Budget: tc.budget, Keep: tc.keep}
			var log progressLog
			best, calls, err := s.Run(context.Background(), p, toyRNGs(tc.seed), log.progress)
			if err != nil {
				t.Fatal(err)
			}
			checkRun(t, &log, best, calls, tc.budget, tc.pop, tc.keep, tc.k)
			if want := min(tc.keep, tc.pop, tc.budget); len(best) != want {
				t.Errorf("returned %d candidates, want %d", len(best), want)
			}
			// elitism: the best never falls below the initial population's best
			initial := log.best[0][0].Score
			if best[0].Score < initial {
				t.Errorf("final best %g below the initial population's best %g", best[0].Score, initial)
			}
			for i := 1; i < len(log.best); i++ {
				if log.best[i][0].Score < log.best[i-1][0].Score {
					t.Errorf("generation %d: best score fell from %g to %g", i, log.best[i-1][0].Score, log.best[i][0].Score)
				}
			}
			again, _, err := s.Run(context.Background(), p, toyRNGs(tc.seed), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(best, again, candidateEqual) {
				t.Errorf("a second run with the same seed returned other candidates")
			}
			ref := referenceEvolution(t, p, s, toyRNGs(tc.seed))
			if !slices.EqualFunc(best, ref, candidateEqual) {
				t.Errorf("candidates differ from the reference implementation's draws")
			}
		})
	}
}

// TestEvolutionImproves checks that selection works on the steerable toy:
// with an exact scorer and a few generations, the population's mean
// score rises well above that of prior samples.
func TestEvolutionImproves(t *testing.T) {
	p := toyProblem(t, 4, 8)
	var log progressLog
	s := Evolution{Population: 32, Tournament: 4, Budget: 32 * 12, Keep: 32}
	if _, _, err := s.Run(context.Background(), p, toyRNGs(11), log.progress); err != nil {
		t.Fatal(err)
	}
	mean := func(cs []Candidate) float64 {
		v := 0.0
		for _, c := range cs {
			v += c.Score
		}
		return v / float64(len(cs))
	}
	first, last := mean(log.best[0]), mean(log.best[len(log.best)-1])
	t.Logf("population mean score: %.3f → %.3f", first, last)
	if last < first+0.1 {
		t.Errorf("population mean score %.3f → %.3f: want a rise of at least 0.1", first, last)
	}
}

func TestStop(t *testing.T) {
	boom := errors.New("boom")
	p := toyProblem(t, 3, 4)
	for _, tc := range []struct {
		name      string
		s         Search
		step      int
		stopAfter int   // progress calls before it returns err
		err       error // what progress returns
	}{
		{"best-of-n stop", BestOfN{Batch: 8, Budget: 64, Keep: 4}, 8, 2, Stop},
		{"best-of-n wrapped stop", BestOfN{Batch: 8, Budget: 64, Keep: 4}, 8, 1, fmt.Errorf("enough: %w", Stop)},
		{"best-of-n error", BestOfN{Batch: 8, Budget: 64, Keep: 4}, 8, 3, boom},
		{"evolution stop", Evolution{Population: 8, Tournament: 2, Budget: 64, Keep: 4}, 8, 2, Stop},
		{"evolution error", Evolution{Population: 8, Tournament: 2, Budget: 64, Keep: 4}, 8, 1, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			best, calls, err := tc.s.Run(context.Background(), p, toyRNGs(1), func(int, []Candidate) error {
				n++
				if n == tc.stopAfter {
					return tc.err
				}
				return nil
			})
			if errors.Is(tc.err, Stop) {
				if err != nil {
					t.Errorf("Stop gave error %v, want nil", err)
				}
			} else if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), fmt.Sprintf("at %d calls", calls)) {
				t.Errorf("error %v, want %v wrapped with the call count %d", err, tc.err, calls)
			}
			if want := tc.stopAfter * tc.step; calls != want || n != tc.stopAfter {
				t.Errorf("stopped after %d calls and %d progress calls, want %d and %d", calls, n, want, tc.stopAfter)
			}
			if len(best) == 0 {
				t.Errorf("no candidates returned on stopping")
			}
		})
	}
}

// cancelTarget cancels its context after its first answer.
type cancelTarget struct {
	targets.Model
	cancel context.CancelFunc
}

func (c cancelTarget) Generate(ctx context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	out, err := c.Model.Generate(ctx, reqs)
	c.cancel()
	return out, err
}

func TestContextCancelled(t *testing.T) {
	for _, s := range []Search{
		BestOfN{Batch: 8, Budget: 64, Keep: 4},
		Evolution{Population: 8, Tournament: 2, Budget: 64, Keep: 4},
	} {
		t.Run(fmt.Sprintf("%T", s), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := toyProblem(t, 3, 4)
			p.Target = cancelTarget{Model: p.Target, cancel: cancel}
			best, calls, err := s.Run(ctx, p, toyRNGs(1), nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if calls != 8 || len(best) != 4 {
				t.Errorf("cancelled after %d calls with %d candidates, want 8 and 4", calls, len(best))
			}
		})
	}
}

func TestScorerLength(t *testing.T) {
	p := toyProblem(t, 3, 4)
	p.Score = func(gens []int32) []float64 { return make([]float64, len(gens)/4-1) }
	_, _, err := BestOfN{Batch: 8, Budget: 16, Keep: 4}.Run(context.Background(), p, toyRNGs(1), nil)
	if err == nil || !strings.Contains(err.Error(), "scorer returned 7 scores for 8 generations") {
		t.Errorf("error %v, want the scorer's count", err)
	}
}

// TestDiscriminatorScorer checks the chunked scores, for sizes around the
// chunk: bit for bit against Score on each chunk, and against one
// unchunked Score call to float32 rounding (an optimised BLAS may round a
// row differently in a batch of another size).
func TestDiscriminatorScorer(t *testing.T) {
	const m = 5
	d := discriminator.New(discriminator.Config{Vocab: toyVocab, Emb: 8, Hidden: 8, Members: 2, InitScale: 0.5}, nn.NewRNG(3, 1))
	rng := nn.NewRNG(3, 2)
	for _, n := range []int{1, 7, ScoreChunk, ScoreChunk + 1, 2*ScoreChunk + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			gens := make([]int32, n*m)
			for i := range gens {
				gens[i] = int32(rng.IntN(toyVocab))
			}
			got := DiscriminatorScorer(d, m)(gens)
			if len(got) != n {
				t.Fatalf("%d scores for %d generations", len(got), n)
			}
			whole, _ := d.Score(gens, n, m)
			for lo := 0; lo < n; lo += ScoreChunk {
				c := min(ScoreChunk, n-lo)
				chunk, _ := d.Score(gens[lo*m:(lo+c)*m], c, m)
				for i := lo; i < lo+c; i++ {
					if want := float64(chunk[(i-lo)*m+m-1]); got[i] != want {
						t.Fatalf("generation %d: score %v, want %v (D at its last position)", i, got[i], want)
					}
					if want := float64(whole[i*m+m-1]); math.Abs(got[i]-want) > 1e-6 {
						t.Fatalf("generation %d: score %v, unchunked %v", i, got[i], want)
					}
				}
			}
		})
	}
}

// The reference implementations below are the steer-oracle benchmark's
// inline searches before they moved here, kept to pin the RNG draw order.

func referenceBestOfN(t *testing.T, p Problem, s BestOfN, r RNGs) []Candidate {
	t.Helper()
	var best []Candidate
	for calls := 0; calls < s.Budget; {
		n := min(s.Batch, s.Budget-calls)
		prompts := p.Prior.Sample(n, p.PromptLen, generator.SampleOptions{Temperature: 1}, nil, r.Sample)
		gens, err := targets.Continue(context.Background(), p.Target, prompts, p.PromptLen, p.GenLen, seedList(r.Seeds, n))
		if err != nil {
			t.Fatal(err)
		}
		calls += n
		for i, sc := range p.Score(gens) {
			best = append(best, Candidate{Prompt: prompts[i*p.PromptLen : (i+1)*p.PromptLen], Score: sc})
		}
		best = slices.Clone(referenceTop(best, s.Keep))
	}
	return best
}

func referenceEvolution(t *testing.T, p Problem, s Evolution, r RNGs) []Candidate {
	t.Helper()
	rng, k := r.Sample, p.PromptLen
	var pop []Candidate
	for calls := 0; calls < s.Budget; {
		n := min(s.Population, s.Budget-calls)
		fresh := p.Prior.Sample(n, k, generator.SampleOptions{Temperature: 1}, nil, rng)
		children := fresh
		if len(pop) > 0 {
			children = make([]int32, 0, n*k)
			pick := func() []int32 {
				w := pop[rng.IntN(len(pop))]
				for range s.Tournament - 1 {
					if c := pop[rng.IntN(len(pop))]; c.Score > w.Score {
						w = c
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
				for j := 0; j < k; j++ {
					if rng.Float64() < 1/float64(k) {
						child[j] = fresh[i*k+j]
					}
				}
				children = append(children, child...)
			}
		}
		gens, err := targets.Continue(context.Background(), p.Target, children, k, p.GenLen, seedList(r.Seeds, n))
		if err != nil {
			t.Fatal(err)
		}
		calls += n
		for i, sc := range p.Score(gens) {
			pop = append(pop, Candidate{Prompt: children[i*k : (i+1)*k], Score: sc})
		}
		pop = slices.Clone(referenceTop(pop, s.Population))
	}
	return referenceTop(slices.Clone(pop), s.Keep)
}

func referenceTop(pool []Candidate, n int) []Candidate {
	sort.SliceStable(pool, func(a, c int) bool { return pool[a].Score > pool[c].Score })
	return pool[:min(n, len(pool))]
}

func seedList(rng *nn.RNG, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = rng.Uint64()
	}
	return out
}
