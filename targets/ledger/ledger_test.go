package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"promptgan/targets/backend"
)

func TestKeyDistinguishesFields(t *testing.T) {
	base := backend.Request{Prompt: []int32{1, 2}, Input: []int32{3}, Seed: 9}
	tests := []struct {
		name string
		fp   string
		r    backend.Request
	}{
		{"other fingerprint", "model-b", base},
		{"prompt/input boundary", "model-a", backend.Request{Prompt: []int32{1}, Input: []int32{2, 3}, Seed: 9}},
		{"input moved into prompt", "model-a", backend.Request{Prompt: []int32{1, 2, 3}, Seed: 9}},
		{"other seed", "model-a", backend.Request{Prompt: []int32{1, 2}, Input: []int32{3}, Seed: 10}},
		{"other token", "model-a", backend.Request{Prompt: []int32{1, 2}, Input: []int32{4}, Seed: 9}},
		{"negative token", "model-a", backend.Request{Prompt: []int32{1, 2}, Input: []int32{-3}, Seed: 9}},
		// The fingerprint's length prefix keeps its bytes apart from the prompt's.
		{"fingerprint swallows bytes", "model-a\x02\x00\x00\x00\x00\x00\x00\x00", backend.Request{Input: []int32{3}, Seed: 9}},
	}
	want := Key("model-a", base)
	for _, tc := range tests {
		if Key(tc.fp, tc.r) == want {
			t.Errorf("%s: same key as the base request", tc.name)
		}
	}
	if Key("model-a", base) != want {
		t.Error("Key is not deterministic")
	}
	if Key("m", backend.Request{}) != Key("m", backend.Request{Prompt: []int32{}, Input: []int32{}}) {
		t.Error("nil and empty token lists give different keys")
	}
}

// TestKeyGolden freezes the key encoding: a change invalidates every ledger
// already on disk, so it must come with a new keyDomain version. The value was
// computed independently (Python hashlib over the encoding documented on Key).
func TestKeyGolden(t *testing.T) {
	k := Key("onnx:abc/greedy", backend.Request{Prompt: []int32{5, -1}, Input: []int32{42}, Seed: 7})
	const want = "72f094a02d8ad84a63749806c53f67aa1b6554ad6df9d4209075f8ac18459654"
	if got := hex.EncodeToString(k[:]); got != want {
		t.Errorf("Key = %s, want %s", got, want)
	}
}

// TestTypesCovered fails when backend.Request or backend.Generation gain a
// field, which Key or the record format would then silently ignore.
func TestTypesCovered(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{backend.Request{}, []string{"Prompt", "Input", "Seed"}},
		{backend.Generation{}, []string{"Tokens", "Usage"}},
		{backend.Usage{}, []string{"PromptTokens", "CompletionTokens", "FromLedger"}}, // FromLedger is not stored: it is how a record is answered
	} {
		typ := reflect.TypeOf(tc.v)
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s has fields %v; Key and the record format cover %v: extend them (new versions)", typ, got, tc.want)
		}
	}
}

// TestFormatGolden checks the bytes Append writes against a log built
// independently (Python, bit-by-bit CRC-32C) from the format in the package comment.
func TestFormatGolden(t *testing.T) {
	const want = "50474c45444745520200000063da1214" + // header, version 2
		"38000000eaf64073" + // length 56, CRC-32C
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" + // key
		"03000000" + "05000000ffffffff70110100" + // count 3, tokens 5, -1, 70000
		"0700000009000000" // usage: 7 prompt, 9 completion tokens
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, Options{})
	var key [32]byte
	for i := range key {
		key[i] = byte(i)
	}
	g := backend.Generation{Tokens: []int32{5, -1, 70000}, Usage: backend.Usage{PromptTokens: 7, CompletionTokens: 9}}
	if err := l.Append(key, g); err != nil {
		t.Fatal(err)
	}
	l.Close()
	got, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != want {
		t.Errorf("log = %x\nwant  %s", got, want)
	}
}

