package english

import (
	"fmt"
	"testing"

	"promptgan/internal/nn"
)

// balanced gives every class the same number of documents, keeps the
// total, takes every document of a small class at least once and a
// different subset of a large one from another draw.
func TestBalanced(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts map[string]int
	}{
		{"reviews dominate", map[string]int{"positive": 60, "negative": 50, "science": 10}},
		{"already equal", map[string]int{"a": 7, "b": 7}},
		{"one class", map[string]int{"a": 5}},
		{"a class of one", map[string]int{"a": 1, "b": 29}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var docs []Doc
			total := 0
			for _, c := range []string{"positive", "negative", "science", "a", "b"} {
				for i := range tc.counts[c] {
					docs = append(docs, Doc{Text: fmt.Sprintf("%s %d", c, i), Class: c})
				}
				total += tc.counts[c]
			}
			per := total / len(tc.counts)
			a := balanced(docs, nn.NewRNG(1, 0))
			got, distinct := map[string]int{}, map[string]map[string]bool{}
			for _, d := range a {
				got[d.Class]++
				if distinct[d.Class] == nil {
					distinct[d.Class] = map[string]bool{}
				}
				distinct[d.Class][d.Text] = true
			}
			for c, n := range tc.counts {
				if got[c] != per {
					t.Errorf("class %s: %d documents, want %d", c, got[c], per)
				}
				if want := min(n, per); len(distinct[c]) != want {
					t.Errorf("class %s: %d distinct documents, want %d", c, len(distinct[c]), want)
				}
			}
			b := balanced(docs, nn.NewRNG(2, 0))
			if tc.name == "reviews dominate" && fmt.Sprint(a) == fmt.Sprint(b) {
				t.Error("two draws took the same subsets of the large classes")
			}
		})
	}
}
