// Package target puts the model whose outputs promptgan steers behind one
// small interface, Model. This package holds the interface and the identity
// backend (the generation is the prompt itself), which turns the engine into
// a plain sequence GAN. The ONNX Runtime causal-LM backend for Optimum-layout
// directories is package target/onnx; the call ledger that records every
// call and answers repeats is package target/ledger. An OpenAI-compatible
// HTTP backend is not built yet.
package target
