package metrics

import (
	"math"
	"sort"
)

// DistinctN returns the number of distinct n-grams divided by the total number
// of n-grams over all seqs (Li et al. 2016's distinct-n, computed over the
// whole set, not per sequence). It returns 0 if there are no n-grams (n <= 0
// or every sequence is shorter than n).
func DistinctN(seqs [][]int, n int) float64 {
	if n <= 0 {
		return 0
	}
	c := newNgramCounts()
	total := 0
	for _, s := range seqs {
		c.add(s, n)
		total += numNgrams(len(s), n)
	}
	if total == 0 {
		return 0
	}
	return float64(c.distinct()) / float64(total)
}

// MeanNLL returns the mean of -logp over all tokens, where logp[i][t] is the
// natural-log probability of token t of sequence i (so the result is in nats
// per token). Sequences of different lengths are weighted by their length.
// It returns 0 if there are no tokens. Accumulation is in float64.
func MeanNLL(logp [][]float32) float64 {
	var sum float64
	n := 0
	for _, seq := range logp {
		for _, lp := range seq {
			sum -= float64(lp)
		}
		n += len(seq)
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// bleuEpsilon is NLTK's SmoothingFunction default epsilon used by method1.
const bleuEpsilon = 0.1

// sentenceScore is the final step of NLTK's sentence_bleu, given for each
// order n = 1..maxN the clipped match count num[n-1] and the denominator
// den[n-1] = max(1, number of hypothesis n-grams), the hypothesis length c and
// the closest reference length r. BLEU and SelfBLEU both end here so that
// they agree bit for bit.
func sentenceScore(num, den []int, c, r int) float64 {
	if len(num) == 0 || num[0] == 0 {
		// NLTK: "Returns 0 if there's no matching n-grams" (checked on unigrams).
		return 0
	}
	w := 1 / float64(len(num))
	var s float64
	for i := range num {
		var p float64
		if num[i] == 0 {
			p = bleuEpsilon / float64(den[i]) // method1
		} else {
			p = float64(num[i]) / float64(den[i])
		}
		s += w * math.Log(p)
	}
	return brevityPenalty(r, c) * math.Exp(s)
}

// brevityPenalty is NLTK's brevity_penalty(closest_ref_len=r, hyp_len=c).
func brevityPenalty(r, c int) float64 {
	switch {
	case c > r:
		return 1
	case c == 0:
		return 0
	default:
		return math.Exp(1 - float64(r)/float64(c))
	}
}

// closestRefLen is NLTK's closest_ref_length: the reference length nearest to
// c, the shorter one on a tie.
func closestRefLen(refs [][]int, c int) int {
	best := -1
	for _, ref := range refs {
		l := len(ref)
		if best < 0 || absInt(l-c) < absInt(best-c) || (absInt(l-c) == absInt(best-c) && l < best) {
			best = l
		}
	}
	return best
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BLEU returns the sentence-level BLEU of hyp against refs exactly as NLTK's
//
//	sentence_bleu(refs, hyp, weights=(1/maxN,)*maxN,
//	              smoothing_function=SmoothingFunction().method1)
//
// computes it:
//
//   - For each order n = 1..maxN the modified precision is p_n = m_n / d_n,
//     where m_n = sum over the distinct n-grams g of hyp of
//     min(count_hyp(g), max over refs of count_ref(g)) (clipped counts) and
//     d_n = max(1, number of n-grams in hyp).
//   - If m_1 == 0 (no unigram of hyp occurs in any reference, including an
//     empty hyp) the result is 0, as in NLTK; no smoothing applies then.
//   - method1 smoothing: every p_n with m_n == 0 is replaced by 0.1 / d_n
//     (epsilon 0.1 added to the zero numerator, denominator unchanged), so a
//     hypothesis with unigram matches but no higher-order match, or shorter
//     than maxN, does not score 0.
//   - BLEU = BP * exp(sum_n (1/maxN) * ln p_n), with brevity penalty
//     BP = 1 if c > r, else exp(1 - r/c), where c = len(hyp) and r is the
//     reference length closest to c (the shorter one on a tie).
//
// It returns 0 if maxN <= 0 or refs is empty.
func BLEU(hyp []int, refs [][]int, maxN int) float64 {
	if maxN <= 0 || len(refs) == 0 {
		return 0
	}
	num := make([]int, maxN)
	den := make([]int, maxN)
	hc := newNgramCounts()
	rc := make([]*ngramCounts, len(refs))
	for i := range rc {
		rc[i] = newNgramCounts()
	}
	for n := 1; n <= maxN; n++ {
		hc.reset()
		hc.add(hyp, n)
		for i, ref := range refs {
			rc[i].reset()
			rc[i].add(ref, n)
		}
		m := 0
		for k, c := range hc.small {
			mx := 0
			for _, r := range rc {
				mx = max(mx, r.small[k])
			}
			m += min(c, mx)
		}
		for k, c := range hc.big {
			mx := 0
			for _, r := range rc {
				mx = max(mx, r.big[k])
			}
			m += min(c, mx)
		}
		num[n-1] = m
		den[n-1] = max(1, numNgrams(len(hyp), n))
	}
	return sentenceScore(num, den, len(hyp), closestRefLen(refs, len(hyp)))
}

// topCounts holds, for one n-gram, its largest and second-largest
// per-sentence count over all sentences and the sentence holding the largest.
// "Max over all sentences except s" is then top2 if s == arg, else top1.
type topCounts struct {
	top1, top2 int32
	arg        int32
}

func (t *topCounts) update(count, sent int) {
	c := int32(count)
	if c > t.top1 {
		t.top2 = t.top1
		t.top1 = c
		t.arg = int32(sent)
	} else if c > t.top2 {
		t.top2 = c
	}
}

func (t topCounts) excluding(sent int) int {
	if int(t.arg) == sent {
		return int(t.top2)
	}
	return int(t.top1)
}

// SelfBLEU returns Texygen's Self-BLEU (Zhu et al. 2018): the mean over the
// first hyps sequences of seqs (all of them if hyps <= 0 or hyps > len(seqs))
// of BLEU(seqs[i], all other sequences of seqs, maxN), with BLEU exactly as
// documented on [BLEU]. Higher means less diverse. Sequence i is excluded by
// position, so an identical copy of it elsewhere in seqs still counts as a
// reference. It returns 0 if len(seqs) < 2 or maxN <= 0.
//
// It gives exactly the same number as that naive definition but runs in time
// linear in the total number of n-grams: for every n-gram it records its
// largest and second-largest per-sentence count (and which sentence holds the
// largest), so the clipped count against "all others" is known without
// scanning the other sentences; the closest reference length comes from the
// sorted sequence lengths with one copy of the hypothesis's own length removed.
func SelfBLEU(seqs [][]int, maxN int, hyps int) float64 {
	if len(seqs) < 2 || maxN <= 0 {
		return 0
	}
	if hyps <= 0 || hyps > len(seqs) {
		hyps = len(seqs)
	}
	if len(seqs) > math.MaxInt32 {
		panic("metrics: SelfBLEU: too many sequences")
	}
	num := make([]int, hyps*maxN)
	local := newNgramCounts()
	for n := 1; n <= maxN; n++ {
		small := map[uint64]topCounts{}
		big := map[string]topCounts{}
		for s, seq := range seqs {
			local.reset()
			local.add(seq, n)
			for k, c := range local.small {
				t := small[k]
				t.update(c, s)
				small[k] = t
			}
			for k, c := range local.big {
				t := big[k]
				t.update(c, s)
				big[k] = t
			}
		}
		for h := 0; h < hyps; h++ {
			local.reset()
			local.add(seqs[h], n)
			m := 0
			for k, c := range local.small {
				m += min(c, small[k].excluding(h))
			}
			for k, c := range local.big {
				m += min(c, big[k].excluding(h))
			}
			num[h*maxN+n-1] = m
		}
	}

	lens := make([]int, len(seqs))
	for i, s := range seqs {
		lens[i] = len(s)
	}
	sort.Ints(lens)

	den := make([]int, maxN)
	var sum float64
	for h := 0; h < hyps; h++ {
		c := len(seqs[h])
		for n := 1; n <= maxN; n++ {
			den[n-1] = max(1, numNgrams(c, n))
		}
		sum += sentenceScore(num[h*maxN:(h+1)*maxN], den, c, closestLenExcludingOne(lens, c))
	}
	return sum / float64(hyps)
}

// closestLenExcludingOne returns the value of sorted (ascending, containing c
// at least once) nearest to c after removing one copy of c, the smaller on a
// tie. len(sorted) must be >= 2.
func closestLenExcludingOne(sorted []int, c int) int {
	lo := sort.SearchInts(sorted, c) // first index with sorted[lo] >= c; sorted[lo] == c
	if lo+1 < len(sorted) && sorted[lo+1] == c {
		return c // another sequence has the same length
	}
	// Neighbours: sorted[lo-1] (< c) and sorted[lo+1] (> c).
	switch {
	case lo == 0:
		return sorted[lo+1]
	case lo+1 >= len(sorted):
		return sorted[lo-1]
	}
	below, above := sorted[lo-1], sorted[lo+1]
	if above-c < c-below {
		return above
	}
	return below
}
