package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDistinctN(t *testing.T) {
	tests := []struct {
		name string
		seqs [][]int
		n    int
		want float64
	}{
		{"unigrams", [][]int{{1, 2, 3}, {1, 2, 4}}, 1, 4.0 / 6},
		{"bigrams", [][]int{{1, 2, 3}, {1, 2, 4}}, 2, 3.0 / 4},
		{"all same", [][]int{{5, 5, 5, 5}}, 2, 1.0 / 3},
		{"too short", [][]int{{1, 2, 3}, {1}}, 4, 0},
		{"n zero", [][]int{{1, 2, 3}}, 0, 0},
		{"empty", nil, 2, 0},
		{"large ids", [][]int{{70000, 70000, 1}, {1 << 40, -3}}, 1, 4.0 / 5},
		// 70000 must not alias with a packed id: 70000 = 1<<16 + 4464.
		{"large vs small", [][]int{{1, 4464}, {70000}}, 1, 3.0 / 3},
		{"n=5 string keys", [][]int{{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}}, 5, 5.0 / 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DistinctN(tc.seqs, tc.n); math.Abs(got-tc.want) > 1e-15 {
				t.Errorf("DistinctN = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBLEU(t *testing.T) {
	tests := []struct {
		name string
		hyp  []int
		refs [][]int
		maxN int
		want float64
	}{
		// NLTK: sentence_bleu([ref], ref) == 1.0 for any hypothesis with >= 4 tokens.
		{"identical", []int{1, 2, 3, 4, 5}, [][]int{{1, 2, 3, 4, 5}}, 4, 1},
		{"identical large ids", []int{1 << 20, 2, 3, -4, 5}, [][]int{{9}, {1 << 20, 2, 3, -4, 5}}, 4, 1},
		// No unigram in common: NLTK's corpus_bleu returns 0 before any
		// smoothing ("if p_numerators[1] == 0: return 0"), so method1 does
		// not apply here.
		{"no overlap", []int{1, 2, 3}, [][]int{{4, 5, 6}}, 4, 0},
		{"empty hyp", nil, [][]int{{4, 5, 6}}, 2, 0},
		{"no refs", []int{1}, nil, 2, 0},
		// Unigrams all match (p1 = 4/4) but no bigram does: method1 gives
		// p2 = (0 + 0.1)/3. c = r = 4 so BP = exp(1-1) = 1.
		// BLEU = exp(0.5*ln(1) + 0.5*ln(0.1/3)) = sqrt(1/30) = 0.18257418583505536.
		{"method1 bigram", []int{1, 2, 3, 4}, [][]int{{4, 3, 2, 1}}, 2, math.Sqrt(1.0 / 30)},
		// Clipping: hyp has four 7s, ref has two: p1 = 2/4. BP = 1.
		{"clip", []int{7, 7, 7, 7}, [][]int{{7, 8, 7, 9}}, 1, 0.5},
		// Clip against the max over refs (3): p1 = 3/4.
		{"clip max over refs", []int{7, 7, 7, 7}, [][]int{{7, 1, 1, 1}, {7, 7, 7, 1}}, 1, 0.75},
		// Brevity: c = 2, r = 4: BP = exp(1 - 4/2) = exp(-1), p1 = 1.
		{"brevity", []int{1, 2}, [][]int{{1, 2, 3, 4}}, 1, math.Exp(-1)},
		// Closest ref length tie (2 and 4 around c = 3) picks the shorter,
		// r = 2 < c so BP = 1; p1 = 3/3.
		{"closest tie shorter", []int{1, 2, 3}, [][]int{{1, 2}, {1, 2, 3, 9}}, 1, 1},
		// hyp shorter than maxN: p1 = 2/2, p2 = 1/1, p3 = p4 = (0+0.1)/max(1,0) = 0.1;
		// BP = exp(1 - 3/2). BLEU = exp(0.25*(2*ln 0.1)) * exp(-0.5) = sqrt(0.1)*exp(-0.5).
		{"short hyp", []int{1, 2}, [][]int{{1, 2, 3}}, 4, math.Sqrt(0.1) * math.Exp(-0.5)},
		// Mixed: hyp 1 2 3 1 2, ref 1 2 1 2 3 (maxN 3).
		// p1: counts 1:2,2:2,3:1 vs ref 1:2,2:2,3:1 -> 5/5.
		// p2: hyp (1,2)x2,(2,3),(3,1); ref (1,2)x2,(2,1),(2,3) -> 2+1+0 = 3/4.
		// p3: hyp (1,2,3),(2,3,1),(3,1,2); ref (1,2,1),(2,1,2),(1,2,3) -> 1/3.
		// BP = 1. BLEU = (1 * 3/4 * 1/3)^(1/3) = 0.25^(1/3).
		{"mixed", []int{1, 2, 3, 1, 2}, [][]int{{1, 2, 1, 2, 3}}, 3, math.Cbrt(0.25)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := BLEU(tc.hyp, tc.refs, tc.maxN)
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("BLEU = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

// naiveSelfBLEU is the definition: BLEU of each hypothesis against all the
// other sequences.
func naiveSelfBLEU(seqs [][]int, maxN, hyps int) float64 {
	if len(seqs) < 2 || maxN <= 0 {
		return 0
	}
	if hyps <= 0 || hyps > len(seqs) {
		hyps = len(seqs)
	}
	var sum float64
	for h := 0; h < hyps; h++ {
		others := make([][]int, 0, len(seqs)-1)
		others = append(others, seqs[:h]...)
		others = append(others, seqs[h+1:]...)
		sum += BLEU(seqs[h], others, maxN)
	}
	return sum / float64(hyps)
}

func TestSelfBLEUMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		nseq := 2 + rng.IntN(12)
		vocab := 2 + rng.IntN(6)
		seqs := make([][]int, nseq)
		for i := range seqs {
			l := rng.IntN(10)
			if trial%7 == 0 && i == 1 {
				l = 0
			}
			s := make([]int, l)
			for j := range s {
				s[j] = rng.IntN(vocab)
				if trial%5 == 0 && rng.IntN(4) == 0 {
					s[j] += 1 << 17 // exercise the string-key path
				}
			}
			seqs[i] = s
		}
		if trial%11 == 0 { // exact duplicates
			seqs[nseq-1] = append([]int(nil), seqs[0]...)
		}
		maxN := 1 + rng.IntN(5)
		hyps := rng.IntN(nseq+2) - 1
		got := SelfBLEU(seqs, maxN, hyps)
		want := naiveSelfBLEU(seqs, maxN, hyps)
		if got != want {
			t.Fatalf("trial %d: SelfBLEU(%v, %d, %d) = %.17g, naive %.17g", trial, seqs, maxN, hyps, got, want)
		}
	}
}

func TestSelfBLEU(t *testing.T) {
	tests := []struct {
		name string
		seqs [][]int
		maxN int
		hyps int
		want float64
	}{
		{"identical", [][]int{{1, 2, 3, 4}, {1, 2, 3, 4}, {1, 2, 3, 4}}, 3, 0, 1},
		{"disjoint", [][]int{{1, 2}, {3, 4}, {5, 6}}, 2, 0, 0},
		{"single", [][]int{{1, 2}}, 2, 0, 0},
		// hyps = 1: only seqs[0] = 1 2 3 4 against {4 3 2 1}: sqrt(1/30) (see TestBLEU).
		{"first only", [][]int{{1, 2, 3, 4}, {4, 3, 2, 1}}, 2, 1, math.Sqrt(1.0 / 30)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelfBLEU(tc.seqs, tc.maxN, tc.hyps); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("SelfBLEU = %.17g, want %.17g", got, tc.want)
			}
		})
	}
}

func TestClosestLenExcludingOne(t *testing.T) {
	tests := []struct {
		sorted []int
		c      int
		want   int
	}{
		{[]int{3, 3}, 3, 3},
		{[]int{1, 3}, 3, 1},
		{[]int{1, 3}, 1, 3},
		{[]int{1, 3, 5}, 3, 1}, // tie -> shorter
		{[]int{1, 3, 4}, 3, 4},
		{[]int{0, 5, 9}, 5, 9},
	}
	for _, tc := range tests {
		if got := closestLenExcludingOne(tc.sorted, tc.c); got != tc.want {
			t.Errorf("closestLenExcludingOne(%v, %d) = %d, want %d", tc.sorted, tc.c, got, tc.want)
		}
	}
}

func TestMeanNLL(t *testing.T) {
	tests := []struct {
		name string
		logp [][]float32
		want float64
	}{
		{"simple", [][]float32{{-1, -2}, {-3}}, 2},
		{"length weighted", [][]float32{{-1}, {-4, -4, -4}}, 13.0 / 4},
		{"empty", nil, 0},
		{"empty rows", [][]float32{{}, {}}, 0},
		{"ln half", [][]float32{{float32(math.Log(0.5))}}, math.Ln2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MeanNLL(tc.logp); math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("MeanNLL = %v, want %v", got, tc.want)
			}
		})
	}
}

func randomCorpus(n, l, vocab int) [][]int {
	rng := rand.New(rand.NewPCG(3, 4))
	seqs := make([][]int, n)
	for i := range seqs {
		s := make([]int, l)
		for j := range s {
			s[j] = rng.IntN(vocab)
		}
		seqs[i] = s
	}
	return seqs
}

// TestSelfBLEULarge guards against quadratic behaviour: 5000 sequences of 20
// tokens takes well under a second when linear (the naive way takes minutes).
func TestSelfBLEULarge(t *testing.T) {
	seqs := randomCorpus(5000, 20, 500)
	got := SelfBLEU(seqs, 4, 0)
	if !(got > 0 && got < 1) {
		t.Fatalf("SelfBLEU = %v, want in (0, 1)", got)
	}
}

func BenchmarkSelfBLEU(b *testing.B) {
	seqs := randomCorpus(2000, 20, 500)
	for b.Loop() {
		SelfBLEU(seqs, 4, 0)
	}
}
