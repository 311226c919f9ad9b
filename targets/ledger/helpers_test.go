package ledger

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"promptgan/targets/backend"
)

// testFP is the fingerprint of the test records.
const testFP = "test-model/greedy"

// req returns the i-th test request.
func req(i int) backend.Request {
	return backend.Request{Prompt: []int32{int32(i), 7}, Input: []int32{int32(i % 3)}, Seed: uint64(i)}
}

// gen returns the i-th test generation: i%5 tokens (so some are empty).
func gen(i int) backend.Generation {
	var t []int32
	for j := range i % 5 {
		t = append(t, int32(i*10+j))
	}
	return backend.Generation{Tokens: t, Usage: usageOf(i)}
}

// logBuffer is a concurrency-safe buffer for a slog handler.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *logBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *logBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// openT opens dir with a logger writing into the returned buffer.
func openT(t testing.TB, dir string, opts Options) (*Ledger, *logBuffer, error) {
	t.Helper()
	logs := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	l, err := Open(dir, opts)
	if l != nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, logs, err
}

// mustOpen is openT that fails the test on error.
func mustOpen(t testing.TB, dir string, opts Options) (*Ledger, *logBuffer) {
	t.Helper()
	l, logs, err := openT(t, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l, logs
}

// buildLog returns the bytes of a log holding records 0..n-1 and the byte
// offset at which each record starts.
func buildLog(n int) ([]byte, []int64) { return buildLogV(n, FormatVersion) }

// buildLogV is buildLog in format version v (1 or 2); records carry the
// usage usageOf(i) (dropped in version 1).
func buildLogV(n int, v uint32) ([]byte, []int64) {
	b := header(v)
	fixed := int64(minPayload + usageSize)
	if v == 1 {
		fixed = minPayload
	}
	var starts []int64
	for i := range n {
		starts = append(starts, int64(len(b)))
		b = appendRecord(b, Key(testFP, req(i)), entryOf(gen(i)), fixed)
	}
	return b, starts
}

// usageOf is the usage test records carry.
func usageOf(i int) backend.Usage {
	return backend.Usage{PromptTokens: 10 + i, CompletionTokens: 100 + i}
}

// writeLog writes b as the log of a fresh ledger directory and returns the directory.
func writeLog(t testing.TB, b []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, logName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkRecords fails unless l holds exactly records 0..n-1.
func checkRecords(t testing.TB, l *Ledger, n int) {
	t.Helper()
	if got := l.Len(); got != n {
		t.Fatalf("ledger holds %d records, want %d", got, n)
	}
	for i := range n {
		g, ok := l.Get(Key(testFP, req(i)))
		if !ok {
			t.Fatalf("record %d missing", i)
		}
		if !slices.Equal(g.Tokens, gen(i).Tokens) {
			t.Fatalf("record %d = %v, want %v", i, g.Tokens, gen(i).Tokens)
		}
		if want := usageOf(i); g.Usage.PromptTokens != want.PromptTokens || g.Usage.CompletionTokens != want.CompletionTokens || !g.Usage.FromLedger {
			t.Fatalf("record %d: usage %+v, want %+v from the ledger", i, g.Usage, want)
		}
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
