package rank

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"promptgan/internal/nn"
)

func TestDistinct(t *testing.T) {
	c := func(text string, s float64) Candidate { return Candidate{Text: text, Score: s} }
	pool := []Candidate{c("a", 1), c("b", 3), c("a", 2), c("c", 3), c("b", 0), c("d", -1)}
	before := slices.Clone(pool)
	for _, tc := range []struct {
		n    int
		want string // texts, best first
	}{
		{10, "b c a d"}, // a keeps its best score (2), b its first (3)
		{2, "b c"},
		{0, ""},
	} {
		got := Distinct(pool, tc.n)
		if s := strings.Join(Texts(got), " "); s != tc.want {
			t.Errorf("Distinct(pool, %d) = %q, want %q", tc.n, s, tc.want)
		}
		if len(got) > 0 && got[len(got)-1].Text == "a" && got[len(got)-1].Score != 2 {
			t.Errorf("a repeated prompt kept score %g, want its best 2", got[len(got)-1].Score)
		}
	}
	if !slices.EqualFunc(pool, before, func(a, b Candidate) bool { return a.Text == b.Text && a.Score == b.Score }) {
		t.Error("Distinct reordered its pool")
	}
}

// textSpace is a space of 2-token prompts over toyVocab whose text is the
// first token alone (so that different prompts read alike, as token
// prompts of a text run can), each evaluated on calls "continuations"
// whose seeds come from their own stream; the score rewards token 3 and
// the seeds add noise, so the evaluator's draws matter.
func textSpace(calls int, seeds *nn.RNG, log *[]int) Space {
	const k = 2
	return Space{
		PromptLen: k,
		Calls:     calls,
		Sample: func(n int, rng *nn.RNG) ([]int32, error) {
			out := make([]int32, n*k)
			for i := range out {
				out[i] = int32(rng.IntN(toyVocab))
			}
			return out, nil
		},
		Text: func(prompts []int32) ([]string, error) {
			out := make([]string, len(prompts)/k)
			for i := range out {
				out[i] = fmt.Sprint("w", prompts[i*k])
			}
			return out, nil
		},
		Evaluate: func(_ context.Context, prompts []int32, texts []string) ([]float64, error) {
			if len(texts) != len(prompts)/k {
				return nil, fmt.Errorf("%d texts for %d prompts", len(texts), len(prompts)/k)
			}
			*log = append(*log, len(texts))
			out := make([]float64, len(texts))
			for i := range out {
				for _, id := range prompts[i*k : (i+1)*k] {
					if id == toyToken {
						out[i]++
					}
				}
				for range max(calls, 1) {
					out[i] += float64(seeds.Uint64()%100) / 1000
				}
			}
			return out, nil
		},
	}
}

