package glove

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"  \t\n", nil},
		{"The Cat sat.", []string{"the", "cat", "sat", "."}},
		{"Hello, World!", []string{"hello", ",", "world", "!"}},
		{"Don't stop", []string{"do", "n't", "stop"}},
		{"I CAN'T and won’t", []string{"i", "ca", "n't", "and", "wo", "n't"}},
		{"it's John's", []string{"it", "'s", "john", "'s"}},
		{"we'll", []string{"we", "'ll"}},
		{"cross-country e-mail", []string{"cross-country", "e-mail"}},
		{"a--b end- -start", []string{"a", "-", "-", "b", "end", "-", "-", "start"}},
		{"'quoted'", []string{"'quoted", "'"}},
		{"naïve CAFÉ", []string{"naïve", "café"}},
		{"$5.00 (ok)", []string{"$", "5", ".", "00", "(", "ok", ")"}},
		{"win", []string{"win"}},
		{"an't", []string{"a", "n't"}},
		{"nt's", []string{"nt", "'s"}},
		{"wasn'tx", []string{"wasn", "'tx"}},
	} {
		var got []string
		forEachToken(tc.text, nil, func(tok []byte) { got = append(got, string(tok)) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("tokens(%q) = %q; want %q", tc.text, got, tc.want)
		}
	}
}

// TestSIFHandComputed checks Encode against the formula worked by hand on
// the toy table: ranks the=1 cat=2 sat=3 ,=4 mat=5, source N = 5,
// H_5 = 137/60, p(r) = 60/(137 r), weight(r) = a/(a + p(r)).
func TestSIFHandComputed(t *testing.T) {
	const a = 0.1
	weight := func(r float64) float64 { return a / (a + 60/(137*r)) }
	w1, w2, w3, w4, w5 := weight(1), weight(2), weight(3), weight(4), weight(5)
	for _, tc := range []struct {
		name string
		text string
		pc   []float32
		want []float64
	}{
		{"one word", "cat", nil, []float64{0, 2 * w2, 0}},
		{"unknown words skipped", "The dog sat", nil, []float64{w1 / 2, 0, 3 * w3 / 2}},
		{"punctuation is a word", "cat, mat", nil, []float64{(w4 - w5) / 3, (2*w2 + w4 + 2*w5) / 3, (w4 - 2*w5) / 3}},
		{"repeats count", "the the cat", nil, []float64{2 * w1 / 3, 2 * w2 / 3, 0}},
		{"no known word", "dogs bark", nil, []float64{0, 0, 0}},
		{"empty", "", nil, []float64{0, 0, 0}},
		// u = (1,0,0): the first coordinate goes.
		{"pc removed", "the sat", []float32{2, 0, 0}, []float64{0, 0, 3 * w3 / 2}},
		// u = (0,3,4)/5: v − u(u·v) with v = (0, 2w2, 0).
		{"oblique pc", "cat", []float32{0, 3, 4}, []float64{0, 2*w2 - 0.6*0.6*2*w2, -0.8 * 0.6 * 2 * w2}},
		{"no known word with pc", "dogs", []float32{0, 3, 4}, []float64{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(toy(t), Options{A: a, PC: tc.pc})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Encode(context.Background(), []string{tc.text})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || len(got[0]) != 3 {
				t.Fatalf("Encode = %v; want one 3-vector", got)
			}
			for i := range tc.want {
				if math.Abs(float64(got[0][i])-tc.want[i]) > 1e-6 {
					t.Fatalf("Encode(%q) = %v; want %v", tc.text, got[0], tc.want)
				}
			}
		})
	}
}

