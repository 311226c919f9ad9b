package search

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
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

// RNG stream numbers; each stream is independent for one seed.
const (
	streamInitG    = 1
	streamInitD    = 2
	streamSample   = 3
	streamEval     = 1 << 20 // + step: evaluation draws never disturb training
	streamDataPerm = 1 << 40 // + epoch: data order is a function of (seed, epoch)
)

// Stats is what one step or one evaluation reports.
type Stats struct {
	Step   int
	Phase  string
	Values map[string]float64
}

// HallEntry is one of the best samples seen at evaluations.
type HallEntry struct {
	Tokens    []int32 `json:"tokens"`
	DScore    float64 `json:"d_score"`              // the ensemble's probability that it is real
	DStd      float64 `json:"d_std"`                // the members' spread
	NLLOracle float64 `json:"nll_oracle,omitempty"` // per-token NLL under the oracle, when there is one
	Step      int     `json:"step"`
}

// Trainer holds a run's networks, optimisers, data and loop state.
type Trainer struct {
	Cfg    Config
	Gen    *generator.Model
	Disc   *discriminator.Ensemble
	Target targets.Model    // the target, through the call ledger while Run uses one
	Oracle *generator.Model // nil without an oracle
	Train  *task.Sequences
	Test   *task.Sequences // nil without a test file

	gMLE, gAdv *nn.Adam   // G's optimiser in the MLE and adversarial phases
	dOpts      []*nn.Adam // one per D member
	sampleRNG  *nn.RNG    // every training-time draw: fakes, replay picks
	replay     *Replay
	mleWeights map[string]nn.Array // G at the end of MLE pre-training; nil before

	step         int
	dataCursor   int // real batches drawn so far
	baseline     []float64
	baselineInit bool
	best         float64 // best held-out metric so far (lower is better); +Inf before the first evaluation
	bestStep     int
	sinceBest    int // adversarial evaluations since best improved
	stabilised   bool
	warnings     []string // settings changed on resume, carried from checkpoint to checkpoint
	newWarnings  []string // the ones the last Restore added
	hall         []HallEntry
	lastEval     map[string]float64
	lastEvalStep int // step of lastEval; -1 before the first evaluation

	permEpoch int
	perm      []int

	baseTarget targets.Model  // the target itself
	ledger     *ledger.Ledger // the call ledger of the current Run; nil without one
	// ledgerAtCheckpoint is the ledger's record count that the restored
	// checkpoint saw; a resume finds at least as many.
	ledgerAtCheckpoint int

	// Timing per phase (not checkpointed: wall time is not part of the run's state).
	Timing map[string]*PhaseTiming
}

// PhaseTiming is the wall time spent in a phase's steps during this process.
type PhaseTiming struct {
	Steps   int
	Seconds float64
}

