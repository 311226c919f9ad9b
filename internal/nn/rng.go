package nn

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
)

// RNG is a seeded PCG stream whose exact state can be saved and restored, so
// that a resumed run draws the same numbers an uninterrupted one would.
type RNG struct {
	*rand.Rand
	src *rand.PCG
}

// NewRNG returns the stream identified by (seed, stream). Different stream
// numbers give independent sequences for the same seed.
func NewRNG(seed, stream uint64) *RNG {
	src := rand.NewPCG(seed, stream^0x9e3779b97f4a7c15)
	return &RNG{Rand: rand.New(src), src: src}
}

// State returns the stream's state as a hex string.
func (r *RNG) State() string {
	b, err := r.src.MarshalBinary()
	if err != nil {
		panic(err) // PCG's MarshalBinary cannot fail
	}
	return hex.EncodeToString(b)
}

// Restore sets the stream's state from a string made by State.
func (r *RNG) Restore(state string) error {
	b, err := hex.DecodeString(state)
	if err != nil {
		return fmt.Errorf("rng state %q: not hex: %w", state, err)
	}
	if err := r.src.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("rng state %q: %w", state, err)
	}
	return nil
}
