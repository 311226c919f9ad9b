//go:build linux || darwin

package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"promptgan/targets/backend"
)

// killEnv names the ledger directory of the helper process of TestKill.
const killEnv = "PROMPTGAN_LEDGER_KILL_HELPER_DIR"

// killGen is the generation of record i in TestKill: every 25th is about
// 400 KB, so that a kill can land inside a write(2) and tear it.
func killGen(i int) backend.Generation {
	n := i % 7
	if i%25 == 24 {
		n = 100_000
	}
	t := make([]int32, n)
	for j := range t {
		t[j] = int32(i ^ j)
	}
	return backend.Generation{Tokens: t}
}

// TestKillHelper is the process TestKill kills; it does nothing in a normal
// run. It continues the ledger from its first missing record, appending
// records in order and syncing after every 10, reporting "synced N" once
// records 0..N-1 are durable.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("helper process of TestKill")
	}
	l, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Printf("opened %d\n", l.Len())
	for i := l.Len(); ; i++ {
		if err := l.Append(Key(testFP, req(i)), killGen(i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if i%10 == 9 {
			if err := l.Sync(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Printf("synced %d\n", i+1)
		}
	}
}

// TestKill SIGKILLs a process appending to a ledger at random moments, a few
// times over the same directory: after each kill the ledger must open, hold
// every record up to the last reported Sync and every record seen after the
// previous kill, and hold nothing but a prefix of the records in order.
// PROMPTGAN_LEDGER_KILLS sets the number of kills (default 6), for stress runs.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 6
	if v := os.Getenv("PROMPTGAN_LEDGER_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PROMPTGAN_LEDGER_KILLS=%q is not a positive integer", v)
		}
		kills = n
	}
	torn, prev := 0, 0
	for k := range kills {
		synced := runAndKill(t, dir, time.Duration(rng.IntN(60_000))*time.Microsecond)
		l, logs, err := openT(t, dir, Options{})
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", k, err)
		}
		n := l.Len()
		if n < max(synced, prev) {
			t.Fatalf("kill %d: ledger holds %d records; %d were reported synced, %d were there before", k, n, synced, prev)
		}
		prev = n
		for i := range n {
			g, ok := l.Get(Key(testFP, req(i)))
			if !ok || !slices.Equal(g.Tokens, killGen(i).Tokens) {
				t.Fatalf("kill %d: record %d of %d missing or wrong", k, i, n)
			}
		}
		if st := l.Stats(); st.DroppedBytes > 0 {
			torn++
			t.Logf("kill %d: torn tail: %s", k, strings.TrimSpace(logs.String()))
		}
		t.Logf("kill %d: %d records, %d reported synced", k, n, synced)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills survived, %d left a torn tail", kills, torn)
}

// runAndKill starts the helper on dir, kills it with SIGKILL after delay
// (counted from its Open), and returns the last record count it reported synced.
func runAndKill(t *testing.T, dir string, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var synced atomic.Int64
	opened := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "opened ") {
				close(opened)
			}
			if s, ok := strings.CutPrefix(line, "synced "); ok {
				if n, err := strconv.Atoi(s); err == nil {
					synced.Store(int64(n))
				}
			}
		}
	}()
	select {
	case <-opened:
	case <-done:
		cmd.Wait()
		t.Fatal("helper exited before opening the ledger")
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not open the ledger within 10 s")
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done // the pipe closes when the process is gone
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, not by SIGKILL", err)
	}
	return int(synced.Load())
}

// fsizeEnv names the ledger directory of the helper of TestShortWriteRollsBack.
const fsizeEnv = "PROMPTGAN_LEDGER_FSIZE_HELPER_DIR"

// TestShortWriteHelper runs in a subprocess under a file-size limit
// (RLIMIT_FSIZE), which makes a write stop part-way like a full disk does.
func TestShortWriteHelper(t *testing.T) {
	dir := os.Getenv(fsizeEnv)
	if dir == "" {
		t.Skip("helper process of TestShortWriteRollsBack")
	}
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, format+"\n", args...)
		os.Exit(2)
	}
	signal.Ignore(syscall.SIGXFSZ) // get EFBIG instead of being killed
	l, err := Open(dir, Options{})
	if err != nil {
		fail("%v", err)
	}
	if err := l.Append(Key(testFP, req(0)), gen(4)); err != nil {
		fail("%v", err)
	}
	size := l.Stats().Bytes
	lim := syscall.Rlimit{Cur: uint64(size) + 100, Max: uint64(size) + 100}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		fail("setrlimit: %v", err)
	}
	big := backend.Generation{Tokens: make([]int32, 1000)}
	appendErr := l.Append(Key(testFP, req(1)), big)
	if !errors.Is(appendErr, syscall.EFBIG) {
		fail("Append past the file-size limit: err = %v, want EFBIG", appendErr)
	}
	if st := l.Stats(); st.Bytes != size || st.Records != 1 {
		fail("after the failed append: %+v", st)
	}
	if err := l.Append(Key(testFP, req(2)), gen(2)); err != nil {
		fail("Append after a rolled-back write: %v", err)
	}
	if err := l.Close(); err != nil {
		fail("%v", err)
	}
	fmt.Println(appendErr)
	os.Exit(0)
}

// TestShortWriteRollsBack: a write cut short (here by a file-size limit, as
// a full disk would) is truncated away, the ledger stays usable, and the log
// reopens clean.
func TestShortWriteRollsBack(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestShortWriteHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), fsizeEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("helper: %s", out)
	l, logs := mustOpen(t, dir, Options{})
	if l.Len() != 2 || l.Stats().DroppedBytes != 0 || logs.String() != "" {
		t.Fatalf("reopen: %d records, %+v, logs %q", l.Len(), l.Stats(), logs)
	}
	if _, ok := l.Get(Key(testFP, req(1))); ok {
		t.Error("the failed append is in the log")
	}
}
