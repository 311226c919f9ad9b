//go:build linux

package checkpoints

import (
	"errors"

	"golang.org/x/sys/unix"
)

// exchange atomically swaps the directory entries a and b (both must exist).
// It returns an error satisfying errors.Is(err, errors.ErrUnsupported) when
// the kernel or filesystem cannot do it, so that the caller can fall back.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return errors.Join(errors.ErrUnsupported, err)
	}
	return err
}
