package glove

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"promptgan/internal/cache"
)

// realVectors loads the GloVe file `make setup` writes, once per test
// binary, or skips when setup has not run.
var realVectors = sync.OnceValues(func() (*Vectors, error) {
	path, err := cache.Find(CacheFile, "GloVe vectors", "make setup")
	if err != nil {
		return nil, err
	}
	return Load(path)
})

func loadRealOrSkip(t testing.TB) *Vectors {
	t.Helper()
	v, err := realVectors()
	if err != nil {
		if _, findErr := cache.Find(CacheFile, "GloVe vectors", "make setup"); findErr != nil {
			t.Skipf("no GloVe vectors (run scripts/setup-glove.sh): %v", findErr)
		}
		t.Fatal(err)
	}
	return v
}

// TestRealGloVe checks the converted file's layout and that SIF vectors
// rank a paraphrase above an unrelated sentence.
func TestRealGloVe(t *testing.T) {
	v := loadRealOrSkip(t)
	if v.Dim != 100 || len(v.Words) != DefaultWords || v.SourceSize != 341479 {
		t.Fatalf("vectors: %d-d, %d words of %d; want 100-d, %d of 341479", v.Dim, len(v.Words), v.SourceSize, DefaultWords)
	}
	for word, rank := range map[string]int{"the": 0, ",": 1, ".": 2, "of": 3} {
		if got := v.Lookup(word); got != rank {
			t.Errorf("rank of %q = %d; want %d (frequency order)", word, got, rank)
		}
	}
	for _, word := range []string{"do", "ca", "wo", "cross-country"} {
		if v.Lookup(word) < 0 {
			t.Errorf("%q missing: the tokeniser relies on it", word)
		}
	}
	base, err := New(v, Options{})
	if err != nil {
		t.Fatal(err)
	}
	corpus := []string{
		"The cat sat on the mat.", "A kitten slept on the rug.", "Stock markets fell sharply today.",
		"The company reported higher quarterly profits.", "The team won the championship game.",
		"She played the piano beautifully.", "Heavy rain flooded the streets.", "He doesn't like cold coffee.",
	}
	vecs, err := base.Encode(context.Background(), corpus)
	if err != nil {
		t.Fatal(err)
	}
	e, err := base.WithPC(FitPC(vecs))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.Encode(context.Background(), []string{corpus[0], corpus[1], corpus[2]})
	if err != nil {
		t.Fatal(err)
	}
	near, far := cosine(got[0], got[1]), cosine(got[0], got[2])
	if !(near > far+0.1) {
		t.Errorf("cos(cat/mat, kitten/rug) = %.3f, cos(cat/mat, markets) = %.3f; want the paraphrase clearly closer", near, far)
	}
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// BenchmarkLoad measures loading and verifying the setup cache's GloVe file.
func BenchmarkLoad(b *testing.B) {
	path, err := cache.Find(CacheFile, "GloVe vectors", "make setup")
	if err != nil {
		b.Skipf("no GloVe vectors (run scripts/setup-glove.sh): %v", err)
	}
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSentences returns n realistic 10–20-word sentences, deterministic.
func benchSentences(n int) []string {
	subjects := []string{"The old man", "A young woman", "Our new neighbour", "The small company", "My brother", "The city council"}
	verbs := []string{"quietly walked", "decided to drive", "finally wrote a letter", "has been working", "didn't want to go", "carefully explained everything"}
	objects := []string{"to the market near the river", "about the weather and the long winter", "for the second time this year",
		"while the children played outside in the park", "because the price of bread had risen again", "with a smile, and nobody complained"}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %s %s, and then %s %s.", subjects[i%6], verbs[(i/6)%6], objects[(i/36)%6], verbs[(i/7)%6], objects[(i/5)%6])
	}
	return out
}

// BenchmarkEncode reports SIF sentences/s on batches of 10,000 (both
// cores). Real GloVe when setup ran; the metric is what matters.
func BenchmarkEncode(b *testing.B) {
	v := loadRealOrSkip(b)
	e, err := New(v, Options{PC: v.Row(0)})
	if err != nil {
		b.Fatal(err)
	}
	texts := benchSentences(10_000)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.Encode(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(texts))/b.Elapsed().Seconds(), "sentences/s")
}
