package checkpoints

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"promptgan/internal/atomicfile"
)

const bestName = "best"

// SetBest records name as the run's best checkpoint: root/best is replaced
// atomically by a file holding `name\n`, as Save does for root/latest.
// [Prune] never removes the checkpoint that best names.
func SetBest(root, name string) error {
	if err := checkCheckpointName(name); err != nil {
		return fmt.Errorf("set best checkpoint: %w", err)
	}
	if _, err := readManifest(filepath.Join(root, name)); err != nil {
		return fmt.Errorf("set best checkpoint %s: %w", filepath.Join(root, name), err)
	}
	if err := atomicfile.Replace(filepath.Join(root, bestName), filepath.Join(root, bestName+".tmp"), []byte(name+"\n")); err != nil {
		return fmt.Errorf("set best checkpoint: %w", diskFullHint(err))
	}
	return nil
}

// Best returns the directory that root/best names; ErrNoCheckpoint when the
// run has none, ErrCorrupt when the file is garbled or names no checkpoint.
func Best(root string) (string, error) {
	name, err := readPointer(root, bestName)
	if err != nil {
		return "", fmt.Errorf("best checkpoint %s: %w", root, err)
	}
	return filepath.Join(root, name), nil
}

// readPointer reads a pointer file (latest, best) and checks that it names a
// checkpoint directory of root.
func readPointer(root, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, file))
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%w: %w", ErrNoCheckpoint, err)
	}
	if err != nil {
		return "", err
	}
	const maxPointer = 4096
	name, ok := strings.CutSuffix(string(b), "\n")
	if !ok || len(b) > maxPointer {
		return "", corruptf("%s: garbled content %q, want a checkpoint name and a newline", file, truncate(b))
	}
	if err := checkCheckpointName(name); err != nil {
		return "", corruptf("%s: garbled content: %v", file, err)
	}
	dir := filepath.Join(root, name)
	if fi, err := os.Stat(filepath.Join(dir, manifestName)); err != nil || !fi.Mode().IsRegular() {
		return "", corruptf("%s points to %s, which is not a checkpoint (no %s)", file, dir, manifestName)
	}
	return name, nil
}

// Prune deletes checkpoint directories of root so that the newest keep (by
// manifest step) remain, plus the ones that root/latest and root/best name.
// keep <= 0 keeps everything. It returns the names it removed. Deletion goes
// through a dot-prefixed rename first, so a crash mid-delete leaves a
// directory every reader skips rather than a half-deleted checkpoint.
func Prune(root string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	names, err := List(root)
	if err != nil {
		return nil, err
	}
	protected := map[string]bool{}
	for _, p := range []string{latestName, bestName} {
		if name, err := readPointer(root, p); err == nil {
			protected[name] = true
		}
	}
	var removed []string
	for _, name := range names[:max(0, len(names)-keep)] {
		if protected[name] {
			continue
		}
		doomed := filepath.Join(root, tempDirPrefix+"prune-"+name)
		if err := os.Rename(filepath.Join(root, name), doomed); err != nil {
			return removed, fmt.Errorf("prune checkpoint %s: %w", name, err)
		}
		if err := os.RemoveAll(doomed); err != nil {
			return removed, fmt.Errorf("prune checkpoint %s: %w", name, err)
		}
		removed = append(removed, name)
	}
	return removed, atomicfile.SyncDir(root)
}

// Sweep deletes what interrupted saves and prunes left in root: dot-prefixed
// temporary directories and pointer temp files. Call it when no Save into
// root is in progress (at the start of a run). It returns what it removed.
func Sweep(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", root, err)
	}
	var removed []string
	for _, e := range entries {
		n := e.Name()
		if !strings.HasPrefix(n, tempDirPrefix) && n != latestTmpName && n != bestName+".tmp" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
			return removed, fmt.Errorf("sweep %s: %w", root, err)
		}
		removed = append(removed, n)
	}
	slices.Sort(removed)
	return removed, nil
}

// Damaged is one checkpoint that NewestGood skipped, with the reason.
type Damaged struct {
	Name string
	Err  error
}

// NewestGood loads the checkpoints of root from the newest step down and
// returns the directory of the first that loads completely, with the ones
// it had to skip. ErrNoCheckpoint when none loads.
func NewestGood(root string) (string, []Damaged, error) {
	names, err := List(root)
	if err != nil {
		return "", nil, err
	}
	// List skips directories whose manifest cannot be read; report those too.
	entries, _ := os.ReadDir(root)
	var skipped []Damaged
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && !strings.HasPrefix(n, ".") && !slices.Contains(names, n) {
			_, err := Load(filepath.Join(root, n))
			skipped = append(skipped, Damaged{n, err})
		}
	}
	for i := len(names) - 1; i >= 0; i-- {
		dir := filepath.Join(root, names[i])
		if _, err := Load(dir); err != nil {
			skipped = append(skipped, Damaged{names[i], err})
			continue
		}
		return dir, skipped, nil
	}
	return "", skipped, fmt.Errorf("no loadable checkpoint in %s: %w", root, ErrNoCheckpoint)
}

// ErrDiskFull marks a save that failed because the file system is full (or
// the user's quota is exhausted).
var ErrDiskFull = errors.New("disk full")

// diskFullHint tags ENOSPC/EDQUOT errors with ErrDiskFull so callers can say
// what happened and what to do.
func diskFullHint(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w: free space and resume; the previous checkpoint and latest are untouched", ErrDiskFull, err)
	}
	return err
}
