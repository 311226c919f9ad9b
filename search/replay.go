package search

import (
	"fmt"
	"math"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
)

// Replay is a ring buffer of old fakes: token sequences (int32) in a token
// run, the generations' feature rows (float32) in a text run. Training D on
// them as well as on fresh fakes keeps it from forgetting modes the
// generator has left, one guard against oscillation and mode hopping.
type Replay[E int32 | float32] struct {
	Cap, Width int
	Data       []E // (Count, Width); slots beyond Count are unused
	Head       int // next slot to overwrite once full
	Count      int
}

// NewReplay returns an empty buffer for capacity items of width values.
func NewReplay[E int32 | float32](capacity, width int) *Replay[E] {
	return &Replay[E]{Cap: capacity, Width: width, Data: make([]E, 0, capacity*width)}
}

// Add appends the (n, Width) items in data, overwriting the oldest when full.
func (r *Replay[E]) Add(data []E) {
	if r.Cap == 0 {
		return
	}
	for i := 0; i+r.Width <= len(data); i += r.Width {
		item := data[i : i+r.Width]
		if r.Count < r.Cap {
			r.Data = append(r.Data, item...)
			r.Count++
			continue
		}
		copy(r.Data[r.Head*r.Width:(r.Head+1)*r.Width], item)
		r.Head = (r.Head + 1) % r.Cap
	}
}

// Sample returns n items drawn uniformly with replacement, or nil if the buffer is empty.
func (r *Replay[E]) Sample(n int, rng *nn.RNG) []E {
	if r.Count == 0 || n == 0 {
		return nil
	}
	out := make([]E, 0, n*r.Width)
	for range n {
		k := rng.IntN(r.Count)
		out = append(out, r.Data[k*r.Width:(k+1)*r.Width]...)
	}
	return out
}

// checkShape checks a buffer restored from a checkpoint.
func (r *Replay[E]) checkShape() error {
	if r.Count < 0 || r.Count > r.Cap || len(r.Data) != r.Count*r.Width || r.Head < 0 || (r.Head != 0 && r.Head >= r.Count) {
		return fmt.Errorf("replay buffer: %d values, count %d, head %d, capacity %d, width %d do not fit together", len(r.Data), r.Count, r.Head, r.Cap, r.Width)
	}
	return nil
}

// validateTokens checks a restored token buffer: its shape and every id.
func validateTokens(r *Replay[int32], vocab int) error {
	if err := r.checkShape(); err != nil {
		return err
	}
	for i, id := range r.Data {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("replay buffer: token %d is %d, outside the vocabulary [0, %d)", i, id, vocab)
		}
	}
	return nil
}

// validateFeatures checks a restored feature buffer: its shape and that
// every value is finite.
func validateFeatures(r *Replay[float32]) error {
	if err := r.checkShape(); err != nil {
		return err
	}
	for i, v := range r.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("replay buffer: value %d is %v", i, v)
		}
	}
	return nil
}

// restoreReplay loads a replay buffer from a checkpoint: its rows from the
// replay file's tensor name (of dtype, read by data; absent while the
// buffer was empty), its head and count from st, then check validates it.
func restoreReplay[E int32 | float32](r *Replay[E], ck *checkpoints.Checkpoint, st trainerState, name, dtype string, data func(checkpoints.Tensor) []E, check func(*Replay[E]) error) error {
	if rs, ok := ck.Tensors[fileReplay]; ok {
		t, ok := rs[name]
		if !ok || data(t) == nil {
			return fmt.Errorf("%s: want an %s tensor %q", fileReplay, dtype, name)
		}
		r.Data = append(r.Data[:0], data(t)...)
	}
	r.Head, r.Count = st.ReplayHead, st.ReplayCount
	if err := check(r); err != nil {
		return fmt.Errorf("%s: %w", fileReplay, err)
	}
	return nil
}
