package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"promptgan/internal/cache"
)

// EnvLibrary names the environment variable that points at an ONNX Runtime
// shared library (a file, or a directory holding libonnxruntime.so*).
const EnvLibrary = "PROMPTGAN_ORT_LIB"

// cacheDir is where `make setup` (scripts/setup-ort.sh) put the library. A
// build may compile it in with
// -ldflags "-X promptgan/internal/ort.cacheDir=/abs/path/.cache/ort/lib";
// without it the search falls back to .cache/ort/lib under the current
// directory and its parents, and under the executable's parent directory.
var cacheDir string

// cacheRel is the library's directory relative to the repository root.
const cacheRel = ".cache/ort/lib"

// libNames are the file names looked for inside a directory, in order.
var libNames = []string{"libonnxruntime.so", "libonnxruntime.so.1", "libonnxruntime.dylib"}

// ErrNotFound is wrapped by every error that means "no ONNX Runtime library
// was found"; tests skip on it.
var ErrNotFound = errors.New("ONNX Runtime library not found")

// Library is a located ONNX Runtime shared library.
type Library struct {
	Path   string // absolute path of the shared library file
	Source string // how it was found: "--ort-lib", "$PROMPTGAN_ORT_LIB" or "cache"
}

// FindLibrary locates the ONNX Runtime library: explicit (the --ort-lib
// value) if not empty, else $PROMPTGAN_ORT_LIB if set, else the setup cache.
// An explicit path or the environment variable must point at a library (a
// file, or a directory holding one); there is no fallback past them, since
// the user asked for that library.
func FindLibrary(explicit string) (Library, error) {
	if explicit != "" {
		p, err := resolve(explicit)
		if err != nil {
			return Library{}, fmt.Errorf("--ort-lib %s: %w", explicit, err)
		}
		return Library{Path: p, Source: "--ort-lib"}, nil
	}
	if env := os.Getenv(EnvLibrary); env != "" {
		p, err := resolve(env)
		if err != nil {
			return Library{}, fmt.Errorf("$%s=%s: %w", EnvLibrary, env, err)
		}
		return Library{Path: p, Source: "$" + EnvLibrary}, nil
	}
	dirs := cacheCandidates()
	for _, d := range dirs {
		if p, err := resolve(d); err == nil {
			return Library{Path: p, Source: "cache"}, nil
		}
	}
	return Library{}, fmt.Errorf("%w: no --ort-lib, $%s unset, and no libonnxruntime.so* in %s; run `make setup` (scripts/setup-ort.sh fetches ONNX Runtime 1.24.1 CPU) or point --ort-lib / $%s at a library",
		ErrNotFound, EnvLibrary, strings.Join(dirs, ", "), EnvLibrary)
}

// cacheCandidates lists the directories where the setup cache may hold
// the library, most specific first, without duplicates: the build-time
// cacheDir, then ort/lib in each of internal/cache's candidate caches
// ($PROMPTGAN_CACHE, .cache above the working directory, next to the binary).
func cacheCandidates() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if cacheDir != "" {
		if a, err := filepath.Abs(cacheDir); err == nil {
			add(a)
		}
	}
	for _, d := range cache.Dirs() {
		add(filepath.Join(d, "ort", "lib"))
	}
	return dirs
}

// resolve turns a file or directory into the absolute path of a non-empty
// library file.
func resolve(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%w: no such file or directory", ErrNotFound)
		}
		return "", err
	}
	if st.IsDir() {
		for _, n := range libNames {
			f := filepath.Join(p, n)
			if fs, err := os.Stat(f); err == nil && !fs.IsDir() && fs.Size() > 0 {
				return filepath.Abs(f)
			}
		}
		return "", fmt.Errorf("%w: directory holds none of %s", ErrNotFound, strings.Join(libNames, ", "))
	}
	if st.Size() == 0 {
		return "", fmt.Errorf("%w: the file is empty (an interrupted download? rerun scripts/setup-ort.sh)", ErrNotFound)
	}
	return filepath.Abs(p)
}

// Runtime is the process's loaded ONNX Runtime. There is at most one; Load
// returns it.
type Runtime struct {
	Library
	Version string // the library's own version string, e.g. "1.24.1"
}

var global struct {
	mu sync.Mutex
	rt *Runtime
}

// Load finds the library as FindLibrary does and initialises ONNX Runtime
// with it, once per process. Later calls return the same Runtime when they
// resolve to the same file, and an error when they name another library
// (ONNX Runtime's environment is process-global and is never unloaded).
func Load(explicit string) (*Runtime, error) {
	lib, err := FindLibrary(explicit)
	if err != nil {
		return nil, err
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if rt := global.rt; rt != nil {
		if sameFile(rt.Path, lib.Path) {
			return rt, nil
		}
		return nil, fmt.Errorf("ONNX Runtime is already loaded from %s (%s) in this process; cannot also load %s (%s): one library per process",
			rt.Path, rt.Source, lib.Path, lib.Source)
	}
	onnxruntime.SetSharedLibraryPath(lib.Path)
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %s (found by %s): %w (promptgan needs ONNX Runtime 1.24.x, C API 24)", lib.Path, lib.Source, err)
	}
	global.rt = &Runtime{Library: lib, Version: onnxruntime.GetVersion()}
	return global.rt, nil
}

func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
