package glove

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"

	"promptgan/internal/parallel"
)

// DefaultA is SIF's smoothing weight a, the value the paper recommends.
const DefaultA = 1e-3

// parallelMin is the batch size from which Encode splits the work across
// goroutines; below it the goroutines cost more than they save.
const parallelMin = 512

// Options configure a SIF encoder.
type Options struct {
	A       float64   // SIF's a; 0 means DefaultA
	PC      []float32 // common component to remove (FitPC's result); nil: none
	Workers int       // goroutines for big batches; 0 means GOMAXPROCS
}

// Encoder turns texts into SIF sentence vectors. It is safe for concurrent use.
type Encoder struct {
	vec         *Vectors
	a           float64
	weight      []float32 // a/(a + p(w)) by rank
	pc          []float32 // unit vector, or nil
	workers     int
	fingerprint string
}

// New returns a SIF encoder over v.
func New(v *Vectors, opt Options) (*Encoder, error) {
	if v == nil {
		return nil, fmt.Errorf("SIF encoder: no vectors")
	}
	a := opt.A
	if a == 0 {
		a = DefaultA
	}
	if !(a > 0) || math.IsInf(a, 0) {
		return nil, fmt.Errorf("SIF encoder: a = %g; it must be a positive number (the paper uses %g)", a, DefaultA)
	}
	if opt.Workers < 0 {
		return nil, fmt.Errorf("SIF encoder: workers = %d; it must be ≥ 0 (0 = all cores)", opt.Workers)
	}
	e := &Encoder{vec: v, a: a, weight: zipfWeights(len(v.Words), v.SourceSize, a), workers: opt.Workers}
	if e.workers == 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	return e.WithPC(opt.PC)
}

// zipfWeights returns a/(a + p(r)) for ranks 1..n with Zipf's estimate
// p(r) = 1/(r·H_source) of a word's unigram probability.
func zipfWeights(n, source int, a float64) []float32 {
	h := 0.0
	for r := source; r >= 1; r-- { // smallest terms first: less rounding
		h += 1 / float64(r)
	}
	w := make([]float32, n)
	for i := range w {
		p := 1 / (float64(i+1) * h)
		w[i] = float32(a / (a + p))
	}
	return w
}

// WithPC returns a copy of e that removes the component pc (normalised to
// unit length) from every sentence vector; nil removes nothing.
func (e *Encoder) WithPC(pc []float32) (*Encoder, error) {
	out := *e
	out.pc = nil
	if pc != nil {
		if len(pc) != e.vec.Dim {
			return nil, fmt.Errorf("SIF encoder: principal component has %d dimensions; the vectors have %d", len(pc), e.vec.Dim)
		}
		norm := 0.0
		for _, x := range pc {
			norm += float64(x) * float64(x)
		}
		norm = math.Sqrt(norm)
		if !(norm > 0) || math.IsInf(norm, 0) {
			return nil, fmt.Errorf("SIF encoder: principal component has norm %g; it must be a finite non-zero vector", norm)
		}
		out.pc = make([]float32, len(pc))
		for i, x := range pc {
			out.pc[i] = float32(float64(x) / norm)
		}
	}
	pcHash := "none"
	if out.pc != nil {
		h := sha256.New()
		for _, x := range out.pc {
			h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)))
		}
		pcHash = hex.EncodeToString(h.Sum(nil))
	}
	out.fingerprint = fmt.Sprintf("glove-sif/v1 tokenizer=%d vectors=%s a=%g pc=%s", tokenizerVersion, e.vec.SHA256, e.a, pcHash)
	return &out, nil
}

// Dim is the vectors' dimension.
func (e *Encoder) Dim() int { return e.vec.Dim }

// Fingerprint names the vectors file (its SHA-256), the tokeniser, a and the
// removed component: equal fingerprints mean equal vectors for every text.
func (e *Encoder) Fingerprint() string { return e.fingerprint }

// Vectors returns the word vectors e reads.
func (e *Encoder) Vectors() *Vectors { return e.vec }

// PC returns the component e removes (nil: none).
func (e *Encoder) PC() []float32 { return e.pc }

// Encode returns one Dim()-long vector per text (see the package doc). Big
// batches are split across e's workers.
func (e *Encoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	dim := e.vec.Dim
	flat := make([]float32, len(texts)*dim)
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	workers := e.workers
	if len(texts) < parallelMin {
		workers = 1
	}
	if err := parallel.ForErr(len(texts), workers, func(lo, hi int) error {
		return e.encodeRange(ctx, texts[lo:hi], out[lo:hi])
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *Encoder) encodeRange(ctx context.Context, texts []string, out [][]float32) error {
	var buf []byte
	acc := make([]float32, e.vec.Dim)
	for i, text := range texts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("SIF encode: %w", err)
			}
		}
		clear(acc)
		known := 0
		buf = forEachToken(text, buf, func(tok []byte) {
			r, ok := e.vec.index[string(tok)]
			if !ok {
				return
			}
			known++
			axpy(e.weight[r], e.vec.Row(int(r)), acc)
		})
		if known == 0 {
			continue // the zero vector: nothing is known about this text
		}
		dst := out[i]
		inv := 1 / float32(known)
		for j, x := range acc {
			dst[j] = x * inv
		}
		if e.pc != nil {
			var dot float32
			for j, x := range dst {
				dot += x * e.pc[j]
			}
			axpy(-dot, e.pc, dst)
		}
	}
	return nil
}

// axpy adds alpha·x to y.
func axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// FitPC returns the first principal component of the sentence vectors vecs
// as SIF computes it: the unit first right-singular vector of the uncentred
// matrix whose rows are vecs, i.e. the top eigenvector of XᵀX. Its sign is
// fixed so that its largest-magnitude entry is positive, which makes the
// result deterministic. It returns nil when there is nothing to fit: no rows,
// rows of unequal length, non-finite values, or only zero vectors.
func FitPC(vecs [][]float32) []float32 {
	if len(vecs) == 0 || len(vecs[0]) == 0 {
		return nil
	}
	d := len(vecs[0])
	gram := make([]float64, d*d)
	for _, v := range vecs {
		if len(v) != d {
			return nil
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil
			}
			if x == 0 {
				continue
			}
			row := gram[i*d : (i+1)*d]
			for j := i; j < d; j++ {
				row[j] += float64(x) * float64(v[j])
			}
		}
	}
	for i := 0; i < d; i++ { // mirror the upper triangle
		for j := 0; j < i; j++ {
			gram[i*d+j] = gram[j*d+i]
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(d, gram), true) {
		return nil
	}
	values := eig.Values(nil) // ascending
	if !(values[d-1] > 0) {
		return nil
	}
	var vectors mat.Dense
	eig.VectorsTo(&vectors)
	pc := make([]float32, d)
	big := 0
	for i := range pc {
		if math.Abs(vectors.At(i, d-1)) > math.Abs(vectors.At(big, d-1)) {
			big = i
		}
	}
	sign := 1.0
	if vectors.At(big, d-1) < 0 {
		sign = -1
	}
	for i := range pc {
		pc[i] = float32(sign * vectors.At(i, d-1))
	}
	return pc
}

// DefaultWords is how many of the most frequent words setup keeps (see the
// package doc for why).
const DefaultWords = 100_000

// CacheFile is the vectors file's path inside the setup cache.
const CacheFile = "embeddings/glove-6b-100d.f32"
