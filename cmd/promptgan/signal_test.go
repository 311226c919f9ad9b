package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSignalCheckpointsAndExits runs the real binary, interrupts it with
// SIGINT (and another with SIGTERM) mid-training, and checks the exit status,
// the message and that the run resumes from the checkpoint it wrote.
func TestSignalCheckpointsAndExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		dir := t.TempDir()
		cmd := exec.Command(bin, "train", "--preset", "tiny", "--steps", "100000", "--out", dir)
		cmd.Dir = "../.."
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until training is under way (the first records are written).
		deadline := time.Now().Add(60 * time.Second)
		for {
			if st, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err == nil && st.Size() > 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no metrics.jsonl after 60 s; stderr:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cmd.Process.Signal(tc.sig)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != tc.code {
			t.Fatalf("%v: exit %v, want status %d; stderr:\n%s", tc.sig, err, tc.code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "checkpoint saved") {
			t.Fatalf("%v: no checkpoint message; stderr:\n%s", tc.sig, stderr.String())
		}
		resume := exec.Command(bin, "resume", dir, "--steps", "60", "--quiet")
		resume.Dir = "../.."
		if out, err := resume.CombinedOutput(); err != nil || !strings.Contains(string(out), "finished at step 60") {
			// The interrupted run may already be past step 60 only if it ran very long.
			t.Fatalf("resume after %v: %v\n%s", tc.sig, err, out)
		}
	}
}

// testBinary is the promptgan binary that the tests running it as a
// process share: linking it takes 10–20 s on 2 cores, and five tests run it.
var testBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// buildBinary returns the promptgan binary, built on first use into a
// temporary directory that TestMain removes.
func buildBinary(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "promptgan-test-bin-")
		if err != nil {
			testBinary.err = err
			return
		}
		testBinary.dir, testBinary.path = dir, filepath.Join(dir, "promptgan")
		if out, err := exec.Command("go", "build", "-o", testBinary.path, ".").CombinedOutput(); err != nil {
			testBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	os.Exit(code)
}

// TestSecondInterruptAborts sends SIGINT twice: the first starts the
// checkpoint-and-exit path, the second must end the process at once (as the
// default handler does) without leaving a damaged latest checkpoint.
func TestSecondInterruptAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "train", "--preset", "tiny", "--steps", "100000", "--out", dir)
	cmd.Dir = "../.."
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, cmd, filepath.Join(dir, "metrics.jsonl"), &stderr)
	cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit %v after two SIGINTs, want a non-zero status; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after the second SIGINT; stderr:\n%s", stderr.String())
	}
	// Whatever the second signal interrupted, the run stays resumable.
	resume := exec.Command(bin, "resume", dir, "--steps", "60", "--quiet")
	resume.Dir = "../.."
	if out, err := resume.CombinedOutput(); err != nil {
		// Killed before the first checkpoint: training again from scratch must work.
		train := exec.Command(bin, "train", "--preset", "tiny", "--steps", "60", "--out", dir, "--quiet")
		train.Dir = "../.."
		if out2, err2 := train.CombinedOutput(); err2 != nil {
			t.Fatalf("neither resume (%v: %s) nor a fresh train (%v: %s) works after two SIGINTs", err, out, err2, out2)
		}
	}
}

// waitForFile waits until path is non-empty (training is under way).
func waitForFile(t *testing.T, cmd *exec.Cmd, path string, stderr *strings.Builder) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 {
			return
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no %s after 60 s; stderr:\n%s", path, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeSignalSaysItStops: SIGTERM to `serve` says the server stops
// after the requests in flight, not the training message about a
// checkpoint (issue 26), and it exits 0 once drained.
func TestServeSignalSaysItStops(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	needORT(t)
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--model", tinyGPT2, "--threads", "1", "--addr", addr)
	cmd.Dir = "../.."
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("not serving after 30 s: %v; stderr:\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v; stderr:\n%s", err, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "interrupted: stopping the server") || strings.Contains(s, "checkpoint") {
		t.Errorf("stderr after SIGTERM:\n%s", s)
	}
}
