package search

import (
	"context"
	"slices"
	"strings"
	"testing"

	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/lstm"
)

// tinySteer builds a small random oracle target (vocabulary 12, weights drawn at a
// large init scale so that the prefix matters), a secret 2-token prefix, 256
// references continued from it, and a Steer whose G is pre-trained on
// 2-token windows of the references.
type tinySteer struct {
	oracle *lstm.Target
	secret []int32
	refs   []int32
	cfg    SteerConfig
}

func newTinySteer(t *testing.T) tinySteer {
	t.Helper()
	const V, k, m = 12, 2, 6
	oracle := generator.New(generator.Config{Vocab: V, Emb: 8, Hidden: 32, InitScale: 2}, nn.NewRNG(42, 1))
	tg, err := lstm.New(oracle, m, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	secret := []int32{7, 3}
	seeds := make([]uint64, 256)
	for i := range seeds {
		seeds[i] = uint64(1_000_000 + i)
	}
	refs, err := targets.Continue(context.Background(), tg, repeatPrompt(secret, len(seeds)), k, m, seeds)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSteerConfig(V)
	cfg.Generator.Emb, cfg.Generator.Hidden = 8, 16
	cfg.Discriminator.Emb, cfg.Discriminator.Hidden, cfg.Discriminator.Members = 8, 16, 2
	cfg.PromptLen, cfg.GenLen, cfg.BatchSize = k, m, 32
	cfg.GAdvLR = 0.01
	cfg.ReplaySize = 256
	cfg.Seed = 5
	return tinySteer{oracle: tg, secret: secret, refs: refs, cfg: cfg}
}

func repeatPrompt(p []int32, n int) []int32 {
	out := make([]int32, 0, n*len(p))
	for range n {
		out = append(out, p...)
	}
	return out
}

// exactNLL is the mean per-token NLL, under the oracle conditioned on
// secret, of the target's continuations of the (n, k) prompts (fixed seeds).
func (ts tinySteer) exactNLL(t *testing.T, prompts []int32) float64 {
	t.Helper()
	k, m := len(ts.secret), ts.cfg.GenLen
	n := len(prompts) / k
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(5_000_000 + i)
	}
	gens, err := targets.Continue(context.Background(), ts.oracle, prompts, k, m, seeds)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int32, 0, n*(k+m))
	for i := 0; i < n; i++ {
		seqs = append(append(seqs, ts.secret...), gens[i*m:(i+1)*m]...)
	}
	lp := ts.oracle.Oracle.LogProbs(seqs, n, k+m, 1, nil)
	s := 0.0
	for i := 0; i < n; i++ {
		for _, v := range lp[i*(k+m)+k : (i+1)*(k+m)] {
			s -= float64(v)
		}
	}
	return s / float64(n*m)
}

func runTinySteer(t *testing.T, ts tinySteer, steps int) (*Steer, float64, float64) {
	t.Helper()
	s, err := NewSteer(ts.cfg, ts.oracle, ts.refs, PromptWindows(ts.refs, ts.cfg.GenLen, ts.cfg.PromptLen))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.PretrainG(100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PretrainD(ctx, 20); err != nil {
		t.Fatal(err)
	}
	evalPrompts := func() []int32 {
		p, err := s.SamplePrompts(256, 1, nn.NewRNG(9, 9))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := ts.exactNLL(t, evalPrompts())
	for range steps {
		if _, err := s.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return s, before, ts.exactNLL(t, evalPrompts())
}

func TestSteerLearnsSecret(t *testing.T) {
	ts := newTinySteer(t)
	floor := ts.exactNLL(t, repeatPrompt(ts.secret, 256))
	_, before, after := runTinySteer(t, ts, 500)
	t.Logf("exact NLL: floor %.3f, after pre-training %.3f, after 500 adversarial steps %.3f", floor, before, after)
	if gap := before - floor; !(before-after > 0.5*gap) {
		t.Fatalf("adversarial steps closed %.3f of a %.3f gap to the floor (before %.3f, after %.3f, floor %.3f); want more than half",
			before-after, gap, before, after, floor)
	}
}

func TestSteerDeterministic(t *testing.T) {
	ts := newTinySteer(t)
	a, _, _ := runTinySteer(t, ts, 10)
	b, _, _ := runTinySteer(t, ts, 10)
	for _, pair := range [][2]nn.Params{{a.Gen.Params(), b.Gen.Params()}, {a.Disc.Params(), b.Disc.Params()}} {
		for i, p := range pair[0] {
			q := pair[1][i]
			for j := range p.W {
				if p.W[j] != q.W[j] {
					t.Fatalf("two runs with seed %d differ at %s[%d]: %v vs %v", ts.cfg.Seed, p.Name, j, p.W[j], q.W[j])
				}
			}
		}
	}
	if a.Calls != b.Calls || a.Calls != (20+10)*ts.cfg.BatchSize {
		t.Fatalf("calls %d and %d, want %d", a.Calls, b.Calls, 30*ts.cfg.BatchSize)
	}
}

func TestSteerValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*SteerConfig)
	}{
		{"prompt_len", func(c *SteerConfig) { c.PromptLen = 0 }},
		{"gen_len", func(c *SteerConfig) { c.GenLen = -1 }},
		{"batch_size", func(c *SteerConfig) { c.BatchSize = 1 }},
		{"g_adv_lr", func(c *SteerConfig) { c.GAdvLR = 0 }},
		{"d_steps_per_g", func(c *SteerConfig) { c.DStepsPerG = 0 }},
		{"label_smoothing", func(c *SteerConfig) { c.LabelSmoothing = 0.7 }},
		{"replay_size", func(c *SteerConfig) { c.ReplaySize = -1 }},
		{"replay_weight", func(c *SteerConfig) { c.ReplayWeight = -1 }},
		{"baseline_decay", func(c *SteerConfig) { c.BaselineDecay = 1 }},
		{"entropy_bonus", func(c *SteerConfig) { c.EntropyBonus = -0.1 }},
		{"temperature", func(c *SteerConfig) { c.Temperature = 0 }},
		{"discriminator.vocab", func(c *SteerConfig) { c.Discriminator.Vocab = 7 }},
		{"generator.cond_dim", func(c *SteerConfig) { c.Generator.CondDim = 3 }},
		{"g_adam", func(c *SteerConfig) { c.GAdam.LR = -1 }},
		{"d_adam", func(c *SteerConfig) { c.DAdam.LR = 0 }},
	} {
		c := DefaultSteerConfig(10)
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: Validate() = %v, want an error naming the field", tc.field, err)
		}
	}
	if err := DefaultSteerConfig(10).Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

