package search

import (
	"context"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/internal/nn"
)

// critic is the discriminator as a kind of run reads it: the one thing
// that differs between token runs (the token D reads the generation's
// token ids: tokenCritic) and text runs (an MLP ensemble over sentence
// embeddings of the generated text: textRun). The Trainer keeps G, its
// optimisers, the baselines, the feedback rule, the RNG streams and the
// loop; a critic says how the target's generations of G's prompts are
// made and read, how D is updated on them, how they are rewarded, what an
// evaluation reports and what D adds to a checkpoint.
type critic interface {
	// members returns D's parameters, member by member (one optimiser each).
	members() []nn.Params

	// fit trains D on labelled data before its first update against
	// generations (at the first D pre-training step), or does nothing.
	fit() (map[string]float64, error)

	// start begins one D update on the (batch_size, prompt_len) prompts,
	// each continued C times (request i·C+c with seeds[i·C+c]): it asks
	// the target and draws the update's real and replayed examples (from
	// the trainer's sample stream, which nothing draws from between start
	// and finish). finish takes the update and returns what the rewards
	// read and the update's values; the trainer may sample G's next
	// prompts while it runs.
	start(ctx context.Context, prompts []int32, seeds []uint64, C int) (finish func() (judged, map[string]float64), err error)

	// rewards turns D's verdict on a round into G's returns: one per
	// generation (credit: sequence; B·C, prompt-major), or one per prompt
	// token (the per-token credit schemes of the identity target), with
	// the mean reward.
	rewards(j judged) (returns []float64, reward float64, err error)

	// evaluate has the target continue the (n, prompt_len) evaluation
	// prompts once each (seeds[i]), adds D's verdict and the run kind's
	// measures to vals and returns one hall-of-fame candidate a prompt.
	evaluate(ctx context.Context, prompts []int32, seeds []uint64, vals map[string]float64) ([]HallEntry, error)

	// save adds D's loop state and tensors (beyond its weights and
	// optimisers, which the trainer saves) to a checkpoint; restore loads
	// them from one.
	save(st *trainerState, tensors map[string]map[string]checkpoints.Tensor)
	restore(ck *checkpoints.Checkpoint, st trainerState) error

	// fingerprints identify the data the run trains on (and its kind);
	// sameData refuses a checkpoint whose fingerprints (saved) say other
	// data than the run's own (fp, from fingerprints).
	fingerprints() map[string]string
	sameData(fp, saved map[string]string) error
}

// judged is one D update's round as the rewards read it: the prompts and
// the generations (token ids) or their feature rows (text).
type judged struct {
	prompts []int32
	gens    []int32
	fake    []float32
}

// drawPrompts samples batch_size prompts from G and the seeds of their C
// continuations each: the part of a D update that is the trainer's.
func (tr *Trainer) drawPrompts(C int) ([]int32, []uint64) {
	prompts := tr.Gen.Sample(tr.Cfg.BatchSize, tr.Cfg.PromptLen, generator.SampleOptions{Temperature: tr.Cfg.Temperature}, nil, tr.sampleRNG)
	return prompts, tr.requestSeeds(tr.Cfg.BatchSize * C)
}

// dUpdates is n D updates, each on batch_size fresh prompts from G with C
// continuations each, returning the last one's round and values. G does
// not change between them, so the next update's prompts are sampled while
// D takes the current one: the same draws from the same streams in the
// same order (an update's replayed examples are drawn in start, before
// the next prompts), and so the same bits, with D's members no longer
// leaving a core idle. With policy set, G runs the forward pass of its
// policy step over the last prompts while D takes the last update
// (returned, or nil where the policy step cannot take it): G does not
// change before that step either.
func (tr *Trainer) dUpdates(ctx context.Context, n, C int, policy bool) (judged, map[string]float64, *generator.Pass, error) {
	var j judged
	var vals map[string]float64
	var pass *generator.Pass
	prompts, seeds := tr.drawPrompts(C)
	for i := range n {
		finish, err := tr.critic.start(ctx, prompts, seeds, C)
		if err != nil {
			return judged{}, nil, nil, err
		}
		var nextPrompts []int32
		var nextSeeds []uint64
		done := make(chan struct{})
		switch {
		case i+1 < n:
			go func() {
				defer close(done)
				nextPrompts, nextSeeds = tr.drawPrompts(C)
			}()
		case policy && tr.earlyPolicyForward():
			go func() {
				defer close(done)
				pass = tr.Gen.Forward(prompts, tr.Cfg.BatchSize, tr.Cfg.PromptLen, nil)
			}()
		default:
			close(done)
		}
		j, vals = finish()
		<-done
		prompts, seeds = nextPrompts, nextSeeds
	}
	return j, vals, pass, nil
}

// paramsOf returns each member's parameters.
func paramsOf[M interface{ Params() nn.Params }](members []M) []nn.Params {
	out := make([]nn.Params, len(members))
	for k, m := range members {
		out[k] = m.Params()
	}
	return out
}
