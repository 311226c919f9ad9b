// Package ledger is the call ledger: a content-addressed, append-only,
// crash-safe on-disk cache of every target-model call.
//
// Wrap puts a ledger in front of a backend.Model. Each request is keyed by Key
// (the model fingerprint, which includes the decode settings, the prompt
// token ids, the input token ids and the sampling seed); a request whose key
// is in the ledger is answered from it, the others are sent to the model in
// one batched call and their generations are appended. A run repeated or
// resumed with the same seeds asks the same requests and so replays from the
// ledger without calling the model.
//
// # Directory
//
// A ledger is a directory holding
//
//	ledger.log    the log: a header, then records (below)
//	ledger.lock   flock(2)-ed by the one process that has the ledger open, which writes its pid
//	              in it (decimal, then a newline) for the error of the next process that tries
//
// Open creates the directory and the log when they do not exist.
//
// # Log format, version 2 (version 1 is read too)
//
// All integers are little-endian. The log starts with a 16-byte header:
//
//	offset  size  field
//	0       8     magic "PGLEDGER"
//	8       4     format version, uint32 (FormatVersion)
//	12      4     CRC-32C (Castagnoli) of bytes 0..11
//
// followed by records, back to back, in the order they were appended:
//
//	offset  size     field
//	0       4        n: payload length in bytes, uint32; 44 <= n <= MaxPayload
//	4       4        CRC-32C (Castagnoli) of the payload
//	8       32       payload: key, the SHA-256 of Key
//	40      4        payload: count, the number of generated tokens, uint32; n = 44 + 4*count
//	44      4*count  payload: the generated token ids, int32 each
//	+0      4        payload: prompt tokens the server billed for the call, uint32
//	+4      4        payload: completion tokens billed, uint32
//
// Version 1 records have no usage (n = 36 + 4*count). A version 1 log is
// still opened and appended to in version 1 (the usage of its new calls is
// not kept, and Open warns once); any other version is refused with
// ErrFormatVersion.
//
// A key appears at most once: appending a key the ledger already holds is a
// no-op (the first generation recorded for a key wins).
//
// # Crash safety
//
//   - The log never exists without its header: it is written to
//     ledger.log.tmp, fsynced, renamed to ledger.log, and the directory is
//     fsynced, all before Open returns.
//   - Every Append, and every batch of new generations recorded by Wrap, is
//     encoded first and then written with a single write(2) on a file opened
//     with O_APPEND. If the write fails (a full disk, say), the file is
//     truncated back to its last complete record; if even that fails the
//     ledger refuses further writes.
//   - Sync fsyncs the log (Options.SyncEveryAppend does so after every
//     append). Records appended before a Sync that returned nil survive a
//     SIGKILL, an OS crash and a power loss. A SIGKILL alone loses nothing
//     already written: the data is in the kernel's page cache. A failed fsync
//     is sticky: the ledger refuses further writes, since what reached the disk
//     is then unknown.
//   - A crash can only damage the end of the log: a prefix of the last write
//     (a torn tail). Open finds it (a record that runs past the end of the
//     file, or whose length or CRC is wrong, with no valid record after it),
//     truncates it away, fsyncs, and logs a warning with the byte offset and
//     the number of bytes dropped. Every complete record before it is kept.
//   - A bad record followed by a valid one is not what a crash leaves behind:
//     Open fails with an error wrapping ErrCorrupt that names the file and
//     the byte offset. Options.Repair instead copies everything from that
//     offset to ledger.log.damaged-<offset> and truncates it away.
//   - Open trusts no length field: a record is bounded by MaxPayload and by
//     the bytes left in the file before anything is allocated for it.
//   - One process at a time: a second Open of the same directory, from this
//     process or another, fails with ErrLocked, naming the holder's pid when
//     ledger.lock holds one of a live process.
//
// # Memory and speed
//
// Open reads the whole log into a map from key to tokens, so a ledger costs
// about 4 bytes per generated token plus roughly 100 bytes per record of
// memory, and Open reads about 250 MB/s (BenchmarkOpen). Append costs a
// write(2); with SyncEveryAppend, an fsync as well.
package ledger

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"promptgan/internal/atomicfile"
	"promptgan/targets/backend"
)

