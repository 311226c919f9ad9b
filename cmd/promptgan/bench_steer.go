package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/benchmarks/steeroracle"
	"promptgan/discriminator"
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
			&cli.StringFlag{Name: "d-kind", Value: dKindName(d.Steer.Discriminator.Kind), Usage: "the shared D's members: lstm or linear (logistic regression on position×token features)"},
			&cli.Float64Flag{Name: "d-lr", Value: d.Steer.DAdam.LR, Usage: "D's Adam learning rate (pre-training and promptgan)"},
			&cli.Float64Flag{Name: "d-weight-decay", Value: d.Steer.DAdam.WeightDecay, Usage: "D's decoupled weight decay"},
			&cli.IntFlag{Name: "continuations", Value: max(d.Steer.ContinuationsPerPrompt, 1), Usage: "promptgan: continuations per prompt in a step (each a target call); the reward is their mean"},
			&cli.IntFlag{Name: "threads", Usage: "ONNX Runtime intra-op threads (0 = one per core)"},
			&cli.BoolFlag{Name: "ceiling", Usage: "also run promptgan's loop and the evolutionary search rewarded by the exact metric instead of D (diagnostics: what each optimiser reaches with a perfect evaluator)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "quiet", Usage: "no progress lines on stderr"},
		},
		OnUsageError: onUsage,
		Action:       benchSteerAction,
	}
}

func benchSteerAction(c *cli.Context) error {
	opt := steeroracle.DefaultOptions(c.Int("secrets"))
	opt.Seed, opt.Budget = c.Uint64("seed"), c.Int("budget")
	opt.Steer.PromptLen, opt.Steer.GenLen = c.Int("prompt-len"), c.Int("gen-len")
	opt.Target, opt.ORTLib, opt.OutDir, opt.Oracle = c.String("target"), c.String("ort-lib"), c.String("out"), c.String("oracle")
	opt.RefsTotal, opt.PretrainDSteps, opt.Threads = c.Int("refs"), c.Int("pretrain-d-steps"), c.Int("threads")
	opt.PretrainGSteps = c.Int("pretrain-g-steps")
	opt.FloorN, opt.RandomN, opt.EvalPrompts = c.Int("level-samples"), c.Int("level-samples"), c.Int("eval-prompts")
	opt.ForwardN = c.Int("forward-samples")
	opt.Steer.BatchSize, opt.Steer.GAdvLR = c.Int("batch-size"), c.Float64("g-adv-lr")
	opt.Steer.DStepsPerG, opt.Steer.EntropyBonus = c.Int("d-steps-per-g"), c.Float64("entropy-bonus")
	opt.Steer.Discriminator.Kind = c.String("d-kind")
	if opt.Steer.Discriminator.Kind == discriminator.KindLSTM {
		opt.Steer.Discriminator.Kind = ""
	}
	opt.Steer.DAdam.LR, opt.Steer.DAdam.WeightDecay = c.Float64("d-lr"), c.Float64("d-weight-decay")
	opt.Steer.ContinuationsPerPrompt = c.Int("continuations")
	opt.Ceiling = c.Bool("ceiling")
	if k := opt.Steer.Discriminator.Kind; k != "" && k != discriminator.KindLinear {
		return usageError{fmt.Errorf("--d-kind %q: want lstm or linear", k)}
	}
	if opt.Steer.ContinuationsPerPrompt < 1 {
		return usageError{fmt.Errorf("--continuations %d: must be >= 1", opt.Steer.ContinuationsPerPrompt)}
	}
	if err := opt.Validate(); err != nil {
		return usageError{err}
	}
	if !c.Bool("quiet") {
		opt.Logger = benchLogger(c)
	}
	ctx, stop, _ := signalContext(c.Context)
	defer stop()
	res, err := steeroracle.Run(ctx, opt)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, res)
	}
	printSteerResult(c.App.Writer, res)
	return nil
}

// dKindName is the --d-kind name of a discriminator kind ("" is the LSTM).
func dKindName(kind string) string {
	if kind == "" {
		return discriminator.KindLSTM
	}
	return kind
}

