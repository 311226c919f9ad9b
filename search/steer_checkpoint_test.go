package search

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/checkpoints"
)

// steerPhases runs g PretrainG, d PretrainD and a adversarial steps.
func steerPhases(t *testing.T, s *Steer, g, d, a int) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.PretrainG(g); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PretrainD(ctx, d); err != nil {
		t.Fatal(err)
	}
	for range a {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// savedWeights saves s's checkpoint under dir and returns its G and D files.
func savedWeights(t *testing.T, s *Steer, dir string) (g, d []byte) {
	t.Helper()
	ck, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	path, err := checkpoints.Save(dir, checkpointName(s.Steps()), ck)
	if err != nil {
		t.Fatal(err)
	}
	g, err = os.ReadFile(filepath.Join(path, fileGen))
	if err != nil {
		t.Fatal(err)
	}
	d, err = os.ReadFile(filepath.Join(path, fileDisc))
	if err != nil {
		t.Fatal(err)
	}
	return g, d
}

func TestSteerResumeIsBitExact(t *testing.T) {
	ts := newTinySteer(t)
	prior := PromptWindows(ts.refs, ts.cfg.GenLen, ts.cfg.PromptLen)
	const N = 8

	full, err := NewSteer(ts.cfg, ts.oracle, ts.refs, prior)
	if err != nil {
		t.Fatal(err)
	}
	steerPhases(t, full, 5, 2, N)
	wantG, wantD := savedWeights(t, full, t.TempDir())

	half, err := NewSteer(ts.cfg, ts.oracle, ts.refs, prior)
	if err != nil {
		t.Fatal(err)
	}
	steerPhases(t, half, 5, 2, N/2)
	ck, err := half.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := checkpoints.Save(t.TempDir(), "half", ck)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := checkpoints.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !IsSteerCheckpoint(loaded) {
		t.Fatal("a Steer checkpoint is not recognised as one")
	}
	cfg, err := SteerConfigOf(loaded)
	if err != nil {
		t.Fatal(err)
	}
	resumed, err := RestoreSteer(loaded, cfg, ts.oracle, ts.refs, prior)
	if err != nil {
		t.Fatal(err)
	}
	steerPhases(t, resumed, 0, 0, N-N/2)
	gotG, gotD := savedWeights(t, resumed, t.TempDir())
	if !bytes.Equal(gotG, wantG) || !bytes.Equal(gotD, wantD) {
		t.Fatalf("resumed run's weights differ from an uninterrupted run's (G equal %v, D equal %v)", bytes.Equal(gotG, wantG), bytes.Equal(gotD, wantD))
	}
	if resumed.Calls != full.Calls {
		t.Fatalf("calls: resumed %d, uninterrupted %d", resumed.Calls, full.Calls)
	}
}

func TestRestoreSteerRefusals(t *testing.T) {
	ts := newTinySteer(t)
	prior := PromptWindows(ts.refs, ts.cfg.GenLen, ts.cfg.PromptLen)
	s, err := NewSteer(ts.cfg, ts.oracle, ts.refs, prior)
	if err != nil {
		t.Fatal(err)
	}
	steerPhases(t, s, 2, 1, 1)
	ck, err := s.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	shape := ts.cfg
	shape.Generator.Hidden++
	if _, err := RestoreSteer(ck, shape, ts.oracle, ts.refs, prior); !errors.Is(err, ErrArchitectureChanged) || !strings.Contains(err.Error(), "generator.hidden") {
		t.Fatalf("changed generator.hidden: %v", err)
	}
	other := append([]int32(nil), ts.refs...)
	other[0] = (other[0] + 1) % int32(ts.cfg.Generator.Vocab)
	if _, err := RestoreSteer(ck, ts.cfg, ts.oracle, other, prior); !errors.Is(err, ErrDataChanged) || !strings.Contains(err.Error(), "references") {
		t.Fatalf("changed references: %v", err)
	}
	if _, err := RestoreSteer(ck, ts.cfg, ts.oracle, ts.refs, nil); !errors.Is(err, ErrDataChanged) || !strings.Contains(err.Error(), "prior") {
		t.Fatalf("changed prior: %v", err)
	}
	lr := ts.cfg
	lr.GAdvLR /= 2
	r, err := RestoreSteer(ck, lr, ts.oracle, ts.refs, prior)
	if err != nil {
		t.Fatal(err)
	}
	if w := r.ResumeWarnings(); len(w) != 1 || !strings.Contains(w[0], "g_adv_lr") {
		t.Fatalf("warnings %q, want one naming g_adv_lr", w)
	}
	ck2, err := r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if len(ck2.Manifest.Warnings) != 1 {
		t.Fatalf("manifest warnings %q", ck2.Manifest.Warnings)
	}
}
