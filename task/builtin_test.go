package task

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/internal/cache"
)

func TestResolve(t *testing.T) {
	withData := t.TempDir()
	if err := os.MkdirAll(filepath.Join(withData, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(withData, "data", "sentiment.jsonl")
	if err := os.WriteFile(file, []byte(`{"text": "a", "label": "good"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	english := filepath.Join(withData, "english", "tasks", "definitions.jsonl")
	if err := os.MkdirAll(filepath.Dir(english), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(english, []byte(`{"text": "a", "label": "good"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	t.Chdir(empty) // no .cache above the working directory
	for _, tc := range []struct {
		name, arg, cacheDir string
		want                string // path; "" = an error
		wantErr             []string
	}{
		{"built-in from the cache", BuiltinSentiment, withData, file, nil},
		{"built-in missing", BuiltinSentiment, empty, "", []string{`built-in task "sentiment"`, "make setup", "data/sentiment.jsonl"}},
		{"English task from the cache", "definitions", withData, english, nil},
		{"English task missing", "love", withData, "", []string{`built-in task "love"`, "make setup", "english/tasks/love.jsonl"}},
		{"a path is kept", "my/task.jsonl", withData, "my/task.jsonl", nil},
		{"a file named like a built-in", "./sentiment", empty, "./sentiment", nil},
		{"nothing", "", withData, "", []string{"no task given", "sentiment", "positive-reviews"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(cache.EnvDir, tc.cacheDir)
			got, err := Resolve(tc.arg)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Errorf("Resolve(%q) = %q, %v; want %q", tc.arg, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve(%q) = %q, want an error", tc.arg, got)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	t.Setenv(cache.EnvDir, empty)
	if _, err := Resolve(BuiltinSentiment); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("missing built-in: %v does not wrap cache.ErrNotFound", err)
	}
}

// TestBuiltinSentiment checks the file `make setup` writes, when it is
// there: the UCI data set's 3,000 sentences, half positive, split into its
// documented shares with the default seed.
func TestBuiltinSentiment(t *testing.T) {
	path, err := Resolve(BuiltinSentiment)
	if errors.Is(err, cache.ErrNotFound) {
		t.Skip("no built-in sentiment task: run `make setup`")
	}
	if err != nil {
		t.Fatal(err)
	}
	task, err := LoadText(path)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, len(task.Examples))
	for i := range all {
		all[i] = i
	}
	good := 0
	for _, it := range task.Labeled(all) {
		if it.Good {
			good++
		}
	}
	if !task.InputFree || len(task.Examples) != 3000 || good != 1500 {
		t.Fatalf("%s: input-free %v, %d examples, %d good; want input-free, 3000, 1500", path, task.InputFree, len(task.Examples), good)
	}
	s, err := task.Split(DefaultSplitSeed, 0.1, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Record()
	t.Logf("%s sha256 %s; split %+v", path, task.SHA256, rec)
	// Duplicated sentences stay together, so shares are near, not exactly, 10% and 20%.
	for _, c := range []struct {
		name string
		got  SplitCounts
		want int
	}{{"validation", rec.Val, 150}, {"test", rec.TestSplit, 300}} {
		if d := c.got.Good - c.want; d < -5 || d > 5 {
			t.Errorf("%s: %d good, want about %d", c.name, c.got.Good, c.want)
		}
		if d := c.got.Bad - c.want; d < -5 || d > 5 {
			t.Errorf("%s: %d bad, want about %d", c.name, c.got.Bad, c.want)
		}
	}
}

// TestResolveMisspelt: a bare name that is neither a file nor a built-in
// task lists the built-in names (issue 26: `--task sentimentt` said only
// "no such file").
func TestResolveMisspelt(t *testing.T) {
	_, err := Resolve("sentimentt")
	if err == nil || !strings.Contains(err.Error(), "nor a built-in task") || !strings.Contains(err.Error(), `"sentiment"`) {
		t.Fatalf("Resolve(sentimentt) = %v, want the built-in names", err)
	}
}
