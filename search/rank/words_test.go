package rank

import (
	"context"
	"errors"
	"strings"
	"testing"

	"promptgan/internal/nn"
)

var wordVocab = []string{"good", "bad", "the", "a", "phone", "atom", "vote", "bug", "loved", "awful"}

// goodShare scores a prompt by its share of "good" words, plus noise that
// depends on the generation (as fresh continuations would), and records
// the generations it was called with.
func goodShare(gens *[]int) WordEvaluator {
	return func(_ context.Context, prompts []string, gen int) ([]float64, error) {
		*gens = append(*gens, gen)
		rng := nn.NewRNG(uint64(gen), 9)
		out := make([]float64, len(prompts))
		for i, p := range prompts {
			ws := strings.Fields(p)
			for _, w := range ws {
				if w == "good" {
					out[i] += 1 / float64(len(ws))
				}
			}
			out[i] += rng.Float64() / 10
		}
		return out, nil
	}
}

func TestWordEvolution(t *testing.T) {
	c := WordEvolution{Population: 8, Continuations: 3, Budget: 300, Vocab: wordVocab, MinWords: 2, MaxWords: 5, Start: []string{"  the  phone ", "the phone", ""}}
	run := func() (WordResult, []int, []Candidate) {
		var gens []int
		var best []Candidate
		res, err := c.Search(context.Background(), nn.NewRNG(1, 1), goodShare(&gens), func(_ int, b []Candidate) error {
			best = append(best, b[0])
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return res, gens, best
	}
	res, gens, progress := run()
	// every generation scores the whole population: 8 × 3 calls
	if res.Calls != res.Generations*8*3 || res.Calls > c.Budget || res.Calls+8*3 <= c.Budget {
		t.Errorf("%d calls in %d generations for a budget of %d", res.Calls, res.Generations, c.Budget)
	}
	for i, g := range gens {
		if g != i {
			t.Errorf("evaluation %d scored generation %d", i, g)
		}
	}
	if len(progress) != res.Generations-1 {
		t.Errorf("progress called %d times for %d generations (the first is not reported)", len(progress), res.Generations)
	}
	if n := len(strings.Fields(res.Best.Text)); n < 2 || n > 5 {
		t.Errorf("best %q has %d words", res.Best.Text, n)
	}
	if res.Best.Score < 0.5 {
		t.Errorf("best %q scores %.3f: selection does not work", res.Best.Text, res.Best.Score)
	}
	again, _, _ := run()
	if again.Best.Text != res.Best.Text || again.Best.Score != res.Best.Score || again.Calls != res.Calls || again.Prompts != res.Prompts {
		t.Errorf("a second run with the same seed: %+v, then %+v", res, again)
	}
}

// TestWordEvolutionSmall pins the counts of a search that fits two
// generations: 4 prompts × 2 continuations (the start's one prompt and 3
// random ones), then 2 survivors re-scored with 2 new ones, in 20 calls.
func TestWordEvolutionSmall(t *testing.T) {
	var gens []int
	c := WordEvolution{Population: 4, Continuations: 2, Budget: 20, Vocab: wordVocab, MinWords: 3, MaxWords: 6, Start: []string{"great"}}
	res, err := c.Search(context.Background(), nn.NewRNG(1, 0xce11), goodShare(&gens), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls != 16 || res.Generations != 2 || res.Prompts != 6 {
		t.Errorf("%d calls, %d generations, %d prompts; want 16, 2, 6", res.Calls, res.Generations, res.Prompts)
	}
}

func TestWordEvolutionErrors(t *testing.T) {
	ok := WordEvolution{Population: 4, Continuations: 2, Budget: 20, Vocab: wordVocab, MinWords: 1, MaxWords: 3}
	with := func(f func(c *WordEvolution)) WordEvolution {
		c := ok
		c.Vocab = append([]string(nil), ok.Vocab...)
		f(&c)
		return c
	}
	var gens []int
	for _, tc := range []struct {
		name string
		c    WordEvolution
		want string
	}{
		{"population", with(func(c *WordEvolution) { c.Population = 1 }), "Population = 1"},
		{"continuations", with(func(c *WordEvolution) { c.Continuations = 0 }), "Continuations = 0"},
		{"budget", with(func(c *WordEvolution) { c.Budget = 7 }), "under one generation"},
		{"words", with(func(c *WordEvolution) { c.MinWords = 4 }), "words per prompt 4..3"},
		{"vocab size", with(func(c *WordEvolution) { c.Vocab = c.Vocab[:1] }), "1 words"},
		{"vocab word", with(func(c *WordEvolution) { c.Vocab[2] = "two words" }), `"two words" is not one word`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Search(context.Background(), nn.NewRNG(1, 1), goodShare(&gens), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if len(gens) != 0 {
		t.Errorf("an invalid search evaluated %d generations", len(gens))
	}
	boom := errors.New("boom")
	failing := func(_ context.Context, _ []string, gen int) ([]float64, error) {
		if gen == 1 {
			return nil, boom
		}
		return make([]float64, 4), nil
	}
	res, err := ok.Search(context.Background(), nn.NewRNG(1, 1), failing, nil)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "generation 1") || res.Calls != 8 {
		t.Errorf("failing evaluator: %+v, %v; want the first generation's 8 calls and the error", res, err)
	}
	short := func(context.Context, []string, int) ([]float64, error) { return []float64{1}, nil }
	if _, err := ok.Search(context.Background(), nn.NewRNG(1, 1), short, nil); err == nil || !strings.Contains(err.Error(), "1 scores for 4 prompts") {
		t.Errorf("short evaluator: %v", err)
	}
	stopped, err := ok.Search(context.Background(), nn.NewRNG(1, 1), goodShare(&gens), func(int, []Candidate) error { return Stop })
	if err != nil || stopped.Generations != 2 {
		t.Errorf("Stop after the second generation: %d generations, error %v", stopped.Generations, err)
	}
}

func TestRandomWords(t *testing.T) {
	rng := nn.NewRNG(5, 5)
	for range 100 {
		ws := RandomWords(rng, wordVocab, 2, 4)
		if len(ws) < 2 || len(ws) > 4 {
			t.Fatalf("%d words, want 2..4", len(ws))
		}
	}
}
