package search

import (
	"context"
	"fmt"
	"math"
	"slices"

	"promptgan/checkpoints"
	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/task"
)

// tokenCritic is D of a token run: an ensemble over token ids, judging every
// prefix of a generation (the identity target: the generation is the
// prompt) or the whole generation of a model target; the real examples are
// the run's train sequences, the fakes the target's generations, with a
// replay buffer of old ones.
type tokenCritic struct {
	tr     *Trainer
	disc   *discriminator.Ensemble
	replay *Replay[int32]
}

func newTokenCritic(tr *Trainer) *tokenCritic {
	cfg := tr.Cfg
	c := &tokenCritic{tr: tr, disc: discriminator.New(cfg.Discriminator, nn.NewRNG(cfg.Seed, streamInitD)), replay: NewReplay[int32](cfg.ReplaySize, cfg.GenLen)}
	tr.Disc = c.disc
	return c
}

func (c *tokenCritic) members() []nn.Params { return paramsOf(c.disc.Members) }

func (c *tokenCritic) fit() (map[string]float64, error) { return nil, nil }

// start asks the target for C continuations of each prompt and draws as
// many real sequences and the replayed fakes. With a model target the half
// of the update that does not need the target's answer (the real sequences
// and the replayed fakes) runs while the target generates; the identity
// target answers at once, so its update is a single pass in finish.
func (c *tokenCritic) start(ctx context.Context, prompts []int32, seeds []uint64, C int) (func() (judged, map[string]float64), error) {
	tr := c.tr
	B, k := tr.Cfg.BatchSize, tr.Cfg.PromptLen
	requests := prompts
	if C > 1 {
		requests = make([]int32, 0, len(prompts)*C)
		for b := range B {
			for range C {
				requests = append(requests, prompts[b*k:(b+1)*k]...)
			}
		}
	}
	var real []int32
	for range C {
		real = append(real, tr.real.next()...)
	}
	d := c.newDStep(real)
	var gens []int32
	var err error
	if tr.Cfg.IsIdentity() {
		gens, err = tr.generate(ctx, requests, seeds)
	} else {
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			gens, err = tr.generate(ctx, requests, seeds)
		}()
		d.prepare()
		<-answered
	}
	if err != nil {
		return nil, err
	}
	return func() (judged, map[string]float64) {
		return judged{prompts: prompts, gens: gens}, d.finish(gens)
	}, nil
}

// newDStep starts a D update on real: it draws the replayed fakes.
func (c *tokenCritic) newDStep(real []int32) *dStep {
	tr := c.tr
	return newDStep(c.disc, tr.dOpts, c.replay, tr.sampleRNG, real, tr.Cfg.GenLen, tr.Cfg.BatchSize/2, tr.Cfg.LabelSmoothing, tr.Cfg.ReplayWeight)
}

// rewards: with the per-token credit schemes (identity target) every prefix
// of a prompt is judged and credited (prefix, delta or rollout); with
// credit: sequence a generation's reward is log D at its last position (or
// the trainer's Reward).
func (c *tokenCritic) rewards(j judged) ([]float64, float64, error) {
	tr := c.tr
	B, k, m, C := tr.Cfg.BatchSize, tr.Cfg.PromptLen, tr.Cfg.GenLen, tr.Cfg.continuations()
	if tr.Cfg.Credit == "sequence" {
		var rc []float64
		if tr.Reward != nil {
			if rc = tr.Reward(j.gens); len(rc) != B*C {
				return nil, 0, fmt.Errorf("the reward function returned %d rewards for %d generations", len(rc), B*C)
			}
		} else {
			rc = NonSaturatingRewards(lastPosition(c.disc.MeanLogits(j.gens, B*C, m), B*C, m))
		}
		return rc, mean(rc), nil
	}
	r := NonSaturatingRewards(c.disc.MeanLogits(j.gens, B, k))
	switch tr.Cfg.Credit {
	case "delta":
		return DiscountedReturns(RewardDeltas(r, B, k), B, k, tr.Cfg.Gamma), mean(r), nil
	case "rollout":
		return c.rolloutReturns(j.prompts, r), mean(r), nil
	}
	return DiscountedReturns(r, B, k, tr.Cfg.Gamma), mean(r), nil
}