// printSteerResult writes the benchmark's table and summary.
func printSteerResult(w io.Writer, r *steeroracle.Result) {
	fmt.Fprintf(w, "steer-oracle: %d secret(s), seed %d, budget %d target calls per method, k = %d, m = %d, %d references per secret\n",
		r.Secrets, r.Seed, r.Budget, r.PromptLen, r.GenLen, r.RefsPerSecret)
	fmt.Fprintf(w, "target: %s (%s)\n", r.Target, r.Fingerprint)
	if r.TargetNote != "" {
		fmt.Fprintf(w, "note: %s\n", r.TargetNote)
	}
	fmt.Fprintf(w, "\nsymmetric KL per token between the target's continuations after each of the %d output prompts p and after\n", r.EvalPrompts)
	fmt.Fprintf(w, "its nearest secret s, (forward + reverse)/2, exact under the oracle (lower is better, 0 at the secret):\n")
	fmt.Fprintf(w, "  nearest secret: the one under which p's evaluation continuation y is likeliest (min NLL_s(y)), for both directions\n")
	fmt.Fprintf(w, "  reverse KL(P(·|p) ‖ P(·|s)): NLL_s(y) − NLL_p(y) on that one continuation\n")
	fmt.Fprintf(w, "  forward KL(P(·|s) ‖ P(·|p)): mean NLL_p(y′) − NLL_s(y′) over %d fixed continuations y′ of s (the same for every method)\n", r.ForwardN)
	fmt.Fprintf(w, "in parentheses the share of the random prompts' level removed\n\n")
	fmt.Fprintf(w, "%-34s %s\n", "", "symmetric  forward  reverse")
	fmt.Fprintf(w, "%-34s %9.3f %8.3f %8.3f\n", "floor (the secrets' continuations)", r.FloorKLSym, r.FloorKLForward, r.FloorKL)
	fmt.Fprintf(w, "%-34s %9.3f %8.3f %8.3f\n", "random prompts", r.RandomKLSym, r.RandomKLForward, r.RandomKL)
	fmt.Fprintf(w, "shared pre-training: %d target calls (D: P(real) %.2f on references, %.2f on G's continuations)\n\n",
		r.PretrainCalls, r.PretrainD["d_real"], r.PretrainD["d_fake"])
	printSteerTable(w, r, func(p steeroracle.Point) string { return fmt.Sprintf("%.3f (%+.0f%%)", p.KLSym, 100*p.KLSymRemoved) })
	ceiling := slices.ContainsFunc(r.Methods, func(m steeroracle.MethodResult) bool { return m.Name == steeroracle.MethodExactPromptgan })
	if ceiling {
		fmt.Fprintf(w, "(exact-*: promptgan's loop and the evolutionary search rewarded by the NLL metric of each continuation instead of D; diagnostics, not methods)\n")
	}

	fmt.Fprintf(w, "\nat the end of the budget, each direction and the NLL metric beside the symmetric KL:\n")
	fmt.Fprintf(w, "%-10s %9s %8s %8s %18s", "method", "symmetric", "forward", "reverse", "NLL metric (gap)")
	if r.Secrets > 1 {
		fmt.Fprintf(w, " %8s", "covered")
	}
	fmt.Fprintln(w)
	for _, m := range r.Methods {
		p, ok := pointAt(m.Points, 1, r.Budget)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "%-10s %9.3f %8.3f %8.3f %18s", m.Name, p.KLSym, p.KLForward, p.KL, fmt.Sprintf("%.3f (%+.0f%%)", p.Metric, 100*p.GapClosed))
		if r.Secrets > 1 {
			fmt.Fprintf(w, " %8s", fmt.Sprintf("%d/%d", p.Covered, r.Secrets))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "\nNLL metric: mean over the prompts of min over secrets of the per-token NLL of the continuation under the oracle after\n")
	fmt.Fprintf(w, "the secret; floor %.3f (the secrets' continuations), random %.3f; in parentheses the share of the random−floor gap\n", r.Floor, r.Random)
	fmt.Fprintf(w, "closed. A cross-entropy, which continuations of low entropy push below the floor without resembling the secret's.\n\n")
	printSteerTable(w, r, func(p steeroracle.Point) string {
		cell := fmt.Sprintf("%.3f (%+.0f%%)", p.Metric, 100*p.GapClosed)
		if r.Secrets > 1 {
			cell += fmt.Sprintf(" %d/%d", p.Covered, r.Secrets)
		}
		return cell
	})
	if r.Secrets > 1 {
		fmt.Fprintf(w, "(k/%d: modes covered — ≥ 5%% of the continuations nearest to a secret, with mean NLL below the midpoint of its floor and random levels)\n", r.Secrets)
	}
	fmt.Fprintln(w)
	if r.BestBaseline != "" {
		if r.ReachCalls >= 0 {
			fmt.Fprintf(w, "promptgan reaches %s's final symmetric KL %.3f at %d calls (%.0f%% of %s's %d)\n",
				r.BestBaseline, r.BestBaselineFinal, r.ReachCalls, 100*float64(r.ReachCalls)/float64(r.BestBaselineCalls), r.BestBaseline, r.BestBaselineCalls)
		} else {
			fmt.Fprintf(w, "promptgan does not reach %s's final symmetric KL %.3f within %d calls\n", r.BestBaseline, r.BestBaselineFinal, r.Budget)
		}
	}
	for _, m := range r.Methods {
		fmt.Fprintf(w, "%-10s %6d calls (%d paid, %d from the ledger), %6.1f s, %4.1f s in target.Generate\n",
			m.Name, m.Calls, m.LedgerMisses, m.LedgerHits, m.WallS, m.GenerateS)
	}
	fmt.Fprintf(w, "promptgan: %.0f%% of its wall time outside target.Generate\n", 100*r.OutsideTargetShare)
	fmt.Fprintf(w, "total wall time %.1f s on %d CPUs\n", r.WallS, r.CPUs)
}

// printSteerTable prints one row per method, one cell per table fraction.
func printSteerTable(w io.Writer, r *steeroracle.Result, cell func(steeroracle.Point) string) {
	var head strings.Builder
	fmt.Fprintf(&head, "%-10s", "method")
	for _, f := range steeroracle.TableFractions {
		fmt.Fprintf(&head, " %22s", fmt.Sprintf("%g%% (%d calls)", 100*f, int(math.Round(f*float64(r.Budget)))))
	}
	fmt.Fprintln(w, head.String())
	for _, m := range r.Methods {
		fmt.Fprintf(w, "%-10s", m.Name)
		for _, f := range steeroracle.TableFractions {
			c := "-"
			if p, ok := pointAt(m.Points, f, r.Budget); ok {
				c = cell(p)
			}
			fmt.Fprintf(w, " %22s", c)
		}
		fmt.Fprintln(w)
	}
}

// pointAt returns the first point taken at or after the share f of the
// budget; for f = 1, the method's last point (a method whose batches do not
// divide the budget stops just short of it).
func pointAt(ps []steeroracle.Point, f float64, budget int) (steeroracle.Point, bool) {
	if f >= 1 && len(ps) > 0 {
		return ps[len(ps)-1], true
	}
	for _, p := range ps {
		if float64(p.Calls) >= f*float64(budget)-1e-9 {
			return p, true
		}
	}
	return steeroracle.Point{}, false
}
