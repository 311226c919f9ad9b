package task

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"

	"promptgan/internal/nn"
)

// DefaultSplitSeed seeds the train/validation/test split. Splits do not
// follow the run's seed, so runs with different seeds share a test set.
const DefaultSplitSeed = 1

// splitStream is the RNG stream of the split's first stratum (the next
// stratum uses splitStream+1), kept apart from the streams the networks draw.
const splitStream = 0x5e11_7000

// Splits divides a text task's examples into train, validation and test.
type Splits struct {
	Seed                uint64
	Validation, Test    float64 // fractions of examples
	Train, Val, TestIdx []int   // example indices, ascending

	items [3]splitItems // good and bad texts per split, for Record
}

type splitItems struct{ good, bad int }

// Split divides the task's examples, seeded and deterministic: a fraction
// validation of them (rounded) for validation, a fraction test for test, the
// rest for training. Examples with the same input (with inputs) or the same
// text (input-free) form one unit, so no input or text straddles splits. An
// input-free task is stratified by label: each split gets its share of good
// and of bad texts. A zero fraction leaves its split empty; any other split
// must come out non-empty and training must hold a good text.
func (t *Text) Split(seed uint64, validation, test float64) (Splits, error) {
	s := Splits{Seed: seed, Validation: validation, Test: test}
	if !(validation >= 0 && test >= 0 && validation+test < 1) { // also refuses NaN
		return s, fmt.Errorf("split %s: validation fraction %g and test fraction %g: want each ≥ 0 and their sum < 1", t.Path, validation, test)
	}
	for k, stratum := range t.strata() {
		perm := nn.NewRNG(seed, splitStream+uint64(k)).Perm(len(stratum))
		nTest := int(math.Round(test * float64(len(stratum))))
		nVal := int(math.Round(validation * float64(len(stratum))))
		nVal = min(nVal, len(stratum)-nTest)
		for rank, p := range perm {
			dst := &s.Train
			switch {
			case rank < nTest:
				dst = &s.TestIdx
			case rank < nTest+nVal:
				dst = &s.Val
			}
			*dst = append(*dst, stratum[p]...)
		}
	}
	for _, idx := range []*[]int{&s.Train, &s.Val, &s.TestIdx} {
		slices.Sort(*idx)
	}
	for k, idx := range [][]int{s.Train, s.Val, s.TestIdx} {
		for _, i := range idx {
			s.items[k].good += len(t.Examples[i].Good)
			s.items[k].bad += len(t.Examples[i].Bad)
		}
	}
	counts := fmt.Sprintf("train %d, validation %d, test %d examples of %d", len(s.Train), len(s.Val), len(s.TestIdx), len(t.Examples))
	switch {
	case len(s.Train) == 0 || (validation > 0 && len(s.Val) == 0) || (test > 0 && len(s.TestIdx) == 0):
		return s, fmt.Errorf("split %s with validation %g and test %g leaves a split empty (%s); add examples or change the fractions", t.Path, validation, test, counts)
	case s.items[0].good == 0:
		return s, fmt.Errorf("split %s with validation %g and test %g leaves training without a good text (%s); add good examples or change the fractions", t.Path, validation, test, counts)
	}
	return s, nil
}

// strata groups example indices into units that stay together (same input,
// or same text for an input-free task), units in order of first appearance,
// and the units into strata: good then bad for an input-free task (by the
// unit's first label), one stratum otherwise.
func (t *Text) strata() [][][]int {
	unitOf := map[string]int{}
	var units [][]int
	var unitGood []bool
	for i, ex := range t.Examples {
		key := ex.Input
		if t.InputFree {
			key = slices.Concat(ex.Good, ex.Bad)[0]
		}
		u, ok := unitOf[key]
		if !ok {
			u = len(units)
			unitOf[key] = u
			units = append(units, nil)
			unitGood = append(unitGood, len(ex.Good) > 0)
		}
		units[u] = append(units[u], i)
	}
	if !t.InputFree {
		return [][][]int{units}
	}
	strata := make([][][]int, 2)
	for u, unit := range units {
		k := 1
		if unitGood[u] {
			k = 0
		}
		strata[k] = append(strata[k], unit)
	}
	return strata
}

// SplitRecord describes a split for a run's manifest: enough to tell that a
// resumed or compared run used the same split of the same data.
type SplitRecord struct {
	Seed       uint64      `json:"seed"`
	Validation float64     `json:"validation_fraction"`
	Test       float64     `json:"test_fraction"`
	Train      SplitCounts `json:"train"`
	Val        SplitCounts `json:"validation"`
	TestSplit  SplitCounts `json:"test"`
}

// SplitCounts sizes one split. IndexSHA256 is the hex SHA-256 of its example
// indices written in decimal, ascending, one a line ("0\n3\n4\n").
type SplitCounts struct {
	Examples    int    `json:"examples"`
	Good        int    `json:"good"`
	Bad         int    `json:"bad"`
	IndexSHA256 string `json:"index_sha256"`
}

// Record describes the split for a manifest. Its good and bad counts come
// from Split; a Splits built by hand records them as zero.
func (s Splits) Record() SplitRecord {
	counts := func(k int, idx []int) SplitCounts {
		h := sha256.New()
		for _, i := range idx {
			h.Write(strconv.AppendInt(nil, int64(i), 10))
			h.Write([]byte{'\n'})
		}
		return SplitCounts{Examples: len(idx), Good: s.items[k].good, Bad: s.items[k].bad, IndexSHA256: hex.EncodeToString(h.Sum(nil))}
	}
	return SplitRecord{
		Seed: s.Seed, Validation: s.Validation, Test: s.Test,
		Train: counts(0, s.Train), Val: counts(1, s.Val), TestSplit: counts(2, s.TestIdx),
	}
}
