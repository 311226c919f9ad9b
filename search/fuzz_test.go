package search

import (
	"context"
	"testing"

	"gopkg.in/yaml.v3"

	"promptgan/targets"
)

// FuzzDecodeYAML applies arbitrary YAML to the default config: the result is
// an error or a config, never a panic, and an accepted config survives a
// round trip through YAML.
func FuzzDecodeYAML(f *testing.F) {
	for _, seed := range []string{
		"steps: 10\n", "generator: {emb: 8, hidden: 8}\n", "g_adam: {lr: 0.001, warmup: 3}\n",
		"stepz: 1\n", "steps: -1\n", "steps: [1]\n", "g_adv_lr: .nan\n", "label_smoothing: .inf\n",
		"generator:\n  vocab: 0\n", "metric: nll_test\ntest: \"\"\n", "&a [*a]", "{", "- 1\n- 2\n", "",
		"steps: 99999999999999999999999\n", "credit: rollout\nrollouts: 0\n",
		"steps: 10\n\tbatch_size: 4\n", "batch_size: 2.5\n", "a: 1\n---\nb: 2\n", "\ufeffsteps: 1\r\n",
		"task: sentiment\ntarget: model-dir\nprompt_vocab: phrases\n", "text_discriminator: {hidden: -1}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := DecodeYAML(b, DefaultConfig())
		if err != nil {
			return
		}
		_ = cfg.Validate()
		// What was accepted survives a round trip through YAML unchanged.
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		back, err := DecodeYAML(out, DefaultConfig())
		if err != nil {
			t.Fatalf("re-encoded config refused: %v\n%s", err, out)
		}
		if d := ConfigDiff(cfg, back); len(d) > 0 {
			t.Fatalf("round trip changed %v", d)
		}
	})
}

// FuzzConfigToRun drives arbitrary YAML on top of the tiny preset through
// Validate and the memory estimate to the construction of a run (and, when
// it is small, a few steps and an evaluation) with in-memory data: a config
// is refused with an error or runs, never panics, and nothing is built whose
// estimate exceeds 64 MiB, which bounds the fuzzer's memory.
func FuzzConfigToRun(f *testing.F) {
	for _, seed := range []string{
		"", "batch_size: 9223372036854775807\n", "generator: {hidden: 100000000}\n",
		"generator: {hidden: 16000}\nbatch_size: 100000\n", "batch_size: 2\nprompt_len: 1\n",
		"credit: rollout\nrollouts: 3\n", "credit: delta\n", "credit: sequence\n", "mle_weight: 0.5\nentropy_bonus: 0.1\n",
		"discriminator: {kind: linear, positions: 3}\n", "replay_size: 0\n", "eval_samples: 2\nhall_of_fame: 0\n",
		"generator: {vocab: 2}\ndiscriminator: {vocab: 2}\n", "mle_steps: 0\nd_pretrain_steps: 0\n",
		"eval_samples: 10000000\n", "replay_size: 10000000\nprompt_len: 10000\n", "generator: {start_token: 4999}\n",
	} {
		f.Add([]byte(seed))
	}
	base, err := Preset("tiny")
	if err != nil {
		f.Fatal(err)
	}
	base.Train, base.Test, base.Oracle = "", "", ""
	// small enough that an execution takes milliseconds
	base.Generator.Vocab, base.Discriminator.Vocab = 64, 64
	base.PromptLen, base.BatchSize, base.EvalSamples, base.EvalTest, base.ReplaySize = 8, 8, 8, 8, 16
	base.Steps, base.MLESteps, base.DPretrainSteps = 6, 2, 2
	built, stepped := 0, 0
	f.Cleanup(func() { f.Logf("%d configs built, %d of them stepped", built, stepped) })
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := DecodeYAML(b, base)
		if err != nil {
			return
		}
		// what can be built without files or a model: a token run with
		// the identity target and in-memory data
		cfg.Target, cfg.Task = targets.IdentityName, ""
		cfg.Train, cfg.Test, cfg.Prior, cfg.Oracle = "", "", "", ""
		check := cfg
		check.Train = "(in memory)"
		if check.Validate() != nil {
			return
		}
		est := EstimateMemory(cfg)
		if !(est.Total > 0) {
			t.Fatalf("estimate %v for a valid config", est.Total)
		}
		if est.Total-processBase > 64<<20 {
			return
		}
		built++
		T := cfg.PromptLen
		seqs := randomSequences(8, T, cfg.Generator.Vocab)
		tr, err := NewFromData(cfg, targets.Identity{}, Data{Train: seqs, HeldOut: seqs})
		if err != nil {
			t.Fatalf("a valid config within the memory bound was not built: %v", err)
		}
		// Steps cost time as well as memory: only small networks step.
		g, d := cfg.Generator, cfg.Discriminator
		work := max(cfg.BatchSize*(1+cfg.Rollouts), cfg.EvalSamples) * T * cfg.DStepsPerG
		if g.Vocab*max(g.Hidden, g.Emb) > 1<<14 || d.Vocab*max(d.Hidden, d.Emb, d.Positions) > 1<<14 || work > 1<<12 {
			return
		}
		stepped++
		for range min(cfg.Steps, 3) {
			if _, err := tr.Step(context.Background()); err != nil {
				t.Fatalf("step: %v", err)
			}
		}
		if _, err := tr.Evaluate(context.Background()); err != nil {
			t.Fatalf("evaluate: %v", err)
		}
	})
}