// TestFormatVersion1 opens a version 1 log (the golden bytes of the format
// before usage was recorded): its record reads back with no usage, and an
// append keeps the log in version 1.
func TestFormatVersion1(t *testing.T) {
	const v1 = "50474c4544474552010000005a533076" + // header, version 1
		"300000008f202f9d" + // length 48, CRC-32C
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" + // key
		"03000000" + "05000000ffffffff70110100" // count 3, tokens 5, -1, 70000
	b, _ := hex.DecodeString(v1)
	dir := writeLog(t, b)
	l, logs := mustOpen(t, dir, Options{})
	var key [32]byte
	for i := range key {
		key[i] = byte(i)
	}
	g, ok := l.Get(key)
	if !ok || !slices.Equal(g.Tokens, []int32{5, -1, 70000}) || g.Usage.PromptTokens != 0 || !g.Usage.FromLedger {
		t.Fatalf("Get = %+v, %v", g, ok)
	}
	if !strings.Contains(logs.String(), "version 1") {
		t.Errorf("no warning about the version 1 log: %q", logs.String())
	}
	if err := l.Append(Key(testFP, req(3)), gen(3)); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Paid != (backend.Usage{}) {
		t.Errorf("Paid = %+v in a version 1 log, want none", st.Paid)
	}
	l.Close()
	got, _ := os.ReadFile(filepath.Join(dir, logName))
	want, starts := buildLogV(4, 1)
	if !bytes.Equal(got[:len(b)], b) || !bytes.Equal(got[len(b):], want[starts[3]:]) {
		t.Errorf("log after an append = %x, want the version 1 log plus a version 1 record", got)
	}
	l2, _ := mustOpen(t, dir, Options{})
	defer l2.Close()
	if l2.Len() != 2 {
		t.Errorf("reopened: %d records, want 2", l2.Len())
	}
}

func TestRoundTripAndReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "ledger")
	for _, syncEvery := range []bool{false, true} {
		t.Run(fmt.Sprintf("SyncEveryAppend=%v", syncEvery), func(t *testing.T) {
			dir := filepath.Join(dir, fmt.Sprint(syncEvery))
			l, _ := mustOpen(t, dir, Options{SyncEveryAppend: syncEvery})
			for i := range 50 {
				if err := l.Append(Key(testFP, req(i)), gen(i)); err != nil {
					t.Fatal(err)
				}
			}
			checkRecords(t, l, 50)
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			want, _ := buildLog(50)
			if st.Records != 50 || st.Appended != 50 || st.Bytes != int64(len(want)) || st.DroppedBytes != 0 {
				t.Errorf("Stats = %+v, want 50 records appended, %d bytes", st, len(want))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			got, err := os.ReadFile(filepath.Join(dir, logName))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("log bytes differ from the documented format")
			}
			l2, logs := mustOpen(t, dir, Options{})
			checkRecords(t, l2, 50)
			if st := l2.Stats(); st.Appended != 0 || st.Records != 50 || st.Bytes != int64(len(want)) {
				t.Errorf("Stats after reopen = %+v", st)
			}
			if logs.String() != "" {
				t.Errorf("clean reopen logged: %s", logs)
			}
		})
	}
}