// rolloutReturns values each prefix as SeqGAN does: the mean of log D over
// Rollouts completions of it sampled from G (the whole sequence's own log D
// for the last token). r holds the per-prefix rewards of the sequences.
// Completions are judged directly, which assumes the identity target.
func (c *tokenCritic) rolloutReturns(prompts []int32, r []float64) []float64 {
	tr := c.tr
	B, T, n := tr.Cfg.BatchSize, tr.Cfg.PromptLen, tr.Cfg.Rollouts
	R := make([]float64, B*T)
	opt := generator.SampleOptions{Temperature: tr.Cfg.Temperature}
	for t := 1; t < T; t++ {
		seqs := tr.Gen.Rollout(prompts, B, T, t, n, opt, tr.sampleRNG)
		final := NonSaturatingRewards(c.disc.MeanLogits(seqs, B*n, T))
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

// evaluate reports:
//   - d_fake, d_std, reward: D's mean verdict on the generations, the
//     members' spread, and the mean log D;
//   - d_real: D's verdict on held-out real sequences (on the training ones
//     without a held-out set) — far below the training batches' d_real
//     means D memorises;
//   - distinct_2/3, self_bleu_3 of the generations, prompt_distinct_1 of
//     the prompts (model targets);
//   - nll_oracle and d_oracle_corr with an oracle, nll_test (G's NLL of the
//     held-out sequences) with the identity target.
func (c *tokenCritic) evaluate(ctx context.Context, prompts []int32, seeds []uint64, vals map[string]float64) ([]HallEntry, error) {
	tr := c.tr
	cfg := tr.Cfg
	n, k, m := len(seeds), cfg.PromptLen, cfg.GenLen
	gens, err := tr.generate(ctx, prompts, seeds)
	if err != nil {
		return nil, err
	}
	var perSample []float64 // oracle NLL of each sample
	if tr.Oracle != nil {
		perSample = generator.SequenceNLL(tr.Oracle, prompts, n, k, 1)
		vals["nll_oracle"] = mean(perSample)
	}
	held := tr.Data.HeldOut
	if held != nil && cfg.IsIdentity() {
		nt := held.N
		if cfg.EvalTest > 0 && cfg.EvalTest < nt {
			nt = cfg.EvalTest
		}
		vals["nll_test"] = generator.MeanNLL(tr.Gen, held.Tokens[:nt*k], nt, k, 1)
	}
	seqs := task.ToInts(gens, n, m)
	if m >= 2 {
		vals["distinct_2"] = metrics.DistinctN(seqs, 2)
	}
	if m >= 3 {
		vals["distinct_3"] = metrics.DistinctN(seqs, 3)
		vals["self_bleu_3"] = metrics.SelfBLEU(seqs, 3, 200)
	}
	if !cfg.IsIdentity() {
		vals["prompt_distinct_1"] = metrics.DistinctN(task.ToInts(prompts, n, k), 1)
	}
	dMean, dStd := c.disc.Score(gens, n, m)
	realSet := tr.Data.Train
	if held != nil {
		realSet = held
	}
	nReal := min(n, realSet.N)
	realMean, _ := c.disc.Score(realSet.Tokens[:nReal*m], nReal, m)
	vals["d_fake"] = meanAt(dMean, n, m)
	vals["d_real"] = meanAt(realMean, nReal, m)
	vals["d_std"] = meanAt(dStd, n, m)
	reward := 0.0
	for b := 0; b < n; b++ {
		reward += math.Log(max(float64(dMean[b*m+m-1]), 1e-12))
	}
	vals["reward"] = reward / float64(n)
	if perSample != nil {
		// Is the learned evaluator aligned with the true metric? Correlation
		// of D's verdict with −NLL-oracle across samples (audit for reward hacking).
		score := make([]float64, n)
		for b := range score {
			score[b] = float64(dMean[b*m+m-1])
		}
		neg := make([]float64, len(perSample))
		for i, v := range perSample {
			neg[i] = -v
		}
		vals["d_oracle_corr"] = pearson(score, neg)
	}
	hall := make([]HallEntry, n)
	for i := range hall {
		hall[i] = HallEntry{Tokens: prompts[i*k : (i+1)*k], DScore: float64(dMean[i*m+m-1]), DStd: float64(dStd[i*m+m-1])}
		if !cfg.IsIdentity() {
			hall[i].Generation = gens[i*m : (i+1)*m]
		}
	}
	return hall, nil
}

func (c *tokenCritic) save(st *trainerState, tensors map[string]map[string]checkpoints.Tensor) {
	st.ReplayHead, st.ReplayCount = c.replay.Head, c.replay.Count
	if c.replay.Count > 0 {
		tensors[fileReplay] = map[string]checkpoints.Tensor{
			"tokens": checkpoints.I32Tensor([]int{c.replay.Count, c.replay.Width}, slices.Clone(c.replay.Data)),
		}
	}
}

func (c *tokenCritic) restore(ck *checkpoints.Checkpoint, st trainerState) error {
	if st.Text != nil {
		return fmt.Errorf("manifest.json: state.text is present in a token run")
	}
	return restoreReplay(c.replay, ck, st, "tokens", "I32", func(t checkpoints.Tensor) []int32 { return t.I32 },
		func(r *Replay[int32]) error { return validateTokens(r, c.tr.Cfg.Generator.Vocab) })
}

// fingerprints: the run's kind and its token tables, so that a resume with
// other data is refused.
func (c *tokenCritic) fingerprints() map[string]string {
	tr := c.tr
	kind := KindModel
	if tr.Cfg.IsIdentity() {
		kind = KindIdentity
	}
	fp := map[string]string{"kind": kind, "train": TokensHash(tr.Data.Train)}
	if tr.Data.HeldOut != nil {
		fp["held_out"] = TokensHash(tr.Data.HeldOut)
	}
	if tr.Data.Prior != nil {
		fp["prior"] = TokensHash(tr.Data.Prior)
	}
	if tr.Cfg.Oracle != "" {
		fp["oracle"] = fileHash(tr.Cfg.Oracle)
	}
	return fp
}

func (c *tokenCritic) sameData(fp, saved map[string]string) error {
	cfg := c.tr.Cfg
	for _, f := range []struct{ key, file string }{{"train", cfg.Train}, {"held_out", cfg.Test}, {"prior", cfg.Prior}, {"oracle", cfg.Oracle}} {
		got, want := fp[f.key], saved[f.key]
		if got == want {
			continue
		}
		name := f.file
		if f.key == "held_out" && cfg.Test == "" {
			name = fmt.Sprintf("%s (its held-out share, held_out = %v)", cfg.Train, cfg.HeldOut)
		}
		if name == "" {
			name = "(no file)"
		}
		return fmt.Errorf("%w: %s (%s) is not what the checkpoint was trained on (sha256 %s…, was %s…): resume with the original data", ErrDataChanged, name, f.key, short(got), short(want))
	}
	return nil
}
