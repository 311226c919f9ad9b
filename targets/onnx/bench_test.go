package onnx_test

import (
	"fmt"
	"testing"

	"promptgan/internal/ort/export"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

// BenchmarkDecode measures greedy decode throughput (new tokens per second,
// 4-token prompts, 32 new tokens, ONNX Runtime's default threads on CPU) at
// batch 1 and 32 for the SeqGAN oracle LSTM (stateful export), the tiny
// GPT-2 fixture and the benchmark-size GPT-2 (export.BenchGPT2Config), both
// with KV cache:
//
//	go test ./target/onnx -run '^$' -bench Decode -benchtime 20x
func BenchmarkDecode(b *testing.B) {
	loadOrSkip(b)
	bench, err := export.NewGPT2(export.BenchGPT2Config(), 1)
	if err != nil {
		b.Fatal(err)
	}
	benchDir := b.TempDir()
	if err := export.WriteGPT2(benchDir, bench, export.GPT2Options{}); err != nil {
		b.Fatal(err)
	}
	models := []struct {
		name  string
		dir   string
		vocab int
	}{
		{"lstm-oracle", exportLSTM(b, loadOracle(b), true), 5000},
		{"tiny-gpt2", gpt2Dir, 511},
		{"bench-gpt2", benchDir, 1023},
	}
	for _, mc := range models {
		for _, B := range []int{1, 32} {
			b.Run(fmt.Sprintf("model=%s/batch=%d", mc.name, B), func(b *testing.B) {
				// No stop tokens: every request decodes all 32 tokens.
				m := open(b, mc.dir, onnx.Options{BatchSize: B, Decode: onnx.Decode{MaxNewTokens: 32}})
				reqs := make([]backend.Request, B)
				for i := range reqs {
					reqs[i].Prompt = []int32{int32(i % mc.vocab), 7, 8, 9}
				}
				tokens := 0
				for b.Loop() {
					gens, err := m.Generate(b.Context(), reqs)
					if err != nil {
						b.Fatal(err)
					}
					for _, g := range gens {
						tokens += len(g.Tokens)
					}
				}
				b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
