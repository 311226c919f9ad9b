package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/ledger"
	"promptgan/task"
)

// Phases of a run, in order.
const (
	PhaseMLE         = "mle"
	PhaseDPretrain   = "d_pretrain"
	PhaseAdversarial = "adversarial"
)

// Stats is what one step or one evaluation reports.
type Stats struct {
	Step   int
	Phase  string
	Values map[string]float64
}

// HallEntry is one of the best prompts seen at evaluations.
type HallEntry struct {
	Tokens         []int32 `json:"tokens"`                    // the prompt
	Generation     []int32 `json:"generation,omitempty"`      // the target's generation, when it is not the prompt
	PromptText     string  `json:"prompt_text,omitempty"`     // text runs: the prompt as text
	Input          string  `json:"input,omitempty"`           // text runs: the task input it was filled in with
	GenerationText string  `json:"generation_text,omitempty"` // text runs: the target's generation
	DScore         float64 `json:"d_score"`                   // the ensemble's probability that the generation is real
	DStd           float64 `json:"d_std"`                     // the members' spread
	NLLOracle      float64 `json:"nll_oracle,omitempty"`      // per-token NLL under the oracle, when there is one
	Step           int     `json:"step"`
}

// Data is a run's data as token tables.
type Data struct {
	Train   *task.Sequences // (N, gen_len) real generations: what D learns is good
	HeldOut *task.Sequences // (n, gen_len) never trained on: d_real (and NLL-test with the identity target); nil = none
	Prior   *task.Sequences // (n, prompt_len) prompts for G's MLE; nil = none (the identity target uses Train)
}

// LoadData reads cfg's files against the generator's vocabulary: train and
// test (or the held-out share of train: its last ⌊held_out·N⌋ lines, at
// least one left for training) of gen_len tokens, the prior of prompt_len.
// Errors name the file and line.
func LoadData(cfg Config) (Data, error) {
	V, k, m := cfg.Generator.Vocab, cfg.PromptLen, cfg.GenLen
	train, err := task.LoadSequences(cfg.Train, V, m)
	if err != nil {
		return Data{}, fmt.Errorf("train data (gen_len %d, vocabulary %d): %w", m, V, err)
	}
	d := Data{Train: train}
	if cfg.Test != "" {
		if d.HeldOut, err = task.LoadSequences(cfg.Test, V, m); err != nil {
			return Data{}, fmt.Errorf("test data (gen_len %d, vocabulary %d): %w", m, V, err)
		}
	} else if n := min(int(cfg.HeldOut*float64(train.N)), train.N-1); n > 0 {
		keep := train.N - n
		d.Train = &task.Sequences{N: keep, T: m, Tokens: train.Tokens[:keep*m]}
		d.HeldOut = &task.Sequences{N: n, T: m, Tokens: train.Tokens[keep*m:]}
	}
	if cfg.Prior != "" {
		if d.Prior, err = task.LoadSequences(cfg.Prior, V, k); err != nil {
			return Data{}, fmt.Errorf("prior prompts (prompt_len %d, vocabulary %d): %w", k, V, err)
		}
	}
	return d, nil
}

