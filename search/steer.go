package search

import (
	"context"
	"fmt"
	"time"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
)

// RNG streams of a Steer run; each is independent for one seed.
const (
	steerStreamInitG  = 101
	steerStreamInitD  = 102
	steerStreamSample = 103 // prompts sampled from G, replay picks
	steerStreamData   = 104 // reference and prior batches
	steerStreamSeeds  = 105 // the seeds of target requests
)

// SteerConfig configures Steer: the adversarial loop for a black-box target
// whose generation is not the prompt. G writes PromptLen-token prompts, the
// target continues each by GenLen tokens, D reads those GenLen tokens.
type SteerConfig struct {
	Generator     generator.Config     `yaml:"generator" json:"generator"`         // the prompt policy; vocab = the target's
	Discriminator discriminator.Config `yaml:"discriminator" json:"discriminator"` // the judge of generations; vocab = the target's

	PromptLen int `yaml:"prompt_len" json:"prompt_len"` // k, tokens per prompt; 4
	GenLen    int `yaml:"gen_len" json:"gen_len"`       // m, tokens the target generates per prompt (what D reads); 16
	BatchSize int `yaml:"batch_size" json:"batch_size"` // prompts per step (= target calls per D step); 64

	GAdam  nn.AdamConfig `yaml:"g_adam" json:"g_adam"`     // G during MLE pre-training on the prior; lr 0.01
	GAdvLR float64       `yaml:"g_adv_lr" json:"g_adv_lr"` // G's learning rate in the adversarial steps; 0.005
	DAdam  nn.AdamConfig `yaml:"d_adam" json:"d_adam"`     // each D member; lr 0.005

	DStepsPerG     int     `yaml:"d_steps_per_g" json:"d_steps_per_g"`     // D updates (each on fresh target calls) per G update; 1
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"` // real label is 1−ε (one-sided); 0.1
	ReplaySize     int     `yaml:"replay_size" json:"replay_size"`         // old fake generations kept for D; 0 = no replay; 1024
	ReplayWeight   float64 `yaml:"replay_weight" json:"replay_weight"`     // λ on the replay term of L_D; 0.5
	BaselineDecay  float64 `yaml:"baseline_decay" json:"baseline_decay"`   // EMA decay of the reward baseline; 0.9
	EntropyBonus   float64 `yaml:"entropy_bonus" json:"entropy_bonus"`     // weight of G's policy-entropy bonus; 0.01
	Temperature    float64 `yaml:"temperature" json:"temperature"`         // G's sampling temperature in training; 1
	// ContinuationsPerPrompt is how many continuations (separate target
	// calls, distinct seeds) each prompt of an adversarial step gets; D
	// trains on all of them and a prompt's reward is the mean over its
	// continuations. 0 or 1 = one (the default).
	ContinuationsPerPrompt int    `yaml:"continuations_per_prompt,omitempty" json:"continuations_per_prompt,omitempty"`
	Seed                   uint64 `yaml:"seed" json:"seed"` // every random draw of the run derives from it
}

// DefaultSteerConfig returns the defaults for a target with a vocabulary of vocab tokens.
func DefaultSteerConfig(vocab int) SteerConfig {
	gadam := nn.DefaultAdam(0.01)
	gadam.ClipNorm = 5
	dadam := nn.DefaultAdam(0.005)
	dadam.ClipNorm = 5
	return SteerConfig{
		Generator:      generator.DefaultConfig(vocab),
		Discriminator:  discriminator.DefaultConfig(vocab),
		PromptLen:      4,
		GenLen:         16,
		BatchSize:      64,
		GAdam:          gadam,
		GAdvLR:         0.005,
		DAdam:          dadam,
		DStepsPerG:     1,
		LabelSmoothing: 0.1,
		ReplaySize:     1024,
		ReplayWeight:   0.5,
		BaselineDecay:  0.9,
		EntropyBonus:   0.01,
		Temperature:    1,
		Seed:           1,
	}
}

