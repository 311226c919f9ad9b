package search

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenNewConfigPreset(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.yaml")
	if err := os.WriteFile(model, []byte("target: some/dir\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steer, _ := Preset("steer")
	quick, _ := Preset("quick")
	for _, tc := range []struct {
		name, preset, file, task, target string
		steps                            int
	}{
		{"default", "", "", "", "", quick.Steps},
		{"model target", "", "", "", "some/dir", steer.Steps},
		{"identity target", "", "", "", "identity", quick.Steps},
		{"file names a model", "", model, "", "", steer.Steps},
		{"named preset wins", "quick", model, "", "", quick.Steps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := NewConfig(tc.preset, tc.file, tc.task, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Steps != tc.steps {
				t.Errorf("steps = %d, want %d", cfg.Steps, tc.steps)
			}
		})
	}
	if _, err := NewConfig("bogus", "", "", ""); !errors.Is(err, ErrBadConfig) {
		t.Errorf("unknown preset: %v, want ErrBadConfig", err)
	}
}

func TestOpenResumePointMissing(t *testing.T) {
	_, err := ResumePoint(filepath.Join(t.TempDir(), "none"), false)
	if err == nil || !strings.HasPrefix(err.Error(), "resume ") {
		t.Errorf("err = %v, want a resume error", err)
	}
}

func TestRunPhaseWarning(t *testing.T) {
	cfg := Config{Steps: 10, MLESteps: 20, DPretrainSteps: 5}
	if w := PhaseWarning(cfg); !strings.Contains(w, "ends inside the generator's MLE pre-training") {
		t.Errorf("got %q", w)
	}
	cfg.Steps = 100
	if w := PhaseWarning(cfg); w != "" {
		t.Errorf("got %q, want none", w)
	}
}
