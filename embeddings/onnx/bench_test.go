package onnx

import (
	"context"
	"errors"
	"strings"
	"testing"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
)

// BenchmarkEncodeTiny measures sentences/s through the tiny encoder on one
// ONNX Runtime thread: 256 texts of 3 to 30 words a call, in chunks of
// DefaultChunkSize. The tiny network costs little, so this is mostly the
// encoder's own overhead (tokenizing, padding, pooling, ONNX Runtime calls).
func BenchmarkEncodeTiny(b *testing.B) {
	// orttest.LoadOrSkip takes a *testing.T; this is its check for b.
	if _, err := ort.Load(""); errors.Is(err, ort.ErrNotFound) {
		b.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	} else if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := BuildTiny(dir, 1); err != nil {
		b.Fatal(err)
	}
	e := openTiny(b, dir, Options{Threads: 1})
	rng := nn.NewRNG(1, 0)
	texts := make([]string, 256)
	for i := range texts {
		words := make([]string, 3+rng.IntN(28))
		for j := range words {
			words[j] = tinyWords[rng.IntN(len(tinyWords))]
		}
		texts[i] = strings.Join(words, " ")
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Encode(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "sentences/s")
}
