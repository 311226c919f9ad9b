// Package targets puts the model whose outputs promptgan steers behind one
// small interface, Model, and opens every kind of target through one switch,
// Open: the identity target (the generation is the prompt itself, which
// turns the engine into a plain sequence GAN), an ONNX Runtime causal LM
// in the Hugging Face Optimum layout (package targets/onnx), or a model
// behind an OpenAI-compatible server, openai:MODEL (package targets/openai,
// byte tokens). The interface itself lives in targets/backend so that the
// backends can import it; the call ledger that records every call and
// answers repeats is package targets/ledger.
package targets