// FormatVersion is the log format of a new ledger. Open reads it and
// version 1 (no usage).
const FormatVersion = 2

// MaxPayload bounds the payload of one record (64 MiB, about 16.7 million
// tokens). Append refuses a longer generation; Open treats a longer length
// field as damage.
const MaxPayload = 64 << 20

const (
	logName    = "ledger.log"
	lockName   = "ledger.lock"
	tmpSuffix  = ".tmp"
	magic      = "PGLEDGER"
	headerSize = 16

	keySize       = 32
	recHeaderSize = 8           // length + CRC
	minPayload    = keySize + 4 // key + count, no tokens (version 1)
	usageSize     = 8           // prompt + completion tokens (version 2)
	minRecord     = recHeaderSize + minPayload
	scanBufSize   = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrCorrupt: the log is damaged in a way a crash does not explain: the
	// header is not a ledger header, or a bad record is followed by valid
	// ones. The error names the file and the byte offset.
	ErrCorrupt = errors.New("corrupt ledger")
	// ErrFormatVersion: the log header carries a format version this build does not read.
	ErrFormatVersion = errors.New("unsupported ledger format version")
	// ErrLocked: another Ledger (in this process or another) has the directory
	// open. The error Open returns names the holder's pid when it can.
	ErrLocked = errors.New("ledger in use by another process")
	// ErrClosed: the ledger has been closed.
	ErrClosed = errors.New("ledger closed")
)

// Options configure Open.
type Options struct {
	// SyncEveryAppend fsyncs the log after every append (one fsync per batch
	// recorded by Wrap), for users who pay per call. Without it, records are
	// durable against power loss once Sync returns.
	SyncEveryAppend bool
	// Repair makes Open treat a bad record followed by valid ones like a torn
	// tail instead of failing with ErrCorrupt: everything from the bad record
	// on is copied to ledger.log.damaged-<offset>, then truncated away.
	Repair bool
	// Logger receives the warnings of Open (dropped tails); nil means slog.Default().
	Logger *slog.Logger
}

// Stats describes a ledger and the traffic through the models wrapped with it.
type Stats struct {
	Records      int   // keys held: read at Open plus appended since
	Appended     int   // records appended since Open
	Hits         int64 // requests answered without calling the model (see Wrap)
	Misses       int64 // requests sent to the model
	Bytes        int64 // size of ledger.log
	DroppedBytes int64 // bytes of a torn (or, with Repair, damaged) tail removed by Open
	// Usage: Paid sums the recorded usage of every record (what the calls
	// the ledger holds cost, over every process that wrote it); Saved sums
	// the recorded usage of the hits since Open (calls not paid again).
	Paid, Saved backend.Usage
}

// entry is what the ledger holds for a key.
type entry struct {
	tokens []int32
	usage  [2]uint32 // prompt, completion tokens
}

// Ledger is an open call ledger. Its methods are safe for concurrent use.
type Ledger struct {
	mu    sync.Mutex
	dir   string
	path  string
	opts  Options
	log   *slog.Logger
	f     *os.File // ledger.log, O_RDWR|O_APPEND
	lock  *os.File // ledger.lock, flock-ed
	index map[[32]byte]entry
	size  int64 // end of the last complete record = file size
	dirty bool  // appended since the last fsync
	// version is the log's format version; fixed its payload size without
	// tokens (minPayload, plus usageSize from version 2)
	version uint32
	fixed   int64
	err     error // sticky: the file's state is unknown, refuse writes
	stats   Stats
}

// Open opens the ledger in dir, creating dir and an empty ledger when they do
// not exist, reads every record into memory and removes a torn tail (see the
// package comment).
func Open(dir string, opts Options) (*Ledger, error) {
	l, err := open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	return l, nil
}

func open(dir string, opts Options) (_ *Ledger, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	_, statErr := os.Stat(dir)
	dirCreated := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Close() // releases the flock
		}
	}()
	if err := lockFile(lock); err != nil {
		if errors.Is(err, ErrLocked) {
			err = lockedBy(lock)
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	// The pid is only for the error of whoever tries next: failing to
	// write it costs that error its pid, nothing else.
	if err := writePID(lock); err != nil {
		logger.Debug("ledger: could not record this process's pid in the lock file", "err", err)
	}

	path := filepath.Join(dir, logName)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		// a new log holds only the header: temp file, fsync, rename, fsync of the directory
		if err := atomicfile.Replace(path, path+tmpSuffix, header(FormatVersion)); err != nil {
			return nil, err
		}
		if dirCreated {
			if err := atomicfile.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
				return nil, err
			}
		}
	} else if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	l := &Ledger{
		dir:   dir,
		path:  path,
		opts:  opts,
		log:   logger,
		f:     f,
		lock:  lock,
		index: make(map[[32]byte]entry),
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	return l, nil
}

