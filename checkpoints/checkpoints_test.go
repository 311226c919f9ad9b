package checkpoints

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sampleCheckpoint returns a checkpoint exercising F32, I32, scalar and empty
// tensors, extreme finite float values (checkpoints refuse NaN and ±Inf:
// TestNonFiniteRefused), two safetensors files and two JSON files.
func sampleCheckpoint(step int) *Checkpoint {
	return &Checkpoint{
		Manifest: Manifest{
			Step:         step,
			Config:       json.RawMessage(`{"lr":0.001,"layers":[2,3],"name":"tiny"}`),
			RNG:          map[string]string{"data": "00ff10", "init": "deadbeef"},
			Metrics:      map[string]float64{"loss": 0.25, "acc": 1},
			Fingerprints: map[string]string{"target": "abc123"},
			State:        json.RawMessage(`{"epoch":3}`),
		},
		Tensors: map[string]map[string]Tensor{
			"generator.safetensors": {
				"emb":    F32Tensor([]int{3, 2}, []float32{1, -2, 3.5, math.MaxFloat32, -math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))}),
				"ids":    I32Tensor([]int{4}, []int32{0, -1, math.MaxInt32, math.MinInt32}),
				"scalar": F32Tensor([]int{}, []float32{42}),
				"empty":  I32Tensor([]int{0, 5}, nil),
			},
			"discriminator.safetensors": {
				"w": F32Tensor([]int{2, 2}, []float32{0.5, 0.25, 0.125, 0.0625}),
			},
		},
		JSON: map[string]json.RawMessage{
			"halloffame.json": json.RawMessage(`[{"prompt":"a b","score":0.5}]`),
			"rng_extra.json":  json.RawMessage("{\n  \"x\": 1\n}\n"),
		},
	}
}

func tensorsEqual(a, b map[string]Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for name, ta := range a {
		tb, ok := b[name]
		if !ok || !slices.Equal(ta.Shape, tb.Shape) || ta.DType() != tb.DType() || ta.Len() != tb.Len() {
			return false
		}
		for i := range ta.F32 { // compare bits so that NaN equals NaN
			if math.Float32bits(ta.F32[i]) != math.Float32bits(tb.F32[i]) {
				return false
			}
		}
		if !slices.Equal(ta.I32, tb.I32) {
			return false
		}
	}
	return true
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func mustSave(t *testing.T, root, name string, ck *Checkpoint) string {
	t.Helper()
	dir, err := Save(root, name, ck)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return dir
}

func TestSaveLoadRoundTrip(t *testing.T) {
	root := t.TempDir()
	want := sampleCheckpoint(100)
	dir := mustSave(t, root, "step-000100", want)
	if dir != filepath.Join(root, "step-000100") {
		t.Fatalf("Save returned %q", dir)
	}
	if want.Manifest.FormatVersion != FormatVersion || len(want.Manifest.Files) != 4 {
		t.Fatalf("Save did not fill the manifest: %+v", want.Manifest)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	gm, wm := got.Manifest, want.Manifest
	if gm.FormatVersion != FormatVersion || gm.Step != 100 ||
		!reflect.DeepEqual(gm.RNG, wm.RNG) || !reflect.DeepEqual(gm.Metrics, wm.Metrics) ||
		!reflect.DeepEqual(gm.Fingerprints, wm.Fingerprints) || !reflect.DeepEqual(gm.Files, wm.Files) {
		t.Errorf("manifest mismatch:\n got %+v\nwant %+v", gm, wm)
	}
	if !jsonEqual(t, gm.Config, wm.Config) || !jsonEqual(t, gm.State, wm.State) {
		t.Errorf("config/state mismatch: %s %s", gm.Config, gm.State)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("got %d tensor files, want %d", len(got.Tensors), len(want.Tensors))
	}
	for fname, wt := range want.Tensors {
		if !tensorsEqual(got.Tensors[fname], wt) {
			t.Errorf("%s: tensors differ:\n got %+v\nwant %+v", fname, got.Tensors[fname], wt)
		}
	}
	if !reflect.DeepEqual(got.JSON, want.JSON) { // JSON files are stored byte for byte
		t.Errorf("JSON files differ:\n got %q\nwant %q", got.JSON, want.JSON)
	}
	if e := got.Tensors["generator.safetensors"]["empty"]; e.I32 == nil || e.F32 != nil {
		t.Errorf("empty I32 tensor decoded as %+v", e)
	}
	if l, err := Latest(root); err != nil || l != dir {
		t.Errorf("Latest = %q, %v; want %q", l, err, dir)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "latest")); string(b) != "step-000100\n" {
		t.Errorf("latest file = %q", b)
	}
	assertNoLeftovers(t, root)
}

func TestSafetensorsMetadataRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "oracle.safetensors")
	tensors := sampleCheckpoint(0).Tensors["generator.safetensors"]
	// The safetensors codec itself carries every float32, special values too.
	tensors["special"] = F32Tensor([]int{3}, []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())})
	meta := map[string]string{"format": "pt", "note": "quotes \" and <html> & unicode é"}
	if err := WriteSafetensors(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	gotT, gotM, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !tensorsEqual(gotT, tensors) || !reflect.DeepEqual(gotM, meta) {
		t.Errorf("round trip mismatch: %+v %v", gotT, gotM)
	}
	b, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint64(b); n%8 != 0 {
		t.Errorf("header length %d not 8-byte aligned", n)
	}
	// No metadata: no __metadata__ entry, decoded as nil.
	b, err = EncodeSafetensors(tensors, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(metadataKey)) {
		t.Error("empty metadata was written")
	}
	if _, m, err := DecodeSafetensors(b); err != nil || m != nil {
		t.Errorf("decode without metadata: %v, %v", m, err)
	}
	if _, _, err := ReadSafetensors(filepath.Join(t.TempDir(), "nope.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadSafetensors of a missing file: %v", err)
	}
}

