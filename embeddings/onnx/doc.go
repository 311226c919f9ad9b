// Package onnx is promptgan's neural sentence encoder: a user's transformer
// encoder (BERT, MiniLM, MPNet, …) exported by Hugging Face Optimum and run
// with ONNX Runtime (internal/ort), on the CPU or CUDA. It turns texts into
// fixed-length vectors for the discriminator and the metrics.
//
// # Layout
//
// Open(dir, opts) reads the directory that
// `optimum-cli export onnx --model <model> --task feature-extraction <dir>`
// writes:
//
//	model.onnx      required: inputs input_ids and attention_mask (int64,
//	                [batch, sequence]) and, when declared, token_type_ids
//	                (fed zeros); output last_hidden_state (float32, [batch,
//	                sequence, hidden]). Other outputs (pooler_output) are ignored.
//	tokenizer.json  required: read by internal/tokenize (github.com/sugarme/tokenizer)
//	config.json     optional: max_position_embeddings (the default maximum
//	                length) and hidden_size (checked against the model)
//
// tokenizer_config.json and special_tokens_map.json may be present; they are
// not read (tokenizer.json holds everything the encoding needs).
//
// # Vectors
//
// A text is tokenized with the post-processor's special tokens ([CLS] …
// [SEP]) and cut to the maximum length at its end (the special tokens kept).
// Its vector is the mean of last_hidden_state over the positions where
// attention_mask is 1, divided by its L2 norm: the sentence-transformers
// convention (Pooling with pooling_mode_mean_tokens, then Normalize), which
// is how most sentence encoders on the Hugging Face hub are meant to be
// used. A text without a single token (an empty text, for a tokenizer
// without special tokens) gets the zero vector, as sentence-transformers
// gives it.
//
// Encode sorts the texts by token count and runs them in chunks of
// Options.ChunkSize, each padded to its longest text with the tokenizer's pad
// id (0 when it has none), so padding costs little; padding never changes a
// vector (the tests check it).
//
// BuildTiny writes a tiny encoder in this layout, which promptgan builds
// itself (no pretrained encoder is reachable offline): the tests and demos
// use it, and testdata/tiny-encoder holds the copy BuildTiny(dir, 1) writes.
package onnx
