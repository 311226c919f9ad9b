package embeddings

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/embeddings/glove"
	"promptgan/embeddings/hashing"
	"promptgan/internal/cache"
)

func writeToyVectors(t *testing.T) string {
	t.Helper()
	v, err := glove.NewVectors(2, []string{"the", "cat", "sat", "mat"}, []float32{1, 0, 0, 1, 1, 1, 2, -1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "toy.f32")
	if err := v.Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpen(t *testing.T) {
	toy := writeToyVectors(t)
	// An empty cache, and no .cache above the working directory: the
	// default file is missing even where setup ran.
	t.Setenv(cache.EnvDir, t.TempDir())
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		name    string
		spec    Spec
		wantDim int
		wantErr string // "" = success
	}{
		{"hashing default dim", Spec{Name: "hashing"}, hashing.DefaultDim, ""},
		{"hashing dim", Spec{Name: " Hashing ", Dim: 64}, 64, ""},
		{"hashing dim too small", Spec{Name: "hashing", Dim: 3}, 0, "dimension 3"},
		{"hashing with a file", Spec{Name: "hashing", Path: toy}, 0, "takes no vectors file"},
		{"glove file", Spec{Name: "glove-sif", Path: toy}, 2, ""},
		{"default is glove", Spec{Path: toy}, 2, ""},
		{"glove dim must match", Spec{Path: toy, Dim: 300}, 0, "has 2-dimensional vectors"},
		{"glove missing file", Spec{Path: filepath.Join(t.TempDir(), "none.f32")}, 0, "make setup"},
		{"glove not in the setup cache", Spec{}, 0, "run `make setup`"},
		{"unknown", Spec{Name: "word2vec"}, 0, `unknown encoder "word2vec"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := Open(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Open = %v; want an error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if enc.Dim() != tc.wantDim {
				t.Errorf("Dim = %d; want %d", enc.Dim(), tc.wantDim)
			}
			vecs, err := enc.Encode(context.Background(), []string{"the cat sat"})
			if err != nil || len(vecs) != 1 || len(vecs[0]) != tc.wantDim {
				t.Errorf("Encode = %v, %v; want one %d-vector", vecs, err, tc.wantDim)
			}
		})
	}
	if _, err := Open(Spec{}); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("Open without setup = %v; want it to wrap cache.ErrNotFound", err)
	}
}

func TestFitCommonComponent(t *testing.T) {
	toy := writeToyVectors(t)
	enc, err := Open(Spec{Path: toy})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	corpus := []string{"the cat", "sat mat", "the mat", "cat sat sat"}
	for _, wrapped := range []bool{false, true} {
		in := enc
		if wrapped {
			in = NewCache(enc, 8)
		}
		fitted, err := FitCommonComponent(ctx, in, corpus)
		if err != nil {
			t.Fatal(err)
		}
		if _, isCache := fitted.(*Cache); isCache != wrapped {
			t.Errorf("wrapped=%v: FitCommonComponent returned a %T", wrapped, fitted)
		}
		if fitted.Fingerprint() == enc.Fingerprint() {
			t.Errorf("wrapped=%v: the fingerprint did not change", wrapped)
		}
		raw, _ := enc.Encode(ctx, corpus)
		pc := glove.FitPC(raw)
		got, _ := fitted.Encode(ctx, corpus)
		for i, v := range got {
			if d := v[0]*pc[0] + v[1]*pc[1]; d > 1e-5 || d < -1e-5 {
				t.Errorf("wrapped=%v: %q keeps %g along the common component", wrapped, corpus[i], d)
			}
		}
	}
	if _, err := FitCommonComponent(ctx, enc, []string{"dogs bark"}); !errors.Is(err, ErrNoCommonComponent) {
		t.Errorf("FitCommonComponent with no known word = %v; want ErrNoCommonComponent", err)
	}
	h, _ := Open(Spec{Name: Hashing, Dim: 32})
	if same, err := FitCommonComponent(ctx, h, corpus); err != nil || same != h {
		t.Errorf("FitCommonComponent(hashing) = %v, %v; want the encoder unchanged", same, err)
	}
}

func TestOpenDefaultFromSetupCache(t *testing.T) {
	if _, err := cache.Find(glove.CacheFile, "GloVe vectors", "make setup"); err != nil {
		t.Skipf("no GloVe vectors (run scripts/setup-glove.sh): %v", err)
	}
	enc, err := Open(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if enc.Dim() != 100 || !strings.HasPrefix(enc.Fingerprint(), "glove-sif/") {
		t.Errorf("Open(default) = %d-d %q; want the 100-d GloVe-SIF encoder", enc.Dim(), enc.Fingerprint())
	}
}
