package target

import (
	"context"
	"fmt"
)

// Request asks the target to continue a prompt (optionally after a task input).
type Request struct {
	Prompt []int32 // prompt token ids
	Input  []int32 // task input token ids; may be empty
	Seed   uint64  // sampling seed of this call, for reproducible decoding
}

// Generation is the target's answer to one Request.
type Generation struct {
	Tokens []int32
}

// Model is a target model.
type Model interface {
	// Generate answers each request, in order.
	Generate(ctx context.Context, reqs []Request) ([]Generation, error)
	// Fingerprint identifies the model and its decoding settings (the call ledger's key).
	Fingerprint() string
}

// Open returns the named backend.
func Open(name string) (Model, error) {
	switch name {
	case "identity":
		return Identity{}, nil
	default:
		return nil, fmt.Errorf("unknown target %q (available: identity)", name)
	}
}

// Identity is the target whose generation is the prompt: with it, the
// generator's samples are judged directly, as in a plain sequence GAN.
type Identity struct{}

// Generate returns a copy of each prompt.
func (Identity) Generate(ctx context.Context, reqs []Request) ([]Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Generation, len(reqs))
	for i, r := range reqs {
		out[i] = Generation{Tokens: append([]int32(nil), r.Prompt...)}
	}
	return out, nil
}

// Fingerprint names the backend.
func (Identity) Fingerprint() string { return "identity" }