// Validate reports the first invalid field, by its yaml name.
func (c SteerConfig) Validate() error {
	if err := c.Generator.Validate(); err != nil {
		return err
	}
	if c.Generator.CondDim != 0 {
		return fmt.Errorf("generator.cond_dim = %d: steer prompts are unconditioned, set it to 0", c.Generator.CondDim)
	}
	if err := c.Discriminator.Validate(); err != nil {
		return err
	}
	if c.Discriminator.Vocab != c.Generator.Vocab {
		return fmt.Errorf("discriminator.vocab = %d but generator.vocab = %d: both are the target's vocabulary, set them equal", c.Discriminator.Vocab, c.Generator.Vocab)
	}
	if err := c.GAdam.Validate("g_adam"); err != nil {
		return err
	}
	if err := c.DAdam.Validate("d_adam"); err != nil {
		return err
	}
	switch {
	case c.PromptLen < 1:
		return fmt.Errorf("prompt_len = %d: must be >= 1", c.PromptLen)
	case c.GenLen < 1:
		return fmt.Errorf("gen_len = %d: must be >= 1", c.GenLen)
	case c.BatchSize < 2:
		return fmt.Errorf("batch_size = %d: must be >= 2 (advantages are normalised across the batch)", c.BatchSize)
	case !(c.GAdvLR > 0):
		return fmt.Errorf("g_adv_lr = %v: must be > 0", c.GAdvLR)
	case c.DStepsPerG < 1:
		return fmt.Errorf("d_steps_per_g = %d: must be >= 1", c.DStepsPerG)
	case !(c.LabelSmoothing >= 0 && c.LabelSmoothing < 0.5):
		return fmt.Errorf("label_smoothing = %v: must be in [0, 0.5)", c.LabelSmoothing)
	case c.ReplaySize < 0:
		return fmt.Errorf("replay_size = %d: must be >= 0", c.ReplaySize)
	case !(c.ReplayWeight >= 0):
		return fmt.Errorf("replay_weight = %v: must be >= 0", c.ReplayWeight)
	case !(c.BaselineDecay >= 0 && c.BaselineDecay < 1):
		return fmt.Errorf("baseline_decay = %v: must be in [0, 1)", c.BaselineDecay)
	case !(c.EntropyBonus >= 0):
		return fmt.Errorf("entropy_bonus = %v: must be >= 0", c.EntropyBonus)
	case !(c.Temperature > 0):
		return fmt.Errorf("temperature = %v: must be > 0", c.Temperature)
	case c.ContinuationsPerPrompt < 0:
		return fmt.Errorf("continuations_per_prompt = %d: must be >= 0 (0 = 1)", c.ContinuationsPerPrompt)
	}
	return nil
}

// Steer is the adversarial prompt search against a black-box target:
//
//	prompts p_1..p_B ~ G                       (k tokens each)
//	y_i = T(p_i)                               (m tokens; one batched Generate)
//	D ← D − ∇ [BCE(D(refs), 1−ε) + BCE(D(y), 0) + λ·BCE(D(replay), 0)]
//	r_i = log D(y_i)                           (non-saturating; the last position's logit judges y_i whole)
//	A_i = (r_i − b)/σ,  b ← EMA of mean r
//	G ← G + η ∇ Σ_i A_i log G(p_i) + β ∇ H(G)
//
// It is deterministic given Cfg.Seed and the target's answers: the seeds of
// target requests come from their own RNG stream, so a rerun (or a run
// answered from a ledger) asks exactly the same requests.
type Steer struct {
	Cfg    SteerConfig
	Gen    *generator.Model
	Disc   *discriminator.Ensemble
	Target targets.Model

	refs   []int32 // (nRefs, GenLen) good generations
	nRefs  int
	prior  []int32 // (nPrior, PromptLen) prompts for MLE pre-training; may be empty
	nPrior int

	gMLE, gAdv *nn.Adam
	dOpts      []*nn.Adam
	sampleRNG  *nn.RNG
	dataRNG    *nn.RNG
	seedRNG    *nn.RNG
	replay     *Replay

	baseline     []float64 // one value: the reward baseline
	baselineInit bool
	steps        int      // adversarial steps taken
	gPretrained  int      // PretrainG steps taken
	dPretrained  int      // PretrainD steps taken
	warnings     []string // settings changed on resume, carried from checkpoint to checkpoint
	newWarnings  []string // the ones the last RestoreSteer added

	// Reward, when set, replaces D's verdict log D(y) as the reward of G's
	// update: it gets the (n, GenLen) generations of a step and returns one
	// reward per generation, higher is better (D still trains). It is for
	// diagnostics: an exact reward shows what the REINFORCE update can do
	// with a perfect evaluator. Not part of the run's state.
	Reward func(gens []int32) []float64

	// Calls counts the requests sent to Target (checkpointed);
	// GenerateSeconds is the wall time spent inside Target.Generate in this
	// process (not part of the run's state).
	Calls           int
	GenerateSeconds float64
}

