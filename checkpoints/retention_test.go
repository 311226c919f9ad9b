package checkpoints

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestPruneKeepsNewestLatestAndBest(t *testing.T) {
	tests := []struct {
		name string
		keep int
		best string
		want []string
	}{
		{"keep all", 0, "", []string{"s1", "s2", "s3", "s4", "s5"}},
		{"keep 2", 2, "", []string{"s4", "s5"}},
		{"keep 2 plus best", 2, "s1", []string{"s1", "s4", "s5"}},
		{"best among newest", 2, "s5", []string{"s4", "s5"}},
		{"keep more than exist", 9, "", []string{"s1", "s2", "s3", "s4", "s5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for i := 1; i <= 5; i++ {
				mustSave(t, root, fmt.Sprintf("s%d", i), sampleCheckpoint(i*10))
			}
			if tc.best != "" {
				if err := SetBest(root, tc.best); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Prune(root, tc.keep); err != nil {
				t.Fatal(err)
			}
			got, err := List(root)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("left %v, want %v", got, tc.want)
			}
			if tc.best != "" {
				if dir, err := Best(root); err != nil || filepath.Base(dir) != tc.best {
					t.Fatalf("Best = %q, %v", dir, err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(root, ".tmp-*")); len(left) > 0 {
				t.Fatalf("prune left %v", left)
			}
		})
	}
}

func TestPruneNeverRemovesLatest(t *testing.T) {
	root := t.TempDir()
	mustSave(t, root, "s2", sampleCheckpoint(20))
	mustSave(t, root, "s3", sampleCheckpoint(30))
	mustSave(t, root, "s1", sampleCheckpoint(10)) // latest now names the oldest step
	if _, err := Prune(root, 1); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(root); !slices.Equal(got, []string{"s1", "s3"}) {
		t.Fatalf("left %v, want latest (s1) and the newest (s3)", got)
	}
}

func TestBestErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := Best(root); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("no best file: %v, want ErrNoCheckpoint", err)
	}
	if err := SetBest(root, "missing"); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("SetBest of a missing checkpoint: %v", err)
	}
	os.WriteFile(filepath.Join(root, bestName), []byte("../x\n"), 0o644)
	if _, err := Best(root); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "best") {
		t.Fatalf("garbled best: %v, want ErrCorrupt naming the file", err)
	}
}

func TestSweepRemovesLeftovers(t *testing.T) {
	root := t.TempDir()
	mustSave(t, root, "s1", sampleCheckpoint(1))
	for _, d := range []string{".tmp-s2-123", ".tmp-prune-s0"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
		os.WriteFile(filepath.Join(root, d, "generator.safetensors"), []byte("partial"), 0o644)
	}
	os.WriteFile(filepath.Join(root, latestTmpName), []byte("s"), 0o644)
	removed, err := Sweep(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".tmp-prune-s0", ".tmp-s2-123", latestTmpName}; !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if _, err := Load(filepath.Join(root, "s1")); err != nil {
		t.Fatalf("sweep damaged a checkpoint: %v", err)
	}
	if removed, err := Sweep(filepath.Join(root, "nope")); err != nil || removed != nil {
		t.Fatalf("sweep of a missing root: %v %v", removed, err)
	}
}

func TestNewestGoodSkipsDamaged(t *testing.T) {
	root := t.TempDir()
	for i := 1; i <= 3; i++ {
		mustSave(t, root, fmt.Sprintf("s%d", i), sampleCheckpoint(i))
	}
	gen := filepath.Join(root, "s3", "generator.safetensors")
	b, _ := os.ReadFile(gen)
	b[len(b)-1] ^= 1
	os.WriteFile(gen, b, 0o644)
	os.Remove(filepath.Join(root, "s2", manifestName))
	dir, skipped, err := NewestGood(root)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "s1" {
		t.Fatalf("NewestGood = %s, want s1", dir)
	}
	if len(skipped) != 2 {
		t.Fatalf("skipped %v, want s2 and s3", skipped)
	}
	for _, s := range skipped {
		if s.Err == nil {
			t.Fatalf("%s skipped without a reason", s.Name)
		}
	}
	os.Remove(filepath.Join(root, "s1", "halloffame.json"))
	if _, _, err := NewestGood(root); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("all damaged: %v, want ErrNoCheckpoint", err)
	}
}

// TestSaveOnFullDisk fills a small tmpfs and checks that a failed save says
// the disk is full and leaves the previous checkpoint and latest intact. It
// needs permission to mount (root); elsewhere it skips.
func TestSaveOnFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	root := filepath.Join(mnt, "run")
	mustSave(t, root, "s1", sampleCheckpoint(1))
	big := sampleCheckpoint(2)
	big.Tensors["big.safetensors"] = map[string]Tensor{"w": F32Tensor([]int{100000}, make([]float32, 100000))} // 400 kB
	_, err := Save(root, "s2", big)
	if !errors.Is(err, ErrDiskFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("save on a full disk: %v, want ErrDiskFull wrapping ENOSPC", err)
	}
	if !strings.Contains(err.Error(), "s2") || !strings.Contains(err.Error(), "free space") {
		t.Fatalf("error does not name the checkpoint and what to do: %v", err)
	}
	dir, err := Latest(root)
	if err != nil || filepath.Base(dir) != "s1" {
		t.Fatalf("latest after a failed save: %s, %v", dir, err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatalf("previous checkpoint damaged: %v", err)
	}
	if left, _ := os.ReadDir(root); len(left) != 2 { // s1 and latest
		t.Fatalf("failed save left entries behind: %v", left)
	}
}
