// Package targets puts the model whose outputs promptgan steers behind one
// small interface, Model, and opens every kind of target through one switch,
// Open: the identity target (the generation is the prompt itself, which
// turns the engine into a plain sequence GAN) or an ONNX Runtime causal LM
// in the Hugging Face Optimum layout (package targets/onnx). The interface
// itself lives in targets/backend so that the backends can import it; the
// call ledger that records every call and answers repeats is package
// targets/ledger. An OpenAI-compatible HTTP backend is not built yet.
package targets
