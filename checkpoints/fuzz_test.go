package checkpoints

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var hashOfGenerator = regexp.MustCompile(`("generator\.safetensors":\s*")[0-9a-f]*(")`)

// FuzzLoad writes an arbitrary manifest.json and generator.safetensors into
// a checkpoint directory and loads it. With fixHash the manifest's digest is
// set to the file's real one, so that the fuzzer reaches the tensor decoder
// behind the hash check. Load must never panic, and must either fail with one
// of its sentinel errors or return a checkpoint that saves and loads back.
func FuzzLoad(f *testing.F) {
	root := f.TempDir()
	dir, err := Save(root, "s", &Checkpoint{
		Manifest: Manifest{Step: 3, Config: []byte(`{"a":1}`), RNG: map[string]string{"r": "00"}},
		Tensors:  map[string]map[string]Tensor{"generator.safetensors": {"w": F32Tensor([]int{2}, []float32{1, 2})}},
	})
	if err != nil {
		f.Fatal(err)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, manifestName))
	gen, _ := os.ReadFile(filepath.Join(dir, "generator.safetensors"))
	f.Add(manifest, gen, false)
	f.Add(manifest, gen[:len(gen)-1], true)
	f.Add(manifest, rawST(`{"w":{"dtype":"F32","shape":[1000000000,1000000000],"data_offsets":[0,8]}}`, make([]byte, 8)), true)
	f.Add([]byte(`{"format_version":2}`), gen, false)
	f.Add([]byte(`{"format_version":1,"step":1,"files":{"../x.json":"00"}}`), gen, false)
	f.Add([]byte(`{"format_version":1,"step":1,"files":{}}`), gen, false)
	f.Add([]byte(`not json`), []byte{}, false)
	f.Fuzz(func(t *testing.T, manifest, gen []byte, fixHash bool) {
		dir := filepath.Join(t.TempDir(), "ck")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if fixHash {
			sum := sha256.Sum256(gen)
			manifest = hashOfGenerator.ReplaceAll(manifest, []byte("${1}"+hex.EncodeToString(sum[:])+"${2}"))
		}
		os.WriteFile(filepath.Join(dir, manifestName), manifest, 0o644)
		os.WriteFile(filepath.Join(dir, "generator.safetensors"), gen, 0o644)
		ck, err := Load(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrHashMismatch) && !errors.Is(err, ErrFormatVersion) && !errors.Is(err, ErrNoCheckpoint) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if ck != nil {
				t.Fatal("partial checkpoint returned with an error")
			}
			return
		}
		again, err := Save(t.TempDir(), "again", ck)
		if err != nil {
			t.Fatalf("a loaded checkpoint does not save: %v", err)
		}
		if _, err := Load(again); err != nil {
			t.Fatalf("a re-saved checkpoint does not load: %v", err)
		}
	})
}