func TestSaveDeterministic(t *testing.T) {
	rootA, rootB := t.TempDir(), t.TempDir()
	dirA := mustSave(t, rootA, "ck", sampleCheckpoint(7))
	// Rebuild the maps in a different insertion order: output must not depend on it.
	ck := sampleCheckpoint(7)
	gen := ck.Tensors["generator.safetensors"]
	reordered := map[string]Tensor{}
	for _, k := range []string{"scalar", "empty", "ids", "emb"} {
		reordered[k] = gen[k]
	}
	ck.Tensors["generator.safetensors"] = reordered
	dirB := mustSave(t, rootB, "ck", ck)
	for _, f := range []string{"generator.safetensors", "discriminator.safetensors", "halloffame.json", "manifest.json"} {
		a, errA := os.ReadFile(filepath.Join(dirA, f))
		b, errB := os.ReadFile(filepath.Join(dirB, f))
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between identical saves", f)
		}
	}
	// Re-saving what was loaded gives the same safetensors bytes too.
	loaded, err := Load(dirA)
	if err != nil {
		t.Fatal(err)
	}
	dirC := mustSave(t, t.TempDir(), "ck", loaded)
	a, _ := os.ReadFile(filepath.Join(dirA, "generator.safetensors"))
	c, _ := os.ReadFile(filepath.Join(dirC, "generator.safetensors"))
	if !bytes.Equal(a, c) {
		t.Error("save(load(x)) changed generator.safetensors")
	}
}