// NewTrainer validates cfg, loads its data and builds fresh networks.
func NewTrainer(cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	tr := &Trainer{Cfg: cfg, best: math.Inf(1), permEpoch: -1, lastEvalStep: -1, Timing: map[string]*PhaseTiming{}}
	opened, err := targets.Open(targets.Config{Name: cfg.Target})
	if err != nil {
		return nil, err
	}
	tr.baseTarget = opened.Model
	tr.Target = tr.baseTarget
	if tr.Train, err = task.LoadSequences(cfg.Train, cfg.Generator.Vocab, cfg.SeqLen); err != nil {
		return nil, fmt.Errorf("train data: %w", err)
	}
	if cfg.Test != "" {
		if tr.Test, err = task.LoadSequences(cfg.Test, cfg.Generator.Vocab, cfg.SeqLen); err != nil {
			return nil, fmt.Errorf("test data: %w", err)
		}
	}
	if cfg.Oracle != "" {
		if tr.Oracle, err = generator.LoadOracle(cfg.Oracle); err != nil {
			return nil, err
		}
		if tr.Oracle.Cfg.Vocab != cfg.Generator.Vocab {
			return nil, fmt.Errorf("oracle %s has a vocabulary of %d tokens but generator.vocab = %d", cfg.Oracle, tr.Oracle.Cfg.Vocab, cfg.Generator.Vocab)
		}
	}
	tr.Gen = generator.New(cfg.Generator, nn.NewRNG(cfg.Seed, streamInitG))
	tr.Disc = discriminator.New(cfg.Discriminator, nn.NewRNG(cfg.Seed, streamInitD))
	tr.gMLE = nn.NewAdam(cfg.GAdam, tr.Gen.Params())
	advCfg := cfg.GAdam
	advCfg.LR = cfg.GAdvLR
	advCfg.Warmup = 0
	tr.gAdv = nn.NewAdam(advCfg, tr.Gen.Params())
	for _, m := range tr.Disc.Members {
		tr.dOpts = append(tr.dOpts, nn.NewAdam(cfg.DAdam, m.Params()))
	}
	tr.sampleRNG = nn.NewRNG(cfg.Seed, streamSample)
	tr.replay = NewReplay(cfg.ReplaySize, cfg.SeqLen)
	tr.baseline = make([]float64, cfg.SeqLen)
	return tr, nil
}

// useLedger routes target calls through l (nil: straight to the target).
func (tr *Trainer) useLedger(l *ledger.Ledger, noCache bool) {
	tr.ledger, tr.Target = l, tr.baseTarget
	if l != nil {
		tr.Target = ledger.Wrap(tr.baseTarget, l, ledger.WrapOptions{NoCache: noCache})
	}
}

// StepCount returns the number of completed steps.
func (tr *Trainer) StepCount() int { return tr.step }

// PhaseOf returns the phase that global step s (1-based) belongs to.
func (c Config) PhaseOf(s int) string { return phaseOf(s, c.MLESteps, c.DPretrainSteps) }

// phaseOf: both run kinds run mle steps of G, then dPretrain steps of D, then adversarial steps.
func phaseOf(s, mle, dPretrain int) string {
	switch {
	case s <= mle:
		return PhaseMLE
	case s <= mle+dPretrain:
		return PhaseDPretrain
	default:
		return PhaseAdversarial
	}
}

