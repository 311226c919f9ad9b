package targets

import (
	"context"
	"fmt"
	"slices"
)

// Tokenizer turns text into a target's token ids and back: a text run
// writes prompts as text, fills them into the task's template, and sends
// the target the template's tokens.
type Tokenizer interface {
	Encode(text string) ([]int32, error)
	Decode(ids []int32) (string, error)
}

// TextTarget is a model that reads and writes text: the model, its
// tokenizer, and the tokens that end a generation (stripped before
// decoding, so a generation's text is only what the model wrote).
type TextTarget struct {
	Model     Model
	Tokenizer Tokenizer
	Stop      []int32
}

// ContinueText encodes each context with the tokenizer, asks the model for
// one generation of each (context i with seeds[i]; through whatever wraps
// the model, e.g. the call ledger, which keys on the tokens) and returns
// the generations' text. A context that encodes to no tokens is an error.
func ContinueText(ctx context.Context, t TextTarget, contexts []string, seeds []uint64) ([]string, error) {
	if len(contexts) != len(seeds) {
		return nil, fmt.Errorf("continue text: %d contexts and %d seeds", len(contexts), len(seeds))
	}
	reqs := make([]Request, len(contexts))
	for i, c := range contexts {
		ids, err := t.Tokenizer.Encode(c)
		if err != nil {
			return nil, fmt.Errorf("context %d: %w", i, err)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("context %d (%q) encodes to no tokens: give the template or the prompts some text", i, c)
		}
		reqs[i] = Request{Prompt: ids, Seed: seeds[i]}
	}
	out, err := t.Model.Generate(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Model.Fingerprint(), err)
	}
	if len(out) != len(reqs) {
		return nil, fmt.Errorf("target %s answered %d of %d requests", t.Model.Fingerprint(), len(out), len(reqs))
	}
	texts := make([]string, len(out))
	for i, g := range out {
		ids := g.Tokens
		for len(ids) > 0 && slices.Contains(t.Stop, ids[len(ids)-1]) {
			ids = ids[:len(ids)-1]
		}
		if texts[i], err = t.Tokenizer.Decode(ids); err != nil {
			return nil, fmt.Errorf("target %s: generation %d: %w", t.Model.Fingerprint(), i, err)
		}
	}
	return texts, nil
}

// Generate and Fingerprint make a TextTarget a Model (its model's), so that
// a text run is handed one value that is both.
func (t *TextTarget) Generate(ctx context.Context, reqs []Request) ([]Generation, error) {
	return t.Model.Generate(ctx, reqs)
}

// Fingerprint is the model's.
func (t *TextTarget) Fingerprint() string { return t.Model.Fingerprint() }
