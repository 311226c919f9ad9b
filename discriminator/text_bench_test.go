package discriminator

import (
	"fmt"
	"testing"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
)

// benchBatch is the rows scored per call: a search ranks thousands of
// (input, generation) pairs at once.
const benchBatch = 4096

// benchConfigs are DefaultTextConfig on 100-d embeddings (GloVe-SIF) and
// the variants it was chosen among.
var benchConfigs = []TextConfig{
	{Dim: 100, Hidden: 0, Members: 3, InitScale: 1},
	DefaultTextConfig(100, false),
	{Dim: 100, Hidden: 64, Members: 3, InitScale: 1},
}

// flopsPerPair counts the multiply-adds of the first layer (all the rest is
// under 1%) as 2 FLOPs each.
func flopsPerPair(c TextConfig) float64 {
	return 2 * float64(c.Features()*max(c.Hidden, 1)*c.Members)
}

func benchName(c TextConfig) string {
	return fmt.Sprintf("F%d_H%d_K%d", c.Features(), c.Hidden, c.Members)
}

func reportThroughput(b *testing.B, c TextConfig) {
	pairs := float64(b.N*benchBatch) / b.Elapsed().Seconds()
	b.ReportMetric(pairs, "pairs/s")
	b.ReportMetric(pairs*flopsPerPair(c)/1e9, "GFLOP/s")
	b.ReportMetric(flopsPerPair(c), "FLOP/pair")
}

func BenchmarkTextScoreGo(b *testing.B) {
	b.Logf("BLAS: %s", nn.BLAS)
	for _, cfg := range benchConfigs {
		b.Run(benchName(cfg), func(b *testing.B) {
			rng := nn.NewRNG(1, 0)
			e := NewText(cfg, rng)
			x := randomFeatures(benchBatch, cfg.Features(), rng)
			b.ResetTimer()
			for b.Loop() {
				e.Score(x, benchBatch)
			}
			reportThroughput(b, cfg)
		})
	}
}

func BenchmarkTextScoreORT(b *testing.B) {
	if _, err := ort.Load(""); err != nil {
		b.Skip(err)
	}
	for _, cfg := range benchConfigs {
		b.Run(benchName(cfg), func(b *testing.B) {
			rng := nn.NewRNG(1, 0)
			e := NewText(cfg, rng)
			model, err := e.ExportONNX()
			if err != nil {
				b.Fatal(err)
			}
			s, err := NewTextScorerORT(model, TextScorerOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			x := randomFeatures(benchBatch, cfg.Features(), rng)
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Score(x, benchBatch); err != nil {
					b.Fatal(err)
				}
			}
			reportThroughput(b, cfg)
		})
	}
}
