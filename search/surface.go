package search

import (
	"fmt"
	"math"
	"strings"
	"unicode"

	"promptgan/metrics"
)

// SurfaceAUC is how far from 0.5 a surface feature's own AUC between a
// task's good and bad texts must be for the run to say that D can tell
// them apart by it (0.5 ± 0.2: the feature alone ranks a good text above a
// bad one seven times in ten).
const SurfaceAUC = 0.2

// surfaceFeature is a property of a text that says nothing of what the
// task asks for, but that D reads (discriminator.TextFeatures' surface
// features) or can learn from the text's embedding.
type surfaceFeature struct {
	name string
	of   func(text string) float64
}

var surfaceFeatures = []surfaceFeature{
	{"length", func(t string) float64 { return float64(len(strings.Fields(t))) }},
	{"unk_rate", func(t string) float64 {
		f := strings.Fields(t)
		if len(f) == 0 {
			return 0
		}
		return float64(strings.Count(t, "<unk>")) / float64(len(f))
	}},
	{"punctuation", func(t string) float64 {
		var chars, punct int
		for _, r := range t {
			if unicode.IsSpace(r) {
				continue
			}
			chars++
			if unicode.IsPunct(r) && r != '<' && r != '>' {
				punct++
			}
		}
		if chars == 0 {
			return 0
		}
		return float64(punct) / float64(chars)
	}},
}

// surfaceCheck is a surface feature that separates a task's good texts
// from its bad ones.
type surfaceCheck struct {
	surfaceFeature
	auc, good, bad float64 // its AUC (good as positive) and its mean over the good and the bad texts
}

// surfaceChecks returns the surface features whose own AUC between the
// good and the bad texts (as D reads them) is at least SurfaceAUC from
// 0.5. With no bad text there is nothing to tell apart.
func surfaceChecks(texts []string, good []bool) []surfaceCheck {
	if !hasBoth(good) {
		return nil
	}
	var out []surfaceCheck
	for _, f := range surfaceFeatures {
		v := make([]float64, len(texts))
		var sg, sb float64
		var ng, nb int
		for i, t := range texts {
			v[i] = f.of(t)
			if good[i] {
				sg, ng = sg+v[i], ng+1
			} else {
				sb, nb = sb+v[i], nb+1
			}
		}
		auc, err := metrics.AUC(v, good)
		if err != nil || math.Abs(auc-0.5) < SurfaceAUC {
			continue
		}
		out = append(out, surfaceCheck{f, auc, sg / float64(ng), sb / float64(nb)})
	}
	return out
}

// note says what the check found, for the log at the start of a run.
func (c surfaceCheck) note() string {
	return fmt.Sprintf("the task's good and bad texts differ in %s (mean %.3g good, %.3g bad): %s alone tells them apart with AUC %.2f, so D may reward it rather than what the task asks; the evaluations report surface_r2_%s, the share of the variance of D's verdict on the generations that it explains",
		c.name, c.good, c.bad, c.name, c.auc, c.name)
}

// explained is the share of the variance of D's scores that a linear fit
// on the feature's values explains (the squared correlation; 0 when either
// is constant).
func explained(feature, scores []float64) float64 {
	r := pearson(feature, scores)
	return r * r
}
