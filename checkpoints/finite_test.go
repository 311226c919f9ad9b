package checkpoints

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFirstNonFinite(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		name string
		xs   []float32
		want int
	}{
		{"empty", nil, -1},
		{"finite extremes", []float32{math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 0, float32(math.Copysign(0, -1))}, -1},
		{"NaN first", []float32{nan, 1, 2, 3, 4}, 0},
		{"+Inf in the unrolled body", []float32{1, 2, 3, 4, 5, inf, 7, 8}, 5},
		{"-Inf in the tail", []float32{1, 2, 3, 4, 5, 6, 7, 8, -inf}, 8},
		{"NaN and Inf cancel nothing", []float32{inf, -inf, nan}, 0},
		{"NaN after a huge value", []float32{math.MaxFloat32, math.MaxFloat32, math.MaxFloat32, math.MaxFloat32, 1, nan}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FirstNonFinite(tc.xs); got != tc.want {
				t.Errorf("FirstNonFinite(%v) = %d, want %d", tc.xs, got, tc.want)
			}
		})
	}
}

// TestNonFiniteRefused: a diverged state is neither saved nor loaded, and
// the error names the file, the tensor and the first bad element.
func TestNonFiniteRefused(t *testing.T) {
	const gen, disc = "generator.safetensors", "discriminator.safetensors"
	tests := []struct {
		name   string
		file   string
		tensor Tensor
		want   string
	}{
		{"NaN weight", gen, F32Tensor([]int{3, 2}, []float32{1, 2, float32(math.NaN()), 4, float32(math.NaN()), 6}),
			gen + `: tensor "emb" holds NaN at element 2 (2 of its 6 values are not finite)`},
		{"Inf optimiser moment", disc, F32Tensor([]int{2, 2}, []float32{0.5, float32(math.Inf(1)), 0, 0}),
			disc + `: tensor "w" holds +Inf at element 1 (1 of its 4 values are not finite)`},
		{"-Inf scalar", gen, F32Tensor([]int{}, []float32{float32(math.Inf(-1))}),
			gen + `: tensor "scalar" holds -Inf at element 0 (1 of its 1 values are not finite)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := map[string]string{gen: "emb", disc: "w"}[tc.file]
			if tc.tensor.Len() == 1 {
				name = "scalar"
			}
			// Save refuses it and leaves the previous checkpoint as latest.
			root := t.TempDir()
			good := mustSave(t, root, "step-1", sampleCheckpoint(1))
			bad := sampleCheckpoint(2)
			bad.Tensors[tc.file][name] = tc.tensor
			_, err := Save(root, "step-2", bad)
			if err == nil || !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Save error = %v, want ErrNonFinite and %q", err, tc.want)
			}
			if dir, err := Latest(root); err != nil || dir != good {
				t.Fatalf("after the refused save latest = %q, %v; want %q", dir, err, good)
			}
			assertNoLeftovers(t, root)

			// Load refuses the same tensor written behind Save's back (the
			// file's hash updated, so only the value check can find it).
			b, err := EncodeSafetensors(bad.Tensors[tc.file], nil)
			if err != nil {
				t.Fatal(err)
			}
			rewrite(t, good, tc.file, b, true)
			ck, err := Load(good)
			if ck != nil || !errors.Is(err, ErrNonFinite) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, %v; want ErrNonFinite, ErrCorrupt and %q", ck != nil, err, tc.want)
			}
			// NewestGood skips it, so resume --fallback can name an older one.
			if _, skipped, err := NewestGood(root); !errors.Is(err, ErrNoCheckpoint) || len(skipped) != 1 || !errors.Is(skipped[0].Err, ErrNonFinite) {
				t.Fatalf("NewestGood: skipped %v, err %v", skipped, err)
			}
		})
	}
}