// header returns the 16-byte log header of format version v.
func header(v uint32) []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint32(b, v)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// load checks the header, reads every record into the index and deals with a
// bad record (see badRecord).
func (l *Ledger) load() error {
	fi, err := l.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if err := l.checkHeader(size); err != nil {
		return err
	}
	if size < headerSize { // checkHeader rewrote an empty or torn header
		size = headerSize
	}
	br := bufio.NewReaderSize(io.NewSectionReader(l.f, headerSize, size-headerSize), scanBufSize)
	var payload []byte
	off := int64(headerSize)
	for off < size {
		n, problem, err := readRecord(br, size-off, &payload, l.fixed)
		if err != nil {
			return fmt.Errorf("%s: read record at byte offset %d: %w", l.path, off, err)
		}
		if problem != "" {
			if err := l.badRecord(off, size, problem); err != nil {
				return err
			}
			size = off
			break
		}
		key, e := decodePayload(payload, l.fixed)
		if _, dup := l.index[key]; !dup { // Append never writes one; keep the first
			l.index[key] = e
			l.stats.Paid.PromptTokens += int(e.usage[0])
			l.stats.Paid.CompletionTokens += int(e.usage[1])
		}
		off += n
	}
	l.size = size
	l.stats.Records = len(l.index)
	return nil
}

// checkHeader validates the header of a log of the given size. An empty log,
// or one holding a prefix of the header (a file created by hand or by
// another tool; Open itself never leaves one), is given a fresh header.
func (l *Ledger) checkHeader(size int64) error {
	want := header(FormatVersion)
	l.version, l.fixed = FormatVersion, minPayload+usageSize
	got := make([]byte, min(size, headerSize))
	if _, err := l.f.ReadAt(got, 0); err != nil {
		return fmt.Errorf("%s: read header: %w", l.path, err)
	}
	if size < headerSize {
		if string(got) != string(want[:len(got)]) {
			return corruptf("%s: not a promptgan call ledger: %d-byte file starting %q", l.path, size, got)
		}
		l.log.Warn("ledger: log has no complete header; writing a fresh one",
			"file", l.path, "bytes", size)
		if err := l.f.Truncate(0); err != nil {
			return err
		}
		if _, err := l.f.Write(want); err != nil {
			return err
		}
		return l.f.Sync()
	}
	if string(got[:len(magic)]) != magic {
		return corruptf("%s: not a promptgan call ledger: file starts %q, want magic %q", l.path, got[:len(magic)], magic)
	}
	if sum := binary.LittleEndian.Uint32(got[12:16]); sum != crc32.Checksum(got[:12], castagnoli) {
		return corruptf("%s: header damaged: CRC-32C %08x does not match bytes 0..11", l.path, sum)
	}
	switch v := binary.LittleEndian.Uint32(got[8:12]); v {
	case FormatVersion:
	case 1:
		l.version, l.fixed = 1, minPayload
		l.log.Warn("ledger: a version 1 log: it is read and appended to, but the token usage of new calls is not recorded (start a new ledger to record it)", "file", l.path)
	default:
		return fmt.Errorf("%s: format version %d, this build reads 1 and %d: %w", l.path, v, FormatVersion, ErrFormatVersion)
	}
	return nil
}