// Trainer is one adversarial run, of every kind: its networks, optimisers,
// data, target and loop state. With the identity target it is a sequence
// GAN; with a model target it searches prompts for that model.
type Trainer struct {
	Cfg    Config // resolved (Config.Resolved)
	Gen    *generator.Model
	Disc   *discriminator.Ensemble // a token run's D (its critic's); nil in a text run
	Target targets.Model           // the target, through the call ledger while Run uses one
	Oracle *generator.Model        // nil without an oracle
	Data   Data                    // token tables; empty in a text run
	critic critic                  // D as the run kind reads it: a *tokenCritic or a *textRun

	// Reward, when set, replaces D's verdict as the reward of G's update
	// with credit: sequence: it gets a step's (n, gen_len) generations and
	// returns one reward per generation, higher is better (D still trains).
	// It is for diagnostics (what the update does with a perfect
	// evaluator) and is not part of the run's state.
	Reward func(gens []int32) []float64

	// OnTextGenerations, when set, receives each of a text run's D updates
	// on generations: the (batch_size, prompt_len) prompts, the prompt text
	// of every request (a prompt repeated once per continuation) and the
	// target's generation of it. Benchmarks keep a hall of fame from it
	// without extra target calls. It is not part of the run's state.
	OnTextGenerations func(prompts []int32, texts, gens []string)

	// Calls counts the requests sent to Target (checkpointed).
	Calls int
	// Timing is the wall time per phase in this process (not part of the
	// run's state).
	Timing map[string]*PhaseTiming

	gMLE, gAdv *nn.Adam            // G's optimiser in the MLE and adversarial phases
	dOpts      []*nn.Adam          // one per D member
	sampleRNG  *nn.RNG             // every training-time draw: prompts, replay picks, roll-outs
	seedRNG    *nn.RNG             // the seeds of target requests
	real       *batches            // batches of Data.Train
	prior      *batches            // batches of prompts for MLE: Data.Prior, or real with the identity target; nil = none
	mleWeights map[string]nn.Array // G at the end of MLE pre-training; nil before

	step         int
	baseline     []float64 // one per prompt position (per-token credit) or one (sequence credit)
	baselineInit bool
	best         float64 // best held-out metric so far, lower is better (−d_fake for d_fake); +Inf before the first evaluation
	bestStep     int
	sinceBest    int // adversarial evaluations since best improved
	stabilised   bool
	warnings     []string // settings changed on resume, carried from checkpoint to checkpoint
	notes        []string // what building the run changed or left out of its inputs (Notes)
	newWarnings  []string // the ones the last Restore added
	hall         []HallEntry
	lastEval     map[string]float64
	lastEvalStep int // step of lastEval; -1 before the first evaluation

	baseTarget targets.Model  // the target itself
	ledger     *ledger.Ledger // the call ledger of the current Run; nil without one
	// ledgerAtCheckpoint is the ledger's record count that the restored
	// checkpoint saw; a resume finds at least as many.
	ledgerAtCheckpoint int
}

// PhaseTiming is the wall time spent in a phase's steps during this process.
type PhaseTiming struct {
	Steps   int
	Seconds float64
}

// New builds a fresh run of cfg against tg (targets.Open(cfg) opens it),
// with cfg's data loaded. cfg is resolved (Config.Resolved) first.
func New(cfg Config, tg targets.Model) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return newValidated(cfg, tg)
}

// newValidated is New for a cfg already validated (NewRun).
func newValidated(cfg Config, tg targets.Model) (*Trainer, error) {
	cfg, err := cfg.Resolved()
	if err != nil {
		return nil, err
	}
	if tg == nil {
		return nil, fmt.Errorf("no target model")
	}
	d, err := loadRunData(cfg)
	if err != nil {
		return nil, err
	}
	return newTrainer(cfg, tg, d)
}

// loadRunData reads cfg's token files; a text run has none (its task is read
// when the trainer is built).
func loadRunData(cfg Config) (Data, error) {
	if cfg.IsText() {
		return Data{}, nil
	}
	return LoadData(cfg)
}

// NewFromData is New with data already in memory (benchmarks, tests): cfg's
// data paths may be empty and are not read. Every table must hold tokens of
// the generator's vocabulary, of gen_len (Train, HeldOut) or prompt_len
// (Prior) tokens each.
func NewFromData(cfg Config, tg targets.Model, d Data) (*Trainer, error) {
	check := cfg
	if check.Train == "" {
		check.Train = "(in memory)"
	}
	if check.Prior == "" && d.Prior != nil {
		check.Prior = "(in memory)"
	}
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	cfg, err := cfg.Resolved()
	if err != nil {
		return nil, err
	}
	if tg == nil {
		return nil, fmt.Errorf("no target model")
	}
	for _, t := range []struct {
		name     string
		s        *task.Sequences
		T        int
		required bool
	}{{"train", d.Train, cfg.GenLen, true}, {"held-out", d.HeldOut, cfg.GenLen, false}, {"prior", d.Prior, cfg.PromptLen, false}} {
		if t.s == nil {
			if t.required {
				return nil, fmt.Errorf("no %s data", t.name)
			}
			continue
		}
		if err := t.s.Check(cfg.Generator.Vocab, t.T); err != nil {
			return nil, fmt.Errorf("%s data: %w", t.name, err)
		}
	}
	return newTrainer(cfg, tg, d)
}

