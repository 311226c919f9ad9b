// Package onnx is promptgan's in-process target backend: a causal language
// model exported in the directory layout of Hugging Face Optimum, run with
// ONNX Runtime (internal/ort) on the CPU or CUDA.
//
// # Layout
//
// Open(dir, opts) reads
//
//	model.onnx              required: the causal LM (see Signatures)
//	config.json             required: vocab_size, bos_token_id, eos_token_id (an id or a list),
//	                        model_type, add_bos_token, n_positions / max_position_embeddings,
//	                        and for a KV cache with dynamic shapes num_key_value_heads /
//	                        num_attention_heads / n_head, head_dim / hidden_size / n_embd
//	generation_config.json  optional: more eos_token_id (the other generation defaults are
//	                        not used: Decode says how to decode)
//	tokenizer_config.json   optional: add_bos_token, when config.json does not set it
//	tokenizer.json          optional: text ↔ ids through github.com/sugarme/tokenizer (pure Go);
//	                        without it the model takes token ids only and Encode fails
//
// `optimum-cli export onnx --model gpt2 --task text-generation-with-past out/`
// writes such a directory; so does internal/ort/export for promptgan's own
// models. Open reports a missing file, a malformed field, a tokenizer it
// cannot load, a vocabulary that disagrees with the logits, or a signature it
// does not know, naming the file and the field or the inputs expected and found.
//
// # Signatures
//
// Inputs input_ids int64 (batch, seq), and optionally attention_mask and
// position_ids (same shape); output logits float32 (batch, seq, vocab). Open
// recognises three kinds (Kind):
//
//   - Plain: nothing else. Every step feeds the whole sequence again
//     (right-padded; each row's next-token logits are read at its own last
//     position, which a causal model computes from that row's tokens only).
//   - KVCache: past_key_values.{i}.key/.value float32 (batch, heads, past, head_dim)
//     for every layer i, outputs present.{i}.key/.value (Optimum's
//     text-generation-with-past). The first call feeds the contexts with
//     past length 0; then one new token per row per call, present fed back as
//     past, attention_mask growing by one. Contexts of unequal length are
//     left-padded (attention_mask 0, position_ids = number of real tokens
//     before each position, as Hugging Face computes them from the mask);
//     a model without position_ids or attention_mask decodes each context
//     length as its own batch instead, since padding would shift positions.
//   - LSTMState: past_state.h/.c float32 (batch, hidden), outputs
//     present_state.h/.c (promptgan's exported LSTM). Contexts are fed in
//     groups of equal length from the zero state, then all rows go on
//     together, one token per call.
//
// Finished rows leave the batch (their cache rows are dropped).
//
// # Decoding
//
// The sequence fed for a backend.Request is [BOS] ⊕ Input ⊕ Prompt by default
// (Decode.Order = InputPrompt: the prompt continues the task input, as an
// adversarial suffix does); Decode.Order = PromptInput feeds
// [BOS] ⊕ Prompt ⊕ Input (DESIGN.md's T(p ⊕ x), a prompt as an instruction
// prefix). BOS (bos_token_id) is prepended when add_bos_token is true
// (promptgan's LSTM export sets it), and to a request with neither input
// nor prompt; otherwise a request must hold at least one token.
//
// Temperature 0 is greedy (arg-max, ties to the smaller id). Temperature > 0
// samples from softmax(logits / temperature), restricted first to the TopK
// most likely tokens (0 = all) and then to the smallest set of probability
// ≥ TopP (0 or 1 = off), by inverting the CDF at one uniform number per new
// token drawn from the request's own PCG stream seeded with Request.Seed: a
// request's generation depends only on the model, the settings and the
// request, never on the batch it was decoded in. TopK 1 is greedy.
//
// A generation ends after Decode.MaxNewTokens tokens or at a stop token
// (Decode.StopTokens plus eos_token_id from config.json and
// generation_config.json). The stop token is dropped from the generation
// unless Decode.IncludeStop is set. Generation.Tokens holds only the new
// tokens (never the context).
//
// # Fingerprint
//
// Fingerprint returns one canonical string,
//
//	promptgan/target/onnx/v1;model.onnx=sha256:…;config.json=sha256:…;
//	generation_config.json=sha256:…|none;tokenizer_config.json=sha256:…|none;
//	tokenizer.json=sha256:…|none|ignored;bos=…;add_bos=…;order=…;max_new_tokens=…;
//	temperature=…;top_k=…;top_p=…;stop=[…];include_stop=…
//
// (without line breaks): the SHA-256 of every file read (model.onnx is
// hashed once, streamed, at Open) and every decode setting after defaults
// are filled in (stop holds the resolved stop set, sorted). The call ledger
// (target/ledger) keys calls by it. Device, threads and batch size are left
// out: they do not change a request's generation.
package onnx
