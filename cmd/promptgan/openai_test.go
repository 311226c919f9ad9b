package main

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"promptgan/targets/openai/openaitest"
)

const openaiKey = "sk-cli-SECRET-42"

// openaiConfig keeps calls fast against the fault-injecting server: a
// short per-call timeout (its slow answers take 3 s) and many retries.
const openaiConfig = `openai: {timeout: 0.5, max_retries: 20, concurrency: 4}
`

func openaiServer(t *testing.T) *openaitest.Server {
	t.Helper()
	srv := openaitest.New(openaitest.Options{Model: "tiny", Key: openaiKey, FaultEvery: 4, Slow: 3 * time.Second})
	t.Cleanup(srv.Close)
	t.Setenv("PROMPTGAN_TEST_KEY", openaiKey)
	return srv
}

// checkNoKey fails if the key is in any file of dir.
func checkNoKey(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), openaiKey) {
				t.Errorf("%s holds the API key", p)
			}
		}
		return nil
	})
}

// checkOnce: the server answered every distinct call exactly once and the
// ledger holds each of them.
func checkOnce(t *testing.T, srv *openaitest.Server, dir, what string) {
	t.Helper()
	tally := srv.Tally()
	records := ledgerRecords(t, dir)
	if tally.Repeats != 0 || tally.Distinct != records || tally.Faults == 0 {
		t.Errorf("%s: server answered %d distinct calls (%d twice), ledger holds %d records, %d faults injected", what, tally.Distinct, tally.Repeats, records, tally.Faults)
	}
	t.Logf("fault-injection tally (%s): %d faults injected %v; %d HTTP calls, %d calls paid, %d paid twice, calls lost %d",
		what, tally.Faults, tally.Injected, tally.Arrivals, tally.Answered, tally.Repeats, tally.Distinct-records)
}

