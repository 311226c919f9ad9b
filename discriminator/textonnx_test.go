package discriminator

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/internal/ort/orttest"
)

// relDiff is |got − want| relative to max(|want|, 1): relative for large
// values, absolute for values near 0 (probabilities, a spread of 0).
func relDiff(got, want float64) float64 {
	return math.Abs(got-want) / math.Max(math.Abs(want), 1)
}

func TestTextONNXMatchesGo(t *testing.T) {
	orttest.LoadOrSkip(t)
	for _, tc := range []struct{ hidden, members int }{{0, 1}, {0, 3}, {16, 1}, {16, 3}} {
		t.Run(fmt.Sprintf("hidden%d_K%d", tc.hidden, tc.members), func(t *testing.T) {
			cfg := TextConfig{Dim: 20, Hidden: tc.hidden, Members: tc.members, InitScale: 1.5}
			rng := nn.NewRNG(31, uint64(tc.hidden*10+tc.members))
			e := NewText(cfg, rng)
			for _, p := range e.Params() {
				if strings.HasSuffix(p.Name, ".b") {
					nn.InitUniform(p, 0.5, rng)
				}
			}
			e.Temperature, e.Bias = 2.3, -0.4
			model, err := e.ExportONNX()
			if err != nil {
				t.Fatal(err)
			}
			// Batch 100 makes the 257 rows run in three batches.
			s, err := NewTextScorerORT(model, TextScorerOptions{Options: ort.Options{Threads: 1}, Batch: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			n := 257
			x := randomFeatures(n, cfg.Features(), rng)
			want := e.Score(x, n)
			got, err := s.Score(x, n)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			var where string
			for i := range n {
				for _, c := range []struct {
					name      string
					got, want float64
				}{{"P", got.P[i], want.P[i]}, {"Std", got.Std[i], want.Std[i]}, {"Logit", got.Logit[i], want.Logit[i]}} {
					if d := relDiff(c.got, c.want); d > worst || math.IsNaN(d) {
						worst, where = d, fmt.Sprintf("%s[%d]: ORT %v, Go %v", c.name, i, c.got, c.want)
					}
				}
			}
			t.Logf("worst relative difference %.2g (%s)", worst, where)
			if !(worst <= 1e-5) {
				t.Errorf("ONNX Runtime and the Go forward pass differ by %.3g > 1e-5 at %s", worst, where)
			}
		})
	}
}

func TestTextScorerORTErrors(t *testing.T) {
	orttest.LoadOrSkip(t)
	if _, err := NewTextScorerORT(nil, TextScorerOptions{}); err == nil || !strings.Contains(err.Error(), "no bytes") {
		t.Errorf("empty model: %v", err)
	}
	// A valid ONNX model that is not a text discriminator.
	g := ort.NewGraph("other")
	g.Input("x", ort.Float32, ort.Dynamic("n"), ort.Fixed(3))
	g.Node("Relu", []string{"x"}, []string{"y"})
	g.Output("y", ort.Float32, ort.Dynamic("n"), ort.Fixed(3))
	other, err := g.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTextScorerORT(other, TextScorerOptions{}); err == nil || !strings.Contains(err.Error(), "a text discriminator has one, features") {
		t.Errorf("foreign model: %v", err)
	}
	e := NewText(TextConfig{Dim: 2, Hidden: 3, Members: 2, InitScale: 1}, nn.NewRNG(2, 0))
	model, err := e.ExportONNX()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewTextScorerORT(model, TextScorerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Features() != e.Cfg.Features() {
		t.Errorf("scorer reads %d features, the ensemble %d", s.Features(), e.Cfg.Features())
	}
	if _, err := s.Score(make([]float32, 5), 2); err == nil || !strings.Contains(err.Error(), "5 feature values for 2 rows of 14") {
		t.Errorf("short features: %v", err)
	}
}

func TestTextExportErrors(t *testing.T) {
	e := NewText(TextConfig{Dim: 2, Hidden: 3, Members: 2, InitScale: 1}, nn.NewRNG(2, 0))
	for _, T := range []float64{0, -1, math.Inf(1), math.NaN()} {
		e.Temperature = T
		if _, err := e.ExportONNX(); err == nil || !strings.Contains(err.Error(), "temperature") {
			t.Errorf("temperature %v: %v", T, err)
		}
	}
}