// newTrainer builds fresh networks and optimisers for the resolved cfg.
func newTrainer(cfg Config, tg targets.Model, d Data) (*Trainer, error) {
	tr := &Trainer{
		Cfg: cfg, Target: tg, baseTarget: tg, Data: d,
		best: math.Inf(1), lastEvalStep: -1, Timing: map[string]*PhaseTiming{},
	}
	if cfg.Oracle != "" {
		var err error
		if tr.Oracle, err = generator.LoadOracle(cfg.Oracle); err != nil {
			return nil, err
		}
		if tr.Oracle.Cfg.Vocab != cfg.Generator.Vocab {
			return nil, fmt.Errorf("oracle %s has a vocabulary of %d tokens but generator.vocab = %d", cfg.Oracle, tr.Oracle.Cfg.Vocab, cfg.Generator.Vocab)
		}
	}
	if cfg.IsText() {
		// Encoding the task once is bounded work on local files.
		text, err := newTextRun(context.Background(), tr, tg)
		if err != nil {
			return nil, err
		}
		tr.critic = text
		cfg = tr.Cfg // generator.vocab and text_discriminator.dim are known now
		d.Prior = text.prior
		tr.Data.Prior = d.Prior
	}
	tr.Gen = generator.New(cfg.Generator, nn.NewRNG(cfg.Seed, streamInitG))
	tr.gMLE = nn.NewAdam(cfg.GAdam, tr.Gen.Params())
	advCfg := cfg.GAdam
	advCfg.LR, advCfg.Warmup = cfg.GAdvLR, 0
	tr.gAdv = nn.NewAdam(advCfg, tr.Gen.Params())
	if tr.critic == nil {
		tr.critic = newTokenCritic(tr)
	}
	for _, ps := range tr.dMembers() {
		tr.dOpts = append(tr.dOpts, nn.NewAdam(cfg.DAdam, ps))
	}
	tr.sampleRNG = nn.NewRNG(cfg.Seed, streamSample)
	tr.seedRNG = nn.NewRNG(cfg.Seed, streamSeeds)
	if d.Train != nil {
		tr.real = newBatches(d.Train, cfg.BatchSize, cfg.Seed, streamDataPerm)
	}
	switch {
	case d.Prior != nil:
		tr.prior = newBatches(d.Prior, cfg.BatchSize, cfg.Seed, streamPriorPerm)
	case cfg.IsIdentity():
		tr.prior = tr.real // the real sequences are the prompts
	}
	tr.baseline = make([]float64, tr.baselineLen())
	return tr, nil
}

// dMembers returns the parameters of each D member.
func (tr *Trainer) dMembers() []nn.Params { return tr.critic.members() }

// dParams returns every D member's parameters, member by member.
func (tr *Trainer) dParams() nn.Params {
	var out nn.Params
	for _, ps := range tr.dMembers() {
		out = append(out, ps...)
	}
	return out
}

// baselineLen is 1 with sequence credit, else one per prompt position.
func (tr *Trainer) baselineLen() int {
	if tr.Cfg.Credit == "sequence" {
		return 1
	}
	return tr.Cfg.PromptLen
}

// useLedger routes target calls through l (nil: straight to the target).
func (tr *Trainer) useLedger(l *ledger.Ledger, noCache bool) {
	tr.ledger, tr.Target = l, tr.baseTarget
	if l != nil {
		tr.Target = ledger.Wrap(tr.baseTarget, l, ledger.WrapOptions{NoCache: noCache})
	}
}

// SetTarget replaces the target (before Run), e.g. with one that times its
// calls. The call ledger, when Run uses one, wraps it.
func (tr *Trainer) SetTarget(tg targets.Model) { tr.baseTarget, tr.Target = tg, tg }

// StepCount returns the number of completed global steps.
func (tr *Trainer) StepCount() int { return tr.step }

// Step runs the next global step: an MLE step of G, a pre-training step of
// D or an adversarial step. A step whose losses, gradient norms or updated
// weights are not finite fails with a *DivergedError and is not counted.
func (tr *Trainer) Step(ctx context.Context) (Stats, error) {
	s := tr.step + 1
	phase := tr.Cfg.PhaseOf(s)
	start := time.Now()
	var vals, fit map[string]float64
	var err error
	if s == tr.Cfg.MLESteps+1 {
		if fit, err = tr.critic.fit(); err != nil {
			// A fit that diverged from its first epoch has no good weights
			// to go back to and fails; its NaN weights say why.
			if derr := tr.checkWeights(s, PhaseDPretrain); derr != nil {
				return Stats{}, derr
			}
			return Stats{}, fmt.Errorf("step %d (%s): %w", s, phase, err)
		}
	}
	switch phase {
	case PhaseMLE:
		vals, err = tr.mleStep()
	case PhaseDPretrain:
		_, vals, _, err = tr.dUpdates(ctx, 1, 1, false)
	default:
		vals, err = tr.adversarialStep(ctx)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("step %d (%s): %w", s, phase, err)
	}
	for k, v := range fit {
		vals[k] = v
	}
	vals["calls"] = float64(tr.Calls)
	// A NaN or an infinity ends the run at the step it appears, before the
	// step counts: nothing of the diverged state is logged or saved.
	if err := tr.checkValues(s, phase, vals); err != nil {
		return Stats{}, err
	}
	if err := tr.checkWeights(s, phase); err != nil {
		return Stats{}, err
	}
	tr.step = s
	if s == tr.Cfg.MLESteps {
		tr.mleWeights = tr.Gen.Params().Weights()
	}
	pt := tr.Timing[phase]
	if pt == nil {
		pt = &PhaseTiming{}
		tr.Timing[phase] = pt
	}
	pt.Steps++
	pt.Seconds += time.Since(start).Seconds()
	return Stats{Step: s, Phase: phase, Values: vals}, nil
}