// NewSteer validates cfg and the data and builds fresh networks. refs holds
// N×GenLen good generations (N ≥ 1); prior holds M×PromptLen prompts for
// PretrainG and may be nil.
func NewSteer(cfg SteerConfig, tg targets.Model, refs, prior []int32) (*Steer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid steer config: %w", err)
	}
	if tg == nil {
		return nil, fmt.Errorf("steer: no target model")
	}
	V, k, m := cfg.Generator.Vocab, cfg.PromptLen, cfg.GenLen
	if len(refs) == 0 || len(refs)%m != 0 {
		return nil, fmt.Errorf("steer: references hold %d tokens, need a positive multiple of gen_len = %d", len(refs), m)
	}
	if err := checkTokens("reference", refs, m, V); err != nil {
		return nil, err
	}
	if len(prior)%k != 0 {
		return nil, fmt.Errorf("steer: prior holds %d tokens, need a multiple of prompt_len = %d", len(prior), k)
	}
	if err := checkTokens("prior prompt", prior, k, V); err != nil {
		return nil, err
	}
	s := &Steer{
		Cfg: cfg, Target: tg,
		refs: append([]int32(nil), refs...), nRefs: len(refs) / m,
		prior: append([]int32(nil), prior...), nPrior: len(prior) / k,
		Gen:       generator.New(cfg.Generator, nn.NewRNG(cfg.Seed, steerStreamInitG)),
		Disc:      discriminator.New(cfg.Discriminator, nn.NewRNG(cfg.Seed, steerStreamInitD)),
		sampleRNG: nn.NewRNG(cfg.Seed, steerStreamSample),
		dataRNG:   nn.NewRNG(cfg.Seed, steerStreamData),
		seedRNG:   nn.NewRNG(cfg.Seed, steerStreamSeeds),
		replay:    NewReplay(cfg.ReplaySize, m),
		baseline:  make([]float64, 1),
	}
	s.gMLE = nn.NewAdam(cfg.GAdam, s.Gen.Params())
	adv := cfg.GAdam
	adv.LR, adv.Warmup = cfg.GAdvLR, 0
	s.gAdv = nn.NewAdam(adv, s.Gen.Params())
	for _, mem := range s.Disc.Members {
		s.dOpts = append(s.dOpts, nn.NewAdam(cfg.DAdam, mem.Params()))
	}
	return s, nil
}

// checkTokens reports the first of the (n, T) sequences' tokens outside [0, V).
func checkTokens(what string, tokens []int32, T, V int) error {
	for i, id := range tokens {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("steer: %s %d, token %d is %d, outside the vocabulary [0, %d)", what, i/T, i%T, id, V)
		}
	}
	return nil
}

// continuations returns ContinuationsPerPrompt, at least 1.
func (c SteerConfig) continuations() int { return max(c.ContinuationsPerPrompt, 1) }

// CallsPerStep returns the target calls one adversarial Step makes.
func (c SteerConfig) CallsPerStep() int { return c.BatchSize * c.continuations() * c.DStepsPerG }

// Steps returns the number of adversarial steps taken.
func (s *Steer) Steps() int { return s.steps }

