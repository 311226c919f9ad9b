package targets

import (
	"context"
	"slices"
	"testing"

	"promptgan/targets/backend"
)

// answering is a target that reports each answer through backend.OnAnswer.
type answering struct{ gens [][]int32 }

func (a answering) Fingerprint() string { return "answering" }

func (a answering) Generate(ctx context.Context, reqs []Request) ([]Generation, error) {
	out := make([]Generation, len(reqs))
	for i := range reqs {
		out[i] = Generation{Tokens: a.gens[i]}
		if f := backend.OnAnswer(ctx); f != nil {
			f(i, out[i])
		}
	}
	return out, nil
}

// TestFitOnAnswer: whoever listens to a fitted target's answers (the call
// ledger) gets them fitted, as Generate returns them.
func TestFitOnAnswer(t *testing.T) {
	m := FitGenerations(answering{gens: [][]int32{{1, 2, 3, 4, 5}, {7}}}, 3)
	var heard [][]int32
	ctx := backend.WithOnAnswer(context.Background(), func(i int, g Generation) { heard = append(heard, g.Tokens) })
	out, err := m.Generate(ctx, make([]Request, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int32{{1, 2, 3}, {7, 7, 7}}
	for i := range want {
		if !slices.Equal(out[i].Tokens, want[i]) || !slices.Equal(heard[i], want[i]) {
			t.Errorf("generation %d: returned %v, heard %v, want %v", i, out[i].Tokens, heard[i], want[i])
		}
	}
}
