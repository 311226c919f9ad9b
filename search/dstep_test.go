package search

import (
	"math"
	"slices"
	"testing"

	"promptgan/discriminator"
	"promptgan/internal/nn"
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