func TestReplaceExisting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback bool
	}{{"exchange", false}, {"fallback", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fallback {
				exchangeDirs = func(a, b string) error { return errors.ErrUnsupported }
				t.Cleanup(func() { exchangeDirs = exchange })
			}
			root := t.TempDir()
			first := sampleCheckpoint(1)
			first.JSON["only_in_first.json"] = json.RawMessage(`1`)
			dir := mustSave(t, root, "ck", first)
			mustSave(t, root, "other", sampleCheckpoint(2))
			second := sampleCheckpoint(3)
			second.Tensors["generator.safetensors"]["emb"] = F32Tensor([]int{1}, []float32{9})
			if got := mustSave(t, root, "ck", second); got != dir {
				t.Fatalf("second save returned %q, want %q", got, dir)
			}
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got.Manifest.Step != 3 || got.Tensors["generator.safetensors"]["emb"].F32[0] != 9 {
				t.Errorf("replaced checkpoint has old content: step %d", got.Manifest.Step)
			}
			if _, ok := got.JSON["only_in_first.json"]; ok {
				t.Error("file from the replaced checkpoint survived")
			}
			if l, err := Latest(root); err != nil || l != dir {
				t.Errorf("Latest = %q, %v; want %q", l, err, dir)
			}
			assertNoLeftovers(t, root)
		})
	}
}

func assertNoLeftovers(t *testing.T, root string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Name() == "latest.tmp" {
			t.Errorf("leftover %s in %s", e.Name(), root)
		}
	}
}

func TestSaveRejectsInvalid(t *testing.T) {
	tests := []struct {
		name   string
		ckName string
		modify func(*Checkpoint)
		want   string
	}{
		{"empty name", "", nil, "empty checkpoint name"},
		{"dot name", ".hidden", nil, "must not start with a dot"},
		{"separator", "a/b", nil, "path separator"},
		{"dotdot", "..", nil, "not allowed"},
		{"reserved latest", "latest", nil, "reserved"},
		{"newline", "a\nb", nil, "control character"},
		{"tensor file extension", "ck", func(c *Checkpoint) { c.Tensors["gen.bin"] = nil }, `"gen.bin" must end in .safetensors`},
		{"json file extension", "ck", func(c *Checkpoint) { c.JSON["x.safetensors"] = json.RawMessage(`1`) }, "must end in .json"},
		{"manifest name", "ck", func(c *Checkpoint) { c.JSON["manifest.json"] = json.RawMessage(`1`) }, "reserved"},
		{"nested file", "ck", func(c *Checkpoint) { c.JSON["sub/x.json"] = json.RawMessage(`1`) }, "path separator"},
		{"invalid json", "ck", func(c *Checkpoint) { c.JSON["halloffame.json"] = json.RawMessage(`{`) }, "halloffame.json: content is not valid JSON"},
		{"nan metric", "ck", func(c *Checkpoint) { c.Manifest.Metrics["loss"] = math.NaN() }, `metric "loss" is NaN`},
		{"bad config", "ck", func(c *Checkpoint) { c.Manifest.Config = json.RawMessage(`{`) }, "encode manifest.json"},
		{"shape mismatch", "ck", func(c *Checkpoint) {
			c.Tensors["generator.safetensors"]["emb"] = F32Tensor([]int{2, 2}, []float32{1})
		}, `generator.safetensors: tensor "emb": shape [2 2] needs 4 elements, data has 1`},
		{"both dtypes", "ck", func(c *Checkpoint) {
			c.Tensors["generator.safetensors"]["emb"] = Tensor{Shape: []int{1}, F32: []float32{1}, I32: []int32{1}}
		}, "exactly one of F32 and I32"},
		{"no dtype", "ck", func(c *Checkpoint) { c.Tensors["generator.safetensors"]["emb"] = Tensor{Shape: []int{0}} }, "exactly one of F32 and I32"},
		{"negative dim", "ck", func(c *Checkpoint) { c.Tensors["generator.safetensors"]["emb"] = F32Tensor([]int{-1}, nil) }, "negative dim"},
		{"reserved tensor name", "ck", func(c *Checkpoint) { c.Tensors["generator.safetensors"][metadataKey] = F32Tensor([]int{0}, nil) }, "reserved"},
		{"invalid utf8 tensor name", "ck", func(c *Checkpoint) { c.Tensors["generator.safetensors"]["\xff"] = F32Tensor([]int{0}, nil) }, "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "run")
			ck := sampleCheckpoint(1)
			if tc.modify != nil {
				tc.modify(ck)
			}
			_, err := Save(root, tc.ckName, ck)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "save checkpoint ") {
				t.Fatalf("Save error = %v, want it to contain %q", err, tc.want)
			}
			if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("invalid Save touched the disk: %v", err)
			}
			if ck.Manifest.Files != nil {
				t.Error("failed Save filled Manifest.Files")
			}
		})
	}
	if _, err := Save(t.TempDir(), "ck", nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	// A non-directory in the way is not replaced.
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "ck"), []byte("x"), 0o644)
	if _, err := Save(root, "ck", sampleCheckpoint(1)); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Save over a file: %v", err)
	}
	assertNoLeftovers(t, root)
}

