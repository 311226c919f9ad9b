// Package openai is the target backend for a model behind an
// OpenAI-compatible HTTP server (vLLM, llama.cpp's server, Ollama, TGI,
// promptgan serve, a hosted API), reached through the official Go SDK
// github.com/openai/openai-go/v3.
//
// # Tokens
//
// The server's tokenizer is unknown, so the backend speaks bytes: a prompt's
// token ids are UTF-8 bytes (0..255) and a generation's text comes back as
// its bytes, followed by EndID (256) when the server says it stopped by
// itself (finish_reason "stop"). Vocab is 257. The byte tokenizer
// (Encode/Decode) makes the model a targets.TextTarget, so text runs and the
// call ledger (which keys on token ids) work unchanged; token runs send the
// prompt's bytes too. EndID inside a prompt is dropped, and a byte sequence
// that is not valid UTF-8 reaches the server with U+FFFD in its place (JSON
// carries text): the ledger still keys on the exact ids.
//
// # Endpoints
//
// EndpointCompletions (/v1/completions, the default) sends the context as
// the prompt and gets its continuation: the same contract as the ONNX
// targets, with no chat template hidden between the prompt and the model.
// EndpointChat (/v1/chat/completions) sends it as one user message, for
// instruction-tuned or hosted models that only serve chat.
//
// # Calls
//
// Generate sends the requests of a batch concurrently, at most
// Options.Concurrency at once, each with a per-call timeout. The SDK's own
// retry is off (WithMaxRetries(0)): it does not retry a body cut off
// mid-way, malformed JSON or a call that timed out, and it gives up on a
// Retry-After above its cap instead of waiting; this package retries 408,
// 409, 429, 5xx, connection errors, timeouts, truncated bodies and
// malformed JSON, with exponential backoff and full jitter, honouring
// Retry-After (seconds or an HTTP-date, capped at Options.MaxRetryAfter).
// Any other 4xx fails at once with one line: the status and the server's
// message. A 200 answer that is not JSON, or JSON without choices, means
// the server is not OpenAI-compatible and fails at once.
//
// # Seeds
//
// Every call sends its request's seed. By default (Options.SeedBits 31) it
// is the 64-bit seed mod 2^31, which every server takes; SeedBits 64 sends
// the seed's 64 bits as an int64, which promptgan serve maps back to the
// same uint64, so that a run through promptgan serve draws exactly the
// generations the same run draws in-process on the same model.
//
// # Fingerprint
//
//	promptgan/target/openai/v1;base_url=…;model=…;endpoint=…;max_tokens=…;
//	temperature=…;top_p=…;stop=[…];seed=request
//
// (one line; seed=request64 when Options.SeedBits is 64). It cannot see the weights: a server that swaps the model
// behind the same name and URL keeps the fingerprint, and the ledger then
// answers from the old model's generations. The API key is never part of
// it, nor of any error, log line or file.
package openai
