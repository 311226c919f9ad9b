// Command export writes the models of the decode-throughput benchmark that
// are not committed, in the Optimum layout target/onnx and peer.js read:
//
//	OUT/bench-gpt2   export.BenchGPT2Config (4 layers, width 256, 8 heads,
//	                 vocabulary 1024) with seeded weights and KV cache
//	OUT/lstm-oracle  the SeqGAN oracle LSTM (vocabulary 5000, hidden 32),
//	                 stateful export (past_state.h/.c)
//
// Usage, from the repository root:
//
//	go run ./benchmarks/decode-throughput/export OUT
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"promptgan/generator"
	"promptgan/generator/onnxexport"
	"promptgan/internal/ort/export"
)

// oraclePath is the SeqGAN oracle, relative to the repository root.
const oraclePath = "benchmarks/seqgan-oracle/data/oracle.safetensors"

// gpt2Seed seeds the bench GPT-2's weights (as target/onnx's BenchmarkDecode does).
const gpt2Seed = 1

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./benchmarks/decode-throughput/export OUT_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "export: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	gpt2, err := export.NewGPT2(export.BenchGPT2Config(), gpt2Seed)
	if err != nil {
		return fmt.Errorf("bench GPT-2: %w", err)
	}
	if err := export.WriteGPT2(filepath.Join(out, "bench-gpt2"), gpt2, export.GPT2Options{}); err != nil {
		return err
	}
	oracle, err := generator.LoadOracle(oraclePath)
	if err != nil {
		return fmt.Errorf("%s: %w (run from the repository root)", oraclePath, err)
	}
	lm, err := onnxexport.LSTM(oracle)
	if err != nil {
		return fmt.Errorf("%s: %w", oraclePath, err)
	}
	return lm.Write(filepath.Join(out, "lstm-oracle"), export.Options{Stateful: true})
}
