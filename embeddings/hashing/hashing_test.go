package hashing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// reference encodes text the slow, obvious way, from the package doc:
// feature strings counted in a map, hashed with the standard library's FNV-1a.
func reference(text string, dim int) []float64 {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r))
	})
	counts := map[string]int{}
	for i, w := range words {
		counts["w"+w]++
		if i+1 < len(words) {
			counts["b"+w+" "+words[i+1]]++
		}
		marked := []rune("<" + w + ">")
		for n := 3; n <= 4; n++ {
			for j := 0; j+n <= len(marked); j++ {
				counts[fmt.Sprintf("c%d%s", n, string(marked[j:j+n]))]++
			}
		}
	}
	v := make([]float64, dim)
	for f, c := range counts {
		h := fnv.New64a()
		h.Write([]byte(f))
		x := fmix(h.Sum64())
		val := 1 + math.Log(float64(c))
		if x>>63 != 0 {
			val = -val
		}
		v[(x&(1<<63-1))%uint64(dim)] += val
	}
	n := 0.0
	for _, x := range v {
		n += x * x
	}
	if n > 0 {
		for i := range v {
			v[i] /= math.Sqrt(n)
		}
	}
	return v
}

func TestEncodeMatchesReference(t *testing.T) {
	texts := []string{
		"", "   ", "!!!", "cat", "The cat sat on the mat.", "cat cat cat", "the the the the cat the",
		"Naïve CAFÉ, déjà vu — 42 times?", "don't stop", "ab", "x y z w", "日本語のテキスト",
	}
	for _, dim := range []int{MinDim, 64, DefaultDim} {
		e, err := New(dim)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Encode(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		for i, text := range texts {
			want := reference(text, dim)
			for j := range want {
				if math.Abs(float64(got[i][j])-want[j]) > 1e-6 {
					t.Fatalf("dim %d, %q: bucket %d = %g; reference %g", dim, text, j, got[i][j], want[j])
				}
			}
		}
	}
}

func TestEncodeProperties(t *testing.T) {
	e, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Dim() != DefaultDim {
		t.Fatalf("Dim = %d; want %d", e.Dim(), DefaultDim)
	}
	enc := func(text string) []float32 {
		v, err := e.Encode(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		return v[0]
	}
	if v := enc("The Cat!"); !slices.Equal(v, enc("the cat")) {
		t.Error("case and punctuation change the vector")
	}
	if n := norm(enc("a fine day")); math.Abs(n-1) > 1e-6 {
		t.Errorf("norm = %g; want 1", n)
	}
	if n := norm(enc("?!")); n != 0 {
		t.Errorf("a text without words has norm %g; want the zero vector", n)
	}
	a, b, c := enc("the encoder encodes sentences"), enc("an encoder encoding sentences"), enc("heavy rain flooded streets")
	if dot(a, b) <= dot(a, c)+0.2 {
		t.Errorf("cos(related) = %.3f, cos(unrelated) = %.3f; want related clearly higher", dot(a, b), dot(a, c))
	}
}

// TestGolden pins the vectors across processes, platforms and releases: a
// change to the features or the hash must change the fingerprint too.
func TestGolden(t *testing.T) {
	e, err := New(64)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Encode(context.Background(), []string{"The quick brown fox jumps over the lazy dog."})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, x := range v[0] {
		h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(x)))
	}
	const want = "6a423cf71aa1a39a5347f6270a87b13f0d94c958ab3172beae0830e26526c56e"
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("vector hash %s; want %s (if the features changed on purpose, bump the fingerprint's version and this value)", got, want)
	}
	if fp := e.Fingerprint(); !strings.HasPrefix(fp, "hashing/v1 ") || !strings.Contains(fp, "dim=64") {
		t.Errorf("Fingerprint = %q", fp)
	}
}

func TestNewErrors(t *testing.T) {
	for _, dim := range []int{-1, 1, MinDim - 1, MaxDim + 1} {
		if _, err := New(dim); err == nil || !strings.Contains(err.Error(), fmt.Sprint(dim)) {
			t.Errorf("New(%d) = %v; want an error naming the dimension", dim, err)
		}
	}
}

func TestEncodeParallelAndCancel(t *testing.T) {
	e, err := New(128)
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, 2*parallelMin+3)
	for i := range texts {
		texts[i] = fmt.Sprintf("sentence number %d with word%d", i, i%17)
	}
	batch, err := e.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, parallelMin, len(texts) - 1} {
		one, _ := e.Encode(context.Background(), texts[i:i+1])
		if !slices.Equal(one[0], batch[i]) {
			t.Errorf("text %d differs in a batch and alone", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Encode(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Errorf("Encode with a cancelled context = %v; want context.Canceled", err)
	}
}

func norm(v []float32) float64 { return math.Sqrt(dot(v, v)) }

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func BenchmarkEncode(b *testing.B) {
	e, err := New(DefaultDim)
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, 10_000)
	for i := range texts {
		texts[i] = fmt.Sprintf("The old man number %d quietly walked to the market near the river, and then he bought some bread.", i%97)
	}
	for b.Loop() {
		if _, err := e.Encode(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "sentences/s")
}