// readRecord reads one record from br, which has left bytes before the end
// of the file, into *payload. It returns the record's size, or a description
// of what is wrong with it (problem), or an I/O error. It never allocates
// more than min(MaxPayload, left) bytes.
// fixed is the payload's size without tokens (36 in version 1, 44 in 2).
func readRecord(br *bufio.Reader, left int64, payload *[]byte, fixed int64) (n int64, problem string, err error) {
	if left < recHeaderSize {
		return 0, fmt.Sprintf("truncated record header: %d of %d bytes", left, recHeaderSize), nil
	}
	var h [recHeaderSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, "", err
	}
	length := int64(binary.LittleEndian.Uint32(h[0:4]))
	if p := lengthProblem(length, left, fixed); p != "" {
		return 0, p, nil
	}
	if cap(*payload) < int(length) {
		*payload = make([]byte, length)
	}
	*payload = (*payload)[:length]
	if _, err := io.ReadFull(br, *payload); err != nil {
		return 0, "", err
	}
	if sum := crc32.Checksum(*payload, castagnoli); sum != binary.LittleEndian.Uint32(h[4:8]) {
		return 0, fmt.Sprintf("CRC-32C mismatch: stored %08x, computed %08x over %d bytes", binary.LittleEndian.Uint32(h[4:8]), sum, length), nil
	}
	if count := int64(binary.LittleEndian.Uint32((*payload)[keySize:])); length != fixed+4*count {
		return 0, fmt.Sprintf("payload of %d bytes holds a token count of %d", length, count), nil
	}
	return recHeaderSize + length, "", nil
}

// lengthProblem checks a record's length field against the format's bounds
// and the left bytes from the record's start to the end of the file.
func lengthProblem(length, left, fixed int64) string {
	switch {
	case length < fixed:
		return fmt.Sprintf("payload length %d is below the minimum %d", length, fixed)
	case length > MaxPayload:
		return fmt.Sprintf("payload length %d exceeds the limit %d", length, MaxPayload)
	case (length-fixed)%4 != 0:
		return fmt.Sprintf("payload length %d is not %d plus a multiple of 4", length, fixed)
	case recHeaderSize+length > left:
		return fmt.Sprintf("record of %d bytes runs past the end of the file (%d bytes left)", recHeaderSize+length, left)
	}
	return ""
}

// decodePayload splits a checked payload into its key and a fresh entry.
func decodePayload(p []byte, fixed int64) ([32]byte, entry) {
	key := [32]byte(p[:keySize])
	count := int(binary.LittleEndian.Uint32(p[keySize:]))
	var e entry
	if fixed > minPayload {
		u := p[minPayload+4*count:]
		e.usage = [2]uint32{binary.LittleEndian.Uint32(u), binary.LittleEndian.Uint32(u[4:])}
	}
	if count == 0 {
		return key, e
	}
	e.tokens = make([]int32, count)
	for i := range e.tokens {
		e.tokens[i] = int32(binary.LittleEndian.Uint32(p[minPayload+4*i:]))
	}
	return key, e
}

// appendRecord appends the encoded record of (key, e) in the format whose
// payload without tokens is fixed bytes to b.
func appendRecord(b []byte, key [32]byte, e entry, fixed int64) []byte {
	tokens := e.tokens
	length := int(fixed) + 4*len(tokens)
	start := len(b)
	b = slices.Grow(b, recHeaderSize+length)
	b = binary.LittleEndian.AppendUint32(b, uint32(length))
	b = binary.LittleEndian.AppendUint32(b, 0) // CRC, filled below
	b = append(b, key[:]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tokens)))
	for _, t := range tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	if fixed > minPayload {
		b = binary.LittleEndian.AppendUint32(b, e.usage[0])
		b = binary.LittleEndian.AppendUint32(b, e.usage[1])
	}
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[start+recHeaderSize:], castagnoli))
	return b
}

