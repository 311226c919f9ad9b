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

// TestApplyModelDefaults: a model directory decides its prompt format and
// decoding unless the user does (issue 26: the English LM needs "{prompt}
// =>" and temperature 0.7, and a run against it silently used "{prompt}"
// and 1); the settings in force are said with where each comes from.
func TestApplyModelDefaults(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"generation_config.json": `{"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 40}`,
		"promptgan.json":         `{"template": "{prompt} =>"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(mod func(*Config)) Config {
		c, _ := Preset("text")
		c.Task, c.Target = "sentiment", dir
		mod(&c)
		return c
	}
	steer := func(mod func(*Config)) Config {
		c, _ := Preset("steer")
		c.Target = dir
		mod(&c)
		return c
	}
	tests := []struct {
		name                string
		cfg                 Config
		template            string
		temperature, topP   float64
		maxNewTokens        int
		wantIn, wantMissing []string
	}{
		{"text, model's", text(func(*Config) {}), "{prompt} =>", 0.7, 0.9, 0,
			[]string{`template "{prompt} =>" (the model's promptgan.json)`, "target_temperature 0.7 (the model's generation_config.json)", "target_top_p 0.9 (the model's generation_config.json)"}, nil},
		{"text, the user's", text(func(c *Config) { c.Template, c.TargetTemperature = "{prompt} :", 1 }), "{prompt} :", 1, 0.9, 0,
			[]string{`template "{prompt} :" (set)`, "target_temperature 1 (set)"}, []string{"{prompt} =>"}},
		{"token run", steer(func(*Config) {}), "", 0.7, 0.9, 40, []string{"max_new_tokens 40 (the model's generation_config.json)"}, []string{"template"}},
		{"identity", func() Config { c, _ := Preset("tiny"); return c }(), "", 0, 0, 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			note, err := applyModelDefaults(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Template != tc.template || cfg.TargetTemperature != tc.temperature || cfg.TargetTopP != tc.topP || cfg.MaxNewTokens != tc.maxNewTokens {
				t.Errorf("template %q, temperature %v, top_p %v, max_new_tokens %d; want %q, %v, %v, %d", cfg.Template, cfg.TargetTemperature, cfg.TargetTopP, cfg.MaxNewTokens, tc.template, tc.temperature, tc.topP, tc.maxNewTokens)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(note, s) {
					t.Errorf("note %q lacks %q", note, s)
				}
			}
			for _, s := range tc.wantMissing {
				if strings.Contains(note, s) {
					t.Errorf("note %q has %q", note, s)
				}
			}
			if (note == "") != (len(tc.wantIn) == 0) {
				t.Errorf("note %q", note)
			}
		})
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "promptgan.json"), []byte(`{"template": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := text(func(c *Config) { c.Target = bad })
	if _, err := applyModelDefaults(&cfg); err == nil || !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "promptgan.json: field template") {
		t.Errorf("bad promptgan.json: %v", err)
	}
}
