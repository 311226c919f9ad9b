package checkpoints

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"promptgan/internal/atomicfile"
)

// FormatVersion is the checkpoint format written by Save and the only one Load accepts.
const FormatVersion = 2

// Format history: 1 had one checkpoint layout per run kind (identity
// trainer, steer run); 2 has one for every run kind, with every optimiser's
// learning-rate scale and the data fingerprinted as the run reads it.

const (
	manifestName   = "manifest.json"
	latestName     = "latest"
	latestTmpName  = "latest.tmp"
	tensorsExt     = ".safetensors"
	jsonExt        = ".json"
	tempDirPrefix  = ".tmp-"
	sha256HexChars = 2 * sha256.Size
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrHashMismatch: a file's bytes do not match the SHA-256 recorded in manifest.json.
	ErrHashMismatch = errors.New("checkpoint file hash mismatch")
	// ErrFormatVersion: manifest.json has no format_version or one other than FormatVersion.
	ErrFormatVersion = errors.New("unsupported checkpoint format version")
	// ErrNoCheckpoint: there is no checkpoint at the given place: the directory has no
	// manifest.json, the run root has no latest file, or the path does not exist.
	// A run that finds ErrNoCheckpoint may safely start from scratch.
	ErrNoCheckpoint = errors.New("no checkpoint")
	// ErrCorrupt: something that exists is malformed or damaged: a safetensors file
	// (bad header, unsupported dtype, shape/offset mismatch, truncation, ...),
	// manifest.json (not JSON, unknown fields, bad file names or hashes), a file
	// listed in the manifest that is missing, a .safetensors/.json file that is not
	// listed, or a latest file that is garbled or points to no checkpoint.
	// Unlike ErrNoCheckpoint it must not be taken as "start from scratch".
	ErrCorrupt = errors.New("corrupt checkpoint")
)

// Manifest is manifest.json.
type Manifest struct {
	FormatVersion int                `json:"format_version"`
	Step          int                `json:"step"`
	Config        json.RawMessage    `json:"config"`        // the resolved run config, opaque here
	RNG           map[string]string  `json:"rng,omitempty"` // named RNG stream states (hex strings), opaque here
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	Fingerprints  map[string]string  `json:"fingerprints,omitempty"`
	State         json.RawMessage    `json:"state,omitempty"`    // trainer scalars, opaque here
	Warnings      []string           `json:"warnings,omitempty"` // e.g. settings changed on resume, one line each
	Files         map[string]string  `json:"files"`              // file name -> SHA-256 hex of its bytes, filled by Save
}

// Checkpoint is everything in one checkpoint directory.
type Checkpoint struct {
	Manifest Manifest
	Tensors  map[string]map[string]Tensor // file name (e.g. "generator.safetensors") -> tensor name -> tensor
	JSON     map[string]json.RawMessage   // file name (e.g. "halloffame.json") -> raw JSON content
}