func TestNewErrorsAndFingerprint(t *testing.T) {
	v := toy(t)
	v.SHA256 = "abc"
	for _, tc := range []struct {
		name string
		opt  Options
		want string
	}{
		{"negative a", Options{A: -1}, "a = -1"},
		{"NaN a", Options{A: math.NaN()}, "a = NaN"},
		{"pc wrong length", Options{PC: []float32{1, 0}}, "2 dimensions"},
		{"zero pc", Options{PC: []float32{0, 0, 0}}, "norm 0"},
		{"negative workers", Options{Workers: -2}, "workers = -2"},
	} {
		if _, err := New(v, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v; want an error saying %q", tc.name, err, tc.want)
		}
	}
	base, err := New(v, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{base.Fingerprint(): "default"}
	for name, opt := range map[string]Options{
		"other a":  {A: 0.01},
		"pc":       {PC: []float32{1, 0, 0}},
		"other pc": {PC: []float32{0, 1, 0}},
	} {
		e, err := New(v, opt)
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := seen[e.Fingerprint()]; dup {
			t.Errorf("%s and %s share the fingerprint %q", name, prev, e.Fingerprint())
		}
		seen[e.Fingerprint()] = name
	}
	if same, _ := New(v, Options{A: DefaultA, PC: []float32{2, 0, 0}}); same.Fingerprint() != mustNew(t, v, Options{PC: []float32{1, 0, 0}}).Fingerprint() {
		t.Error("equal settings (a default or explicit, pc before or after normalising) give different fingerprints")
	}
	other := toy(t)
	other.SHA256 = "def"
	if mustNew(t, other, Options{}).Fingerprint() == base.Fingerprint() {
		t.Error("a different vectors file keeps the fingerprint")
	}
}

func mustNew(t *testing.T, v *Vectors, opt Options) *Encoder {
	t.Helper()
	e, err := New(v, opt)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEncodeParallel: a batch big enough to be split gives the same vectors
// as encoding each text alone.
func TestEncodeParallel(t *testing.T) {
	e := mustNew(t, toy(t), Options{Workers: 3, PC: []float32{1, 1, 0}})
	words := []string{"the", "cat", "sat", ",", "mat", "dog"}
	texts := make([]string, 3*parallelMin+7)
	for i := range texts {
		texts[i] = words[i%6] + " " + words[(i/6)%6] + " " + words[(i/36)%6]
	}
	batch, err := e.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := e.Encode(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(one[0], batch[i]) {
			t.Fatalf("text %d %q: batch %v, alone %v", i, text, batch[i], one[0])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Encode(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Errorf("Encode with a cancelled context = %v; want context.Canceled", err)
	}
}

func TestFitPC(t *testing.T) {
	s := float32(math.Sqrt(0.5))
	for _, tc := range []struct {
		name string
		vecs [][]float32
		want []float32 // nil: FitPC must return nil
	}{
		// XᵀX = [[3,1],[1,3]]: eigenvalues 4 along (1,1), 2 along (1,−1).
		{"2x2 known", [][]float32{{1, 1}, {1, 1}, {1, -1}}, []float32{s, s}},
		{"sign fixed", [][]float32{{-1, -1}, {-1, -1}, {-1, 1}}, []float32{s, s}},
		// Uncentred: a constant offset is the component, not the spread.
		{"uncentred", [][]float32{{0, 10, 1}, {0, 10, -1}}, []float32{0, 1, 0}},
		// Largest entry negative in the eigenvector → flipped to positive.
		{"negative axis", [][]float32{{0, 0, -5}, {1, 0, -5}}, nil},
		{"empty", nil, nil},
		{"ragged", [][]float32{{1, 2}, {1}}, nil},
		{"zeros", [][]float32{{0, 0}, {0, 0}}, nil},
		{"NaN", [][]float32{{float32(math.NaN()), 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FitPC(tc.vecs)
			if tc.name == "negative axis" {
				// Check the defining properties instead of a closed form.
				if got == nil || got[2] <= 0 || math.Abs(norm(got)-1) > 1e-6 {
					t.Fatalf("FitPC = %v; want a unit vector with a positive largest entry", got)
				}
				return
			}
			if tc.want == nil {
				if got != nil {
					t.Fatalf("FitPC = %v; want nil", got)
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("FitPC = %v; want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(float64(got[i]-tc.want[i])) > 1e-5 {
					t.Fatalf("FitPC = %v; want %v", got, tc.want)
				}
			}
		})
	}
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// TestFitPCRemovesCommonDirection: after removing the fitted component, the
// sentence vectors have no component along it (the point of SIF's step 2).
func TestFitPCRemovesCommonDirection(t *testing.T) {
	e := mustNew(t, toy(t), Options{})
	texts := []string{"the cat", "the sat", "cat , mat", "mat mat the", "sat"}
	vecs, err := e.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	pc := FitPC(vecs)
	fitted, err := e.WithPC(pc)
	if err != nil {
		t.Fatal(err)
	}
	after, err := fitted.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range after {
		dot := 0.0
		for j := range v {
			dot += float64(v[j]) * float64(pc[j])
		}
		if math.Abs(dot) > 1e-5 {
			t.Errorf("text %q keeps %g along the removed component", texts[i], dot)
		}
	}
}