// badRecord handles a bad record at off in a log of size bytes. With a valid
// record somewhere after it, the log is corrupt (unless Options.Repair);
// without one, the bad record is a torn tail and is truncated away.
func (l *Ledger) badRecord(off, size int64, problem string) error {
	next, found, err := l.findRecord(off+1, size)
	if err != nil {
		return fmt.Errorf("%s: scan after the bad record at byte offset %d: %w", l.path, off, err)
	}
	dropped := size - off
	if found {
		if !l.opts.Repair {
			return corruptf("%s: bad record at byte offset %d (%s), yet a valid record follows at byte offset %d: "+
				"the log is damaged, not torn by a crash (repairing drops the %d bytes from offset %d on)",
				l.path, off, problem, next, dropped, off)
		}
		backup := fmt.Sprintf("%s.damaged-%d", l.path, off)
		tail := make([]byte, dropped)
		if _, err := l.f.ReadAt(tail, off); err != nil {
			return fmt.Errorf("%s: read damaged tail at byte offset %d: %w", l.path, off, err)
		}
		if err := atomicfile.WriteSync(backup, tail); err != nil {
			return fmt.Errorf("save damaged tail: %w", err)
		}
		if err := atomicfile.SyncDir(l.dir); err != nil {
			return err
		}
		l.log.Warn("ledger: repaired a damaged log by dropping everything from the first bad record on",
			"file", l.path, "offset", off, "dropped_bytes", dropped, "reason", problem,
			"next_valid_record", next, "saved_to", backup)
	} else {
		l.log.Warn("ledger: dropped a torn tail (a crash during an append)",
			"file", l.path, "offset", off, "dropped_bytes", dropped, "reason", problem)
	}
	if err := l.f.Truncate(off); err != nil {
		return fmt.Errorf("%s: truncate at byte offset %d: %w", l.path, off, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", l.path, err)
	}
	l.stats.DroppedBytes = dropped
	return nil
}

// findRecord looks for a valid record starting anywhere in [from, size). A
// candidate must have a plausible length, a token count that matches it, and
// a matching CRC-32C; the first two are checked from a 44-byte window, so the
// scan is linear and the CRC is computed only for the rare candidates.
func (l *Ledger) findRecord(from, size int64) (int64, bool, error) {
	if size-from < minRecord {
		return 0, false, nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(l.f, from, size-from), scanBufSize)
	var payload []byte
	for p := from; size-p >= minRecord; p++ {
		w, err := br.Peek(minRecord)
		if err != nil {
			return 0, false, err
		}
		length := int64(binary.LittleEndian.Uint32(w[0:4]))
		count := int64(binary.LittleEndian.Uint32(w[recHeaderSize+keySize:]))
		if lengthProblem(length, size-p, l.fixed) == "" && length == l.fixed+4*count {
			if cap(payload) < int(length) {
				payload = make([]byte, length)
			}
			payload = payload[:length]
			if _, err := l.f.ReadAt(payload, p+recHeaderSize); err != nil {
				return 0, false, err
			}
			if crc32.Checksum(payload, castagnoli) == binary.LittleEndian.Uint32(w[4:8]) {
				return p, true, nil
			}
		}
		if _, err := br.Discard(1); err != nil {
			return 0, false, err
		}
	}
	return 0, false, nil
}

// Append records the generation for key, unless the ledger already holds
// key (the first generation recorded wins). The record reaches the file in
// one write(2); it is durable once Sync returns (at once with
// Options.SyncEveryAppend).
func (l *Ledger) Append(key [32]byte, g backend.Generation) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked([][32]byte{key}, []entry{entryOf(g)})
}

// entryOf is what the ledger keeps of g: its tokens and usage (clamped to uint32).
func entryOf(g backend.Generation) entry {
	c := func(n int) uint32 { return uint32(min(max(n, 0), 1<<32-1)) }
	return entry{tokens: g.Tokens, usage: [2]uint32{c(g.Usage.PromptTokens), c(g.Usage.CompletionTokens)}}
}

// generation is e as a Generation answered from the ledger.
func (e entry) generation() backend.Generation {
	return backend.Generation{Tokens: slices.Clone(e.tokens),
		Usage: backend.Usage{PromptTokens: int(e.usage[0]), CompletionTokens: int(e.usage[1]), FromLedger: true}}
}