// checkName validates a checkpoint directory name or a file name inside a
// checkpoint: a plain, visible base name that fits on one line of the latest file.
func checkName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty %s", kind)
	case name == "." || name == "..":
		return fmt.Errorf("%s %q is not allowed", kind, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%s %q must not start with a dot", kind, name)
	case strings.ContainsAny(name, `/\`):
		return fmt.Errorf("%s %q must not contain a path separator", kind, name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%s %q must not start or end with white space", kind, name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) >= 0:
		return fmt.Errorf("%s %q contains a control character or invalid UTF-8", kind, name)
	}
	return nil
}

// checkFileName validates a file name of a checkpoint; ext is the required extension
// or "" for either .safetensors or .json.
func checkFileName(name, ext string) error {
	if err := checkName("file name", name); err != nil {
		return err
	}
	if name == manifestName {
		return fmt.Errorf("file name %q is reserved", name)
	}
	switch {
	case ext == "" && !strings.HasSuffix(name, tensorsExt) && !strings.HasSuffix(name, jsonExt):
		return fmt.Errorf("file name %q must end in %s or %s", name, tensorsExt, jsonExt)
	case ext != "" && !strings.HasSuffix(name, ext):
		return fmt.Errorf("file name %q must end in %s", name, ext)
	}
	return nil
}

func checkCheckpointName(name string) error {
	if err := checkName("checkpoint name", name); err != nil {
		return err
	}
	if name == latestName || name == latestTmpName {
		return fmt.Errorf("checkpoint name %q is reserved", name)
	}
	return nil
}

// Save writes ck as root/name: into a temp dir root/.tmp-name-XXXX, every file fsynced, the dir fsynced,
// then renamed to root/name (an existing root/name is replaced only after the new one is complete), root fsynced,
// and then root/latest (a small text file containing `name\n`) is replaced atomically (write latest.tmp, fsync, rename, fsync dir).
// Save fills ck.Manifest.Files and FormatVersion. Returns the final directory path.
//
// Everything is validated and encoded before anything is written, so an
// invalid checkpoint leaves no trace on disk; a float tensor holding a NaN
// or an infinity is refused (ErrNonFinite), so a diverged state never
// replaces the last good checkpoint. On error the previous state of
// root/name and root/latest is left in place.
func Save(root, name string, ck *Checkpoint) (string, error) {
	final := filepath.Join(root, name)
	dir, err := save(root, name, final, ck)
	if err != nil {
		return "", fmt.Errorf("save checkpoint %s: %w", final, diskFullHint(err))
	}
	return dir, nil
}

func save(root, name, final string, ck *Checkpoint) (string, error) {
	if ck == nil {
		return "", errors.New("nil checkpoint")
	}
	if err := checkCheckpointName(name); err != nil {
		return "", err
	}

	// Encode every file in memory first.
	contents := make(map[string][]byte, len(ck.Tensors)+len(ck.JSON))
	for fname, tensors := range ck.Tensors {
		if err := checkFileName(fname, tensorsExt); err != nil {
			return "", err
		}
		if msg := checkFinite(tensors); msg != "" {
			return "", fmt.Errorf("%s: %s: a diverged state is not saved: %w", fname, msg, ErrNonFinite)
		}
		b, err := EncodeSafetensors(tensors, nil)
		if err != nil {
			return "", fmt.Errorf("%s: %w", fname, err)
		}
		contents[fname] = b
	}
	for fname, raw := range ck.JSON {
		if err := checkFileName(fname, jsonExt); err != nil {
			return "", err
		}
		if !json.Valid(raw) {
			return "", fmt.Errorf("%s: content is not valid JSON", fname)
		}
		contents[fname] = raw
	}
	for k, v := range ck.Manifest.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", fmt.Errorf("metric %q is %v, which JSON cannot represent", k, v)
		}
	}
	files := make(map[string]string, len(contents))
	for fname, b := range contents {
		sum := sha256.Sum256(b)
		files[fname] = hex.EncodeToString(sum[:])
	}
	m := ck.Manifest
	m.FormatVersion = FormatVersion
	m.Files = files
	manifest, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", manifestName, err)
	}
	manifest = append(manifest, '\n')

	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(root, tempDirPrefix+name+"-")
	if err != nil {
		return "", err
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	names := make([]string, 0, len(contents))
	for fname := range contents {
		names = append(names, fname)
	}
	slices.Sort(names)
	for _, fname := range names {
		if err := atomicfile.WriteSync(filepath.Join(tmp, fname), contents[fname]); err != nil {
			return "", err
		}
	}
	if err := atomicfile.WriteSync(filepath.Join(tmp, manifestName), manifest); err != nil {
		return "", err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return "", err
	}

	old, err := replaceDir(tmp, final)
	if err != nil {
		return "", err
	}
	committed = true
	if err := atomicfile.SyncDir(root); err != nil {
		return "", err
	}
	if err := atomicfile.Replace(filepath.Join(root, latestName), filepath.Join(root, latestTmpName), []byte(name+"\n")); err != nil {
		return "", err
	}
	if old != "" {
		// The new checkpoint is durable; a failure to delete the replaced one
		// only leaves a dot-prefixed directory that every reader ignores.
		_ = os.RemoveAll(old)
	}
	ck.Manifest.FormatVersion = FormatVersion
	ck.Manifest.Files = files
	return final, nil
}

// exchangeDirs is exchange, replaceable by tests to exercise the fallback.
var exchangeDirs = exchange

// replaceDir moves the complete directory tmp to final. If final exists it is
// replaced (atomically on Linux) and the path now holding the old content is
// returned so that the caller can delete it.
func replaceDir(tmp, final string) (string, error) {
	fi, err := os.Lstat(final)
	if errors.Is(err, fs.ErrNotExist) {
		return "", os.Rename(tmp, final)
	}
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s exists and is not a directory", final)
	}
	err = exchangeDirs(tmp, final)
	if err == nil {
		return tmp, nil
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		return "", err
	}
	// Fallback: move the old directory aside (still dot-prefixed, so readers
	// skip it), then move the new one in. A crash in between leaves no
	// root/final, but the old complete checkpoint survives in old.
	old := tmp + ".old"
	if err := os.Rename(final, old); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		if rerr := os.Rename(old, final); rerr != nil {
			return "", errors.Join(err, fmt.Errorf("restore %s: %w", final, rerr))
		}
		return "", err
	}
	return old, nil
}

// Load reads dir, checks format version, verifies the SHA-256 of every file listed in the manifest (and that
// every listed file exists, and reports unlisted .safetensors/.json files as an error), parses every safetensors file strictly.
//
// A float tensor holding a NaN or an infinity is refused (ErrNonFinite and
// ErrCorrupt), naming the file and tensor: it is the state of a run that
// diverged.
//
// It returns either the complete checkpoint or an error, never a partial result.
func Load(dir string) (*Checkpoint, error) {
	ck, err := load(dir)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", dir, err)
	}
	return ck, nil
}

func load(dir string) (*Checkpoint, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	for fname, sum := range m.Files {
		if err := checkFileName(fname, ""); err != nil {
			return nil, corruptf("%s: %v", manifestName, err)
		}
		if len(sum) != sha256HexChars || strings.Trim(sum, "0123456789abcdef") != "" {
			return nil, corruptf("%s: file %q: %q is not a lowercase SHA-256 hex digest", manifestName, fname, sum)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if n == manifestName || !(strings.HasSuffix(n, tensorsExt) || strings.HasSuffix(n, jsonExt)) {
			continue
		}
		if _, ok := m.Files[n]; !ok {
			return nil, corruptf("%s: file is not listed in %s", n, manifestName)
		}
	}

	ck := &Checkpoint{
		Manifest: *m,
		Tensors:  make(map[string]map[string]Tensor),
		JSON:     make(map[string]json.RawMessage),
	}
	names := make([]string, 0, len(m.Files))
	for fname := range m.Files {
		names = append(names, fname)
	}
	slices.Sort(names)
	for _, fname := range names {
		b, err := os.ReadFile(filepath.Join(dir, fname))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &corruptError{msg: fmt.Sprintf("%s: listed in %s but missing", fname, manifestName), cause: err}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fname, err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != m.Files[fname] {
			return nil, fmt.Errorf("%s: sha256 %s, manifest says %s: %w", fname, got, m.Files[fname], ErrHashMismatch)
		}
		if strings.HasSuffix(fname, tensorsExt) {
			tensors, _, err := DecodeSafetensors(b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fname, err)
			}
			if msg := checkFinite(tensors); msg != "" {
				return nil, &corruptError{msg: fname + ": " + msg, cause: ErrNonFinite}
			}
			ck.Tensors[fname] = tensors
		} else {
			if !json.Valid(b) {
				return nil, corruptf("%s: content is not valid JSON", fname)
			}
			ck.JSON[fname] = json.RawMessage(b)
		}
	}
	return ck, nil
}

// readManifest reads and strictly decodes dir/manifest.json, checking the format version first.
func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w", ErrNoCheckpoint, err)
	}
	if err != nil {
		return nil, err
	}
	var v struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, corruptf("%s: invalid JSON: %v", manifestName, err)
	}
	if v.FormatVersion == nil {
		return nil, fmt.Errorf("%s: no format_version: %w", manifestName, ErrFormatVersion)
	}
	if *v.FormatVersion == 1 {
		return nil, fmt.Errorf("%s: format_version 1 was written by promptgan before its trainers became one (commit 548c9db and earlier); this build reads %d: resume the run with a build of that commit, or train it again: %w", manifestName, FormatVersion, ErrFormatVersion)
	}
	if *v.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s: format_version %d, this build reads %d: %w", manifestName, *v.FormatVersion, FormatVersion, ErrFormatVersion)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, corruptf("%s: %v", manifestName, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corruptf("%s: trailing data after the JSON object", manifestName)
	}
	if m.Files == nil {
		return nil, corruptf("%s: no files object", manifestName)
	}
	return &m, nil
}

// Latest returns the directory that root/latest points to (error if missing/garbled/points to a missing dir).
//
// A missing root or root/latest gives ErrNoCheckpoint; a garbled latest file or
// one naming a directory without manifest.json gives ErrCorrupt.
func Latest(root string) (string, error) {
	dir, err := latest(root)
	if err != nil {
		return "", fmt.Errorf("latest checkpoint %s: %w", root, err)
	}
	return dir, nil
}

func latest(root string) (string, error) {
	name, err := readPointer(root, latestName)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, name), nil
}

// Resolve accepts either a checkpoint directory (has manifest.json) or a run root (has latest) and returns the checkpoint dir.
func Resolve(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("resolve checkpoint %s: %w: %w", path, ErrNoCheckpoint, err)
	}
	if fi, err := os.Stat(filepath.Join(path, manifestName)); err == nil && fi.Mode().IsRegular() {
		return path, nil
	}
	if _, err := os.Lstat(filepath.Join(path, latestName)); err == nil {
		dir, err := latest(path)
		if err != nil {
			return "", fmt.Errorf("resolve checkpoint %s: %w", path, err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("resolve checkpoint %s: neither a checkpoint directory (no %s) nor a run root (no %s): %w",
		path, manifestName, latestName, ErrNoCheckpoint)
}

// List returns the names of the checkpoint directories directly under root,
// sorted by manifest step ascending (ties by name). Dot-prefixed directories
// (saves in progress or leftovers) and directories whose manifest.json is
// missing or unreadable are skipped; List does not verify file hashes (Load does).
// A missing root gives ErrNoCheckpoint; an empty root gives an empty list.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list checkpoints %s: %w: %w", root, ErrNoCheckpoint, err)
		}
		return nil, fmt.Errorf("list checkpoints %s: %w", root, err)
	}
	type item struct {
		name string
		step int
	}
	var items []item
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name, manifestName))
		if err != nil {
			continue
		}
		var v struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(b, &v) != nil || v.Step == nil {
			continue
		}
		items = append(items, item{name, *v.Step})
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.step, b.step), strings.Compare(a.name, b.name))
	})
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.name
	}
	return names, nil
}
