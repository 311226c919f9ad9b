package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"promptgan/checkpoints"
	"promptgan/targets/ledger"
)

// killConfig is a tiny run that checkpoints every other step, so that a
// good share of random kills land inside a checkpoint write.
const killConfig = `steps: 60
mle_steps: 30
d_pretrain_steps: 6
eval_every: 10
checkpoint_every: 2
keep_checkpoints: 2
log_every: 1
ledger: true
`

// TestKillResume is the crash-safety harness: it SIGKILLs `promptgan train`
// (and then `promptgan resume`) at random moments, resumes, and repeats,
// until the run completes; the final checkpoint and metrics.jsonl must then
// be byte-identical to those of an uninterrupted run with the same seed.
//
// PROMPTGAN_KILLS sets the number of kills (default 3; `make stress` runs 50),
// PROMPTGAN_KILL_SEED the seed of the kill times.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	kills := envInt(t, "PROMPTGAN_KILLS", 3)
	seed := envInt(t, "PROMPTGAN_KILL_SEED", 1)
	bin := buildBinary(t)
	cfg := filepath.Join(t.TempDir(), "kill.yaml")
	if err := os.WriteFile(cfg, []byte(killConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	train := func(out string) *exec.Cmd {
		cmd := exec.Command(bin, "train", "--preset", "tiny", "--config", cfg, "--out", out, "--quiet")
		cmd.Dir = "../.."
		return cmd
	}
	killResume(t, bin, train, "step-0000060", kills, seed)
}

// killResume is the kill-resume harness for the run that train starts:
// kills SIGKILLs at random moments, at checkpoint writes and at ledger
// appends, resuming with bin until each round's run completes at the
// checkpoint named final, whose files, metrics.jsonl and ledger.log must
// equal an uninterrupted run's.
func killResume(t *testing.T, bin string, train func(out string) *exec.Cmd, final string, kills, seed int) {
	t.Helper()
	ref := t.TempDir()
	start := time.Now()
	if out, err := train(ref).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	span := time.Since(start) // kill times are drawn over one whole run

	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	tally := map[string]int{}
	// Each round is one run killed up to killsPerRound times, then left to
	// finish and compared with the uninterrupted run.
	compared, rounds := 0, 0
	const killsPerRound = 4
	for tally["killed"] < kills {
		rounds++
		dir := t.TempDir()
		roundKills, roundTarget := 0, min(killsPerRound, kills-tally["killed"])
		for attempt := 0; ; attempt++ {
			if attempt > 10*killsPerRound {
				t.Fatalf("round %d: no completion after %d attempts; tally %v", rounds, attempt, tally)
			}
			var cmd *exec.Cmd
			if _, err := os.Stat(filepath.Join(dir, "checkpoints", "latest")); err == nil {
				cmd = exec.Command(bin, "resume", dir, "--quiet")
				cmd.Dir = "../.."
			} else {
				cmd = train(dir)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			if roundKills >= roundTarget {
				if err := <-exited; err != nil {
					t.Fatalf("round %d: final run: %v\n%s", rounds, err, out.String())
				}
				break
			}
			// Kills come in turn at a random time, aimed at the next checkpoint
			// write (the moment a save's temporary directory appears), and aimed
			// at a ledger append (the moment the log grows).
			var trigger <-chan struct{}
			stop := make(chan struct{})
			mode := []string{"at random", "at a checkpoint write", "at a ledger append"}[attempt%3]
			switch attempt % 3 {
			case 0:
				trigger = after(time.Duration(rng.Float64()*float64(span)/2), stop)
			case 1:
				trigger = whenSaving(filepath.Join(dir, "checkpoints"), stop)
			default:
				trigger = whenGrowing(filepath.Join(dir, "ledger", "ledger.log"), stop)
			}
			ended := func() { close(stop) }
			select {
			case err := <-exited:
				ended()
				if err != nil {
					t.Fatalf("round %d: run failed before its kill: %v\n%s", rounds, err, out.String())
				}
				tally["completed before the kill"]++
			case <-trigger:
				cmd.Process.Signal(syscall.SIGKILL)
				err := <-exited
				ended()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					if err != nil { // it ended on its own just before the signal
						t.Fatalf("round %d: run failed: %v\n%s", rounds, err, out.String())
					}
					tally["completed before the kill"]++
					break
				}
				roundKills++
				tally["killed"]++
				tally[mode]++
				tally[killMoment(dir)]++
				if checkLedger(t, dir) {
					tally["ledger torn"]++
				}
				continue
			}
			break // completed
		}
		compared += compareRuns(t, ref, dir, final)
	}
	if !t.Failed() {
		t.Logf("kill-resume tally: %d of %d SIGKILLs survived (timed %d at random, %d at a checkpoint write, %d at a ledger append; on disk %d left a checkpoint write unfinished, %d a half-swapped latest, %d a torn ledger append) over %d runs; no ledger record counted by a checkpoint was lost; every run's final checkpoint, metrics.jsonl and ledger.log byte-identical to the uninterrupted run (%d bytes compared); seed %d",
			tally["killed"], tally["killed"], tally["at random"], tally["at a checkpoint write"], tally["at a ledger append"],
			tally["during a checkpoint write"], tally["while swapping latest"], tally["ledger torn"], rounds, compared, seed)
	}
}

// after fires once d has passed, unless stop is closed first.
func after(d time.Duration, stop <-chan struct{}) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-time.After(d):
			close(ch)
		case <-stop:
		}
	}()
	return ch
}

