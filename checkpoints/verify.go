package checkpoints

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileStatus is one file of a checkpoint directory as Verify found it.
type FileStatus struct {
	Name  string `json:"name"`
	Sum   string `json:"sha256,omitempty"` // the manifest's digest; "" for a file it does not list
	Fault string `json:"fault,omitempty"`  // what is wrong with it; "" = intact
}

// Verify checks every file of the checkpoint in dir on its own, as Load
// does, but goes on past the first fault, so that a damaged checkpoint can
// be shown with its faulty files marked. The error is the manifest's: when
// manifest.json cannot be read there is no list of files to check.
func Verify(dir string) (*Manifest, []FileStatus, error) {
	m, err := readManifest(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dir, err)
	}
	names := make([]string, 0, len(m.Files))
	for n := range m.Files {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []FileStatus
	for _, n := range names {
		out = append(out, FileStatus{Name: n, Sum: m.Files[n], Fault: fileFault(dir, n, m.Files[n])})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return m, out, fmt.Errorf("%s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if n == manifestName || !(strings.HasSuffix(n, tensorsExt) || strings.HasSuffix(n, jsonExt)) {
			continue
		}
		if _, ok := m.Files[n]; !ok {
			out = append(out, FileStatus{Name: n, Fault: "not listed in " + manifestName})
		}
	}
	return m, out, nil
}

// fileFault says what is wrong with file name of dir whose manifest digest
// is sum, or "".
func fileFault(dir, name, sum string) string {
	if err := checkFileName(name, ""); err != nil {
		return err.Error()
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "missing: listed in " + manifestName
	}
	if err != nil {
		return err.Error()
	}
	h := sha256.Sum256(b)
	if got := hex.EncodeToString(h[:]); got != sum {
		return fmt.Sprintf("sha256 %s, %s says %s: the file changed after it was saved", got, manifestName, sum)
	}
	if strings.HasSuffix(name, tensorsExt) {
		if _, _, err := DecodeSafetensors(b); err != nil {
			return "not a readable safetensors file: " + err.Error()
		}
	} else if !json.Valid(b) {
		return "not valid JSON"
	}
	return ""
}
