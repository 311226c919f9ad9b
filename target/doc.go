// Package target puts the model whose outputs promptgan steers behind one
// small interface. This version has the identity backend (the generation is
// the prompt itself), which turns the engine into a plain sequence GAN; the
// ONNX Runtime and OpenAI-compatible backends are not built yet.
package target
