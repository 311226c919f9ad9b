// Package serve is promptgan's HTTP server: a model promptgan can load (an
// Optimum-layout ONNX directory, through targets/onnx) behind
// OpenAI-compatible completions endpoints, and a text run's checkpoint
// behind a scoring API.
//
// # Routes
//
//	POST /v1/completions        OpenAI's completions: prompt (a string, strings, token ids or lists of ids),
//	                            max_tokens, temperature, top_p, stop, seed; n = 1
//	POST /v1/chat/completions   OpenAI's chat completions, through RenderChat's template
//	GET  /v1/models             the served model
//	GET  /v1/models/{id}        its entry (the SDKs' models.retrieve); 404 model_not_found for another id
//	POST /v1/score/prompts      {"prompts": [...], "samples": 16, "seed": 1, "generations": false}
//	                            → {"scores": [search.PromptScore, ...]} in request order
//	POST /v1/score/pairs        {"pairs": [{"input": "...", "generation": "..."}]}
//	                            → {"scores": [search.PairScore, ...]} in request order (no target call)
//	POST /v1/search             {"n": 256, "temperature": 1, "screen": 1, "top": 10, "verify": 16, "seed": 1}
//	                            → search.SearchResult
//	GET  /healthz               {"status": "ok"}, never behind the token
//	GET  /metrics               Prometheus text format
//
// Errors are OpenAI's shape, {"error": {"message", "type", "param", "code"}}
// (APIError). A known path asked with another method is 405 with Allow; an
// unknown path is 404 listing the routes. A response's created is the time
// it was answered (Config.Now); /v1/models' is the server's start. Fields of the completions requests this server does not
// implement (stream, logprobs, echo, best_of > 1, n > 1, penalties,
// logit_bias, tools) are refused with 400 and code unsupported_parameter
// when set to anything but their default; fields it does not know are
// ignored, as OpenAI-compatible servers do. The scoring API's requests are
// strict: an unknown field is an error.
//
// # Decoding
//
// Concurrent requests with the same decoding settings are batched: the
// first waits up to Config.BatchWindow for others, up to Config.MaxBatch,
// and one Generate call decodes them all. A request's text depends only on
// the model, its settings and its seed, never on its batch-mates
// (targets/onnx draws each request's numbers from its own seeded stream).
// A request without a seed gets one from the server's stream (Config.Seed).
// temperature 0 is greedy. max_tokens is decoded as a power-of-two bucket
// and cut back (see decoder.go); stop sequences are applied to the text.
// usage.prompt_tokens counts the context fed (BOS included),
// completion_tokens the tokens generated up to the end of the text returned.
//
// # Limits and security
//
// Listen binds loopback only unless the server has a token; with a token
// every route but /healthz needs "Authorization: Bearer TOKEN" (the scheme
// in any case, the token compared in constant time), else 401; so do the
// 404 and 405 answers, which list routes. Bodies over Config.MaxBodyBytes are 413;
// headers must arrive within ReadHeaderTimeout and the whole request within
// ReadTimeout (slow clients are cut off without holding a request slot);
// each request has RequestTimeout (504 after it); more than MaxConcurrent
// requests at once are answered 503 with Retry-After: 1. Serve shuts down
// gracefully when its context ends: no new connections, in-flight requests
// finish.
package serve
