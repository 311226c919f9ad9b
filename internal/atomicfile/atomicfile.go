// Package atomicfile writes files so that a crash leaves either the old
// file or the whole new one, never a part: the bytes go to a temporary
// file beside it, which is fsynced and renamed over it, and the directory
// is fsynced so that the rename itself is durable. metrics.jsonl's
// rewrites, the ONNX exports and their descriptions use [Write]; the
// checkpoint store and the call ledger use [Replace], [WriteSync] and
// [SyncDir], where a directory that cannot be synced is an error.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data (mode 0644) through a fresh temporary file
// beside it. The final directory sync is best effort.
func Write(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = fill(tmp, data); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	_ = SyncDir(dir) // best effort: make the rename durable
	return nil
}

// Replace replaces path with data (mode 0644) through the temporary file
// tmp, which must lie in path's directory: tmp is created or truncated,
// written, fsynced and renamed over path, then the directory is fsynced.
// A fixed tmp name lets its owner find and remove what a crash left. Unlike
// [Write], a failed directory sync is an error.
func Replace(path, tmp string, data []byte) error {
	if err := WriteSync(tmp, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// WriteSync creates or truncates path (mode 0644), writes data and fsyncs
// it, without renaming: for a file inside a directory that is renamed into
// place once complete, or one nothing reads until it is whole.
func WriteSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := fill(f, data); err != nil {
		f.Close()
		return err
	}
	return nil
}

// SyncDir fsyncs a directory so that creations and renames inside it are
// durable.
//
// The errors of this package are the *os.PathErrors of the file system
// calls, which name the operation and the file.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fill writes data to f, fsyncs and closes it; on an error f is left open.
// The errors are the *os.File's own, which name the operation and the file.
func fill(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}
