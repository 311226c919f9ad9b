package steeroracle

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"promptgan/discriminator"
)

// DKindName is the --d-kind name of a discriminator kind ("" is the LSTM).
func DKindName(kind string) string {
	if kind == "" {
		return discriminator.KindLSTM
	}
	return kind
}

// DKind is the discriminator kind of a --d-kind name (DKindName's
// inverse: "lstm" is ""); Validate rejects an unknown one.
func DKind(name string) string {
	if name == discriminator.KindLSTM {
		return ""
	}
	return name
}

// WriteTable writes the benchmark's table and summary.
func WriteTable(w io.Writer, r *Result) error {
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
	writeTable(w, r, func(p Point) string { return fmt.Sprintf("%.3f (%+.0f%%)", p.KLSym, 100*p.KLSymRemoved) })
	ceiling := slices.ContainsFunc(r.Methods, func(m MethodResult) bool { return m.Name == MethodExactPromptgan })
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
	writeTable(w, r, func(p Point) string {
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
	_, err := fmt.Fprintf(w, "total wall time %.1f s on %d CPUs\n", r.WallS, r.CPUs)
	return err
}

// writeTable prints one row per method, one cell per table fraction.
func writeTable(w io.Writer, r *Result, cell func(Point) string) {
	var head strings.Builder
	fmt.Fprintf(&head, "%-10s", "method")
	for _, f := range TableFractions {
		fmt.Fprintf(&head, " %22s", fmt.Sprintf("%g%% (%d calls)", 100*f, int(math.Round(f*float64(r.Budget)))))
	}
	fmt.Fprintln(w, head.String())
	for _, m := range r.Methods {
		fmt.Fprintf(w, "%-10s", m.Name)
		for _, f := range TableFractions {
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
func pointAt(ps []Point, f float64, budget int) (Point, bool) {
	if f >= 1 && len(ps) > 0 {
		return ps[len(ps)-1], true
	}
	for _, p := range ps {
		if float64(p.Calls) >= f*float64(budget)-1e-9 {
			return p, true
		}
	}
	return Point{}, false
}