func TestLatestAndResolve(t *testing.T) {
	root := t.TempDir()
	empty := t.TempDir()
	dir1 := mustSave(t, root, "step-1", sampleCheckpoint(1))
	dir2 := mustSave(t, root, "step-2", sampleCheckpoint(2))

	writeLatest := func(content string) string {
		r := t.TempDir()
		mustSave(t, r, "ck", sampleCheckpoint(1))
		if err := os.WriteFile(filepath.Join(r, "latest"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return r
	}
	dangling := t.TempDir()
	os.WriteFile(filepath.Join(dangling, "latest"), []byte("gone\n"), 0o644)
	noManifest := t.TempDir()
	os.Mkdir(filepath.Join(noManifest, "ck"), 0o755)
	os.WriteFile(filepath.Join(noManifest, "latest"), []byte("ck\n"), 0o644)

	tests := []struct {
		name    string
		fn      func(string) (string, error)
		arg     string
		want    string
		wantErr error
		errText string
	}{
		{"latest points to newest", Latest, root, dir2, nil, ""},
		{"resolve run root", Resolve, root, dir2, nil, ""},
		{"resolve checkpoint dir", Resolve, dir1, dir1, nil, ""},
		{"latest of empty root", Latest, empty, "", ErrNoCheckpoint, "latest checkpoint " + empty},
		{"latest of missing root", Latest, filepath.Join(empty, "nope"), "", ErrNoCheckpoint, ""},
		{"resolve empty dir", Resolve, empty, "", ErrNoCheckpoint, "neither a checkpoint directory"},
		{"resolve missing path", Resolve, filepath.Join(empty, "nope"), "", ErrNoCheckpoint, "resolve checkpoint"},
		{"latest without newline", Latest, writeLatest("ck"), "", ErrCorrupt, "garbled"},
		{"latest empty file", Latest, writeLatest(""), "", ErrCorrupt, "garbled"},
		{"latest two lines", Latest, writeLatest("ck\nck\n"), "", ErrCorrupt, "control character"},
		{"latest escapes root", Latest, writeLatest("../ck\n"), "", ErrCorrupt, "must not start with a dot"},
		{"latest with separator", Latest, writeLatest("sub/ck\n"), "", ErrCorrupt, "path separator"},
		{"latest with spaces", Latest, writeLatest(" ck\n"), "", ErrCorrupt, "white space"},
		{"latest dangling", Latest, dangling, "", ErrCorrupt, "which is not a checkpoint"},
		{"resolve dangling", Resolve, dangling, "", ErrCorrupt, "which is not a checkpoint"},
		{"latest to dir without manifest", Latest, noManifest, "", ErrCorrupt, "no manifest.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn(tc.arg)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("error %v, want %v containing %q", err, tc.wantErr, tc.errText)
			}
			if got != "" {
				t.Errorf("got %q with an error", got)
			}
		})
	}
}