func TestNewSteerRejectsBadData(t *testing.T) {
	cfg := DefaultSteerConfig(10)
	cfg.GenLen, cfg.PromptLen = 3, 2
	tg := targets.Identity{}
	for name, tc := range map[string]struct {
		refs, prior []int32
		want        string
	}{
		"no refs":          {nil, nil, "multiple of gen_len"},
		"ragged refs":      {[]int32{1, 2, 3, 4}, nil, "multiple of gen_len"},
		"ref out of vocab": {[]int32{1, 2, 10}, nil, "reference 0, token 2 is 10"},
		"ragged prior":     {[]int32{1, 2, 3}, []int32{1}, "multiple of prompt_len"},
		"bad prior":        {[]int32{1, 2, 3}, []int32{1, -1}, "prior prompt 0, token 1 is -1"},
	} {
		_, err := NewSteer(cfg, tg, tc.refs, tc.prior)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewSteer error %v, want it to say %q", name, err, tc.want)
		}
	}
	if _, err := NewSteer(cfg, nil, []int32{1, 2, 3}, nil); err == nil {
		t.Error("NewSteer accepted a nil target")
	}
	s, err := NewSteer(cfg, tg, []int32{1, 2, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PretrainG(1); err == nil {
		t.Error("PretrainG without prior prompts did not fail")
	}
}

func TestOracleTargetBatchIndependent(t *testing.T) {
	ts := newTinySteer(t)
	ctx := context.Background()
	reqs := []targets.Request{{Prompt: []int32{1, 2}, Seed: 11}, {Prompt: []int32{3}, Seed: 12}, {Prompt: []int32{4, 5}, Seed: 13}}
	all, err := ts.oracle.Generate(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		one, err := ts.oracle.Generate(ctx, []targets.Request{r})
		if err != nil {
			t.Fatal(err)
		}
		if len(one[0].Tokens) != ts.cfg.GenLen || !slices.Equal(one[0].Tokens, all[i].Tokens) {
			t.Fatalf("request %d alone gave %v, in a batch %v", i, one[0].Tokens, all[i].Tokens)
		}
	}
	if _, err := ts.oracle.Generate(ctx, []targets.Request{{Prompt: []int32{12}}}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("out-of-vocabulary prompt: error %v", err)
	}
	if !strings.HasPrefix(ts.oracle.Fingerprint(), "go-oracle:tiny:m=6") {
		t.Fatalf("fingerprint %q", ts.oracle.Fingerprint())
	}
}

func TestSteerContinuationsPerPrompt(t *testing.T) {
	ts := newTinySteer(t)
	cfg := ts.cfg
	cfg.ContinuationsPerPrompt = 3
	cfg.Discriminator.Kind, cfg.Discriminator.Positions = "linear", cfg.GenLen
	s, err := NewSteer(cfg, ts.oracle, ts.refs, PromptWindows(ts.refs, cfg.GenLen, cfg.PromptLen))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PretrainD(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if s.Calls != cfg.BatchSize {
		t.Fatalf("D pre-training made %d calls, want %d (one continuation per prompt)", s.Calls, cfg.BatchSize)
	}
	vals, err := s.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := cfg.BatchSize + cfg.CallsPerStep(); s.Calls != want || cfg.CallsPerStep() != 3*cfg.BatchSize {
		t.Fatalf("%d calls after one step, want %d", s.Calls, want)
	}
	if r := vals["reward"]; !(r < 0) {
		t.Fatalf("reward %v: want a finite log-probability", r)
	}
	cfg.ContinuationsPerPrompt = -1
	if err := cfg.Validate(); err == nil {
		t.Fatal("continuations_per_prompt -1 validated")
	}
}

// TestSteerRewardOverride checks the diagnostic reward hook: it receives
// every continuation of the step (BatchSize·C) and a wrong number of
// rewards is an error naming both counts.
func TestSteerRewardOverride(t *testing.T) {
	ts := newTinySteer(t)
	cfg := ts.cfg
	cfg.ContinuationsPerPrompt = 2
	s, err := NewSteer(cfg, ts.oracle, ts.refs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	s.Reward = func(gens []int32) []float64 {
		seen = len(gens) / cfg.GenLen
		return make([]float64, seen)
	}
	if _, err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := cfg.BatchSize * 2; seen != want {
		t.Fatalf("the reward function saw %d generations, want %d", seen, want)
	}
	s.Reward = func(gens []int32) []float64 { return make([]float64, 3) }
	if _, err := s.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "returned 3 rewards for 64 generations") {
		t.Fatalf("wrong reward count: err = %v", err)
	}
}
