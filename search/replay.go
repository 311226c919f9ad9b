package search

import (
	"fmt"

	"promptgan/internal/nn"
)

// Replay is a ring buffer of old generated sequences. Training D on them as
// well as on fresh fakes keeps it from forgetting modes the generator has
// left, one guard against oscillation and mode hopping.
type Replay struct {
	Cap, T int
	Tokens []int32 // (Count, T); slots beyond Count are unused
	Head   int     // next slot to overwrite once full
	Count  int
}

// NewReplay returns an empty buffer for capacity sequences of length T.
func NewReplay(capacity, T int) *Replay {
	return &Replay{Cap: capacity, T: T, Tokens: make([]int32, 0, capacity*T)}
}

// Add appends the (n, T) sequences in tokens, overwriting the oldest when full.
func (r *Replay) Add(tokens []int32) {
	if r.Cap == 0 {
		return
	}
	for i := 0; i+r.T <= len(tokens); i += r.T {
		seq := tokens[i : i+r.T]
		if r.Count < r.Cap {
			r.Tokens = append(r.Tokens, seq...)
			r.Count++
			continue
		}
		copy(r.Tokens[r.Head*r.T:(r.Head+1)*r.T], seq)
		r.Head = (r.Head + 1) % r.Cap
	}
}

// Sample returns n sequences drawn uniformly with replacement, or nil if the buffer is empty.
func (r *Replay) Sample(n int, rng *nn.RNG) []int32 {
	if r.Count == 0 || n == 0 {
		return nil
	}
	out := make([]int32, 0, n*r.T)
	for range n {
		k := rng.IntN(r.Count)
		out = append(out, r.Tokens[k*r.T:(k+1)*r.T]...)
	}
	return out
}

// validate checks a buffer restored from a checkpoint.
func (r *Replay) validate(vocab int) error {
	if r.Count < 0 || r.Count > r.Cap || len(r.Tokens) != r.Count*r.T || r.Head < 0 || (r.Head != 0 && r.Head >= r.Count) {
		return fmt.Errorf("replay buffer: %d tokens, count %d, head %d, capacity %d, length %d do not fit together", len(r.Tokens), r.Count, r.Head, r.Cap, r.T)
	}
	for i, id := range r.Tokens {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("replay buffer: token %d is %d, outside the vocabulary [0, %d)", i, id, vocab)
		}
	}
	return nil
}
