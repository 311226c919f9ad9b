package hashing

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"unicode"
	"unicode/utf8"

	"promptgan/internal/parallel"
)

const (
	// DefaultDim is the vector length when none is chosen.
	DefaultDim = 512
	// MinDim and MaxDim bound the vector length: under 16 buckets nearly
	// every feature collides; over 2^20 the vectors are mostly zeros and
	// cost memory for nothing.
	MinDim = 16
	MaxDim = 1 << 20
	// parallelMin is the batch size from which Encode splits the work.
	parallelMin = 256
)

// Encoder is a hashing encoder of fixed dimension. It is safe for concurrent use.
type Encoder struct {
	dim     int
	workers int
}

// New returns a hashing encoder of dim dimensions (0 means DefaultDim).
func New(dim int) (*Encoder, error) {
	if dim == 0 {
		dim = DefaultDim
	}
	if dim < MinDim || dim > MaxDim {
		return nil, fmt.Errorf("hashing encoder: dimension %d outside %d..%d", dim, MinDim, MaxDim)
	}
	return &Encoder{dim: dim, workers: runtime.GOMAXPROCS(0)}, nil
}

// Dim is the vector length.
func (e *Encoder) Dim() int { return e.dim }

// Fingerprint names the feature set, the hash and the dimension.
func (e *Encoder) Fingerprint() string {
	return fmt.Sprintf("hashing/v1 features=w1,w2,c3,c4 hash=fnv1a64+fmix64 tf=1+ln dim=%d", e.dim)
}

// Encode returns one L2-normalised Dim()-long vector per text.
func (e *Encoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	flat := make([]float32, len(texts)*e.dim)
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*e.dim : (i+1)*e.dim : (i+1)*e.dim]
	}
	workers := e.workers
	if len(texts) < parallelMin {
		workers = 1
	}
	if err := parallel.ForErr(len(texts), workers, func(lo, hi int) error {
		var s scratch
		for i := lo; i < hi; i++ {
			if (i-lo)%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("hashing encode: %w", err)
				}
			}
			s.encode(texts[i], out[i])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// scratch holds one goroutine's reusable buffers.
type scratch struct {
	lower  []byte   // the text's words, lower-cased, back to back
	bounds []int    // word i is lower[bounds[i]:bounds[i+1]]
	runes  []int    // byte offsets of rune starts inside one "<word>"
	marked []byte   // "<word>"
	feats  []uint64 // feature hashes of the text
}

func (s *scratch) encode(text string, dst []float32) {
	s.split(text)
	s.feats = s.feats[:0]
	nw := len(s.bounds) - 1
	for i := 0; i < nw; i++ {
		w := s.lower[s.bounds[i]:s.bounds[i+1]]
		s.feats = append(s.feats, fmix(fnvAdd(fnvByte(fnvOffset, 'w'), w)))
		if i+1 < nw {
			h := fnvAdd(fnvByte(fnvOffset, 'b'), w)
			h = fnvByte(h, ' ')
			h = fnvAdd(h, s.lower[s.bounds[i+1]:s.bounds[i+2]])
			s.feats = append(s.feats, fmix(h))
		}
		s.charGrams(w)
	}
	if len(s.feats) == 0 {
		return
	}
	slices.Sort(s.feats)
	dim := uint64(len(dst))
	for i := 0; i < len(s.feats); {
		j := i + 1
		for j < len(s.feats) && s.feats[j] == s.feats[i] {
			j++
		}
		h := s.feats[i]
		v := float32(1 + math.Log(float64(j-i)))
		if h>>63 != 0 {
			v = -v
		}
		dst[(h&(1<<63-1))%dim] += v
		i = j
	}
	var norm float64
	for _, x := range dst {
		// The conversion forbids fusing into an FMA (arm64 would), so the
		// vectors are bit-identical on every platform.
		norm += float64(float64(x) * float64(x))
	}
	if norm == 0 { // every feature cancelled out in its bucket
		return
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range dst {
		dst[i] *= inv
	}
}

// split lower-cases text's words into s.lower and records their bounds.
func (s *scratch) split(text string) {
	s.lower, s.bounds = s.lower[:0], append(s.bounds[:0], 0)
	inWord := false
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		i += size
		word := false
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			word = 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
		default:
			word = unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
			r = unicode.ToLower(r)
		}
		if word {
			s.lower = utf8.AppendRune(s.lower, r)
		} else if inWord {
			s.bounds = append(s.bounds, len(s.lower))
		}
		inWord = word
	}
	if inWord {
		s.bounds = append(s.bounds, len(s.lower))
	}
}

// charGrams appends the hashes of the 3- and 4-grams of "<w>".
func (s *scratch) charGrams(w []byte) {
	s.marked = append(append(append(s.marked[:0], '<'), w...), '>')
	s.runes = s.runes[:0]
	for i := 0; i < len(s.marked); {
		s.runes = append(s.runes, i)
		if s.marked[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRune(s.marked[i:])
			i += size
		}
	}
	s.runes = append(s.runes, len(s.marked))
	nr := len(s.runes) - 1
	for n := 3; n <= 4; n++ {
		for i := 0; i+n <= nr; i++ {
			h := fnvByte(fnvByte(fnvOffset, 'c'), byte('0'+n))
			s.feats = append(s.feats, fmix(fnvAdd(h, s.marked[s.runes[i]:s.runes[i+n]])))
		}
	}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvAdd(h uint64, p []byte) uint64 {
	for _, b := range p {
		h = (h ^ uint64(b)) * fnvPrime
	}
	return h
}

// fmix is murmur3's 64-bit finaliser: FNV's high bits mix poorly, and the
// sign is taken from the top bit.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
