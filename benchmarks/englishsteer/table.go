package englishsteer

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable prints res as one table per task: each method's audit score
// of its output prompts (mean ± sd over seeds) at each point of the
// schedule, then the final score of its first prompt and distinct-2, and the
// comparison of promptgan with the best baseline and the ceiling.
func WriteTable(w io.Writer, res *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "English prompt search at equal target calls: budget %d calls a method (shared pre-training %d calls included), seeds %v\n",
		res.Budget, res.Train.DPretrainSteps*res.Train.BatchSize, res.Seeds)
	fmt.Fprintf(&b, "output: a method's best %d prompts by its own evaluator (D; the audit for the ceiling), each scored by the audit on %d fixed continuations (not counted)\n",
		res.Output, res.EvalContinuations)
	fmt.Fprintf(&b, "score: the audit's task score of the output prompts (mean over them), mean ± sd over seeds; top: of the first alone; d2: distinct-2 of the output's continuations\n\n")
	for _, t := range res.Tasks {
		fmt.Fprintf(&b, "%s (class %s)\n", t.Task, t.Class)
		width := 0
		for _, m := range t.Methods {
			width = max(width, len(m.Points))
		}
		fmt.Fprintf(&b, "  %-13s", "method")
		for i := range width {
			fmt.Fprintf(&b, " %-18s", fmt.Sprintf("score @%s", pointCalls(t, i)))
		}
		fmt.Fprintf(&b, " %-15s %5s\n", "final top", "d2")
		for _, m := range t.Methods {
			fmt.Fprintf(&b, "  %-13s", m.Name)
			for i := range width {
				cell := ""
				if i < len(m.Points) {
					p := m.Points[i]
					cell = fmt.Sprintf("%.3f ± %.3f", p.Mean.Mean, p.Mean.SD)
					if len(m.Points) < width {
						cell += fmt.Sprintf(" @%.0f", p.Calls)
					}
				}
				fmt.Fprintf(&b, " %-18s", cell)
			}
			f := m.Final()
			fmt.Fprintf(&b, " %-15s %5.3f\n", fmt.Sprintf("%.3f ± %.3f", f.Top.Mean, f.Top.SD), f.Distinct2)
		}
		reach := "never reaches it"
		if t.ReachCalls >= 0 {
			reach = fmt.Sprintf("reaches it at %.0f calls (%.0f%% of its %.0f)", t.ReachCalls, 100*t.ReachCalls/t.BestBaselineCalls, t.BestBaselineCalls)
		}
		fmt.Fprintf(&b, "  promptgan − best baseline (%s, %.3f): %+.3f (seed spread %.3f); %s; of ceiling %.2f; time outside the target %.0f%%\n",
			t.BestBaseline, t.BestBaselineFinal, t.Margin, t.Spread, reach, t.OfCeiling, 100*t.OutsideTargetShare)
		if t.Real > 0 {
			fmt.Fprintf(&b, "  the class's own held-out text scores %.3f: the best baseline is at %.2f of it\n", t.Real, t.BaselineOfReal)
		}
		for _, r := range t.Runs[:1] {
			for _, m := range r.Methods {
				p := m.Points[len(m.Points)-1]
				fmt.Fprintf(&b, "    seed %d %-13s %q %.3f → %q\n", r.Seed, m.Name, p.Prompts[0], p.Top, p.Sample)
			}
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%.1f s in all (%d CPUs)\n", res.WallS, res.CPUs)
	_, err := io.WriteString(w, b.String())
	return err
}

// pointCalls labels column i by the calls of the method with most points.
func pointCalls(t TaskResult, i int) string {
	for _, m := range t.Methods {
		if i < len(m.Points) && (m.Name == MethodBestOfN || m.Name == MethodPromptgan || m.Name == MethodEvolution) {
			return fmt.Sprintf("%.0f", m.Points[i].Calls)
		}
	}
	return "?"
}
