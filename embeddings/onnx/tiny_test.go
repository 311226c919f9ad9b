package onnx

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed tiny encoder under testdata/")

// tinyTestdata is the committed copy of BuildTiny(dir, tinyTestdataSeed).
const (
	tinyTestdata     = "testdata/tiny-encoder"
	tinyTestdataSeed = 1
)

// The committed tiny encoder is exactly what BuildTiny writes, so it cannot
// drift from the code (rewrite it with go test -run TestTinyTestdata -update).
func TestTinyTestdata(t *testing.T) {
	if *update {
		if err := BuildTiny(tinyTestdata, tinyTestdataSeed); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := BuildTiny(fresh, tinyTestdataSeed); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ModelFile, TokenizerFile, ConfigFile} {
		want, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(tinyTestdata, name))
		if err != nil {
			t.Fatalf("%v (write it with go test ./embeddings/onnx -run TestTinyTestdata -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s/%s differs from what BuildTiny(dir, %d) writes; rewrite it with -update", tinyTestdata, name, tinyTestdataSeed)
		}
	}
	other := t.TempDir()
	if err := BuildTiny(other, tinyTestdataSeed+1); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(fresh, ModelFile))
	b, _ := os.ReadFile(filepath.Join(other, ModelFile))
	if bytes.Equal(a, b) {
		t.Error("BuildTiny wrote the same model.onnx for seeds 1 and 2")
	}
}