func TestList(t *testing.T) {
	root := t.TempDir()
	for _, s := range []struct {
		name string
		step int
	}{{"b-late", 300}, {"z-early", 5}, {"a-mid", 40}, {"c-mid", 40}} {
		mustSave(t, root, s.name, sampleCheckpoint(s.step))
	}
	os.MkdirAll(filepath.Join(root, ".tmp-x-123"), 0o755)
	os.WriteFile(filepath.Join(root, ".tmp-x-123", "manifest.json"), []byte(`{"step":1}`), 0o644)
	os.MkdirAll(filepath.Join(root, "logs"), 0o755)
	os.MkdirAll(filepath.Join(root, "broken"), 0o755)
	os.WriteFile(filepath.Join(root, "broken", "manifest.json"), []byte(`{`), 0o644)
	got, err := List(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"z-early", "a-mid", "c-mid", "b-late"}
	if !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if got, err := List(t.TempDir()); err != nil || len(got) != 0 {
		t.Errorf("List(empty) = %v, %v", got, err)
	}
	if _, err := List(filepath.Join(root, "nope")); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("List(missing) error = %v", err)
	}
}

// rawST builds a safetensors file from a literal header and data buffer.
func rawST(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// rewrite replaces a file in a checkpoint and, if fixHash, updates its hash
// in manifest.json so that the damage is found by the decoder, not the hash check.
func rewrite(t *testing.T, dir, fname string, content []byte, fixHash bool) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, fname), content, 0o644); err != nil {
		t.Fatal(err)
	}
	if !fixHash {
		return
	}
	editManifest(t, dir, func(m map[string]any) {
		sum := sha256.Sum256(content)
		m["files"].(map[string]any)[fname] = hex.EncodeToString(sum[:])
	})
}

