// Package cache finds files that `make setup` put in the project's
// git-ignored setup cache (.cache at the repository root): word vectors,
// built-in task data. The CLI may run from any directory, so the cache is
// looked for in $PROMPTGAN_CACHE, then in .cache of the working directory
// and every directory above it, then next to the binary (bin/promptgan →
// the repository root).
package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvDir names the environment variable that points at a cache directory.
const EnvDir = "PROMPTGAN_CACHE"

// ErrNotFound is wrapped by Find's error when no candidate holds the file.
var ErrNotFound = errors.New("not in the setup cache")

// Dirs lists the candidate cache directories, most specific first, without
// duplicates.
func Dirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d == "" {
			return
		}
		if a, err := filepath.Abs(d); err == nil {
			d = a
		}
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	add(os.Getenv(EnvDir))
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			add(filepath.Join(d, ".cache"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		add(filepath.Join(filepath.Dir(filepath.Dir(exe)), ".cache"))
	}
	return dirs
}

// Find returns the absolute path of the non-empty file rel (slash-separated,
// relative to the cache root) in the first candidate directory that has it.
// what names the file for the error ("GloVe vectors"), setup the command
// that makes it ("make setup").
func Find(rel, what, setup string) (string, error) {
	dirs := Dirs()
	for _, d := range dirs {
		p := filepath.Join(d, filepath.FromSlash(rel))
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Size() > 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w: no %s in %s; run `%s` (or set $%s to a cache directory that has it)",
		what, ErrNotFound, rel, strings.Join(dirs, ", "), setup, EnvDir)
}
