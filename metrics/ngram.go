package metrics

import "encoding/binary"

// ngramCounts counts n-grams of one order. N-grams of up to four ids that all
// lie in [0, 2^16) are packed into a uint64; any other n-gram (longer, or with
// a negative or large id) is keyed by a string holding its ids as 8-byte
// big-endian words. The choice depends only on the n-gram itself, so an
// n-gram always lands in the same map.
type ngramCounts struct {
	small map[uint64]int
	big   map[string]int
}

func newNgramCounts() *ngramCounts {
	return &ngramCounts{small: map[uint64]int{}, big: map[string]int{}}
}

func (c *ngramCounts) reset() {
	clear(c.small)
	clear(c.big)
}

// packSmall packs g into a uint64 if len(g) <= 4 and every id is in [0, 2^16).
func packSmall(g []int) (uint64, bool) {
	if len(g) > 4 {
		return 0, false
	}
	var k uint64
	for _, id := range g {
		if id < 0 || id >= 1<<16 {
			return 0, false
		}
		k = k<<16 | uint64(id)
	}
	return k, true
}

// bigKey encodes g as a string of 8-byte big-endian words.
func bigKey(g []int, buf []byte) ([]byte, string) {
	buf = buf[:0]
	for _, id := range g {
		buf = binary.BigEndian.AppendUint64(buf, uint64(id))
	}
	return buf, string(buf)
}

// add counts every n-gram of seq (none if len(seq) < n).
func (c *ngramCounts) add(seq []int, n int) {
	var buf []byte
	for i := 0; i+n <= len(seq); i++ {
		g := seq[i : i+n]
		if k, ok := packSmall(g); ok {
			c.small[k]++
			continue
		}
		var s string
		buf, s = bigKey(g, buf)
		c.big[s]++
	}
}

func (c *ngramCounts) distinct() int { return len(c.small) + len(c.big) }

// numNgrams returns the number of n-grams (with repetition) in a sequence of
// length l.
func numNgrams(l, n int) int {
	if n <= 0 || l < n {
		return 0
	}
	return l - n + 1
}