func editManifest(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, "manifest.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDamaged(t *testing.T) {
	const gen = "generator.safetensors"
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		wantErr error
		want    string // substring of the error after "load checkpoint DIR: "
	}{
		{"flipped byte", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, gen))
			b[len(b)-3] ^= 0x01
			rewrite(t, dir, gen, b, false)
		}, ErrHashMismatch, gen + ": sha256 "},
		{"truncated file", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, gen))
			rewrite(t, dir, gen, b[:len(b)-5], false)
		}, ErrHashMismatch, gen},
		{"truncated file with matching hash", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, gen))
			rewrite(t, dir, gen, b[:len(b)-5], true)
		}, ErrCorrupt, gen + `: tensor "ids": data_offsets [24 40] out of range for a 39-byte data buffer`},
		{"truncated inside header", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, gen))
			rewrite(t, dir, gen, b[:20], true)
		}, ErrCorrupt, gen + ": header length"},
		{"missing file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "halloffame.json"))
		}, fs.ErrNotExist, "halloffame.json: listed in manifest.json but missing"},
		{"unlisted extra file", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "extra.safetensors"), rawST("{}", nil), 0o644)
		}, ErrCorrupt, "extra.safetensors: file is not listed in manifest.json"},
		{"wrong format_version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["format_version"] = 3 })
		}, ErrFormatVersion, "manifest.json: format_version 3, this build reads 2"},
		{"previous format_version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["format_version"] = 1 })
		}, ErrFormatVersion, "format_version 1 was written by promptgan before its trainers became one"},
		{"no format_version", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { delete(m, "format_version") })
		}, ErrFormatVersion, "no format_version"},
		{"manifest not json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("step: 100\n"), 0o644)
		}, ErrCorrupt, "manifest.json: invalid JSON"},
		{"manifest is an array", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "manifest.json"), []byte("[1]"), 0o644)
		}, ErrCorrupt, "manifest.json: invalid JSON"},
		{"manifest trailing data", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
			os.WriteFile(filepath.Join(dir, "manifest.json"), append(b, "{}"...), 0o644)
		}, ErrCorrupt, "manifest.json"},
		{"manifest unknown field", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["stpe"] = 1 })
		}, ErrCorrupt, `unknown field "stpe"`},
		{"manifest without files", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { delete(m, "files") })
		}, ErrCorrupt, "no files object"},
		{"manifest missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "manifest.json"))
		}, ErrNoCheckpoint, "no checkpoint"},
		{"path traversal in files", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["files"].(map[string]any)["../evil.json"] = strings.Repeat("0", 64) })
		}, ErrCorrupt, `file name "../evil.json" must not start with a dot`},
		{"subdirectory in files", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["files"].(map[string]any)["sub/x.json"] = strings.Repeat("0", 64) })
		}, ErrCorrupt, "path separator"},
		{"bad hash syntax", func(t *testing.T, dir string) {
			editManifest(t, dir, func(m map[string]any) { m["files"].(map[string]any)["halloffame.json"] = "ABC" })
		}, ErrCorrupt, "not a lowercase SHA-256 hex digest"},
		{"listed file of unknown type", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)
			editManifest(t, dir, func(m map[string]any) { m["files"].(map[string]any)["notes.txt"] = strings.Repeat("0", 64) })
		}, ErrCorrupt, "must end in .safetensors or .json"},
		{"json file not json", func(t *testing.T, dir string) {
			rewrite(t, dir, "halloffame.json", []byte("{"), true)
		}, ErrCorrupt, "halloffame.json: content is not valid JSON"},
		{"oversized header length", func(t *testing.T, dir string) {
			b := binary.LittleEndian.AppendUint64(nil, 200<<20)
			rewrite(t, dir, gen, append(b, "{}"...), true)
		}, ErrCorrupt, gen + ": header length 209715200 exceeds the 104857600-byte limit"},
		{"lying header", func(t *testing.T, dir string) {
			rewrite(t, dir, gen, rawST(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)), true)
		}, ErrCorrupt, gen + `: tensor "w": data_offsets [0 16] out of range for a 8-byte data buffer`},
		{"shape does not match offsets", func(t *testing.T, dir string) {
			rewrite(t, dir, gen, rawST(`{"emb":{"dtype":"F32","shape":[5000,32],"data_offsets":[0,639996]}}`, make([]byte, 639996)), true)
		}, ErrCorrupt, gen + `: tensor "emb": shape [5000 32] needs 640000 bytes, data_offsets give 639996`},
		{"negative shape", func(t *testing.T, dir string) {
			rewrite(t, dir, gen, rawST(`{"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,0]}}`, nil), true)
		}, ErrCorrupt, gen + `: tensor "w": shape [-1 4] has negative dim -1 at index 0`},
		{"absurd shape", func(t *testing.T, dir string) {
			rewrite(t, dir, gen, rawST(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), true)
		}, ErrCorrupt, gen + `: tensor "w": shape [4294967296 4294967296] has too many elements`},
		{"unknown dtype", func(t *testing.T, dir string) {
			rewrite(t, dir, gen, rawST(`{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)), true)
		}, ErrCorrupt, gen + `: tensor "w": unsupported dtype "F16" (only F32 and I32 are supported)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := mustSave(t, t.TempDir(), "step-000100", sampleCheckpoint(100))
			tc.damage(t, dir)
			ck, err := Load(dir)
			if err == nil {
				t.Fatal("Load of a damaged checkpoint succeeded")
			}
			if ck != nil {
				t.Error("Load returned a partial checkpoint with an error")
			}
			prefix := "load checkpoint " + dir + ": "
			if !errors.Is(err, tc.wantErr) || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant errors.Is %v, prefix %q, containing %q", err, tc.wantErr, prefix, tc.want)
			}
		})
	}
}

// TestLoadErrorExact pins the full error text of a representative failure.
func TestLoadErrorExact(t *testing.T) {
	dir := mustSave(t, t.TempDir(), "step-000100", sampleCheckpoint(100))
	rewrite(t, dir, "generator.safetensors",
		rawST(`{"emb":{"dtype":"F32","shape":[5000,32],"data_offsets":[0,639996]}}`, make([]byte, 639996)), true)
	_, err := Load(dir)
	want := fmt.Sprintf(`load checkpoint %s: generator.safetensors: tensor "emb": shape [5000 32] needs 640000 bytes, data_offsets give 639996`, dir)
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
}