// TestRunSpaceText checks both searches on a text space with several calls
// a prompt: the budget is spent in whole evaluations, the output has
// distinct texts, and the same streams give the same candidates.
func TestRunSpaceText(t *testing.T) {
	for _, tc := range []struct {
		name      string
		s         Search
		calls     int
		budget    int
		perBatch  int // prompts a batch or generation
		wantCalls int
	}{
		{"best-of-n", BestOfN{Batch: 8, Budget: 50, Keep: 5}, 3, 50, 8, 48},
		{"best-of-n one call", BestOfN{Batch: 8, Budget: 20, Keep: 5}, 0, 20, 8, 20},
		{"evolution", Evolution{Population: 6, Tournament: 2, Budget: 100, Keep: 4}, 4, 100, 6, 100},
		{"evolution cut", Evolution{Population: 6, Tournament: 2, Budget: 70, Keep: 4}, 4, 70, 6, 68},
		{"budget under one evaluation", BestOfN{Batch: 8, Budget: 2, Keep: 5}, 3, 2, 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func() ([]Candidate, int, []int, []int) {
				var evals, reported []int
				sp := textSpace(tc.calls, nn.NewRNG(1, 2), &evals)
				best, calls, err := tc.s.RunSpace(context.Background(), sp, nn.NewRNG(1, 1), func(calls int, best []Candidate) error {
					reported = append(reported, calls)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				return best, calls, evals, reported
			}
			best, calls, evals, reported := run()
			if calls != tc.wantCalls {
				t.Errorf("spent %d calls, want %d", calls, tc.wantCalls)
			}
			cost, spent := max(tc.calls, 1), 0
			for i, n := range evals {
				if n > tc.perBatch || n < 1 {
					t.Errorf("evaluation %d of %d prompts, want 1..%d", i, n, tc.perBatch)
				}
				spent += n * cost
				if reported[i] != spent {
					t.Errorf("progress %d saw %d calls, want %d", i, reported[i], spent)
				}
			}
			if spent != calls {
				t.Errorf("evaluations cost %d calls, the search says %d", spent, calls)
			}
			seen := map[string]bool{}
			for i, c := range best {
				if seen[c.Text] {
					t.Errorf("text %q output twice", c.Text)
				}
				seen[c.Text] = true
				if want := fmt.Sprint("w", c.Prompt[0]); c.Text != want {
					t.Errorf("candidate %d: text %q, want %q", i, c.Text, want)
				}
				if i > 0 && c.Score > best[i-1].Score {
					t.Errorf("candidates not best first")
				}
			}
			again, _, _, _ := run()
			if !slices.EqualFunc(best, again, func(a, b Candidate) bool { return candidateEqual(a, b) && a.Text == b.Text }) {
				t.Error("a second run with the same streams returned other candidates")
			}
		})
	}
}

// TestRunMatchesRunSpace checks that a token problem is only a space: Run
// and RunSpace on the problem's space draw alike.
func TestRunMatchesRunSpace(t *testing.T) {
	p := toyProblem(t, 3, 5)
	for _, s := range []Search{BestOfN{Batch: 8, Budget: 40, Keep: 4}, Evolution{Population: 8, Tournament: 3, Budget: 40, Keep: 4}} {
		a, ca, err := s.Run(context.Background(), p, toyRNGs(3), nil)
		if err != nil {
			t.Fatal(err)
		}
		r := toyRNGs(3)
		b, cb, err := s.RunSpace(context.Background(), p.space(r.Seeds), r.Sample, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ca != cb || !slices.EqualFunc(a, b, candidateEqual) {
			t.Errorf("%T: Run and RunSpace differ", s)
		}
	}
}

func TestSpaceValidate(t *testing.T) {
	var log []int
	ok := textSpace(2, nn.NewRNG(1, 1), &log)
	with := func(f func(s *Space)) Space { s := ok; f(&s); return s }
	for _, tc := range []struct {
		name string
		s    Space
		want string
	}{
		{"prompt len", with(func(s *Space) { s.PromptLen = 0 }), "Space.PromptLen = 0"},
		{"sampler", with(func(s *Space) { s.Sample = nil }), "Space.Sample"},
		{"evaluator", with(func(s *Space) { s.Evaluate = nil }), "Space.Evaluate"},
		{"calls", with(func(s *Space) { s.Calls = -1 }), "Space.Calls = -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := BestOfN{Batch: 2, Budget: 8, Keep: 1}.RunSpace(context.Background(), tc.s, nn.NewRNG(1, 1), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, _, err := (Evolution{Population: 2, Tournament: 1, Budget: 8, Keep: 1}).RunSpace(context.Background(), ok, nil, nil); err == nil {
		t.Error("no RNG: no error")
	}
	bad := with(func(s *Space) {
		s.Evaluate = func(context.Context, []int32, []string) ([]float64, error) { return []float64{1}, nil }
	})
	if _, _, err := (BestOfN{Batch: 4, Budget: 8, Keep: 1}).RunSpace(context.Background(), bad, nn.NewRNG(1, 1), nil); err == nil || !strings.Contains(err.Error(), "evaluator returned 1 scores for 4 prompts") {
		t.Errorf("short evaluator: error %v", err)
	}
}
