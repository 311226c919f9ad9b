// Package backend holds what every target backend shares: the Model
// interface, its Request and Generation, and the file hasher fingerprints
// are built from. It is a leaf so that the backends (targets/onnx,
// targets/ledger, targets/openai) and the switch above them
// (package targets) can all import it.
package backend

import "context"

// Request asks the target to continue a prompt (optionally after a task input).
type Request struct {
	Prompt []int32 // prompt token ids
	Input  []int32 // task input token ids; may be empty
	Seed   uint64  // sampling seed of this call, for reproducible decoding
}

// Generation is the target's answer to one Request.
type Generation struct {
	Tokens []int32
	Usage  Usage // what a remote server billed for the call; zero for local targets
}

// Usage is the token usage a server reported for one call (in its own
// tokens). FromLedger marks a call answered from the call ledger: the usage
// is the one recorded when it was paid, and it was not paid again.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	FromLedger       bool
}

// Model is a target model.
type Model interface {
	// Generate answers each request, in order.
	Generate(ctx context.Context, reqs []Request) ([]Generation, error)
	// Fingerprint identifies the model and its decoding settings (the call ledger's key).
	Fingerprint() string
}

type onAnswerKey struct{}

// WithOnAnswer returns a context that asks the backend that gets it to call
// f with each request's generation as soon as it has it (i indexes the
// batch), before the whole batch is answered: the call ledger records each
// paid call at once, so a crash mid-batch loses no call already answered.
// Backends that answer a batch at once need not call it.
func WithOnAnswer(ctx context.Context, f func(i int, g Generation)) context.Context {
	return context.WithValue(ctx, onAnswerKey{}, f)
}

// OnAnswer returns the function WithOnAnswer put in ctx, or nil.
func OnAnswer(ctx context.Context) func(i int, g Generation) {
	f, _ := ctx.Value(onAnswerKey{}).(func(i int, g Generation))
	return f
}
