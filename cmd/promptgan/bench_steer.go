package main

import (
	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/steeroracle"
)

// steerOracleCommand is `promptgan bench steer-oracle`.
func steerOracleCommand() *cli.Command {
	d := steeroracle.DefaultOptions(1)
	return &cli.Command{
		Name:  "steer-oracle",
		Usage: "a diagnostic: the whole loop against the frozen SeqGAN oracle as target, promptgan vs best-of-N and evolutionary search at equal target calls, scored by the symmetric KL between the continuations after each prompt and after its nearest hidden secret prefix",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "secrets", Value: 1, Usage: "hidden secret prefixes: 1 or 4"},
			&cli.Uint64Flag{Name: "seed", Value: d.Seed},
			&cli.IntFlag{Name: "budget", Value: d.Budget, Usage: "target calls per method, D pre-training included"},
			&cli.IntFlag{Name: "prompt-len", Value: d.Steer.PromptLen, Usage: "k: tokens per prompt"},
			&cli.IntFlag{Name: "gen-len", Value: d.Steer.GenLen, Usage: "m: tokens the target generates per prompt"},
			&cli.StringFlag{Name: "target", Value: steeroracle.TargetAuto, Usage: "auto (onnx when ONNX Runtime is found, else go), onnx or go"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.StringFlag{Name: "out", Value: d.OutDir, Usage: "directory for the exported target and the call ledgers (a rerun replays its calls from them)"},
			&cli.StringFlag{Name: "oracle", Value: d.Oracle, Usage: "SeqGAN oracle safetensors"},
			&cli.IntFlag{Name: "refs", Value: d.RefsTotal, Usage: "references in all (split evenly between the secrets)"},
			&cli.IntFlag{Name: "level-samples", Value: d.FloorN, Usage: "continuations behind the floor and the random level each"},
			&cli.IntFlag{Name: "forward-samples", Value: d.ForwardN, Usage: "continuations of each secret, drawn once, on which the forward KL of every prompt is estimated"},
			&cli.IntFlag{Name: "eval-prompts", Value: d.EvalPrompts, Usage: "prompts each method outputs and is scored on"},
			&cli.IntFlag{Name: "pretrain-g-steps", Value: d.PretrainGSteps, Usage: "MLE steps of G on the references' k-token windows (no target calls)"},
			&cli.IntFlag{Name: "pretrain-d-steps", Value: d.PretrainDSteps, Usage: "D pre-training steps shared by every method (batch-size calls each)"},
			&cli.IntFlag{Name: "batch-size", Value: d.Steer.BatchSize, Usage: "promptgan: prompts per step"},
			&cli.Float64Flag{Name: "g-adv-lr", Value: d.Steer.GAdvLR, Usage: "promptgan: G's adversarial learning rate"},
			&cli.IntFlag{Name: "d-steps-per-g", Value: d.Steer.DStepsPerG, Usage: "promptgan: D updates per G update"},
			&cli.Float64Flag{Name: "entropy-bonus", Value: d.Steer.EntropyBonus, Usage: "promptgan: weight of G's entropy bonus"},
			&cli.StringFlag{Name: "d-kind", Value: steeroracle.DKindName(d.Steer.Discriminator.Kind), Usage: "the shared D's members: lstm or linear (logistic regression on position×token features)"},
			&cli.Float64Flag{Name: "d-lr", Value: d.Steer.DAdam.LR, Usage: "D's Adam learning rate (pre-training and promptgan)"},
			&cli.Float64Flag{Name: "d-weight-decay", Value: d.Steer.DAdam.WeightDecay, Usage: "D's decoupled weight decay"},
			&cli.IntFlag{Name: "continuations", Value: max(d.Steer.ContinuationsPerPrompt, 1), Usage: "promptgan: continuations per prompt in a step (each a target call); the reward is their mean"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "ceiling", Usage: "also run promptgan's loop and the evolutionary search rewarded by the exact metric instead of D (diagnostics: what each optimiser reaches with a perfect evaluator)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress lines on stderr"},
		},
		Action: benchSteerAction,
	}
}

func benchSteerAction(c *cli.Context) error {
	opt := steeroracle.DefaultOptions(c.Int("secrets"))
	opt.Seed, opt.Budget, opt.Ceiling = c.Uint64("seed"), c.Int("budget"), c.Bool("ceiling")
	opt.Target, opt.ORTLib, opt.OutDir, opt.Oracle = c.String("target"), c.String("ort-lib"), c.String("out"), c.String("oracle")
	opt.RefsTotal, opt.PretrainGSteps, opt.PretrainDSteps, opt.Threads = c.Int("refs"), c.Int("pretrain-g-steps"), c.Int("pretrain-d-steps"), c.Int("threads")
	opt.FloorN, opt.RandomN, opt.ForwardN, opt.EvalPrompts = c.Int("level-samples"), c.Int("level-samples"), c.Int("forward-samples"), c.Int("eval-prompts")
	st := &opt.Steer
	st.PromptLen, st.GenLen, st.BatchSize, st.GAdvLR = c.Int("prompt-len"), c.Int("gen-len"), c.Int("batch-size"), c.Float64("g-adv-lr")
	st.DStepsPerG, st.EntropyBonus, st.ContinuationsPerPrompt = c.Int("d-steps-per-g"), c.Float64("entropy-bonus"), c.Int("continuations")
	st.Discriminator.Kind, st.DAdam.LR, st.DAdam.WeightDecay = steeroracle.DKind(c.String("d-kind")), c.Float64("d-lr"), c.Float64("d-weight-decay")
	if !c.Bool("quiet") {
		opt.Logger = benchLogger(c)
	}
	return benchRun(c, &opt, steeroracle.Run, steeroracle.WriteTable)
}
