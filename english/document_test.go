package english

import (
	"slices"
	"testing"

	"promptgan/internal/nn"
)

func TestDocument(t *testing.T) {
	v, err := NewVocab([]string{PadToken, UnkToken, BOSToken, EOSToken, Separator, "a", "quote", "the", "cat", "sat", "."})
	if err != nil {
		t.Fatal(err)
	}
	ins, empty := "a quote", ""
	for _, tc := range []struct {
		name        string
		instruction *string
		text        string
		max         int
		tokens      []int32
		weights     []float32
	}{
		{"instruction", &ins, "The cat sat.", 64, []int32{5, 6, 4, 7, 8, 9, 10, 3}, []float32{0, 0, 0, 1, 1, 1, 1, 1}},
		{"empty instruction", &empty, "the dog", 64, []int32{4, 7, 1, 3}, []float32{0, 1, 1, 1}},
		{"plain", nil, "the cat", 64, []int32{7, 8, 3}, []float32{1, 1, 1}},
		{"cut to max tokens, <eos> kept", &ins, "the cat sat .", 6, []int32{5, 6, 4, 7, 8, 3}, []float32{0, 0, 0, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := document(v, tc.instruction, tc.text, tc.max)
			if !slices.Equal(s.tokens, tc.tokens) || !slices.Equal(s.weights, tc.weights) {
				t.Errorf("got %v %v, want %v %v", s.tokens, s.weights, tc.tokens, tc.weights)
			}
		})
	}
}

func TestDropWords(t *testing.T) {
	v, _ := NewVocab([]string{PadToken, UnkToken, BOSToken, EOSToken, Separator, "w"})
	ins := "w w"
	text := ""
	for range 2000 {
		text += "w "
	}
	s := document(v, &ins, text, 5000)
	dropWords(s, 0.4, nn.NewRNG(1, 0))
	dropped := 0
	for i, id := range s.tokens {
		switch {
		case i < 3 && (id == UnkID || s.weights[i] != 0):
			t.Fatalf("position %d of the instruction changed: %d, weight %v", i, id, s.weights[i])
		case id == UnkID:
			if s.weights[i] != 0 {
				t.Fatalf("a dropped word at %d is still predicted", i)
			}
			dropped++
		}
	}
	if s.tokens[len(s.tokens)-1] != EOSID {
		t.Error("<eos> was dropped")
	}
	if share := float64(dropped) / 2000; share < 0.36 || share > 0.44 {
		t.Errorf("dropped %.3f of the words, want 0.4 ± 0.04", share)
	}
	again := document(v, &ins, text, 5000)
	dropWords(again, 0.4, nn.NewRNG(1, 0))
	if !slices.Equal(s.tokens, again.tokens) {
		t.Error("the same seed dropped different words")
	}
}