func TestDecodeSafetensorsHostile(t *testing.T) {
	f32 := func(name string, shape string, b, e int) string {
		return fmt.Sprintf(`%q:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, name, shape, b, e)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "file is 0 bytes"},
		{"short", []byte{1, 2, 3}, "too short"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "exceeds the 104857600-byte limit"},
		{"header length beyond file", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "header length 100 exceeds the 2 bytes"},
		{"header null", rawST("null", nil), "not a JSON object"},
		{"header array", rawST("[]", nil), "not a JSON object"},
		{"header number", rawST("12", nil), "not a JSON object"},
		{"header invalid", rawST(`{"a":`, nil), "invalid JSON"},
		{"header trailing", rawST(`{} {}`, nil), "trailing data"},
		{"header empty", rawST(``, nil), "invalid JSON"},
		{"duplicate tensor", rawST(`{`+f32("a", "[1]", 0, 4)+","+f32("a", "[1]", 4, 8)+`}`, make([]byte, 8)), `duplicate key "a"`},
		{"entry not object", rawST(`{"a":[1]}`, nil), `tensor "a": header entry: not a JSON object`},
		{"unknown field", rawST(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `tensor "a": unknown header field "x"`},
		{"duplicate field", rawST(`{"a":{"dtype":"F32","dtype":"I32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `duplicate key "dtype"`},
		{"missing dtype", rawST(`{"a":{"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": missing dtype`},
		{"missing shape", rawST(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": missing shape`},
		{"missing offsets", rawST(`{"a":{"dtype":"F32","shape":[]}}`, make([]byte, 4)), `tensor "a": missing data_offsets`},
		{"dtype not string", rawST(`{"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "a": dtype is not a string`},
		{"dtype lowercase", rawST(`{"a":{"dtype":"f32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `unsupported dtype "f32"`},
		{"dtype I64", rawST(`{"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, make([]byte, 8)), `unsupported dtype "I64"`},
		{"shape not array", rawST(`{`+f32("a", `"1"`, 0, 4)+`}`, make([]byte, 4)), `tensor "a": shape is not an array of integers`},
		{"shape null", rawST(`{`+f32("a", `null`, 0, 4)+`}`, make([]byte, 4)), `tensor "a": shape is not an array of integers`},
		{"shape fraction", rawST(`{`+f32("a", `[1.5]`, 0, 4)+`}`, make([]byte, 4)), `tensor "a": shape element 0 (1.5) is not a 64-bit integer`},
		{"shape exponent", rawST(`{`+f32("a", `[1e30]`, 0, 4)+`}`, make([]byte, 4)), `is not a 64-bit integer`},
		{"shape beyond int64", rawST(`{`+f32("a", `[99999999999999999999]`, 0, 4)+`}`, make([]byte, 4)), `is not a 64-bit integer`},
		{"shape negative", rawST(`{`+f32("a", `[2,-3]`, 0, 0)+`}`, nil), `negative dim -3 at index 1`},
		{"shape overflow", rawST(`{`+f32("a", `[9223372036854775807,2]`, 0, 0)+`}`, nil), `has too many elements`},
		{"shape times 4 overflows", rawST(`{`+f32("a", `[4611686018427387904]`, 0, 0)+`}`, nil), `has too many elements`},
		{"offsets one element", rawST(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0]}}`, make([]byte, 4)), `data_offsets has 1 elements, want 2`},
		{"offsets negative", rawST(`{`+f32("a", `[1]`, -4, 0)+`}`, make([]byte, 4)), `data_offsets [-4 0] out of range`},
		{"offsets reversed", rawST(`{`+f32("a", `[1]`, 4, 0)+`}`, make([]byte, 4)), `data_offsets [4 0] out of range`},
		{"offsets beyond buffer", rawST(`{`+f32("a", `[2]`, 0, 8)+`}`, make([]byte, 4)), `data_offsets [0 8] out of range for a 4-byte data buffer`},
		{"offsets huge", rawST(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}`, make([]byte, 4)), `not a 64-bit integer`},
		{"shape/offset mismatch", rawST(`{`+f32("a", `[3]`, 0, 8)+`}`, make([]byte, 8)), `tensor "a": shape [3] needs 12 bytes, data_offsets give 8`},
		{"overlap", rawST(`{`+f32("a", `[2]`, 0, 8)+","+f32("b", `[1]`, 4, 8)+`}`, make([]byte, 8)), `tensor "b": data_offsets [4 8] overlap tensor "a" ending at 8`},
		{"gap", rawST(`{`+f32("a", `[1]`, 0, 4)+","+f32("b", `[1]`, 8, 12)+`}`, make([]byte, 12)), `tensor "b": data_offsets [8 12] leave a gap of 4 unused bytes at 4`},
		{"not starting at 0", rawST(`{`+f32("a", `[1]`, 4, 8)+`}`, make([]byte, 8)), `leave a gap of 4 unused bytes at 0`},
		{"trailing bytes", rawST(`{`+f32("a", `[1]`, 0, 4)+`}`, make([]byte, 7)), `data buffer has 7 bytes but tensors cover only 4`},
		{"no tensors but data", rawST(`{}`, make([]byte, 4)), `data buffer has 4 bytes but tensors cover only 0`},
		{"metadata not object", rawST(`{"__metadata__":"x"}`, nil), `__metadata__: not a JSON object`},
		{"metadata non-string", rawST(`{"__metadata__":{"k":1}}`, nil), `__metadata__: value of "k" is not a string`},
		{"metadata duplicate", rawST(`{"__metadata__":{"k":"a","k":"b"}}`, nil), `duplicate key "k"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tensors, meta, err := DecodeSafetensors(tc.in)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrCorrupt containing %q", err, tc.want)
			}
			if tensors != nil || meta != nil {
				t.Error("partial result returned with an error")
			}
		})
	}
}

func TestDecodeSafetensorsAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want map[string]Tensor
	}{
		{"empty header", rawST(`{}`, nil), map[string]Tensor{}},
		{"padded header, unsorted offsets", rawST(`{"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}, "a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   `,
			[]byte{0, 0, 0x80, 0x3f, 0xff, 0xff, 0xff, 0xff}),
			map[string]Tensor{"a": F32Tensor([]int{}, []float32{1}), "b": I32Tensor([]int{1}, []int32{-1})}},
		{"zero-size tensors share an offset", rawST(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I32","shape":[3,0],"data_offsets":[0,0]}}`, nil),
			map[string]Tensor{"a": F32Tensor([]int{0}, nil), "b": I32Tensor([]int{3, 0}, nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := DecodeSafetensors(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !tensorsEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeSafetensors(f *testing.F) {
	valid, err := EncodeSafetensors(sampleCheckpoint(0).Tensors["generator.safetensors"], map[string]string{"k": "v"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(rawST(`{}`, nil))
	f.Add(rawST(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawST(`{"a":{"dtype":"I32","shape":[-1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(rawST(`{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(binary.LittleEndian.AppendUint64(nil, math.MaxUint64))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tensors, meta, err := DecodeSafetensors(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decode error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		enc, err := EncodeSafetensors(tensors, meta)
		if err != nil {
			t.Fatalf("re-encode of a decoded file failed: %v", err)
		}
		tensors2, meta2, err := DecodeSafetensors(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded file failed: %v", err)
		}
		if !tensorsEqual(tensors, tensors2) {
			t.Fatalf("tensors changed through re-encoding")
		}
		if len(meta) != len(meta2) || (len(meta) > 0 && !reflect.DeepEqual(meta, meta2)) {
			t.Fatalf("metadata changed through re-encoding: %v vs %v", meta, meta2)
		}
		enc2, err := EncodeSafetensors(tensors2, meta2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point: %v", err)
		}
	})
}
