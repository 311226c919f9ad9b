package steeroracle

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/lstm"
)

// newKLBench returns a bench with S random secrets, served by the Go oracle
// target, and the forward KL's fixed set drawn (forwardN per secret).
func newKLBench(t testing.TB, S, forwardN int) *bench {
	t.Helper()
	path := filepath.Join("..", "..", DefaultOracle)
	oracle, err := generator.LoadOracle(path)
	if err != nil {
		t.Fatal(err)
	}
	opt := DefaultOptions(S)
	opt.ForwardN = forwardN
	b := &bench{opt: opt, oracle: oracle, k: opt.Steer.PromptLen, m: opt.Steer.GenLen, S: S}
	tg, err := lstm.NewOracle(path, b.m)
	if err != nil {
		t.Fatal(err)
	}
	b.base = tg
	rng := nn.NewRNG(7, streamSecrets)
	b.secrets = make([]int32, S*b.k)
	for i := range b.secrets {
		b.secrets[i] = int32(rng.IntN(oracle.Cfg.Vocab))
	}
	if err := b.drawForwardSet(context.Background(), tg); err != nil {
		t.Fatal(err)
	}
	return b
}

// randomPrompts returns n uniformly random k-token prompts.
func randomPrompts(b *bench, n int, seed uint64) []int32 {
	rng := nn.NewRNG(seed, 99)
	out := make([]int32, n*b.k)
	for i := range out {
		out[i] = int32(rng.IntN(b.oracle.Cfg.Vocab))
	}
	return out
}

// TestForwardKL: the forward KL of a secret against itself is exactly 0,
// that of random prompts positive, and two evaluations of the same prompts
// give the same bits (the fixed set does not change between evaluations).
func TestForwardKL(t *testing.T) {
	for _, tc := range []struct {
		name        string
		S, forwardN int
		random      int // random prompts per secret
	}{
		{"one secret", 1, 8, 6},
		{"four secrets", 4, 8, 2},
		{"batch over one LogProbs chunk of 256 rows", 1, 90, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newKLBench(t, tc.S, tc.forwardN)
			// each secret twice, against itself: 0 exactly
			prompts := b.secretPrompts(2)
			own := make([]int, len(prompts)/b.k)
			for i := range own {
				own[i] = i / 2
			}
			for i, v := range b.forwardKL(prompts, own) {
				if v != 0 {
					t.Errorf("forward KL of secret %d against itself = %g, want exactly 0", own[i], v)
				}
			}
			// random prompts, against every secret: positive, deterministic
			n := tc.random
			rp := randomPrompts(b, n*b.S, 3)
			nearest := make([]int, n*b.S)
			for i := range nearest {
				nearest[i] = i % b.S
			}
			first := b.forwardKL(rp, nearest)
			for i, v := range first {
				if !(v > 0) || math.IsInf(v, 0) {
					t.Errorf("random prompt %d against secret %d: forward KL %g, want > 0", i, nearest[i], v)
				}
			}
			b.fwdCache = nil // recompute: the same bits, in another batch order too
			if again := b.forwardKL(rp, nearest); !slices.Equal(first, again) {
				t.Errorf("two evaluations differ:\n%v\n%v", first, again)
			}
			b.fwdCache = nil
			last := len(nearest) - 1
			// Alone vs in a batch agree to rounding only: the BLAS build may
			// block a product of other row counts differently (what is exact
			// is the same evaluation twice, above).
			if v := b.forwardKL(rp[last*b.k:], nearest[last:]); math.Abs(v[0]-first[last]) > 1e-6*math.Abs(first[last]) {
				t.Errorf("prompt %d alone: %g, in a batch: %g", last, v[0], first[last])
			}
			// a random prompt against another secret's set is not that set's KL
			if b.S > 1 {
				other := slices.Clone(nearest)
				for i := range other {
					other[i] = (other[i] + 1) % b.S
				}
				if slices.Equal(b.forwardKL(rp, other), first) {
					t.Error("forward KL does not depend on the nearest secret")
				}
			}
		})
	}
}

// TestScoreSymmetricKL: score's symmetric KL is the mean of the forward and
// reverse estimates, 0 for the secrets' own continuations with one secret,
// positive for random prompts, and the same on a second evaluation.
func TestScoreSymmetricKL(t *testing.T) {
	b := newKLBench(t, 1, 8)
	ctx := context.Background()
	sp := b.secretPrompts(16)
	gens, err := targets.Continue(ctx, b.base, sp, b.k, b.m, seedList(nn.NewRNG(5, 5), 16))
	if err != nil {
		t.Fatal(err)
	}
	if p := b.score(sp, gens); p.KLForward != 0 || p.KL != 0 || p.KLSym != 0 {
		t.Errorf("secret's own continuations: forward %g, reverse %g, symmetric %g; want 0 each", p.KLForward, p.KL, p.KLSym)
	}
	rp := randomPrompts(b, 16, 4)
	gens, err = targets.Continue(ctx, b.base, rp, b.k, b.m, seedList(nn.NewRNG(6, 6), 16))
	if err != nil {
		t.Fatal(err)
	}
	p := b.score(rp, gens)
	if !(p.KLForward > 0 && p.KL > 0) || p.KLSym != (p.KLForward+p.KL)/2 {
		t.Errorf("random prompts: forward %g, reverse %g, symmetric %g", p.KLForward, p.KL, p.KLSym)
	}
	b.fwdCache = nil
	if q := b.score(rp, gens); q.KLSym != p.KLSym || q.KLForward != p.KLForward {
		t.Errorf("second evaluation: %+v, first %+v", q, p)
	}
}

// BenchmarkForwardKL times the forward KL of one evaluation at the bench's
// sizes: 128 distinct prompts, 16 continuations of one secret each.
func BenchmarkForwardKL(bb *testing.B) {
	b := newKLBench(bb, 1, 16)
	rp := randomPrompts(b, 128, 8)
	nearest := make([]int, 128)
	bb.ResetTimer()
	for range bb.N {
		b.forwardKL(rp, nearest)
	}
}