// PretrainG runs steps maximum-likelihood updates of G on batches of the
// prior prompts. It returns the last step's statistics (nil for 0 steps).
func (s *Steer) PretrainG(steps int) (map[string]float64, error) {
	if steps > 0 && s.nPrior == 0 {
		return nil, fmt.Errorf("steer: PretrainG(%d) without prior prompts", steps)
	}
	B, k := s.Cfg.BatchSize, s.Cfg.PromptLen
	var vals map[string]float64
	for range steps {
		tokens := make([]int32, 0, B*k)
		for range B {
			i := s.dataRNG.IntN(s.nPrior)
			tokens = append(tokens, s.prior[i*k:(i+1)*k]...)
		}
		ps := s.Gen.Params()
		ps.ZeroGrad()
		st := s.Gen.Backprop(generator.Batch{Tokens: tokens, B: B, T: k, Weights: fill(B*k, 1/float32(B*k))})
		norm := s.gMLE.Update(ps)
		vals = map[string]float64{"loss_g": st.Loss, "entropy": st.Entropy, "g_grad_norm": norm}
		s.gPretrained++
	}
	return vals, nil
}

// PretrainD runs steps D updates on references against the target's
// continuations of fresh prompts from G (BatchSize target calls each).
func (s *Steer) PretrainD(ctx context.Context, steps int) (map[string]float64, error) {
	var vals map[string]float64
	for i := range steps {
		var err error
		if _, _, vals, err = s.fakesAndDStep(ctx, 1); err != nil {
			return nil, fmt.Errorf("steer D pre-training step %d: %w", i+1, err)
		}
		s.dPretrained++
	}
	return vals, nil
}

// Step runs one adversarial step: DStepsPerG D updates, each on fresh
// prompts and their continuations, then one REINFORCE update of G on the
// last batch, rewarded by the updated D.
func (s *Steer) Step(ctx context.Context) (map[string]float64, error) {
	B, k, m, C := s.Cfg.BatchSize, s.Cfg.PromptLen, s.Cfg.GenLen, s.Cfg.continuations()
	var prompts, gens []int32
	var vals map[string]float64
	for range s.Cfg.DStepsPerG {
		var err error
		if prompts, gens, vals, err = s.fakesAndDStep(ctx, C); err != nil {
			return nil, fmt.Errorf("steer step %d: %w", s.steps+1, err)
		}
	}
	// gens holds C continuations of every prompt, prompt-major; a prompt's
	// reward is the mean of log D (or of Reward) over them
	var rc []float64
	if s.Reward != nil {
		if rc = s.Reward(gens); len(rc) != B*C {
			return nil, fmt.Errorf("steer step %d: the reward function returned %d rewards for %d generations", s.steps+1, len(rc), B*C)
		}
	} else {
		logits := s.Disc.MeanLogits(gens, B*C, m)
		last := make([]float32, B*C)
		for b := range last {
			last[b] = logits[b*m+m-1]
		}
		rc = NonSaturatingRewards(last)
	}
	r := make([]float64, B)
	for b := range r {
		for c := 0; c < C; c++ {
			r[b] += rc[b*C+c] / float64(C)
		}
	}
	A, init := Advantages(r, B, 1, s.baseline, s.baselineInit, s.Cfg.BaselineDecay)
	s.baselineInit = init

	bt := generator.Batch{Tokens: prompts, B: B, T: k, Weights: make([]float32, B*k), Entropy: fill(B*k, float32(s.Cfg.EntropyBonus/float64(B*k)))}
	for b, a := range A {
		for t := 0; t < k; t++ {
			bt.Weights[b*k+t] = float32(a / float64(B*k))
		}
	}
	ps := s.Gen.Params()
	ps.ZeroGrad()
	st := s.Gen.Backprop(bt)
	vals["g_grad_norm"] = s.gAdv.Update(ps)
	vals["loss_g"] = st.Loss
	vals["entropy"] = st.Entropy
	vals["reward"] = mean(r)
	vals["baseline"] = s.baseline[0]
	s.steps++
	return vals, nil
}

