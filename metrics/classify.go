package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// checkLabelled checks that scores and labels pair up and that every score
// is a number.
func checkLabelled(what string, scores []float64, good []bool) error {
	if len(scores) != len(good) {
		return fmt.Errorf("%s: %d scores for %d labels", what, len(scores), len(good))
	}
	if len(scores) == 0 {
		return fmt.Errorf("%s: no scores", what)
	}
	for i, s := range scores {
		if math.IsNaN(s) {
			return fmt.Errorf("%s: score %d is NaN", what, i)
		}
	}
	return nil
}

// checkProbabilities checks that every p is in [0, 1].
func checkProbabilities(what string, p []float64) error {
	for i, v := range p {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("%s: probability %d is %v, outside [0, 1]", what, i, v)
		}
	}
	return nil
}

// AUC returns the area under the ROC curve of scores for telling good rows
// (positives) from bad ones: the probability that a random good row scores
// above a random bad one, ties counting one half — the Mann–Whitney U
// statistic over n_good·n_bad, computed from mid-ranks in O(n log n). It is
// an error when the labels are all one class.
func AUC(scores []float64, good []bool) (float64, error) {
	if err := checkLabelled("AUC", scores, good); err != nil {
		return 0, err
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	var pos, rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of the 1-based ranks i+1..j
		for _, k := range idx[i:j] {
			if good[k] {
				pos++
				rankSum += mid
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	if pos == 0 || neg == 0 {
		return 0, errors.New("AUC: the labels are all one class; AUC needs both good and bad rows")
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg), nil
}

// Accuracy returns the share of rows classified correctly when p >=
// threshold means good.
func Accuracy(p []float64, good []bool, threshold float64) (float64, error) {
	if err := checkLabelled("accuracy", p, good); err != nil {
		return 0, err
	}
	if math.IsNaN(threshold) {
		return 0, errors.New("accuracy: the threshold is NaN")
	}
	var right int
	for i, v := range p {
		if (v >= threshold) == good[i] {
			right++
		}
	}
	return float64(right) / float64(len(p)), nil
}

// ECE returns the expected calibration error of the probabilities p that
// rows are good, in the binary form of Naeini et al. (2015) that a
// reliability diagram of P(good) plots: p is put into bins equal-width bins
// of [0, 1] (bin b holds b/bins <= p < (b+1)/bins; p = 1 goes to the last),
// and
//
//	ECE = Σ_b (n_b / n) · |share of good rows in b − mean p in b|.
//
// (Guo et al. 2017's top-label form bins max(p, 1−p) instead; on binary
// labels it differs by how the bins fall, not in what it measures.)
func ECE(p []float64, good []bool, bins int) (float64, error) {
	if err := checkLabelled("ECE", p, good); err != nil {
		return 0, err
	}
	if err := checkProbabilities("ECE", p); err != nil {
		return 0, err
	}
	if bins < 1 {
		return 0, fmt.Errorf("ECE: %d bins; need at least 1 (15 is usual)", bins)
	}
	count := make([]float64, bins)
	conf := make([]float64, bins)
	pos := make([]float64, bins)
	for i, v := range p {
		b := min(int(v*float64(bins)), bins-1)
		count[b]++
		conf[b] += v
		if good[i] {
			pos[b]++
		}
	}
	var ece float64
	for b := range bins {
		if count[b] > 0 {
			ece += math.Abs(pos[b]-conf[b]) / float64(len(p))
		}
	}
	return ece, nil
}

// BrierScore returns the mean squared difference between p and the labels
// (1 for good, 0 for bad).
func BrierScore(p []float64, good []bool) (float64, error) {
	if err := checkLabelled("Brier score", p, good); err != nil {
		return 0, err
	}
	if err := checkProbabilities("Brier score", p); err != nil {
		return 0, err
	}
	var s float64
	for i, v := range p {
		y := 0.0
		if good[i] {
			y = 1
		}
		s += (v - y) * (v - y)
	}
	return s / float64(len(p)), nil
}