// Step runs the next global step.
func (tr *Trainer) Step(ctx context.Context) (Stats, error) {
	s := tr.step + 1
	phase := tr.Cfg.PhaseOf(s)
	start := time.Now()
	var vals map[string]float64
	var err error
	switch phase {
	case PhaseMLE:
		vals = tr.mleStep()
	case PhaseDPretrain:
		vals, err = tr.dPretrainStep(ctx)
	default:
		vals, err = tr.adversarialStep(ctx)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("step %d (%s): %w", s, phase, err)
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

// mleStep: one teacher-forced maximum-likelihood update of G on real data.
func (tr *Trainer) mleStep() map[string]float64 {
	B, T := tr.Cfg.BatchSize, tr.Cfg.SeqLen
	bt := generator.Batch{Tokens: tr.realBatch(), B: B, T: T, Weights: fill(B*T, 1/float32(B*T))}
	ps := tr.Gen.Params()
	ps.ZeroGrad()
	st := tr.Gen.Backprop(bt)
	norm := tr.gMLE.Update(ps)
	return map[string]float64{"loss_g": st.Loss, "entropy": st.Entropy, "g_grad_norm": norm, "lr_g": tr.gMLE.LR()}
}

// dPretrainStep: one D update against fresh samples of the pre-trained G.
func (tr *Trainer) dPretrainStep(ctx context.Context) (map[string]float64, error) {
	_, fakes, err := tr.sampleFakes(ctx)
	if err != nil {
		return nil, err
	}
	return tr.dStep(tr.realBatch(), fakes), nil
}

// adversarialStep is the GAN loop's body: D step(s) on fresh fakes, then one
// REINFORCE step of G on the last fakes, rewarded by the updated D.
func (tr *Trainer) adversarialStep(ctx context.Context) (map[string]float64, error) {
	B, T := tr.Cfg.BatchSize, tr.Cfg.SeqLen
	// sample prompts (G) and generations (target); D steps
	var prompts, gens []int32
	var vals map[string]float64
	for k := 0; k < tr.Cfg.DStepsPerG; k++ {
		var err error
		if prompts, gens, err = tr.sampleFakes(ctx); err != nil {
			return nil, err
		}
		vals = tr.dStep(tr.realBatch(), gens)
	}

	// rewards: non-saturating log D per prefix, per-token returns, baseline, normalisation
	logits := tr.Disc.MeanLogits(gens, B, T)
	r := NonSaturatingRewards(logits)
	var R []float64
	switch tr.Cfg.Credit {
	case "delta":
		R = DiscountedReturns(RewardDeltas(r, B, T), B, T, tr.Cfg.Gamma)
	case "rollout":
		R = tr.rolloutReturns(prompts, r)
	default:
		R = DiscountedReturns(r, B, T, tr.Cfg.Gamma)
	}
	A, init := Advantages(R, B, T, tr.baseline, tr.baselineInit, tr.Cfg.BaselineDecay)
	tr.baselineInit = init

	// G step: REINFORCE on the fakes (+ entropy bonus), plus MLE on real data
	bt := generator.Batch{B: B, T: T, Tokens: prompts, Weights: make([]float32, B*T), Entropy: fill(B*T, float32(tr.Cfg.EntropyBonus/float64(B*T)))}
	for i, a := range A {
		bt.Weights[i] = float32(a / float64(B*T))
	}
	if tr.Cfg.MLEWeight > 0 {
		bt.B = 2 * B
		bt.Tokens = append(bt.Tokens, tr.realBatch()...)
		bt.Weights = append(bt.Weights, fill(B*T, float32(tr.Cfg.MLEWeight/float64(B*T)))...)
		bt.Entropy = append(bt.Entropy, make([]float32, B*T)...)
	}
	ps := tr.Gen.Params()
	ps.ZeroGrad()
	st := tr.Gen.Backprop(bt)
	vals["loss_g"] = st.Loss
	vals["entropy"] = st.Entropy
	vals["g_grad_norm"] = tr.gAdv.Update(ps)
	vals["lr_g"] = tr.gAdv.LR()
	vals["reward"] = mean(r)
	return vals, nil
}

// rolloutReturns values each prefix as SeqGAN does: the mean of log D over
// Rollouts completions of it sampled from G (the whole sequence's own log D
// for the last token). r holds the per-prefix rewards of the sequences.
// Completions are judged directly, which assumes the identity target.
func (tr *Trainer) rolloutReturns(prompts []int32, r []float64) []float64 {
	B, T, n := tr.Cfg.BatchSize, tr.Cfg.SeqLen, tr.Cfg.Rollouts
	R := make([]float64, B*T)
	opt := generator.SampleOptions{Temperature: tr.Cfg.Temperature}
	for t := 1; t < T; t++ {
		seqs := tr.Gen.Rollout(prompts, B, T, t, n, opt, tr.sampleRNG)
		final := NonSaturatingRewards(tr.Disc.MeanLogits(seqs, B*n, T))
		for b := 0; b < B; b++ {
			s := 0.0
			for k := 0; k < n; k++ {
				s += final[(b*n+k)*T+T-1]
			}
			R[b*T+t-1] = s / float64(n)
		}
	}
	for b := 0; b < B; b++ {
		R[b*T+T-1] = r[b*T+T-1]
	}
	return R
}

// sampleFakes draws B prompts from G and asks the target for their
// generations. Per-position D rewards are credited to prompt tokens, which
// needs generations aligned with prompts: true of the identity target, the
// only one Config.Validate accepts yet.
func (tr *Trainer) sampleFakes(ctx context.Context) (prompts, gens []int32, err error) {
	B, T := tr.Cfg.BatchSize, tr.Cfg.SeqLen
	prompts = tr.Gen.Sample(B, T, generator.SampleOptions{Temperature: tr.Cfg.Temperature}, nil, tr.sampleRNG)
	reqs := make([]targets.Request, B)
	for b := range reqs {
		reqs[b] = targets.Request{Prompt: prompts[b*T : (b+1)*T]}
	}
	out, err := tr.Target.Generate(ctx, reqs)
	if err != nil {
		return nil, nil, fmt.Errorf("target %s: %w", tr.Target.Fingerprint(), err)
	}
	if len(out) != B {
		return nil, nil, fmt.Errorf("target %s answered %d of %d requests", tr.Target.Fingerprint(), len(out), B)
	}
	gens = make([]int32, 0, B*T)
	for b, g := range out {
		if len(g.Tokens) != T {
			return nil, nil, fmt.Errorf("target %s: generation %d has %d tokens, the discriminator reads %d", tr.Target.Fingerprint(), b, len(g.Tokens), T)
		}
		gens = append(gens, g.Tokens...)
	}
	return prompts, gens, nil
}

// dStep updates every D member on real vs fake (+ replayed fakes) and then
// stores the fakes in the replay buffer.
func (tr *Trainer) dStep(real, fake []int32) map[string]float64 {
	return discriminatorStep(tr.Disc, tr.dOpts, tr.replay, tr.sampleRNG, real, fake, tr.Cfg.SeqLen, tr.Cfg.BatchSize/2, tr.Cfg.LabelSmoothing, tr.Cfg.ReplayWeight)
}

// discriminatorStep updates every member of disc on real vs fake sequences
// of length T plus nReplay fakes replayed from replay (drawn with rng), then
// adds the fakes to replay. real and fake hold the same number of sequences.
// Each member sees the three sets in one forward pass; members are
// independent and update in parallel.
func discriminatorStep(disc *discriminator.Ensemble, opts []*nn.Adam, replay *Replay, rng *nn.RNG, real, fake []int32, T, nReplay int, smoothing, lambda float64) map[string]float64 {
	return newDStep(disc, opts, replay, rng, real, T, nReplay, smoothing, lambda).finish(fake)
}

// dStep is one D update whose fresh fakes may arrive later. newDStep draws
// the replayed fakes; prepare (optional) runs every member's forward and
// backward pass over the real sequences and the replayed fakes, which do not
// depend on the fresh fakes; finish runs what is left (all three sets in one
// pass when prepare was not called), updates every member and adds the
// fakes to the replay buffer. Steer calls prepare while the target generates
// the fakes. The loss is the same either way; two passes only sum it in
// another order (equal up to float rounding).
type dStep struct {
	disc              *discriminator.Ensemble
	opts              []*nn.Adam
	replay            *Replay
	T                 int
	real, old         []int32
	smoothing, lambda float64
	prepared          bool
	loss, dReal       []float64 // per member, so far
}

func newDStep(disc *discriminator.Ensemble, opts []*nn.Adam, replay *Replay, rng *nn.RNG, real []int32, T, nReplay int, smoothing, lambda float64) *dStep {
	K := len(disc.Members)
	return &dStep{
		disc: disc, opts: opts, replay: replay, T: T, real: real, old: replay.Sample(nReplay, rng),
		smoothing: smoothing, lambda: lambda, loss: make([]float64, K), dReal: make([]float64, K),
	}
}

// prepare runs the real and replay terms of L_D now.
func (d *dStep) prepare() {
	realT, _, replayT := lossTerms(d.smoothing, d.lambda)
	final := d.pass(concat(d.real, d.old), []lossSet{{len(d.real) / d.T, realT}, {len(d.old) / d.T, replayT}}, true, false)
	for k := range final {
		d.dReal[k] = final[k][0]
	}
	d.prepared = true
}

// finish runs the fake term (and the others unless prepared), updates every
// member and stores the fakes in the replay buffer.
func (d *dStep) finish(fake []int32) map[string]float64 {
	realT, fakeT, replayT := lossTerms(d.smoothing, d.lambda)
	fakes := lossSet{len(fake) / d.T, fakeT}
	dFake := make([]float64, len(d.disc.Members))
	if d.prepared {
		for k, f := range d.pass(fake, []lossSet{fakes}, false, true) {
			dFake[k] = f[0]
		}
	} else {
		for k, f := range d.pass(concat(d.real, fake, d.old), []lossSet{{len(d.real) / d.T, realT}, fakes, {len(d.old) / d.T, replayT}}, true, true) {
			d.dReal[k], dFake[k] = f[0], f[1]
		}
	}
	d.replay.Add(fake)
	return map[string]float64{"loss_d": mean(d.loss), "d_real": mean(d.dReal), "d_fake": mean(dFake)}
}

// lossSet is n consecutive sequences of one term of L_D.
type lossSet struct {
	n int
	lossTerm
}

// pass runs every member, in parallel, forward and backward over seqs, the
// sets one after another: the gradients of their terms accumulate (zeroed
// first if zero) and, if update, the optimiser steps. It adds each member's
// loss to d.loss and returns per member each set's mean final probability.
func (d *dStep) pass(seqs []int32, sets []lossSet, zero, update bool) [][]float64 {
	T, K := d.T, len(d.disc.Members)
	final := make([][]float64, K)
	nn.ParallelFor(K, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			m := d.disc.Members[k]
			if zero {
				m.Params().ZeroGrad()
			}
			z, cache := m.Forward(seqs, len(seqs)/T, T)
			g := make([]float32, len(z))
			l, at := 0.0, 0
			for _, s := range sets {
				zs := z[at*T : (at+s.n)*T]
				l += BCE(zs, s.y, s.w, g[at*T:(at+s.n)*T])
				final[k] = append(final[k], meanFinalProb(zs, s.n, T))
				at += s.n
			}
			m.Backward(cache, g)
			if update {
				d.opts[k].Update(m.Params())
			}
			d.loss[k] += l
		}
	})
	return final
}