// appendLocked appends the records of the keys the ledger does not hold yet
// (the first of duplicates within keys) in one write. l.mu must be held.
func (l *Ledger) appendLocked(keys [][32]byte, entries []entry) error {
	if err := l.writable(); err != nil {
		return err
	}
	var buf []byte
	var fresh []int
	pending := make(map[[32]byte]bool, len(keys))
	for i, k := range keys {
		if _, ok := l.index[k]; ok || pending[k] {
			continue
		}
		pending[k] = true
		if n := len(entries[i].tokens); n > (MaxPayload-int(l.fixed))/4 {
			return fmt.Errorf("append to %s: generation of %d tokens exceeds the record limit of %d", l.path, n, (MaxPayload-int(l.fixed))/4)
		}
		fresh = append(fresh, i)
		buf = appendRecord(buf, k, entries[i], l.fixed)
	}
	if len(buf) == 0 {
		return nil
	}
	if n, err := l.f.Write(buf); err != nil {
		err = fmt.Errorf("append %d bytes to %s at byte offset %d (%d written): %w", len(buf), l.path, l.size, n, err)
		if terr := l.f.Truncate(l.size); terr != nil {
			l.err = fmt.Errorf("%s may end in a partial record at byte offset %d that could not be removed (%v); refusing further writes: %w",
				l.path, l.size, terr, err)
			return l.err
		}
		return err
	}
	l.size += int64(len(buf))
	l.dirty = true
	for _, i := range fresh {
		e := entries[i]
		if l.version < 2 {
			e.usage = [2]uint32{} // not on disk: a reopen would not see it
		}
		if len(e.tokens) > 0 {
			e.tokens = slices.Clone(e.tokens)
		} else {
			e.tokens = nil
		}
		l.index[keys[i]] = e
		l.stats.Paid.PromptTokens += int(e.usage[0])
		l.stats.Paid.CompletionTokens += int(e.usage[1])
	}
	l.stats.Appended += len(fresh)
	l.stats.Records = len(l.index)
	if l.opts.SyncEveryAppend {
		return l.syncLocked()
	}
	return nil
}

// writable reports why the ledger cannot be written, if it cannot. l.mu must be held.
func (l *Ledger) writable() error {
	if l.f == nil {
		return ErrClosed
	}
	return l.err
}

// Get returns a copy of the generation recorded for key.
func (l *Ledger) Get(key [32]byte) (backend.Generation, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.index[key]
	if !ok {
		return backend.Generation{}, false
	}
	return e.generation(), true
}

// Len returns the number of keys the ledger holds.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.index)
}

// Path returns the path of the log file.
func (l *Ledger) Path() string { return l.path }

// Stats returns the ledger's counters.
func (l *Ledger) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Bytes = l.size
	return s
}

// Sync makes every record appended so far durable (fsync). The trainer calls
// it before writing each checkpoint.
func (l *Ledger) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	return l.syncLocked()
}

func (l *Ledger) syncLocked() error {
	if !l.dirty {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		l.err = fmt.Errorf("fsync %s: %w (refusing further writes: what reached the disk is unknown)", l.path, err)
		return l.err
	}
	l.dirty = false
	return nil
}

// Close syncs and closes the ledger and releases its lock. Closing a closed
// ledger does nothing.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	var err error
	if l.err == nil {
		err = l.syncLocked()
	}
	if cerr := l.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close %s: %w", l.path, cerr)
	}
	// Truncated while still held, so that no pid outlives its holder (an
	// older build holding the lock next would not overwrite it).
	l.lock.Truncate(0)
	l.lock.Close()
	l.f, l.lock = nil, nil
	return err
}

// lockedError is ErrLocked naming the process that holds the lock.
type lockedError struct{ pid int }

func (e *lockedError) Error() string        { return fmt.Sprintf("%v (pid %d)", ErrLocked, e.pid) }
func (e *lockedError) Is(target error) bool { return target == ErrLocked }

// maxPIDLen bounds what is read of ledger.lock: a pid is at most 10 digits.
const maxPIDLen = 16

// writePID replaces the content of the lock file f, held, by this
// process's pid.
func writePID(f *os.File) error {
	// Truncate first: a reader between the two calls sees no pid rather
	// than a mix of two.
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// lockedBy is the error of a lock that another holds: ErrLocked with the
// pid in the lock file, or ErrLocked alone when there is no pid of a live
// process to read (its holder may be an older build that writes none, or
// be writing it right now).
func lockedBy(f *os.File) error {
	b := make([]byte, maxPIDLen+1)
	n, err := f.ReadAt(b, 0)
	if (err != nil && !errors.Is(err, io.EOF)) || n > maxPIDLen {
		return ErrLocked
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 || !alive(pid) {
		return ErrLocked
	}
	return &lockedError{pid: pid}
}

// corruptError matches ErrCorrupt under errors.Is without adding the
// sentinel's text to the message.
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }
func (e *corruptError) Unwrap() error { return ErrCorrupt }

func corruptf(format string, args ...any) error {
	return &corruptError{msg: fmt.Sprintf(format, args...)}
}
