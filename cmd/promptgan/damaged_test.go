package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestResumeDamagedState damages a finished run's latest checkpoint in each
// way the reliability issue lists, runs `promptgan resume` on it, and checks
// that it fails (exit 1, nothing trained) with an error naming the file and
// the fault, and that the message offers the newest good checkpoint. With
// -v it prints the table of faults and errors kept in docs/RELIABILITY.md.
func TestResumeDamagedState(t *testing.T) {
	base := t.TempDir()
	if _, errOut, code := run(t, "train", "--preset", "tiny", "--out", base, "--steps", "20", "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	latest := filepath.Join("checkpoints", "step-0000020")
	gen := filepath.Join(latest, "generator.safetensors")
	header := func(h string) []byte { // a safetensors file with header h and 8 data bytes
		return append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), append([]byte(h), make([]byte, 8)...)...)
	}
	tests := []struct {
		fault string
		file  string // relative to the run
		apply func(path string, b []byte) []byte
		fix   bool // update the file's hash in the manifest so the decoder, not the hash check, meets the fault
		want  []string
	}{
		{"truncated tensor file", gen, func(_ string, b []byte) []byte { return b[:len(b)/2] }, false, []string{"generator.safetensors", "sha256"}},
		{"truncated tensor file, hash updated", gen, func(_ string, b []byte) []byte { return b[:len(b)/2] }, true, []string{"generator.safetensors", "truncated"}},
		{"flipped byte", gen, func(_ string, b []byte) []byte { b[len(b)-3] ^= 0x10; return b }, false, []string{"generator.safetensors", "hash mismatch"}},
		{"missing file", gen, func(string, []byte) []byte { return nil }, false, []string{"generator.safetensors", "missing"}},
		{"missing manifest", filepath.Join(latest, "manifest.json"), func(string, []byte) []byte { return nil }, false, []string{"latest points to", "no manifest.json"}},
		{"unlisted file", filepath.Join(latest, "extra.safetensors"), func(string, []byte) []byte { return header(`{}`) }, false, []string{"extra.safetensors", "not listed"}},
		{"wrong format version", filepath.Join(latest, "manifest.json"), func(_ string, b []byte) []byte {
			return []byte(strings.Replace(string(b), `"format_version": 2`, `"format_version": 7`, 1))
		}, false, []string{"manifest.json", "format_version 7"}},
		{"manifest not JSON", filepath.Join(latest, "manifest.json"), func(_ string, b []byte) []byte { return b[:len(b)/3] }, false, []string{"manifest.json", "invalid JSON"}},
		{"oversized header length", gen, func(_ string, b []byte) []byte {
			binary.LittleEndian.PutUint64(b, 1<<62)
			return b
		}, true, []string{"generator.safetensors", "header"}},
		{"lying header (offsets past the data)", gen, func(string, []byte) []byte {
			return header(`{"emb":{"dtype":"F32","shape":[2],"data_offsets":[0,4096]}}`)
		}, true, []string{"generator.safetensors", "emb"}},
		{"absurd tensor shape", gen, func(string, []byte) []byte {
			return header(`{"emb":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`)
		}, true, []string{"generator.safetensors", "emb"}},
		{"wrong tensor shape for the network", gen, func(string, []byte) []byte {
			return header(`{"emb":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
		}, true, []string{"generator.safetensors", "emb"}},
		{"garbled latest", filepath.Join("checkpoints", "latest"), func(string, []byte) []byte { return []byte("\x00\x01garbage") }, false, []string{"latest", "garbled"}},
		{"latest names a missing checkpoint", filepath.Join("checkpoints", "latest"), func(string, []byte) []byte { return []byte("step-0000999\n") }, false, []string{"latest points to", "step-0000999"}},
	}
	var table []string
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			copyTree(t, base, dir)
			path := filepath.Join(dir, tc.file)
			b, _ := os.ReadFile(path)
			if nb := tc.apply(path, b); nb == nil {
				os.Remove(path)
			} else {
				os.WriteFile(path, nb, 0o644)
				if tc.fix {
					fixHash(t, filepath.Dir(path), filepath.Base(path), nb)
				}
			}
			_, errOut, code := run(t, "resume", dir, "--steps", "40", "--quiet")
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
			}
			want := tc.want
			// Damage that only the restore into the networks finds is named,
			// but a file set that loads is not a damaged checkpoint to skip.
			if tc.fault != "wrong tensor shape for the network" {
				want = append(want, "rerun with --fallback")
			}
			for _, w := range want {
				if !strings.Contains(errOut, w) {
					t.Errorf("error does not mention %q:\n%s", w, errOut)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "checkpoints", "step-0000040")); err == nil {
				t.Fatal("a damaged checkpoint was resumed")
			}
			first, _, _ := strings.Cut(strings.TrimSpace(errOut), "\n")
			table = append(table, "| "+tc.fault+" | `"+strings.ReplaceAll(first, dir, "RUN")+"` |")
		})
	}
	t.Log("damaged-state table:\n" + strings.Join(table, "\n"))
}

// fixHash sets fname's digest in dir/manifest.json to that of content.
func fixHash(t *testing.T, dir, fname string, content []byte) {
	t.Helper()
	mpath := filepath.Join(dir, "manifest.json")
	m, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	re := regexp.MustCompile(`("` + regexp.QuoteMeta(fname) + `":\s*")[0-9a-f]{64}(")`)
	if !re.Match(m) {
		t.Fatalf("%s not in the manifest", fname)
	}
	os.WriteFile(mpath, re.ReplaceAll(m, []byte("${1}"+hex.EncodeToString(sum[:])+"${2}")), 0o644)
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
