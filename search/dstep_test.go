package search

import (
	"context"
	"math"
	"slices"
	"testing"

	"promptgan/discriminator"
	"promptgan/internal/nn"
	"promptgan/targets"
)

// TestSplitDStepMatchesFused checks that the D update a model-target run splits in two
// (references and replay while the target generates, then the fresh fakes)
// is the update newDStep(…).finish takes in one pass: the same loss and
// statistics, the same weights up to float rounding, and the same replay
// buffer and RNG state afterwards. Both kinds of member.
func TestSplitDStepMatchesFused(t *testing.T) {
	const V, T, B = 40, 6, 16
	for _, kind := range []string{"lstm", "linear"} {
		t.Run(kind, func(t *testing.T) {
			cfg := discriminator.DefaultConfig(V)
			cfg.Emb, cfg.Hidden, cfg.Members = 8, 12, 3
			if kind == "linear" {
				cfg.Kind, cfg.Positions = discriminator.KindLinear, T
			}
			data := nn.NewRNG(3, 1)
			tokens := func(n int) []int32 {
				out := make([]int32, n*T)
				for i := range out {
					out[i] = int32(data.IntN(V))
				}
				return out
			}
			type side struct {
				disc   *discriminator.Ensemble
				opts   []*nn.Adam
				replay *Replay[int32]
				rng    *nn.RNG
			}
			build := func() side {
				s := side{disc: discriminator.New(cfg, nn.NewRNG(9, 2)), replay: NewReplay[int32](64, T), rng: nn.NewRNG(9, 3)}
				for _, m := range s.disc.Members {
					s.opts = append(s.opts, nn.NewAdam(nn.DefaultAdam(0.01), m.Params()))
				}
				return s
			}
			fused, split := build(), build()
			for step := range 3 { // the replay buffer fills from the second step on
				real, fake := tokens(B), tokens(B)
				want := newDStep(fused.disc, fused.opts, fused.replay, fused.rng, real, T, B/2, 0.1, 0.5).finish(fake)
				d := newDStep(split.disc, split.opts, split.replay, split.rng, real, T, B/2, 0.1, 0.5)
				d.prepare()
				got := d.finish(fake)
				for _, k := range []string{"loss_d", "d_real", "d_fake"} {
					if math.Abs(got[k]-want[k]) > 1e-5 {
						t.Errorf("step %d: %s = %v split, %v fused", step, k, got[k], want[k])
					}
				}
				gw, ww := split.disc.Params().Weights(), fused.disc.Params().Weights()
				for name, w := range ww {
					for i := range w.Data {
						if d := math.Abs(float64(gw[name].Data[i] - w.Data[i])); d > 1e-5 {
							t.Fatalf("step %d: %s[%d] = %v split, %v fused", step, name, i, gw[name].Data[i], w.Data[i])
						}
					}
				}
				if split.rng.State() != fused.rng.State() || split.replay.Count != fused.replay.Count || !slices.Equal(split.replay.Data, fused.replay.Data) {
					t.Fatalf("step %d: the RNG or the replay buffer differ", step)
				}
			}
		})
	}
}

// TestPipelinedDStepsMatchSequential checks that dUpdates' pipelined D
// updates (the next prompts sampled while D takes the current update, G's
// policy forward pass while D takes the last) are the same updates run one
// after another, and its policy step the one that runs its own forward
// pass, bit for bit: the same statistics, D weights and optimiser state,
// replay buffer, RNG states, data cursor and G weights.
func TestPipelinedDStepsMatchSequential(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.MLESteps, cfg.DPretrainSteps = 0, 0
	if cfg.Credit == "rollout" || cfg.MLEWeight != 0 {
		t.Fatalf("the tiny preset (credit %q, mle_weight %v) no longer runs G's forward pass early", cfg.Credit, cfg.MLEWeight)
	}
	build := func() *Trainer {
		tr, err := New(cfg, targets.Identity{})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	seq, pip := build(), build()
	ctx := context.Background()
	for round := range 3 { // the replay buffer fills from the second update on
		var want map[string]float64
		var wantJ judged
		for range 3 {
			prompts, seeds := seq.drawPrompts(1)
			finish, err := seq.critic.start(ctx, prompts, seeds, 1)
			if err != nil {
				t.Fatal(err)
			}
			wantJ, want = finish()
		}
		gotJ, got, pass, err := pip.dUpdates(ctx, 3, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		if pass == nil {
			t.Fatalf("round %d: no early forward pass", round)
		}
		if !slices.Equal(gotJ.prompts, wantJ.prompts) || !slices.Equal(gotJ.gens, wantJ.gens) {
			t.Fatalf("round %d: the last update's prompts or generations differ", round)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("round %d: %s = %v pipelined, %v sequential", round, k, got[k], v)
			}
		}
		for name, w := range seq.Disc.Params().Weights() {
			if !slices.Equal(pip.Disc.Params().Weights()[name].Data, w.Data) {
				t.Fatalf("round %d: D weight %s differs", round, name)
			}
		}
		for k := range seq.dOpts {
			ps := seq.dMembers()[k]
			for name, a := range seq.dOpts[k].State(ps) {
				if !slices.Equal(pip.dOpts[k].State(pip.dMembers()[k])[name].Data, a.Data) {
					t.Fatalf("round %d: D optimiser state %s differs", round, name)
				}
			}
		}
		pr, sr := pip.critic.(*tokenCritic).replay, seq.critic.(*tokenCritic).replay
		if pip.sampleRNG.State() != seq.sampleRNG.State() || pip.seedRNG.State() != seq.seedRNG.State() ||
			pip.real.cursor != seq.real.cursor || pip.Calls != seq.Calls ||
			pr.Count != sr.Count || pr.Head != sr.Head || !slices.Equal(pr.Data, sr.Data) {
			t.Fatalf("round %d: RNG states, data cursor, call count or replay buffer differ", round)
		}
		// G's policy step from the early forward pass against one that runs it.
		wantA, _, err := seq.advantages(wantJ)
		if err != nil {
			t.Fatal(err)
		}
		gotA, _, err := pip.advantages(gotJ)
		if err != nil {
			t.Fatal(err)
		}
		wantS, gotS := seq.policyStep(wantJ.prompts, wantA), pip.policyStepPass(gotJ.prompts, gotA, pass)
		for k, v := range wantS {
			if gotS[k] != v {
				t.Errorf("round %d: policy %s = %v from the early pass, %v", round, k, gotS[k], v)
			}
		}
		for name, w := range seq.Gen.Params().Weights() {
			if !slices.Equal(pip.Gen.Params().Weights()[name].Data, w.Data) {
				t.Fatalf("round %d: G weight %s differs", round, name)
			}
		}
	}
}