func TestOpenAITextRun(t *testing.T) {
	srv := openaiServer(t)
	tmp := t.TempDir()
	// tiny.yaml, then the openai keys
	cfg := filepath.Join(tmp, "openai.yaml")
	tiny, _ := os.ReadFile(textFixture(t, "tiny.yaml"))
	os.WriteFile(cfg, append(tiny, openaiConfig...), 0o644)
	dir := filepath.Join(tmp, "run")
	out, errOut, code := run(t, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", "openai:tiny", "--base-url", srv.BaseURL(),
		"--api-key-env", "PROMPTGAN_TEST_KEY", "--config", cfg, "--out", dir, "--quiet")
	if code != 0 || !strings.Contains(out, "finished at step 8") || !strings.Contains(out, "token usage: ") {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	checkOnce(t, srv, dir, "text run")
	paid := srv.Tally().Answered
	out, errOut, code = run(t, "resume", dir, "--steps", "10", "--quiet")
	if code != 0 || !strings.Contains(out, "finished at step 10") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	checkOnce(t, srv, dir, "text run, resumed")
	if srv.Tally().Answered <= paid {
		t.Error("the resumed steps made no call")
	}
	// search verifies its best prompts on the server, through the ledger
	out, errOut, code = run(t, "search", "--n", "16", "--top", "3", "--verify", "2", dir)
	if code != 0 {
		t.Fatalf("search --verify: exit %d\n%s\n%s", code, out, errOut)
	}
	checkOnce(t, srv, dir, "text run, resumed, searched")
	out, _, code = run(t, "inspect", dir)
	if code != 0 || !strings.Contains(out, "usage       ") || !strings.Contains(out, "openai:tiny (promptgan/target/openai/v1;base_url=") {
		t.Errorf("inspect: exit %d\n%s", code, out)
	}
	checkNoKey(t, dir)
}

func TestOpenAITokenRun(t *testing.T) {
	srv := openaiServer(t)
	tmp := t.TempDir()
	var refs strings.Builder
	for i := range 24 {
		text, _ := openaitest.Generate(fmt.Sprint("ref", i), int64(i), 8)
		for j := range 8 {
			if j > 0 {
				refs.WriteByte(' ')
			}
			fmt.Fprint(&refs, int(text[j%len(text)]))
		}
		refs.WriteByte('\n')
	}
	train := filepath.Join(tmp, "refs.txt")
	os.WriteFile(train, []byte(refs.String()), 0o644)
	cfg := filepath.Join(tmp, "token.yaml")
	os.WriteFile(cfg, []byte(openaiConfig+`generator: {emb: 8, hidden: 8}
discriminator: {emb: 8, hidden: 8, members: 2}
prompt_len: 4
gen_len: 8
batch_size: 4
steps: 6
d_pretrain_steps: 2
replay_size: 16
eval_every: 3
eval_samples: 4
checkpoint_every: 2
`), 0o644)
	dir := filepath.Join(tmp, "run")
	out, errOut, code := run(t, "train", "--target", "openai:tiny", "--base-url", srv.BaseURL(), "--api-key-env", "PROMPTGAN_TEST_KEY",
		"--train", train, "--config", cfg, "--out", dir, "--quiet")
	if code != 0 || !strings.Contains(out, "finished at step 6") {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	checkOnce(t, srv, dir, "token run")
	checkNoKey(t, dir)
}

// TestOpenAIBadInput: one clear line each, exit 1, and no checkpoint that
// a resume would trip on.
func TestOpenAIBadInput(t *testing.T) {
	srv := openaiServer(t)
	gone := openaitest.New(openaitest.Options{Model: "tiny"})
	goneURL := gone.BaseURL()
	gone.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"--target", "openai:tiny", "--base-url", goneURL}, 1, "cannot reach " + goneURL + "/models"},
		{"wrong model", []string{"--target", "openai:big", "--base-url", srv.BaseURL()}, 1, `model "big" is not served by`},
		{"missing key", []string{"--target", "openai:tiny", "--base-url", srv.BaseURL(), "--api-key-env", "PROMPTGAN_NO_SUCH_KEY"}, 1, "environment variable PROMPTGAN_NO_SUCH_KEY is not set"},
		{"wrong key", []string{"--target", "openai:tiny", "--base-url", srv.BaseURL(), "--api-key-env", "HOME"}, 1, "HTTP 401 Unauthorized"},
		{"no base URL", []string{"--target", "openai:tiny"}, 2, "--target openai:tiny needs --base-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--task", textFixture(t, "reviews.jsonl"), "--config", textFixture(t, "tiny.yaml"),
				"--out", dir, "--quiet", "--api-key-env", "PROMPTGAN_TEST_KEY"}, tc.args...)
			_, errOut, code := run(t, args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || strings.Contains(errOut, openaiKey) {
				t.Fatalf("exit %d, stderr %q; want exit %d and one line saying %q", code, errOut, tc.code, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}
}

// TestOpenAIKillResume SIGKILLs a text run against the fault-injecting
// server while calls are in flight (the server holds every call from its
// 25th answer on, waits for the answers already sent to reach the ledger,
// then kills), resumes it, and checks that no call answered before the
// kill was sent again.
func TestOpenAIKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	bin := buildBinary(t)
	var (
		mu     sync.Mutex
		proc   *os.Process
		killed bool
	)
	srv := openaitest.New(openaitest.Options{Model: "tiny", Key: openaiKey, FaultEvery: 4, Slow: 3 * time.Second,
		BeforeAnswer: func(answered int) bool {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case proc == nil: // not started, or killed and resumed
				return true
			case killed: // until it dies
				return false
			case answered < 25:
				return true
			}
			killed = true
			p := proc
			go func() {
				time.Sleep(300 * time.Millisecond) // the answers sent before reach the ledger
				p.Signal(syscall.SIGKILL)
			}()
			return false
		}})
	t.Cleanup(srv.Close)
	t.Setenv("PROMPTGAN_TEST_KEY", openaiKey)
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "openai.yaml")
	tiny, _ := os.ReadFile(textFixture(t, "tiny.yaml"))
	os.WriteFile(cfg, append(tiny, openaiConfig...), 0o644)
	dir := filepath.Join(tmp, "run")
	cmd := exec.Command(bin, "train", "--task", textFixture(t, "reviews.jsonl"), "--target", "openai:tiny", "--base-url", srv.BaseURL(),
		"--api-key-env", "PROMPTGAN_TEST_KEY", "--config", cfg, "--out", dir, "--quiet")
	cmd.Dir = "../.."
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	proc = cmd.Process
	mu.Unlock()
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("train was not killed: %v", err)
	}
	before := srv.Tally()
	mu.Lock()
	proc = nil
	mu.Unlock()
	res := exec.Command(bin, "resume", dir, "--quiet")
	res.Dir = "../.."
	if out, err := res.CombinedOutput(); err != nil || !strings.Contains(string(out), "finished at step 8") {
		t.Fatalf("resume: %v\n%s", err, out)
	}
	after := srv.Tally()
	if after.Repeats != 0 || after.Answered <= before.Answered {
		t.Errorf("after the kill %d calls were answered before; the resumed run had %d answered twice (want 0) and %d new", before.Answered, after.Repeats, after.Answered-before.Answered)
	}
	checkOnce(t, srv, dir, "text run, SIGKILL at the 25th answer + resume")
}
