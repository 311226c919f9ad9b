package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/checkpoints"
	"promptgan/targets"
)

// writeRows writes the (n, T) tokens as one line of ids each.
func writeRows(t *testing.T, path string, tokens []int32, T int) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(tokens); i += T {
		for j, id := range tokens[i : i+T] {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, id)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tinySteerRunConfig(t *testing.T, ts tinySteer) SteerRunConfig {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultSteerRunConfig(ts.cfg.Generator.Vocab)
	cfg.SteerConfig = ts.cfg
	cfg.Target = "go-oracle"
	cfg.Train = filepath.Join(dir, "refs.txt")
	cfg.Prior = filepath.Join(dir, "prior.txt")
	writeRows(t, cfg.Train, ts.refs, ts.cfg.GenLen)
	writeRows(t, cfg.Prior, PromptWindows(ts.refs, ts.cfg.GenLen, ts.cfg.PromptLen), ts.cfg.PromptLen)
	cfg.Steps, cfg.MLESteps, cfg.DPretrainSteps = 12, 3, 2
	cfg.EvalEvery, cfg.EvalSamples, cfg.CheckpointEvery, cfg.LogEvery, cfg.KeepCheckpoints = 4, 16, 2, 1, 0
	return cfg
}

func finalGen(t *testing.T, res Result) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(res.Checkpoint, fileGen))
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join(res.Checkpoint, fileDisc))
	if err != nil {
		t.Fatal(err)
	}
	return append(b, d...)
}

// TestRunSteerResumeIsBitExact: an uninterrupted run, and a run whose
// checkpoints after step 7 are lost (as after a crash) resumed from step 6
// with the ledger, end with byte-identical weights; the replayed calls are
// answered from the ledger.
func TestRunSteerResumeIsBitExact(t *testing.T) {
	ts := newTinySteer(t)
	cfg := tinySteerRunConfig(t, ts)
	ctx := context.Background()

	sr, err := NewSteerRun(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	want, err := RunSteer(ctx, sr, RunOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if want.Step != cfg.Steps || want.Ledger == nil || want.Ledger.Hits != 0 {
		t.Fatalf("uninterrupted run: %+v", want)
	}

	dir := t.TempDir()
	sr, err = NewSteerRun(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunSteer(ctx, sr, RunOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoints.Load(filepath.Join(dir, CheckpointsDir, checkpointName(6)))
	if err != nil {
		t.Fatal(err)
	}
	if !IsSteerCheckpoint(ck) {
		t.Fatal("not recognised as a steer checkpoint")
	}
	saved, err := SteerRunConfigOf(ck)
	if err != nil {
		t.Fatal(err)
	}
	r, err := RestoreSteerRun(ck, saved, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	if r.StepCount() != 6 {
		t.Fatalf("restored at step %d, want 6", r.StepCount())
	}
	got, err := RunSteer(ctx, r, RunOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(finalGen(t, got), finalGen(t, want)) {
		t.Fatal("the resumed run's final weights differ from the uninterrupted run's")
	}
	if got.Ledger == nil || got.Ledger.Hits == 0 || got.Ledger.Misses != 0 {
		t.Fatalf("resumed run's ledger: %+v, want every call answered from it", got.Ledger)
	}
	if got.Eval["d_fake"] != want.Eval["d_fake"] {
		t.Fatalf("final eval differs: %v vs %v", got.Eval, want.Eval)
	}
}

func TestRunSteerInterruptAndRefusals(t *testing.T) {
	ts := newTinySteer(t)
	cfg := tinySteerRunConfig(t, ts)
	sr, err := NewSteerRun(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	res, err := RunSteer(ctx, sr, RunOptions{Dir: dir})
	if !errors.Is(err, ErrInterrupted) || res.Checkpoint == "" {
		t.Fatalf("cancelled run: %v, %+v", err, res)
	}
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	shape := cfg
	shape.GenLen++
	if _, err := RestoreSteerRun(ck, shape, ts.oracle); !errors.Is(err, ErrArchitectureChanged) || !strings.Contains(fmt.Sprint(err), "gen_len") {
		t.Fatalf("changed gen_len: %v", err)
	}
	other := cfg
	other.Train = filepath.Join(t.TempDir(), "refs.txt")
	refs := append([]int32(nil), ts.refs...)
	refs[0] = (refs[0] + 1) % int32(cfg.Generator.Vocab)
	writeRows(t, other.Train, refs, cfg.GenLen)
	if _, err := RestoreSteerRun(ck, other, ts.oracle); !errors.Is(err, ErrDataChanged) || !strings.Contains(err.Error(), other.Train) {
		t.Fatalf("changed refs: %v", err)
	}
	budget := cfg
	budget.Steps = 20
	r, err := RestoreSteerRun(ck, budget, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	if w := r.ResumeWarnings(); len(w) != 1 || !strings.Contains(w[0], "steps: 12 → 20") {
		t.Fatalf("warnings %q", w)
	}
}

func TestLoadSteerDataErrors(t *testing.T) {
	ts := newTinySteer(t)
	cfg := tinySteerRunConfig(t, ts)
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("1 2 3\n"), 0o644)
	c := cfg
	c.Train = bad
	if _, err := LoadSteerData(c); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "want 6") {
		t.Fatalf("wrong length: %v", err)
	}
	os.WriteFile(bad, []byte("1 2 3 4 5 99\n"), 0o644)
	if _, err := LoadSteerData(c); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("id outside vocab: %v", err)
	}
}

// fixedTarget answers each request with its Prompt as the generation.
type fixedTarget struct{}

func (fixedTarget) Fingerprint() string { return "echo" }
func (fixedTarget) Generate(_ context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	out := make([]targets.Generation, len(reqs))
	for i, r := range reqs {
		out[i] = targets.Generation{Tokens: append([]int32(nil), r.Prompt...)}
	}
	return out, nil
}
