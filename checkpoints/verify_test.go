package checkpoints

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyMarksTheFaultyFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(dir string) error
		file   string // the file marked; "" = none
		fault  string
	}{
		{"intact", func(string) error { return nil }, "", ""},
		{"flipped byte", func(dir string) error {
			p := filepath.Join(dir, "w.safetensors")
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			return os.WriteFile(p, b, 0o644)
		}, "w.safetensors", "the file changed after it was saved"},
		{"missing file", func(dir string) error { return os.Remove(filepath.Join(dir, "state.json")) }, "state.json", "missing"},
		{"stray file", func(dir string) error { return os.WriteFile(filepath.Join(dir, "x.json"), []byte("{}"), 0o644) }, "x.json", "not listed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir, err := Save(root, "step-0000001", testCheckpoint())
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, files, err := Verify(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				switch {
				case f.Name == tc.file && !strings.Contains(f.Fault, tc.fault):
					t.Errorf("%s: fault %q, want %q", f.Name, f.Fault, tc.fault)
				case f.Name != tc.file && f.Fault != "":
					t.Errorf("%s marked %q, but %q is the damaged file", f.Name, f.Fault, tc.file)
				}
			}
			if _, loadErr := Load(dir); (loadErr == nil) != (tc.file == "") {
				t.Errorf("Load: %v, but Verify marked %q", loadErr, tc.file)
			}
		})
	}
	if _, _, err := Verify(t.TempDir()); err == nil {
		t.Error("a directory without manifest.json verified")
	}
}

// testCheckpoint is a small checkpoint with one tensor file and one JSON file.
func testCheckpoint() *Checkpoint {
	return &Checkpoint{
		Manifest: Manifest{Step: 1},
		Tensors:  map[string]map[string]Tensor{"w.safetensors": {"a": {Shape: []int{2}, F32: []float32{1, 2}}}},
		JSON:     map[string]json.RawMessage{"state.json": json.RawMessage(`{"x":1}`)},
	}
}
