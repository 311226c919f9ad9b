//go:build !linux

package checkpoints

import "errors"

// exchange is only implemented on Linux (renameat2 RENAME_EXCHANGE); elsewhere
// the caller falls back to moving the old directory aside first.
func exchange(a, b string) error { return errors.ErrUnsupported }