// whenSaving fires as soon as a checkpoint save's temporary directory
// appears in root, unless stop is closed first.
func whenSaving(root string, stop <-chan struct{}) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for {
			entries, _ := os.ReadDir(root)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".tmp-step-") {
					close(ch)
					return
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return ch
}

// checkLedger opens the killed run's call ledger (as the resume will) and
// checks that it holds at least the records its latest checkpoint counted.
// It reports whether the kill tore a ledger append.
func checkLedger(t *testing.T, dir string) bool {
	t.Helper()
	var logs bytes.Buffer
	l, err := ledger.Open(filepath.Join(dir, "ledger"), ledger.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatalf("ledger after a kill: %v", err)
	}
	defer l.Close()
	ck, err := checkpoints.Latest(filepath.Join(dir, "checkpoints"))
	if err != nil {
		return logs.Len() > 0 // killed before the first checkpoint: nothing is promised yet
	}
	b, err := os.ReadFile(filepath.Join(ck, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		State struct {
			LedgerRecords int `json:"ledger_records"`
			Run           struct {
				LedgerRecords int `json:"ledger_records"` // a steer run's
			} `json:"run"`
		} `json:"state"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	counted := max(m.State.LedgerRecords, m.State.Run.LedgerRecords)
	if l.Len() < counted {
		t.Errorf("%s: the ledger holds %d records, its latest checkpoint counted %d: calls were lost", dir, l.Len(), counted)
	}
	return strings.Contains(logs.String(), "torn")
}

// whenGrowing fires as soon as the file at path grows (after it exists),
// unless stop is closed first.
func whenGrowing(path string, stop <-chan struct{}) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		size := int64(-1)
		for {
			if st, err := os.Stat(path); err == nil {
				if size >= 0 && st.Size() > size {
					close(ch)
					return
				}
				size = st.Size()
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	return ch
}

// killMoment classifies what a killed run was doing from what it left on disk.
func killMoment(dir string) string {
	root := filepath.Join(dir, "checkpoints")
	if _, err := os.Stat(filepath.Join(root, "latest.tmp")); err == nil {
		return "while swapping latest"
	}
	if tmp, _ := filepath.Glob(filepath.Join(root, ".tmp-*")); len(tmp) > 0 {
		return "during a checkpoint write"
	}
	return "during training"
}

// compareRuns checks that the final checkpoints and metrics logs of two runs
// are byte-identical and returns the number of bytes compared.
func compareRuns(t *testing.T, ref, got, name string) int {
	t.Helper()
	final := filepath.Join("checkpoints", name)
	entries, err := os.ReadDir(filepath.Join(ref, final))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"metrics.jsonl", filepath.Join("checkpoints", "latest"), filepath.Join("ledger", "ledger.log")}
	for _, e := range entries {
		files = append(files, filepath.Join(final, e.Name()))
	}
	n := 0
	for _, f := range files {
		a, err := os.ReadFile(filepath.Join(ref, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(got, f))
		if err != nil {
			t.Fatalf("interrupted run: %v", err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the killed-and-resumed run", f)
			if keep := os.Getenv("PROMPTGAN_KILL_KEEP"); keep != "" {
				os.MkdirAll(filepath.Join(keep, filepath.Dir(f)), 0o755)
				os.WriteFile(filepath.Join(keep, f+".ref"), a, 0o644)
				os.WriteFile(filepath.Join(keep, f+".got"), b, 0o644)
			}
		}
		n += len(a)
	}
	return n
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a non-negative integer", name, s)
	}
	return n
}

// killSteerConfig is a steer run against the tiny GPT-2 fixture that
// checkpoints every other step.
const killSteerConfig = `credit: sequence
generator: {emb: 16, hidden: 16}
discriminator: {emb: 16, hidden: 16, members: 2}
prompt_len: 2
gen_len: 4
batch_size: 16
replay_size: 64
steps: 40
mle_steps: 10
d_pretrain_steps: 4
eval_every: 10
eval_samples: 16
checkpoint_every: 2
keep_checkpoints: 2
log_every: 1
seed: 3
`

// TestKillResumeSteer is TestKillResume for a steer run against an ONNX
// target model (the tiny GPT-2 fixture): SIGKILLs at random moments, at
// checkpoint writes and at ledger appends, then resumes; the final
// checkpoint, metrics.jsonl and ledger.log must equal an uninterrupted run's.
func TestKillResumeSteer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	needORT(t)
	kills := envInt(t, "PROMPTGAN_KILLS", 3)
	seed := envInt(t, "PROMPTGAN_KILL_SEED", 1)
	bin := buildBinary(t)
	refs, prior, _ := steerFixture(t)
	cfg := filepath.Join(t.TempDir(), "kill-steer.yaml")
	if err := os.WriteFile(cfg, []byte(killSteerConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	train := func(out string) *exec.Cmd {
		cmd := exec.Command(bin, "train", "--target", tinyGPT2, "--train", refs, "--prior", prior, "--config", cfg, "--out", out, "--quiet")
		cmd.Dir = "../.."
		return cmd
	}
	killResume(t, bin, train, "step-0000040", kills, seed)
}
