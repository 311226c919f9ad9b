package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

type fuzzSeed struct {
	name   string
	log    []byte
	repair bool
}

// fuzzSeeds are valid and damaged logs: the committed corpus of FuzzOpen
// (testdata/fuzz/FuzzOpen, written by TestWriteFuzzSeeds) and its f.Add seeds.
func fuzzSeeds() []fuzzSeed {
	full, starts := buildLog(4)
	flip := func(at int64) []byte {
		b := slices.Clone(full)
		b[at] ^= 0x40
		return b
	}
	lie := func(at int64, n uint32) []byte {
		b := slices.Clone(full)
		binary.LittleEndian.PutUint32(b[at:], n)
		return b
	}
	v3 := header(FormatVersion)
	v3[8] = 3
	v1, _ := buildLogV(3, 1)
	return []fuzzSeed{
		{"empty", nil, false},
		{"header-only", header(FormatVersion), false},
		{"valid-4-records", full, false},
		{"torn-last-record", full[:len(full)-5], false},
		{"torn-record-header", full[:starts[3]+3], false},
		{"flipped-last-record", flip(starts[3] + 12), false},
		{"flipped-middle-record", flip(starts[1] + 12), false},
		{"flipped-middle-record-repair", flip(starts[1] + 12), true},
		{"lying-length-last", lie(starts[3], 0xfffffff0), false},
		{"lying-length-middle", lie(starts[1], 60<<20), false},
		{"zero-tail", append(slices.Clone(full), make([]byte, 64)...), false},
		{"version-3", v3, false},
		{"version-1-3-records", v1, false},
		{"version-1-torn", v1[:len(v1)-3], false},
		{"not-a-ledger", []byte("SQLite format 3\x00"), false},
	}
}

// TestWriteFuzzSeeds rewrites the committed seed corpus of FuzzOpen when
// PROMPTGAN_LEDGER_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PROMPTGAN_LEDGER_WRITE_SEEDS") != "1" {
		t.Skip("set PROMPTGAN_LEDGER_WRITE_SEEDS=1 to rewrite testdata/fuzz/FuzzOpen")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range fuzzSeeds() {
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s.log)) + ")\nbool(" + strconv.FormatBool(s.repair) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzOpen opens arbitrary bytes as a log. Open must not panic; it either
// fails with ErrCorrupt or ErrFormatVersion and leaves the file untouched,
// or succeeds having kept a prefix of the file, after which appends and a
// clean reopen work.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s.log, s.repair)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte, repair bool) {
		dir := t.TempDir()
		path := filepath.Join(dir, logName)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Open(dir, Options{Repair: repair, Logger: quiet})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormatVersion) {
				t.Fatalf("Open failed with neither ErrCorrupt nor ErrFormatVersion: %v", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatal("a failed Open changed the log")
			}
			return
		}
		defer l.Close()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) >= headerSize && !bytes.Equal(got, data[:len(got)]) {
			t.Fatal("Open kept something other than a prefix of the log")
		}
		if st := l.Stats(); st.Bytes != int64(len(got)) || st.Records != l.Len() {
			t.Fatalf("Stats %+v disagree with a %d-byte log holding %d records", st, len(got), l.Len())
		}
		n := l.Len()
		k := Key("fuzz", req(n))
		_, had := l.Get(k)
		if err := l.Append(k, gen(n)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, err := Open(dir, Options{Logger: quiet})
		if err != nil {
			t.Fatalf("reopen after recovery and an append: %v", err)
		}
		defer l2.Close()
		want := n + 1
		if had {
			want = n
		}
		if l2.Len() != want || l2.Stats().DroppedBytes != 0 {
			t.Fatalf("reopen: %d records, %d bytes dropped; want %d records, none dropped", l2.Len(), l2.Stats().DroppedBytes, want)
		}
	})
}
