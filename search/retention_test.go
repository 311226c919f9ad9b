package search

import (
	"path/filepath"
	"slices"
	"testing"

	"promptgan/checkpoints"
	"promptgan/targets"
)

// TestKeepCheckpointsMovesBestFirst: when the newest checkpoint is also the
// new best, best moves to it before pruning, so the checkpoint best left is
// pruned like any other (issue 26: keep_checkpoints 3 kept four after a
// resume, the previous best spared by a pointer about to move).
func TestKeepCheckpointsMovesBestFirst(t *testing.T) {
	tr, err := New(tinyConfig(t), targets.Identity{})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := tr.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		keep     int
		best     bool
		want     []string
		wantBest string
	}{
		{"new best", 2, true, []string{"step-0000200", "step-0000300"}, "step-0000300"},
		{"best stays", 2, false, []string{"step-0000100", "step-0000200", "step-0000300"}, "step-0000100"},
		{"keep all", 0, true, []string{"step-0000100", "step-0000200", "step-0000300"}, "step-0000300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, name := range []string{"step-0000100", "step-0000200", "step-0000300"} {
				if _, err := checkpoints.Save(root, name, ck); err != nil {
					t.Fatal(err)
				}
				if name == "step-0000100" {
					if err := checkpoints.SetBest(root, name); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := keepCheckpoints(root, "step-0000300", tc.best, tc.keep); err != nil {
				t.Fatal(err)
			}
			got, err := checkpoints.List(root)
			if err != nil {
				t.Fatal(err)
			}
			best, err := checkpoints.Best(root)
			if err != nil {
				t.Fatal(err)
			}
			if best = filepath.Base(best); !slices.Equal(got, tc.want) || best != tc.wantBest {
				t.Errorf("checkpoints %v, best %s; want %v, best %s", got, best, tc.want, tc.wantBest)
			}
		})
	}
}
