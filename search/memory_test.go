package search

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/task"
)

func TestValidateSizeRanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = accepted
	}{
		{"seqgan sizes", func(*Config) {}, ""},
		{"batch_size max int", func(c *Config) { c.BatchSize = 1<<63 - 1 }, "batch_size = 9223372036854775807 is out of range: must be 2 to 1,000,000"},
		{"batch_size at the bound", func(c *Config) { c.BatchSize = MaxBatch }, ""},
		{"generator.hidden 1e8", func(c *Config) { c.Generator.Hidden = 100_000_000 }, "generator.hidden = 100000000 is out of range: must be 1 to 16,384"},
		{"generator.emb", func(c *Config) { c.Generator.Emb = MaxWidth + 1 }, "generator.emb = 16385 is out of range"},
		{"vocab", func(c *Config) { c.Generator.Vocab, c.Discriminator.Vocab = MaxVocab+1, MaxVocab+1 }, "generator.vocab = 1000001 is out of range"},
		{"discriminator.hidden", func(c *Config) { c.Discriminator.Hidden = 1 << 40 }, "discriminator.hidden = 1099511627776 is out of range"},
		{"prompt_len", func(c *Config) { c.PromptLen = MaxLen + 1 }, "prompt_len = 10001 is out of range"},
		{"gen_len", func(c *Config) { c.GenLen = 1 << 50 }, "gen_len = 1125899906842624 is out of range"},
		{"replay_size", func(c *Config) { c.ReplaySize = MaxReplay + 1 }, "replay_size = 10000001 is out of range"},
		{"eval_samples", func(c *Config) { c.EvalSamples = MaxSamples + 1 }, "eval_samples = 10000001 is out of range"},
		{"rollouts", func(c *Config) { c.Rollouts = MaxPerPrompt + 1 }, "rollouts = 1001 is out of range"},
		{"continuations", func(c *Config) { c.ContinuationsPerPrompt = MaxPerPrompt + 1 }, "continuations_per_prompt = 1001 is out of range"},
		{"hall_of_fame", func(c *Config) { c.HallOfFame = 1 << 30 }, "hall_of_fame = 1073741824 is out of range"},
		{"linear positions", func(c *Config) { c.Discriminator.Kind, c.Discriminator.Positions = "linear", 1<<40 }, "discriminator.positions = 1099511627776 is out of range"},
		{"lower bounds keep their own message", func(c *Config) { c.BatchSize = 1 }, "batch_size = 1: need at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Preset("seqgan-oracle")
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(&c)
			err = c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseMeminfo(t *testing.T) {
	for _, tc := range []struct {
		name         string
		text         string
		avail, total uint64
		ok           bool
	}{
		{"linux", "MemTotal:       24576000 kB\nMemFree:   100 kB\nMemAvailable:   12288000 kB\n", 12288000 << 10, 24576000 << 10, true},
		{"no MemAvailable (kernel < 3.14)", "MemTotal: 1000 kB\nMemFree: 10 kB\n", 0, 1000 << 10, false},
		{"garbage", "MemTotal: lots\nMemAvailable: -1 kB\n:\n\n", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, tot, ok := parseMeminfo([]byte(tc.text))
			if ok != tc.ok || (ok && (a != tc.avail || tot != tc.total)) {
				t.Fatalf("got %d, %d, %v; want %d, %d, %v", a, tot, ok, tc.avail, tc.total, tc.ok)
			}
		})
	}
}

// A config too big for the machine is refused with the estimate, the
// machine's memory and the fields that size the largest parts.
func TestCheckFits(t *testing.T) {
	seqgan, _ := Preset("seqgan-oracle")
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		avail uint64
		want  []string // "" = fits
	}{
		{"seqgan fits in 8 GiB", func(*Config) {}, 8 << 30, nil},
		{"seqgan does not fit in 100 MiB", func(*Config) {}, 100 << 20, []string{"needs about 6", "MiB of memory but this machine has 100.0 MiB available (of 16.0 GiB)", "discriminator evaluation", "members 3 × eval_samples 1000 × gen_len 20 × hidden 64", "lower eval_samples, gen_len"}},
		{"a wide generator", func(c *Config) { c.Generator.Hidden, c.Generator.Emb = 16000, 16000 }, 8 << 30, []string{"generator weights, gradients and Adam moments", "generator.hidden"}},
		{"a huge batch", func(c *Config) { c.BatchSize = 1_000_000 }, 8 << 30, []string{"TiB", "batch_size 1000000 × prompt_len 20"}},
		{"a huge replay", func(c *Config) { c.ReplaySize, c.PromptLen = MaxReplay, MaxLen }, 8 << 30, []string{"replay buffer", "replay_size"}},
		{"a huge evaluation", func(c *Config) { c.EvalSamples = MaxSamples }, 8 << 30, []string{"discriminator evaluation", "eval_samples"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := seqgan
			tc.edit(&c)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			err := checkFits(EstimateMemory(c), tc.avail, 16<<30)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; estimate %s", BytesHuman(EstimateMemory(c).Total))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// The estimate covers what building a run and a few steps of each phase
// with an evaluation really take (Go's heap as the runtime obtained it
// from the system), with the presets' sizes scaled down to test speed.
func TestEstimateCoversARun(t *testing.T) {
	cfg, _ := Preset("tiny")
	cfg.Train, cfg.Test, cfg.Oracle = "", "", ""
	cfg.Generator.Vocab, cfg.Discriminator.Vocab = 2000, 2000
	cfg.BatchSize, cfg.EvalSamples, cfg.EvalTest = 128, 512, 128
	cfg.MLESteps, cfg.DPretrainSteps, cfg.Steps = 1, 1, 3
	seqs := randomSequences(512, cfg.PromptLen, cfg.Generator.Vocab)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	tr, err := NewFromData(cfg, targets.Identity{}, Data{Train: seqs, HeldOut: seqs})
	if err != nil {
		t.Fatal(err)
	}
	for range cfg.Steps {
		if _, err := tr.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Stacks count with the heap: their spans move out of HeapSys into
	// StackSys, and HeapSys alone can shrink during the run (the uint64
	// difference then wrapped around to 16 EiB).
	obtained := func(m *runtime.MemStats) float64 { return float64(m.HeapSys + m.StackSys) }
	used := obtained(&after) - obtained(&before) + float64(after.HeapInuse-min(after.HeapInuse, after.HeapSys))
	est := EstimateMemory(cfg).Total - processBase
	t.Logf("heap obtained %s, estimate %s (without the process base)", BytesHuman(used), BytesHuman(est))
	if used > est {
		t.Fatalf("a run took %s of heap, more than its estimate %s", BytesHuman(used), BytesHuman(est))
	}
}

// randomSequences returns n sequences of T ids in [0, V).
func randomSequences(n, T, V int) *task.Sequences {
	rng := nn.NewRNG(9, 9)
	s := &task.Sequences{N: n, T: T, Tokens: make([]int32, n*T)}
	for i := range s.Tokens {
		s.Tokens[i] = int32(rng.IntN(V))
	}
	return s
}