func concat(parts ...[]int32) []int32 {
	var out []int32
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// meanFinalProb is the mean σ(logit) at the last position: D's verdict on whole sequences.
func meanFinalProb(logits []float32, B, T int) float64 {
	s := 0.0
	for b := 0; b < B; b++ {
		s += 1 / (1 + math.Exp(-float64(logits[b*T+T-1])))
	}
	return s / float64(B)
}

// realBatch returns the next batch of training sequences. The order within
// an epoch is a permutation drawn from (seed, epoch), so the batch depends
// only on the cursor, which checkpoints store.
func (tr *Trainer) realBatch() []int32 {
	B, T, n := tr.Cfg.BatchSize, tr.Cfg.SeqLen, tr.Train.N
	perEpoch := max(n/B, 1)
	epoch, i := tr.dataCursor/perEpoch, tr.dataCursor%perEpoch
	if epoch != tr.permEpoch {
		tr.perm = nn.NewRNG(tr.Cfg.Seed, streamDataPerm+uint64(epoch)).Perm(n)
		tr.permEpoch = epoch
	}
	out := make([]int32, 0, B*T)
	for k := 0; k < B; k++ {
		out = append(out, tr.Train.Seq(tr.perm[(i*B+k)%n])...)
	}
	tr.dataCursor++
	return out
}

func fill(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// Evaluate scores the current generator on held-out data and fresh samples,
// updates the hall of fame and applies the feedback rule: below the
// threshold G's learning rate is lowered once; without improvement for
// Patience adversarial evaluations, ShouldStop turns true.
func (tr *Trainer) Evaluate(ctx context.Context) (Stats, error) {
	cfg := tr.Cfg
	T := cfg.SeqLen
	rng := nn.NewRNG(cfg.Seed, streamEval+uint64(tr.step))
	samples := SampleBatched(tr.Gen, cfg.EvalSamples, T, 1, rng)
	vals := map[string]float64{}
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	var perSample []float64 // oracle NLL of each sample
	if tr.Oracle != nil {
		perSample = SequenceNLL(tr.Oracle, samples, cfg.EvalSamples, T, 1)
		vals["nll_oracle"] = mean(perSample)
	}
	if tr.Test != nil {
		n := tr.Test.N
		if cfg.EvalTest > 0 && cfg.EvalTest < n {
			n = cfg.EvalTest
		}
		vals["nll_test"] = MeanNLL(tr.Gen, tr.Test.Tokens[:n*T], n, T, 1)
	}
	seqs := task.ToInts(samples, cfg.EvalSamples, T)
	vals["distinct_2"] = metrics.DistinctN(seqs, 2)
	vals["distinct_3"] = metrics.DistinctN(seqs, 3)
	vals["self_bleu_3"] = metrics.SelfBLEU(seqs, 3, 200)
	dMean, dStd := tr.Disc.Score(samples, cfg.EvalSamples, T)
	// D's verdict on real data it never trained on (the test file) when there is one.
	realSet := tr.Train
	if tr.Test != nil {
		realSet = tr.Test
	}
	nReal := min(cfg.EvalSamples, realSet.N)
	realMean, _ := tr.Disc.Score(realSet.Tokens[:nReal*T], nReal, T)
	vals["d_fake"] = meanAt(dMean, cfg.EvalSamples, T)
	vals["d_real"] = meanAt(realMean, nReal, T)
	vals["d_std"] = meanAt(dStd, cfg.EvalSamples, T)
	if perSample != nil {
		// Is the learned evaluator aligned with the true metric? Correlation
		// of D's verdict with −NLL-oracle across samples (audit for reward hacking).
		score := make([]float64, cfg.EvalSamples)
		for b := range score {
			score[b] = float64(dMean[b*T+T-1])
		}
		neg := make([]float64, len(perSample))
		for i, v := range perSample {
			neg[i] = -v
		}
		vals["d_oracle_corr"] = pearson(score, neg)
	}
	tr.updateHall(samples, dMean, dStd)

	// feedback
	metric, ok := vals[cfg.Metric]
	if ok && !math.IsNaN(metric) {
		if metric < tr.best {
			tr.best, tr.bestStep, tr.sinceBest = metric, tr.step, 0
		} else if cfg.PhaseOf(tr.step) == PhaseAdversarial {
			tr.sinceBest++
		}
		if cfg.Threshold > 0 && metric < cfg.Threshold && !tr.stabilised && cfg.PhaseOf(tr.step) == PhaseAdversarial {
			tr.stabilised = true
			tr.gAdv.LRScale *= cfg.StabiliseFactor
		}
	}
	vals["best"] = tr.best
	if tr.stabilised {
		vals["stabilised"] = 1
	}
	tr.lastEval, tr.lastEvalStep = vals, tr.step
	return Stats{Step: tr.step, Phase: "eval", Values: vals}, nil
}

// ShouldStop reports whether patience has run out.
func (tr *Trainer) ShouldStop() bool {
	return tr.Cfg.Patience > 0 && tr.sinceBest >= tr.Cfg.Patience
}

// Warnings lists the settings changed when the run was resumed, over its
// whole history ("step 2000: resumed with g_adv_lr: 0.001 → 0.0005"); each
// checkpoint's manifest records them.
func (tr *Trainer) Warnings() []string { return slices.Clone(tr.warnings) }

// ResumeWarnings lists the changes that the Restore which built tr found.
func (tr *Trainer) ResumeWarnings() []string { return slices.Clone(tr.newWarnings) }

// Best returns the best held-out metric so far and the step it was reached at.
func (tr *Trainer) Best() (float64, int) { return tr.best, tr.bestStep }

// HallOfFame returns the best samples seen at evaluations, best first.
func (tr *Trainer) HallOfFame() []HallEntry { return tr.hall }

// MLEWeights returns G's weights at the end of MLE pre-training, or nil if that has not happened.
func (tr *Trainer) MLEWeights() map[string]nn.Array { return tr.mleWeights }

func meanAt(p []float32, B, T int) float64 {
	s := 0.0
	for b := 0; b < B; b++ {
		s += float64(p[b*T+T-1])
	}
	return s / float64(B)
}

func (tr *Trainer) updateHall(samples []int32, mean, std []float32) {
	if tr.Cfg.HallOfFame == 0 {
		return
	}
	T := tr.Cfg.SeqLen
	n := len(samples) / T
	seen := map[string]bool{}
	for _, h := range tr.hall {
		seen[fmt.Sprint(h.Tokens)] = true
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return mean[order[a]*T+T-1] > mean[order[b]*T+T-1] })
	for _, i := range order[:min(n, tr.Cfg.HallOfFame)] {
		seq := append([]int32(nil), samples[i*T:(i+1)*T]...)
		key := fmt.Sprint(seq)
		if seen[key] {
			continue
		}
		seen[key] = true
		e := HallEntry{Tokens: seq, DScore: float64(mean[i*T+T-1]), DStd: float64(std[i*T+T-1]), Step: tr.step}
		if tr.Oracle != nil {
			e.NLLOracle = MeanNLL(tr.Oracle, seq, 1, T, 1)
		}
		tr.hall = append(tr.hall, e)
	}
	sort.SliceStable(tr.hall, func(a, b int) bool { return tr.hall[a].DScore > tr.hall[b].DScore })
	if len(tr.hall) > tr.Cfg.HallOfFame {
		tr.hall = tr.hall[:tr.Cfg.HallOfFame]
	}
}

// evalChunk bounds the memory of batched scoring: chunk·T·V logits.
const evalChunk = 128

// SampleBatched draws n sequences of length T from m at temperature temp, in chunks.
func SampleBatched(m *generator.Model, n, T int, temp float64, rng *nn.RNG) []int32 {
	out := make([]int32, 0, n*T)
	for done := 0; done < n; done += evalChunk {
		k := min(evalChunk, n-done)
		out = append(out, m.Sample(k, T, generator.SampleOptions{Temperature: temp}, nil, rng)...)
	}
	return out
}

// SequenceNLL returns the mean per-token negative log-likelihood of each of
// the (n, T) sequences under m at temperature temp.
func SequenceNLL(m *generator.Model, tokens []int32, n, T int, temp float64) []float64 {
	out := make([]float64, n)
	for done := 0; done < n; done += evalChunk {
		k := min(evalChunk, n-done)
		lp := m.LogProbs(tokens[done*T:(done+k)*T], k, T, temp, nil)
		for i := 0; i < k; i++ {
			for t := 0; t < T; t++ {
				out[done+i] -= float64(lp[i*T+t])
			}
			out[done+i] /= float64(T)
		}
	}
	return out
}

// pearson returns the correlation of x and y (0 if either is constant).
func pearson(x, y []float64) float64 {
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// MeanNLL returns the mean per-token negative log-likelihood of the (n, T)
// sequences under m at temperature temp, scored in chunks.
func MeanNLL(m *generator.Model, tokens []int32, n, T int, temp float64) float64 {
	var s float64
	for done := 0; done < n; done += evalChunk {
		k := min(evalChunk, n-done)
		for _, lp := range m.LogProbs(tokens[done*T:(done+k)*T], k, T, temp, nil) {
			s -= float64(lp)
		}
	}
	return s / float64(n*T)
}
