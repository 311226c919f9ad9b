// Package compat holds only tests: promptgan serve driven by the official
// OpenAI Go SDK (github.com/openai/openai-go/v3) over loopback, each answer
// checked against the model decoded in-process. They live apart from
// package serve so that fuzzing serve's decoders does not build the SDK
// with coverage instrumentation.
package compat
