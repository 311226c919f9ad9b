package search

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/lstm"
	"promptgan/task"
)

// Runs against a model target (prompt search): the same Trainer and Run as
// the sequence GAN, with a pure-Go LSTM as the target.

// tinySteer builds a small random LSTM target (vocabulary 12, weights drawn
// at a large init scale so that the prefix matters), a secret 2-token
// prefix, 256 references continued from it, and a config whose G is
// pre-trained on 2-token windows of the references.
type tinySteer struct {
	oracle *lstm.Target
	secret []int32
	refs   []int32
	cfg    Config
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
	cfg, err := Preset("steer")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Target = "go-oracle"
	cfg.Generator = generator.DefaultConfig(V)
	cfg.Discriminator.Vocab = V
	cfg.Generator.Emb, cfg.Generator.Hidden = 8, 16
	cfg.Discriminator.Emb, cfg.Discriminator.Hidden, cfg.Discriminator.Members = 8, 16, 2
	cfg.PromptLen, cfg.GenLen, cfg.BatchSize = k, m, 32
	cfg.GAdvLR = 0.01
	cfg.ReplaySize = 256
	cfg.HeldOut = 0
	cfg.Seed = 5
	return tinySteer{oracle: tg, secret: secret, refs: refs, cfg: cfg}
}

// data is the references as training data and their windows as the prior.
func (ts tinySteer) data(t *testing.T) Data {
	t.Helper()
	train, err := task.FromTokens(ts.refs, ts.cfg.GenLen)
	if err != nil {
		t.Fatal(err)
	}
	prior, err := task.FromTokens(PromptWindows(ts.refs, ts.cfg.GenLen, ts.cfg.PromptLen), ts.cfg.PromptLen)
	if err != nil {
		t.Fatal(err)
	}
	return Data{Train: train, Prior: prior}
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

// runTinySteer pre-trains G (100 MLE steps) and D (20 steps) in memory,
// then takes steps adversarial steps, and returns the run with the exact
// NLL of G's prompts before and after the adversarial steps.
func runTinySteer(t *testing.T, ts tinySteer, steps int) (*Trainer, float64, float64) {
	t.Helper()
	cfg := ts.cfg
	cfg.MLESteps, cfg.DPretrainSteps, cfg.Steps = 100, 20, 120+steps
	tr, err := NewFromData(cfg, ts.oracle, ts.data(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := Run(ctx, tr, RunOptions{NoEvaluation: true, Until: 120}); err != nil {
		t.Fatal(err)
	}
	evalPrompts := func() []int32 {
		p, err := tr.SamplePrompts(256, 1, nn.NewRNG(9, 9))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	before := ts.exactNLL(t, evalPrompts())
	if _, err := Run(ctx, tr, RunOptions{NoEvaluation: true}); err != nil {
		t.Fatal(err)
	}
	return tr, before, ts.exactNLL(t, evalPrompts())
}

func TestSteerLearnsSecret(t *testing.T) {
	ts := newTinySteer(t)
	floor := ts.exactNLL(t, repeatPrompt(ts.secret, 256))
	_, before, after := runTinySteer(t, ts, 800)
	t.Logf("exact NLL: floor %.3f, after pre-training %.3f, after 800 adversarial steps %.3f", floor, before, after)
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
	cfg.MLESteps, cfg.DPretrainSteps, cfg.Steps = 0, 1, 2
	s, err := NewFromData(cfg, ts.oracle, ts.data(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Calls != cfg.BatchSize {
		t.Fatalf("D pre-training made %d calls, want %d (one continuation per prompt)", s.Calls, cfg.BatchSize)
	}
	st, err := s.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vals := st.Values
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
	cfg.MLESteps, cfg.DPretrainSteps = 0, 0
	s, err := NewFromData(cfg, ts.oracle, ts.data(t))
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

func tinySteerRunConfig(t *testing.T, ts tinySteer) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := ts.cfg
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

	sr, err := New(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Run(ctx, sr, RunOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if want.Step != cfg.Steps || want.Ledger == nil || want.Ledger.Hits != 0 {
		t.Fatalf("uninterrupted run: %+v", want)
	}

	dir := t.TempDir()
	sr, err = New(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, sr, RunOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoints.Load(filepath.Join(dir, CheckpointsDir, checkpointName(6)))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Manifest.Fingerprints["kind"] != KindModel {
		t.Fatalf("fingerprints.kind %q, want %q", ck.Manifest.Fingerprints["kind"], KindModel)
	}
	saved, err := ConfigOf(ck)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(ck, saved, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	if r.StepCount() != 6 {
		t.Fatalf("restored at step %d, want 6", r.StepCount())
	}
	got, err := Run(ctx, r, RunOptions{Dir: dir})
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
	sr, err := New(cfg, ts.oracle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	res, err := Run(ctx, sr, RunOptions{Dir: dir})
	if !errors.Is(err, ErrInterrupted) || res.Checkpoint == "" {
		t.Fatalf("cancelled run: %v, %+v", err, res)
	}
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	shape := cfg
	shape.GenLen++
	if _, err := Restore(ck, shape, ts.oracle); !errors.Is(err, ErrArchitectureChanged) || !strings.Contains(fmt.Sprint(err), "gen_len") {
		t.Fatalf("changed gen_len: %v", err)
	}
	other := cfg
	other.Prior = ck0Prior(t, ck)
	other.Train = filepath.Join(t.TempDir(), "refs.txt")
	refs := append([]int32(nil), ts.refs...)
	refs[0] = (refs[0] + 1) % int32(cfg.Generator.Vocab)
	writeRows(t, other.Train, refs, cfg.GenLen)
	if _, err := Restore(ck, other, ts.oracle); !errors.Is(err, ErrDataChanged) || !strings.Contains(err.Error(), other.Train) {
		t.Fatalf("changed refs: %v", err)
	}
	budget, err := ConfigOf(ck)
	if err != nil {
		t.Fatal(err)
	}
	budget.Steps = 20
	r, err := Restore(ck, budget, ts.oracle)
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
	if _, err := LoadData(c); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "want 6") {
		t.Fatalf("wrong length: %v", err)
	}
	os.WriteFile(bad, []byte("1 2 3 4 5 99\n"), 0o644)
	if _, err := LoadData(c); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Fatalf("id outside vocab: %v", err)
	}
}

// ck0Prior is the prior file a checkpoint's config names.
func ck0Prior(t *testing.T, ck *checkpoints.Checkpoint) string {
	t.Helper()
	c, err := ConfigOf(ck)
	if err != nil {
		t.Fatal(err)
	}
	return c.Prior
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