// SamplePrompts draws n prompts from G at temperature, as (n, PromptLen) tokens.
func (s *Steer) SamplePrompts(n int, temperature float64, rng *nn.RNG) ([]int32, error) {
	if n < 0 {
		return nil, fmt.Errorf("steer: SamplePrompts(%d): n must be >= 0", n)
	}
	if !(temperature > 0) {
		return nil, fmt.Errorf("steer: SamplePrompts: temperature %v must be > 0", temperature)
	}
	return SampleBatched(s.Gen, n, s.Cfg.PromptLen, temperature, rng), nil
}

// requestSeeds draws the seeds of n target requests from the run's seed stream.
func (s *Steer) requestSeeds(n int) []uint64 {
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = s.seedRNG.Uint64()
	}
	return seeds
}

// continueWith asks the target for one continuation of each of the (n,
// PromptLen) prompts, prompt i with seeds[i], and returns the (n, GenLen)
// generations. Calls and GenerateSeconds count it.
func (s *Steer) continueWith(ctx context.Context, prompts []int32, seeds []uint64) ([]int32, error) {
	start := time.Now()
	gens, err := targets.Continue(ctx, s.Target, prompts, s.Cfg.PromptLen, s.Cfg.GenLen, seeds)
	s.GenerateSeconds += time.Since(start).Seconds()
	s.Calls += len(seeds)
	return gens, err
}

// fakesAndDStep draws BatchSize prompts from G, continues each C times (C
// target calls each, distinct seeds; gens is (BatchSize·C, GenLen),
// prompt-major) and updates D on BatchSize·C references against those
// continuations. The half of the D update that does not need the target's
// answer (the references and the replayed fakes) runs while the target
// generates, so the target is idle only for the other half and G's work.
func (s *Steer) fakesAndDStep(ctx context.Context, C int) (prompts, gens []int32, vals map[string]float64, err error) {
	B, k, m := s.Cfg.BatchSize, s.Cfg.PromptLen, s.Cfg.GenLen
	prompts = s.Gen.Sample(B, k, generator.SampleOptions{Temperature: s.Cfg.Temperature}, nil, s.sampleRNG)
	requests := prompts
	if C > 1 {
		requests = make([]int32, 0, len(prompts)*C)
		for b := range B {
			for range C {
				requests = append(requests, prompts[b*k:(b+1)*k]...)
			}
		}
	}
	seeds := s.requestSeeds(B * C)
	type answer struct {
		gens []int32
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		g, err := s.continueWith(ctx, requests, seeds)
		answered <- answer{g, err}
	}()
	d := newDStep(s.Disc, s.dOpts, s.replay, s.sampleRNG, s.refBatchN(B*C), m, B/2, s.Cfg.LabelSmoothing, s.Cfg.ReplayWeight)
	d.prepare()
	a := <-answered
	if a.err != nil {
		return nil, nil, nil, a.err
	}
	return prompts, a.gens, d.finish(a.gens), nil
}

// refBatchN draws B references uniformly with replacement.
func (s *Steer) refBatchN(B int) []int32 {
	m := s.Cfg.GenLen
	out := make([]int32, 0, B*m)
	for range B {
		i := s.dataRNG.IntN(s.nRefs)
		out = append(out, s.refs[i*m:(i+1)*m]...)
	}
	return out
}

// ScoreGenerations returns D's probability that each of the (n, GenLen)
// generations is good (the members' mean at the last position).
func (s *Steer) ScoreGenerations(gens []int32) []float64 {
	m := s.Cfg.GenLen
	n := len(gens) / m
	out := make([]float64, 0, n)
	for done := 0; done < n; done += evalChunk {
		c := min(evalChunk, n-done)
		p, _ := s.Disc.Score(gens[done*m:(done+c)*m], c, m)
		for i := 0; i < c; i++ {
			out = append(out, float64(p[i*m+m-1]))
		}
	}
	return out
}

// PromptWindows returns every k-token window of the (n, m) sequences seqs:
// the references cut into prompt-sized pieces, a prior for G's MLE
// pre-training that needs no target calls.
func PromptWindows(seqs []int32, m, k int) []int32 {
	var out []int32
	for i := 0; i+m <= len(seqs); i += m {
		for j := 0; j+k <= m; j++ {
			out = append(out, seqs[i+j:i+j+k]...)
		}
	}
	return out
}
