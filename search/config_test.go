package search

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/targets"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPresetsValidate(t *testing.T) {
	for _, name := range PresetNames() {
		cfg, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == "steer" { // the model's vocabulary, the target and the data come from the user
			cfg.Generator.Vocab, cfg.Discriminator.Vocab, cfg.Target, cfg.Train = 50, 50, "model-dir", "refs.txt"
		}
		if name == "text" { // the target comes from the user; the vocabularies from the task and the encoder
			cfg.Target = "model-dir"
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if _, err := Preset("huge"); err == nil || !strings.Contains(err.Error(), `unknown preset "huge"`) {
		t.Fatalf("unknown preset: %v", err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		tweak func(*Config)
		want  string
	}{
		{func(c *Config) { c.Steps = 0 }, "steps = 0"},
		{func(c *Config) { c.BatchSize = 1 }, "batch_size = 1"},
		{func(c *Config) { c.Discriminator.Vocab = 10 }, "discriminator.vocab = 10"},
		{func(c *Config) { c.Generator.Hidden = 0 }, "generator.hidden = 0"},
		{func(c *Config) { c.GAdam.LR = -1 }, "g_adam.lr = -1"},
		{func(c *Config) { c.Metric = "bleu" }, `metric = "bleu"`},
		{func(c *Config) { c.Metric, c.Oracle = "nll_oracle", "" }, "metric = nll_oracle but oracle is empty"},
		{func(c *Config) { c.Gamma = 2 }, "gamma = 2"},
		{func(c *Config) { c.Target = "gpt" }, "oracle is set but the target is a model"},
		{func(c *Config) { c.Target = "" }, "target is empty"},
		{func(c *Config) {
			c.Target, c.Oracle, c.Test, c.GenLen, c.MLESteps, c.Credit = "gpt", "", "", 8, 0, "delta"
		}, `credit = "delta" judges prompt prefixes directly`},
		{func(c *Config) { c.Target, c.Oracle, c.Test, c.GenLen = "gpt", "", "", 0 }, "gen_len = 0: a model target needs"},
		{func(c *Config) { c.Target, c.Oracle, c.Test, c.GenLen, c.MLESteps = "gpt", "", "", 8, 5 }, "mle_steps = 5 but prior is empty"},
		{func(c *Config) { c.GenLen = 7 }, "gen_len = 7 but prompt_len = 20"},
		{func(c *Config) { c.HeldOut = 0.1 }, "give a test file or a held-out share of train, not both"},
		{func(c *Config) { c.ContinuationsPerPrompt = 2 }, "continuations_per_prompt = 2: the identity target"},
		{func(c *Config) { c.Device = "tpu" }, `device = "tpu"`},
		{func(c *Config) { c.MaxNewTokens = -1 }, "max_new_tokens = -1"},
		{func(c *Config) { c.LabelSmoothing = 0.5 }, "label_smoothing = 0.5"},
		{func(c *Config) { c.Train = "" }, "train is empty"},
	}
	for _, tc := range tests {
		cfg, _ := Preset("seqgan-oracle")
		tc.tweak(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to mention %q", err, tc.want)
		}
	}
}

func TestLoadYAML(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
		check               func(Config) bool
	}{
		{"override", "steps: 77\ngenerator:\n  hidden: 48\ng_adam:\n  lr: 0.002\n", "", func(c Config) bool {
			return c.Steps == 77 && c.Generator.Hidden == 48 && c.GAdam.LR == 0.002 && c.GAdam.Beta1 == 0.9
		}},
		{"empty file", "", "", func(c Config) bool { return c.Steps == DefaultConfig().Steps }},
		{"unknown key", "steps: 5\nstpes: 6\n", "field stpes not found", nil},
		{"unknown nested key", "generator:\n  hiden: 3\n", "field hiden not found", nil},
		{"wrong type", "steps: many\n", "cannot unmarshal", nil},
		{"not yaml", "steps: [\n", "yaml", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o644)
			cfg, err := LoadYAML(path, DefaultConfig())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want one naming %s and containing %q", err, path, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("cfg %+v, err %v", cfg, err)
			}
		})
	}
	if _, err := LoadYAML(filepath.Join(t.TempDir(), "nope.yaml"), DefaultConfig()); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestNewTrainerBadData(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("1 2 3\n4 x 6\n"), 0o644)
	badOracle := filepath.Join(dir, "oracle.safetensors")
	os.WriteFile(badOracle, []byte("not safetensors at all"), 0o644)
	tests := []struct {
		tweak func(*Config)
		want  string
	}{
		{func(c *Config) { c.Train = bad }, "bad.txt:1: sequence has 3 tokens, want 20"},
		{func(c *Config) { c.Train = filepath.Join(dir, "missing.txt") }, "missing.txt"},
		{func(c *Config) { c.Oracle = badOracle }, "oracle.safetensors"},
	}
	for _, tc := range tests {
		cfg := tinyConfig(t)
		tc.tweak(&cfg)
		if _, err := New(cfg, targets.Identity{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}
