package seqganoracle

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOptions(t *testing.T) {
	for _, tc := range []struct {
		quick  bool
		preset string
	}{{false, "seqgan-oracle"}, {true, "quick"}} {
		o, err := LoadOptions(tc.quick, "")
		if err != nil || o.Preset != tc.preset || o.ConfigFile != "" || o.Config.Steps == 0 {
			t.Errorf("quick %v: %+v, %v; want preset %s", tc.quick, o.Preset, err, tc.preset)
		}
	}
	if _, err := LoadOptions(false, filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("a missing YAML file loaded")
	}
	file := filepath.Join(t.TempDir(), "seed.yaml")
	if err := os.WriteFile(file, []byte("seed: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := LoadOptions(true, file); err != nil || o.Config.Seed != 7 || o.ConfigFile != file {
		t.Errorf("YAML file: seed %d, file %q, %v", o.Config.Seed, o.ConfigFile, err)
	}
}
