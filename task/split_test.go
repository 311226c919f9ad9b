package task

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// inputFreeTask makes an input-free task of nGood good and nBad bad texts,
// interleaved, all distinct.
func inputFreeTask(t *testing.T, nGood, nBad int) *Text {
	t.Helper()
	var b strings.Builder
	for i := 0; i < max(nGood, nBad); i++ {
		if i < nGood {
			fmt.Fprintf(&b, "{\"text\": \"good %d\", \"label\": \"good\"}\n", i)
		}
		if i < nBad {
			fmt.Fprintf(&b, "{\"text\": \"bad %d\", \"label\": \"bad\"}\n", i)
		}
	}
	task, err := ParseText(strings.NewReader(b.String()), "if.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func parse(t *testing.T, content string) *Text {
	t.Helper()
	task, err := ParseText(strings.NewReader(content), "t.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestSplitCoversDisjointDeterministic(t *testing.T) {
	task := inputFreeTask(t, 60, 40)
	for _, tc := range []struct {
		seed      uint64
		val, test float64
	}{{1, 0.1, 0.2}, {7, 0.15, 0.15}, {1, 0, 0.3}, {1, 0.3, 0}, {1, 0, 0}} {
		t.Run(fmt.Sprintf("seed%d_v%g_t%g", tc.seed, tc.val, tc.test), func(t *testing.T) {
			s, err := task.Split(tc.seed, tc.val, tc.test)
			if err != nil {
				t.Fatal(err)
			}
			again, err := task.Split(tc.seed, tc.val, tc.test)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, again) {
				t.Fatal("the same seed gave a different split")
			}
			all := slices.Concat(s.Train, s.Val, s.TestIdx)
			slices.Sort(all)
			for i, v := range all {
				if v != i {
					t.Fatalf("splits do not cover the examples exactly once: sorted union %v", all)
				}
			}
			if len(all) != len(task.Examples) {
				t.Fatalf("splits hold %d examples, task has %d", len(all), len(task.Examples))
			}
			for _, idx := range [][]int{s.Train, s.Val, s.TestIdx} {
				if !slices.IsSorted(idx) {
					t.Errorf("indices not ascending: %v", idx)
				}
			}
			// Stratified: each split gets its fraction of the 60 good and 40 bad.
			rec := s.Record()
			for _, c := range []struct {
				name     string
				counts   SplitCounts
				fraction float64
			}{{"validation", rec.Val, tc.val}, {"test", rec.TestSplit, tc.test}, {"train", rec.Train, 1 - tc.val - tc.test}} {
				wantGood, wantBad := int(60*c.fraction+0.5), int(40*c.fraction+0.5)
				if c.name == "train" {
					wantGood, wantBad = 60-rec.Val.Good-rec.TestSplit.Good, 40-rec.Val.Bad-rec.TestSplit.Bad
				}
				if c.counts.Good != wantGood || c.counts.Bad != wantBad || c.counts.Examples != wantGood+wantBad {
					t.Errorf("%s: %+v, want %d good and %d bad", c.name, c.counts, wantGood, wantBad)
				}
			}
		})
	}
}

func TestSplitSeedsDiffer(t *testing.T) {
	task := inputFreeTask(t, 50, 50)
	a, err := task.Split(1, 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := task.Split(2, 0.2, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a.TestIdx, b.TestIdx) {
		t.Error("seeds 1 and 2 chose the same test set")
	}
	if a.Record().TestSplit.IndexSHA256 == b.Record().TestSplit.IndexSHA256 {
		t.Error("different test sets have the same index hash")
	}
}

// TestSplitKeepsUnitsTogether: examples sharing an input (or, input-free, a
// text) never straddle splits.
func TestSplitKeepsUnitsTogether(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "{\"input\": \"q%d\", \"good\": [\"a\"], \"bad\": [\"b\", \"c\"]}\n", i%13)
	}
	withInputs := parse(t, b.String())
	b.Reset()
	for i := range 40 {
		fmt.Fprintf(&b, "{\"text\": \"t%d\", \"label\": \"good\"}\n{\"text\": \"u%d\", \"label\": \"bad\"}\n", i%11, i%7)
	}
	inputFree := parse(t, b.String())
	for _, tc := range []struct {
		name string
		task *Text
		key  func(Example) string
	}{
		{"inputs", withInputs, func(e Example) string { return e.Input }},
		{"input-free", inputFree, func(e Example) string { return slices.Concat(e.Good, e.Bad)[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := range uint64(20) {
				s, err := tc.task.Split(seed, 0.2, 0.2)
				if err != nil {
					t.Fatal(err)
				}
				splitOf := map[string]int{}
				for k, idx := range [][]int{s.Train, s.Val, s.TestIdx} {
					for _, i := range idx {
						key := tc.key(tc.task.Examples[i])
						if prev, ok := splitOf[key]; ok && prev != k {
							t.Fatalf("seed %d: %q is in splits %d and %d", seed, key, prev, k)
						}
						splitOf[key] = k
					}
				}
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	small := inputFreeTask(t, 3, 2)
	for _, tc := range []struct {
		name      string
		task      *Text
		val, test float64
		want      []string
	}{
		{"negative", small, -0.1, 0.2, []string{"if.jsonl", "validation fraction -0.1", "≥ 0"}},
		{"sum 1", small, 0.5, 0.5, []string{"sum < 1"}},
		{"NaN", small, 0.1, nanValue(), []string{"test fraction NaN"}},
		{"validation rounds to nothing", small, 0.05, 0.4, []string{"leaves a split empty", "validation 0,", "of 5"}},
		{"no good left for training", parse(t, `{"text": "g", "label": "good"}`+"\n"+`{"text": "b1", "label": "bad"}`+"\n"+`{"text": "b2", "label": "bad"}`), 0, 0.5, []string{"training without a good text", "train 1,"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.task.Split(DefaultSplitSeed, tc.val, tc.test)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestSplitRecord(t *testing.T) {
	task := parse(t, `{"input": "a", "good": ["x", "y"], "bad": ["z"]}`+"\n"+
		`{"input": "b", "good": ["x"]}`+"\n"+
		`{"input": "c", "bad": ["x", "y"]}`+"\n"+
		`{"input": "d", "good": ["x"], "bad": ["w"]}`+"\n")
	s, err := task.Split(3, 0.25, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	rec := s.Record()
	if rec.Seed != 3 || rec.Validation != 0.25 || rec.Test != 0.25 {
		t.Errorf("record header %+v", rec)
	}
	for _, c := range []struct {
		idx    []int
		counts SplitCounts
	}{{s.Train, rec.Train}, {s.Val, rec.Val}, {s.TestIdx, rec.TestSplit}} {
		items := task.Labeled(c.idx)
		good := 0
		for _, it := range items {
			if it.Good {
				good++
			}
		}
		if c.counts.Examples != len(c.idx) || c.counts.Good != good || c.counts.Bad != len(items)-good {
			t.Errorf("counts %+v for examples %v (%d items, %d good)", c.counts, c.idx, len(items), good)
		}
	}
	// The index hash is SHA-256 of "i\n" lines, as documented.
	if got, want := (Splits{Train: []int{0, 3, 4}}).Record().Train.IndexSHA256, sha256Hex("0\n3\n4\n"); got != want {
		t.Errorf("index hash %s, want %s", got, want)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
