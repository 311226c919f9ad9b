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
		{func(c *Config) { c.PromptExamples = "ex.txt" }, "example prompts are for text runs"},
		{func(c *Config) { c.OpenAI.SeedBits = 32 }, "openai.seed_bits = 32: choose 31"},
		{func(c *Config) { c.TargetTemperature = -0.5 }, "target_temperature = -0.5: must be in (0, 10]"},
		{func(c *Config) { c.TargetTopP = 1.5 }, "target_top_p = 1.5: must be in (0, 1]"},
		{func(c *Config) { c.TargetTemperature = 0.7 }, "the identity target does not sample"},
		{func(c *Config) {
			c.Target, c.Oracle, c.Test, c.GenLen, c.TargetTopP, c.OpenAI.BaseURL, c.Ledger = "openai:m", "", "", 8, 0.9, "http://127.0.0.1:1/v1", true
		}, "an openai: target takes openai.temperature"},
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
		{"openai seed_bits", "openai: {seed_bits: 64}\n", "", func(c Config) bool { return c.OpenAI.SeedBits == 64 && c.OpenAI.Options().SeedBits == 64 }},
		{"empty file", "", "", func(c Config) bool { return c.Steps == DefaultConfig().Steps }},
		{"unknown key", "steps: 5\nstpes: 6\n", "field stpes not found", nil},
		{"unknown nested key", "generator:\n  hiden: 3\n", "field hiden not found", nil},
		{"wrong type", "steps: many\n", `line 1: steps: want an integer, got "many"`, nil},
		{"not yaml", "steps: [\n", "line 1: not valid YAML", nil},
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

// YAML as people write it: files saved on Windows load, and every mistake is
// named by its line and key in the file's terms, never by a Go type.
func TestDecodeYAMLInUsersTerms(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string            // "" = accepted
		check      func(Config) bool // when accepted
	}{
		{"bom and crlf", "\ufeffsteps: 77\r\ngenerator:\r\n  hidden: 48\r\n", "", func(c Config) bool { return c.Steps == 77 && c.Generator.Hidden == 48 }},
		{"only a comment", "# nothing yet\n", "", func(c Config) bool { return c.Steps == DefaultConfig().Steps }},
		{"null document", "~\n", "", func(c Config) bool { return c.Steps == DefaultConfig().Steps }},
		{"whole float into an integer", "steps: 1e3\n", "", func(c Config) bool { return c.Steps == 1000 }},
		{"top-level list", "- steps: 1\n- batch_size: 2\n", "line 1: want a mapping of config keys", nil},
		{"top-level scalar", "steps\n", `line 1: want a mapping of config keys (one "key: value" a line, e.g. "steps: 1000"), got the single value "steps"`, nil},
		{"tab under a nested key", "steps: 10\nbatch_size: 4\ngenerator:\n  hidden: 8\n\temb: 3\n", "line 5: a tab in the indentation", nil},
		{"tab at the top", "steps: 10\n\tbatch_size: 4\n", "line 2: a tab in the indentation", nil},
		{"tab after blank lines", "generator:\n  emb: 1\n\n\n  hidden: 2\n\tvocab: 3\n", "line 6: a tab in the indentation", nil},
		{"string for an integer", "steps: 10\nbatch_size: many\n", `line 2: batch_size: want an integer, got "many"`, nil},
		{"fraction for an integer", "batch_size: 2.5\n", "line 1: batch_size: want an integer, got 2.5, not a whole number", nil},
		{"integer overflow", "batch_size: 9223372036854775808\n", "batch_size: want an integer, got 9223372036854775808, too large for a 64-bit integer", nil},
		{"huge integer", "steps: 99999999999999999999999\n", "too large for a 64-bit integer", nil},
		{"negative seed", "seed: -1\n", "line 1: seed: want a non-negative integer, got -1, a negative number", nil},
		{"word for a number", "g_adv_lr: fast\n", `line 1: g_adv_lr: want a number, got "fast"`, nil},
		{"word for a bool", "ledger: maybe\n", `line 1: ledger: want true or false, got "maybe"`, nil},
		{"list for a nested integer", "generator: {hidden: [1]}\n", "line 1: generator.hidden: want an integer, got a list", nil},
		{"scalar for a section", "generator: 5\n", "line 1: generator: want a mapping of generator's keys (vocab, emb, hidden", nil},
		{"two errors", "batch_size: x\ngenerator: {emb: y}\n", `line 1: batch_size: want an integer, got "x"; line 2: generator.emb: want an integer, got "y"`, nil},
		{"typo nested", "generator:\n  hiden: 3\n", "line 2: field hiden not found among generator's keys; did you mean hidden?", nil},
		{"typo top", "batchsize: 3\n", "line 1: field batchsize not found among the config's keys; did you mean batch_size?", nil},
		{"second document", "steps: 10\n---\nsteps: 20\n", "line 3: a second YAML document", nil},
		{"repeated key", "steps: 10\nsteps: 11\n", `line 2: mapping key "steps" already defined at line 1`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeYAML([]byte(tc.yaml), DefaultConfig())
			if tc.wantErr == "" {
				if err != nil || !tc.check(c) {
					t.Fatalf("err %v, config steps %d hidden %d", err, c.Steps, c.Generator.Hidden)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tc.wantErr)
			}
			for _, goName := range []string{"search.Config", "generator.Config", "!!", "unmarshal", "yaml: "} {
				if strings.Contains(err.Error(), goName) {
					t.Errorf("error %q shows Go's terms (%s)", err, goName)
				}
			}
		})
	}
}
