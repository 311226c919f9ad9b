package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	for _, content := range []string{"first", "second, longer"} { // a new file, then a replacement
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d entries left in the directory, want only the file: %v", len(entries), entries)
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	path, tmp := filepath.Join(dir, "latest"), filepath.Join(dir, "latest.tmp")
	if err := os.WriteFile(tmp, []byte("left by a crash, longer than the new content"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"a\n", "b\n"} {
		if err := Replace(path, tmp, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Fatalf("%s still exists: %v", tmp, err)
		}
	}
	if err := Replace(filepath.Join(dir, "missing", "f"), filepath.Join(dir, "missing", "f.tmp"), nil); err == nil {
		t.Fatal("replace in a missing directory succeeded")
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}

func TestWriteSync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"longer first", "short"} { // truncates
		if err := WriteSync(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
}
