package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	bin := filepath.Join(t.TempDir(), "promptgan")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