func TestAppendKeepsFirst(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	k := Key(testFP, req(1))
	if err := l.Append(k, backend.Generation{Tokens: []int32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	size := l.Stats().Bytes
	if err := l.Append(k, backend.Generation{Tokens: []int32{3}}); err != nil {
		t.Fatal(err)
	}
	if g, _ := l.Get(k); !slices.Equal(g.Tokens, []int32{1, 2}) {
		t.Errorf("Get = %v, want the first generation [1 2]", g.Tokens)
	}
	if st := l.Stats(); st.Bytes != size || st.Appended != 1 || fileSize(t, l.Path()) != size {
		t.Errorf("duplicate append wrote: %+v", st)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	toks := []int32{4, 5}
	k := Key(testFP, req(0))
	if err := l.Append(k, backend.Generation{Tokens: toks}); err != nil {
		t.Fatal(err)
	}
	toks[0] = 99
	g, _ := l.Get(k)
	g.Tokens[1] = 99
	if g, _ := l.Get(k); !slices.Equal(g.Tokens, []int32{4, 5}) {
		t.Errorf("stored generation was changed through a caller's slice: %v", g.Tokens)
	}
}

// TestTornTail cuts or damages the last record at every byte offset: Open
// must keep the records before it, drop the rest with a warning naming the
// offset, and accept appends afterwards.
func TestTornTail(t *testing.T) {
	full, starts := buildLog(4) // record 3 has 3 tokens: 56 bytes
	last := starts[3]
	recLen := int64(len(full)) - last
	type damage struct {
		name string
		log  []byte
	}
	var cases []damage
	for c := int64(1); c < recLen; c++ {
		cases = append(cases, damage{fmt.Sprintf("cut after %d of %d bytes", c, recLen), full[:last+c]})
	}
	for c := int64(0); c < recLen; c++ {
		b := slices.Clone(full)
		b[last+c] ^= 0x20
		cases = append(cases, damage{fmt.Sprintf("byte %d flipped", c), b})
	}
	for c := int64(1); c < recLen; c++ {
		// A power loss can leave the file longer with zeros where the data never landed.
		b := slices.Clone(full)
		clear(b[last+c:])
		if bytes.Equal(b, full) {
			continue // the record ends in zero bytes already
		}
		cases = append(cases, damage{fmt.Sprintf("zeros from byte %d", c), b})
	}
	cases = append(cases, damage{"zeros after a complete log", append(slices.Clone(full), make([]byte, 100)...)})
	cases = append(cases, damage{"half a record header", append(slices.Clone(full), 1, 2, 3)})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLog(t, tc.log)
			keep := 3
			if len(tc.log) > len(full) { // damage after a complete record 3
				keep, last = 4, int64(len(full))
			} else {
				last = starts[3]
			}
			l, logs, err := openT(t, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, l, keep)
			dropped := int64(len(tc.log)) - last
			if st := l.Stats(); st.DroppedBytes != dropped || st.Bytes != last {
				t.Errorf("Stats = %+v, want %d bytes dropped at offset %d", st, dropped, last)
			}
			if w := logs.String(); !strings.Contains(w, fmt.Sprintf("offset=%d dropped_bytes=%d", last, dropped)) || !strings.Contains(w, "level=WARN") {
				t.Errorf("warning does not give offset %d and %d bytes: %q", last, dropped, w)
			}
			if got := fileSize(t, l.Path()); got != last {
				t.Errorf("log is %d bytes after recovery, want %d", got, last)
			}
			for i := keep; i < 6; i++ {
				if err := l.Append(Key(testFP, req(i)), gen(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, logs2 := mustOpen(t, dir, Options{})
			checkRecords(t, l2, 6)
			if logs2.String() != "" {
				t.Errorf("second open after recovery logged: %s", logs2)
			}
		})
	}
}

// TestCorruptMiddleRecord flips every byte of a record that valid records
// follow: Open must fail with ErrCorrupt naming the file and the offset, and
// with Repair keep what comes before it and save the rest aside.
func TestCorruptMiddleRecord(t *testing.T) {
	full, starts := buildLog(5)
	mid := starts[2]
	for c := mid; c < starts[3]; c++ {
		b := slices.Clone(full)
		b[c] ^= 0x01
		dir := writeLog(t, b)
		_, _, err := openT(t, dir, Options{})
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: err = %v, want ErrCorrupt", c, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, filepath.Join(dir, logName)) || !strings.Contains(msg, fmt.Sprintf("byte offset %d ", mid)) {
			t.Fatalf("byte %d flipped: error does not name the file and offset %d: %v", c, mid, err)
		}
		if c == mid {
			t.Logf("error: %v", err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, logName)); !bytes.Equal(got, b) {
			t.Fatal("a failed Open changed the log")
		}
	}

	b := slices.Clone(full)
	b[mid+20] ^= 0xff
	dir := writeLog(t, b)
	l, logs, err := openT(t, dir, Options{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, l, 2)
	if !strings.Contains(logs.String(), fmt.Sprintf("offset=%d", mid)) {
		t.Errorf("repair warning lacks the offset: %s", logs)
	}
	saved, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s.damaged-%d", logName, mid)))
	if err != nil || !bytes.Equal(saved, b[mid:]) {
		t.Errorf("damaged tail not saved aside intact (err %v)", err)
	}
	if err := l.Append(Key(testFP, req(2)), gen(2)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2, _ := mustOpen(t, dir, Options{})
	checkRecords(t, l2, 3)
}

func TestHeader(t *testing.T) {
	hdr := header(FormatVersion)
	v2 := slices.Clone(hdr)
	binary.LittleEndian.PutUint32(v2[8:], 3)
	binary.LittleEndian.PutUint32(v2[12:], crc32.Checksum(v2[:12], castagnoli))
	badCRC := slices.Clone(hdr)
	badCRC[9] ^= 1
	one, _ := buildLog(1)
	tests := []struct {
		name    string
		log     []byte
		wantErr error // nil: opens empty
		wantMsg string
	}{
		{"empty file", nil, nil, ""},
		{"prefix of the header", hdr[:5], nil, ""},
		{"header only", hdr, nil, ""},
		{"short garbage", []byte("hello"), ErrCorrupt, "not a promptgan call ledger"},
		{"other magic", append([]byte("SQLite f"), one[8:]...), ErrCorrupt, "not a promptgan call ledger"},
		{"version 3", v2, ErrFormatVersion, "format version 3, this build reads 1 and 2"},
		{"damaged header", append(badCRC, one[headerSize:]...), ErrCorrupt, "header damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLog(t, tc.log)
			l, _, err := openT(t, dir, Options{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), dir) {
					t.Fatalf("err = %v, want %v saying %q and naming the file", err, tc.wantErr, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Len() != 0 {
				t.Errorf("Len = %d", l.Len())
			}
			if err := l.Append(Key(testFP, req(0)), gen(0)); err != nil {
				t.Fatal(err)
			}
			l.Close()
			if got, _ := os.ReadFile(filepath.Join(dir, logName)); !bytes.Equal(got, one) {
				t.Errorf("log = %x, want %x", got, one)
			}
		})
	}
}

// TestLyingLength: a length field claiming far more than the file holds must
// neither be allocated nor hide the records after it.
func TestLyingLength(t *testing.T) {
	full, starts := buildLog(3)
	lying := func(b []byte, at int64, n uint32) []byte {
		b = slices.Clone(b)
		binary.LittleEndian.PutUint32(b[at:], n)
		return b
	}
	tests := []struct {
		name    string
		log     []byte
		wantErr bool
		keep    int
	}{
		{"last record claims 4 GiB", lying(full, starts[2], 0xffffffff), false, 2},
		{"last record claims 60 MiB", lying(full, starts[2], 60<<20), false, 2},
		{"last record claims 7 bytes", lying(full, starts[2], 7), false, 2},
		{"middle record claims 4 GiB", lying(full, starts[1], 0xffffffff), true, 0},
		{"middle record claims 60 MiB", lying(full, starts[1], 60<<20), true, 0},
		{"first record claims 0 bytes", lying(full, starts[0], 0), true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLog(t, tc.log)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			l, _, err := openT(t, dir, Options{})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("Open allocated %d bytes for a %d-byte log", alloc, len(tc.log))
			}
			if tc.wantErr {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, l, tc.keep)
		})
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, Options{})
	if _, _, err := openT(t, dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	l.Close()
	if _, _, err := openT(t, dir, Options{}); err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
}

// TestLockedNamesTheHolder: a second Open names the pid that the holder
// wrote in ledger.lock, so that the user knows which process to stop; a
// holder that wrote none (an older build), or a pid that is garbage or
// gone, gives the plain ErrLocked text and breaks nothing.
func TestLockedNamesTheHolder(t *testing.T) {
	self := fmt.Sprintf("ledger in use by another process (pid %d)", os.Getpid())
	for _, tc := range []struct {
		name    string
		content string // ledger.lock's content under a bare flock; "" with ledger = true
		ledger  bool   // held by a Ledger of this process
		want    string // in the error
	}{
		{"a ledger of this process", "", true, self},
		{"no pid written", "", false, "ledger in use by another process"},
		{"garbage", "not a pid\n", false, "ledger in use by another process"},
		{"a process that is gone", "2147483646\n", false, "ledger in use by another process"},
		{"pid 0", "0\n", false, "ledger in use by another process"},
		{"a negative pid", "-1\n", false, "ledger in use by another process"},
		{"too long", strings.Repeat("9", 100), false, "ledger in use by another process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var release func()
			if tc.ledger {
				l, _ := mustOpen(t, dir, Options{})
				release = func() { l.Close() }
			} else {
				f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteString(tc.content); err != nil {
					t.Fatal(err)
				}
				if err := lockFile(f); err != nil {
					t.Fatal(err)
				}
				release = func() { f.Close() }
			}
			_, _, err := openT(t, dir, Options{})
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("second Open: err = %v, want ErrLocked", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || (!tc.ledger && strings.Contains(msg, "(pid")) {
				t.Errorf("second Open: %q, want %q", msg, tc.want)
			}
			release()
			l, _ := mustOpen(t, dir, Options{}) // and the next holder writes its own pid
			if b, err := os.ReadFile(filepath.Join(dir, lockName)); err != nil || string(b) != fmt.Sprintf("%d\n", os.Getpid()) {
				t.Errorf("ledger.lock after Open: %q, %v; want this process's pid", b, err)
			}
			l.Close()
		})
	}
}

func TestClosed(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Key(testFP, req(0)), gen(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
}

// TestWriteFailure: when a write fails and the partial record cannot be
// removed either, the ledger must refuse every later write.
func TestWriteFailure(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), Options{})
	if err := l.Append(Key(testFP, req(0)), gen(0)); err != nil {
		t.Fatal(err)
	}
	ro, err := os.Open(l.Path()) // writes and truncates fail on it
	if err != nil {
		t.Fatal(err)
	}
	rw := l.f
	l.f = ro
	err = l.Append(Key(testFP, req(1)), gen(1))
	if err == nil || !strings.Contains(err.Error(), "refusing further writes") {
		t.Fatalf("Append on a failing file: %v", err)
	}
	l.f = rw
	ro.Close()
	if err2 := l.Append(Key(testFP, req(2)), gen(2)); err2 == nil {
		t.Error("Append after an unrecoverable failure succeeded")
	}
	if err2 := l.Sync(); err2 == nil {
		t.Error("Sync after an unrecoverable failure succeeded")
	}
	if _, ok := l.Get(Key(testFP, req(1))); ok {
		t.Error("a failed append is in the index")
	}
}