// adversarialStep is the GAN loop's body, top to bottom, for every run
// kind (search/doc.go).
func (tr *Trainer) adversarialStep(ctx context.Context) (map[string]float64, error) {
	// sample prompts → target → D update, d_steps_per_g times on fresh calls
	j, vals, pass, err := tr.dUpdates(ctx, tr.Cfg.DStepsPerG, tr.Cfg.continuations(), true)
	if err != nil {
		return nil, err
	}
	// rewards from the updated D (or Reward) → per-token advantages
	A, reward, err := tr.advantages(j)
	if err != nil {
		return nil, err
	}
	// G update: REINFORCE on the prompts (+ entropy bonus, + MLE on real prompts)
	for k, v := range tr.policyStepPass(j.prompts, A, pass) {
		vals[k] = v
	}
	vals["reward"] = reward
	if tr.Cfg.Credit == "sequence" {
		vals["baseline"] = tr.baseline[0]
	}
	return vals, nil
}

// mleStep: one teacher-forced maximum-likelihood update of G on real prompts.
func (tr *Trainer) mleStep() (map[string]float64, error) {
	if tr.prior == nil {
		return nil, fmt.Errorf("MLE step without prompts to learn from: give a prior or set mle_steps: 0")
	}
	B, k := tr.Cfg.BatchSize, tr.Cfg.PromptLen
	bt := generator.Batch{Tokens: tr.prior.next(), B: B, T: k, Weights: fill(B*k, 1/float32(B*k))}
	ps := tr.Gen.Params()
	ps.ZeroGrad()
	st := tr.Gen.Backprop(bt)
	norm := tr.gMLE.Update(ps)
	return map[string]float64{"loss_g": st.Loss, "entropy": st.Entropy, "g_grad_norm": norm, "lr_g": tr.gMLE.LR()}, nil
}

// earlyPolicyForward reports whether G's policy step may take a forward
// pass run before the rewards: not when the rewards sample from G (rollout
// credit: sampling reuses G's buffers) or may call out (a reward function),
// nor when the step adds real prompts (mle_weight: drawn from the stream
// the D updates read, so drawing them early would change the data order).
func (tr *Trainer) earlyPolicyForward() bool {
	return tr.Cfg.Credit != "rollout" && tr.Reward == nil && tr.Cfg.MLEWeight == 0 && tr.Gen.Wcond == nil
}

// generate asks the target for one generation of each of the (n,
// prompt_len) prompts, prompt i with seeds[i]; Calls counts it.
func (tr *Trainer) generate(ctx context.Context, prompts []int32, seeds []uint64) ([]int32, error) {
	gens, err := targets.Continue(ctx, tr.Target, prompts, tr.Cfg.PromptLen, tr.Cfg.GenLen, seeds)
	tr.Calls += len(seeds)
	return gens, err
}

// requestSeeds draws the seeds of n target requests from the run's seed stream.
func (tr *Trainer) requestSeeds(n int) []uint64 {
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = tr.seedRNG.Uint64()
	}
	return seeds
}

// policyStep is G's REINFORCE update on the (B, prompt_len) prompts with
// per-token advantages A, plus the entropy bonus and, with mle_weight, an
// MLE term on a batch of real prompts.
func (tr *Trainer) policyStep(prompts []int32, A []float64) map[string]float64 {
	return tr.policyStepPass(prompts, A, nil)
}

