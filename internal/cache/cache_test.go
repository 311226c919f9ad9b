package cache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"data/full.txt": "x", "data/empty.txt": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(EnvDir, dir)
	for _, tc := range []struct {
		rel  string
		want string // "" = not found
	}{
		{"data/full.txt", filepath.Join(dir, "data", "full.txt")},
		{"data/empty.txt", ""}, // an interrupted download is not a file
		{"data", ""},           // a directory is not a file
		{"data/missing.txt", ""},
	} {
		got, err := Find(tc.rel, "test file", "make setup")
		switch {
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("Find(%q) = %q, %v; want %q", tc.rel, got, err, tc.want)
		case tc.want == "" && (err == nil || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "run `make setup`") || !strings.Contains(err.Error(), dir)):
			t.Errorf("Find(%q) = %q, %v; want a not-found error naming the setup command and %s", tc.rel, got, err, dir)
		}
	}
}
