package search

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// How the CLI prints what the package computes: JSON, the eval table and
// the ranked prompt scores.

// WriteJSON writes v as indented JSON, a NaN or ±Inf (not valid JSON) as
// null when v is one or a map[string]any of them.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sanitize(v))
}

// sanitize replaces NaN and ±Inf by nil.
func sanitize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sanitize(e)
		}
		return out
	}
	return v
}

// Write writes the evaluation as a two-column table, the figures to four decimals.
func (e GeneratorEval) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) {
		if f, ok := v.(float64); ok {
			v = fmt.Sprintf("%.4f", f)
		}
		fmt.Fprintf(tw, "%s\t%v\n", k, v)
	}
	row("checkpoint", e.Checkpoint)
	row("step", e.Step)
	row("generator", e.Generator)
	row("temperature", e.Temperature)
	if e.NLLTest != nil {
		row("data", e.Data)
		row("sequences", e.Sequences)
		row("nll_test", *e.NLLTest)
	}
	row("samples", e.Samples)
	if e.NLLOracle != nil {
		row("nll_oracle", *e.NLLOracle)
	}
	row("distinct_2", e.Distinct2)
	row("self_bleu_3", e.SelfBLEU3)
	return tw.Flush()
}

// WritePromptScores writes scores ranked as given, one a line, and with
// show each prompt's generations with their scores under it.
func WritePromptScores(w io.Writer, scores []PromptScore, show bool) {
	fmt.Fprintf(w, "%-4s %-7s %-7s %-7s %-9s %-7s %s\n", "rank", "score", "se", "spread", "score_sd", "bleu_2", "prompt")
	for i, s := range scores {
		bleu := "-"
		if s.BLEU != nil {
			bleu = fmt.Sprintf("%.3f", *s.BLEU)
		}
		fmt.Fprintf(w, "%-4d %-7.3f %-7.3f %-7.3f %-9.3f %-7s %q\n", i+1, s.Score, s.ScoreSE, s.Spread, s.ScoreStd, bleu, s.Prompt)
		if show {
			for _, g := range s.Generations {
				fmt.Fprintf(w, "       %.3f  %s\n", g.Score, pairText(Pair{Input: g.Input, Generation: g.Generation}))
			}
		}
	}
	if n := TiedWithFirst(scores); n > 1 {
		fmt.Fprintf(w, "ranks 1–%d are within two standard errors of the first: the generations scored do not settle their order (more --samples / --verify would)\n", n)
	}
}

// TiedWithFirst is how many of the ranked scores (best first), the first
// included, lie within two standard errors of the first's score (the
// standard error of the difference of two independent means): a ranking
// the data do not settle. 0 for no score.
func TiedWithFirst(scores []PromptScore) int {
	if len(scores) == 0 {
		return 0
	}
	first, n := scores[0], 1
	for _, s := range scores[1:] {
		if first.Score-s.Score < 2*math.Sqrt(first.ScoreSE*first.ScoreSE+s.ScoreSE*s.ScoreSE) {
			n++
		}
	}
	return n
}

// WritePairScores writes scores one a line: score, spread and the pair.
func WritePairScores(w io.Writer, scores []PairScore) {
	fmt.Fprintf(w, "%-7s %-7s %s\n", "score", "spread", "pair")
	for _, s := range scores {
		fmt.Fprintf(w, "%-7.3f %-7.3f %s\n", s.Score, s.Spread, pairText(s.Pair))
	}
}

// pairText quotes the generation, after the quoted input and an arrow when
// there is one.
func pairText(p Pair) string {
	if p.Input == "" {
		return fmt.Sprintf("%q", p.Generation)
	}
	return fmt.Sprintf("%q → %q", p.Input, p.Generation)
}