// policyStepPass is policyStep with G's forward pass over the prompts
// already run (pass; nil = run it here).
func (tr *Trainer) policyStepPass(prompts []int32, A []float64, pass *generator.Pass) map[string]float64 {
	B, k := tr.Cfg.BatchSize, tr.Cfg.PromptLen
	bt := generator.Batch{B: B, T: k, Tokens: prompts, Weights: make([]float32, B*k), Entropy: fill(B*k, float32(tr.Cfg.EntropyBonus/float64(B*k)))}
	for i, a := range A {
		bt.Weights[i] = float32(a / float64(B*k))
	}
	if tr.Cfg.MLEWeight > 0 {
		bt.B = 2 * B
		bt.Tokens = append(bt.Tokens, tr.prior.next()...)
		bt.Weights = append(bt.Weights, fill(B*k, float32(tr.Cfg.MLEWeight/float64(B*k)))...)
		bt.Entropy = append(bt.Entropy, make([]float32, B*k)...)
	}
	ps := tr.Gen.Params()
	ps.ZeroGrad()
	var st generator.Stats
	if pass != nil && tr.Cfg.MLEWeight == 0 {
		st = tr.Gen.BackpropPass(pass, bt)
	} else {
		st = tr.Gen.Backprop(bt)
	}
	return map[string]float64{"loss_g": st.Loss, "entropy": st.Entropy, "g_grad_norm": tr.gAdv.Update(ps), "lr_g": tr.gAdv.LR()}
}

// batches hands out batches of a token table in an order that is a
// permutation per epoch drawn from (seed, stream + epoch), so a batch
// depends only on the cursor, which checkpoints store.
type batches struct {
	seqs         *task.Sequences
	B            int
	seed, stream uint64
	cursor       int // batches drawn so far
	permEpoch    int
	perm         []int
}

func newBatches(seqs *task.Sequences, B int, seed, stream uint64) *batches {
	return &batches{seqs: seqs, B: B, seed: seed, stream: stream, permEpoch: -1}
}

// next returns the next B sequences.
func (d *batches) next() []int32 {
	B, T, n := d.B, d.seqs.T, d.seqs.N
	perEpoch := max(n/B, 1)
	epoch, i := d.cursor/perEpoch, d.cursor%perEpoch
	if epoch != d.permEpoch {
		d.perm = nn.NewRNG(d.seed, d.stream+uint64(epoch)).Perm(n)
		d.permEpoch = epoch
	}
	out := make([]int32, 0, B*T)
	for k := 0; k < B; k++ {
		out = append(out, d.seqs.Seq(d.perm[(i*B+k)%n])...)
	}
	d.cursor++
	return out
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// ShouldStop reports whether patience has run out.
func (tr *Trainer) ShouldStop() bool {
	return tr.Cfg.Patience > 0 && tr.sinceBest >= tr.Cfg.Patience
}

// Warnings lists the settings changed when the run was resumed, over its
// whole history ("step 2000: resumed with g_adv_lr: 0.001 → 0.0005"); each
// checkpoint's manifest records them.
func (tr *Trainer) Warnings() []string { return slices.Clone(tr.warnings) }

// Notes lists what building the run changed or left out of its inputs
// ("prompt vocabulary: 389 of the good texts' 1084 distinct words left
// out, …"); Run logs them when it starts.
func (tr *Trainer) Notes() []string { return slices.Clone(tr.notes) }

// ResumeWarnings lists the changes that the Restore which built tr found.
func (tr *Trainer) ResumeWarnings() []string { return slices.Clone(tr.newWarnings) }

// Best returns the best held-out metric so far, in the metric's own units,
// and the step it was reached at (NaN and 0 before the first evaluation).
func (tr *Trainer) Best() (float64, int) {
	if math.IsInf(tr.best, 1) {
		return math.NaN(), 0
	}
	if tr.Cfg.Metric == "d_fake" {
		return -tr.best, tr.bestStep
	}
	return tr.best, tr.bestStep
}

// HallOfFame returns the best prompts seen at evaluations, best first.
func (tr *Trainer) HallOfFame() []HallEntry { return tr.hall }

// MLEWeights returns G's weights at the end of MLE pre-training, or nil if that has not happened.
func (tr *Trainer) MLEWeights() map[string]nn.Array { return tr.mleWeights }

// SamplePrompts draws n prompts from G at temperature, as (n, prompt_len) tokens.
func (tr *Trainer) SamplePrompts(n int, temperature float64, rng *nn.RNG) ([]int32, error) {
	if n < 0 {
		return nil, fmt.Errorf("sample prompts: n = %d must be >= 0", n)
	}
	if !(temperature > 0) {
		return nil, fmt.Errorf("sample prompts: temperature %v must be > 0", temperature)
	}
	return generator.SampleBatched(tr.Gen, n, tr.Cfg.PromptLen, temperature, rng), nil
}

// PromptWindows returns every k-token window of the (n, m) sequences seqs:
// real generations cut into prompt-sized pieces, a prior for G's MLE
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
