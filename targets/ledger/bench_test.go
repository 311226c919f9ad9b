package ledger

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"promptgan/targets/backend"
)

// benchGen is a 32-token generation, a typical short continuation.
var benchGen = backend.Generation{Tokens: make([]int32, 32)}

func benchOpen(b *testing.B, opts Options) *Ledger {
	b.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkAppend measures appends/s of 32-token generations, with and
// without an fsync after each.
func BenchmarkAppend(b *testing.B) {
	for _, syncEvery := range []bool{false, true} {
		b.Run(fmt.Sprintf("SyncEveryAppend=%v", syncEvery), func(b *testing.B) {
			l := benchOpen(b, Options{SyncEveryAppend: syncEvery})
			i := 0
			for b.Loop() {
				if err := l.Append(Key(testFP, req(i)), benchGen); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkLookup measures lookups/s (Key plus Get) in a ledger of 100k records.
func BenchmarkLookup(b *testing.B) {
	l := benchOpen(b, Options{})
	const n = 100_000
	for i := range n {
		if err := l.Append(Key(testFP, req(i)), benchGen); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		if _, ok := l.Get(Key(testFP, req(i%n))); !ok {
			b.Fatal("miss")
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkWrap measures requests/s through Wrap for a batch of 64: all hits,
// and all misses to an instant model (the ledger's own cost per new call),
// with and without an fsync per batch.
func BenchmarkWrap(b *testing.B) {
	const batchSize = 64
	b.Run("hits", func(b *testing.B) {
		l := benchOpen(b, Options{})
		m := Wrap(echoModel{}, l, WrapOptions{})
		reqs := make([]backend.Request, batchSize)
		for i := range reqs {
			reqs[i] = req(i)
		}
		if _, err := m.Generate(context.Background(), reqs); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := m.Generate(context.Background(), reqs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "requests/s")
	})
	for _, syncEvery := range []bool{false, true} {
		b.Run(fmt.Sprintf("misses/SyncEveryAppend=%v", syncEvery), func(b *testing.B) {
			l := benchOpen(b, Options{SyncEveryAppend: syncEvery})
			m := Wrap(echoModel{}, l, WrapOptions{})
			reqs := make([]backend.Request, batchSize)
			next := 0
			for b.Loop() {
				for i := range reqs {
					reqs[i] = req(next)
					next++
				}
				if _, err := m.Generate(context.Background(), reqs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

// BenchmarkOpen measures the scan of a 100k-record log (32 tokens each) at Open.
func BenchmarkOpen(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := b.TempDir()
	l, err := Open(dir, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	const n = 100_000
	for i := range n {
		if err := l.Append(Key(testFP, req(i)), benchGen); err != nil {
			b.Fatal(err)
		}
	}
	size := l.Stats().Bytes
	l.Close()
	b.SetBytes(size)
	for b.Loop() {
		l, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if l.Len() != n {
			b.Fatalf("%d records", l.Len())
		}
		l.Close()
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}

// echoModel answers every request with its prompt.
type echoModel struct{}

func (echoModel) Fingerprint() string { return "echo" }

func (echoModel) Generate(_ context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	out := make([]backend.Generation, len(reqs))
	for i, r := range reqs {
		out[i] = backend.Generation{Tokens: append([]int32(nil), r.Prompt...)}
	}
	return out, nil
}
