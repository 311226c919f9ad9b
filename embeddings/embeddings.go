package embeddings

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"promptgan/embeddings/glove"
	"promptgan/embeddings/hashing"
	"promptgan/internal/cache"
)

// Encoder turns texts into fixed-length vectors.
type Encoder interface {
	// Encode returns one Dim()-long vector per text, in order (batched).
	Encode(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	// Fingerprint changes whenever any vector could change (files' SHA-256,
	// settings); cache keys and checkpoints use it.
	Fingerprint() string
}

// Encoder names Spec.Name accepts.
const (
	GloveSIF = "glove-sif"
	Hashing  = "hashing"
)

// Spec names an encoder and its settings.
type Spec struct {
	Name string // GloveSIF (the default when empty) or Hashing
	Path string // GloVe vectors file; "" = the one `make setup` puts in the setup cache
	Dim  int    // Hashing's dimension (0 = hashing.DefaultDim); GloVe's comes from its file
}

// Open builds the encoder spec names. A GloVe-SIF encoder removes no common
// component yet: fit one on the run's texts with FitCommonComponent.
func Open(spec Spec) (Encoder, error) {
	switch strings.ToLower(strings.TrimSpace(spec.Name)) {
	case "", GloveSIF:
		path := spec.Path
		if path == "" {
			p, err := cache.Find(glove.CacheFile, "GloVe vectors", "make setup")
			if err != nil {
				return nil, fmt.Errorf("embeddings %s: %w (or choose the model-free encoder %q)", GloveSIF, err, Hashing)
			}
			path = p
		}
		v, err := glove.Load(path)
		if err != nil {
			return nil, fmt.Errorf("embeddings %s: %w", GloveSIF, err)
		}
		if spec.Dim != 0 && spec.Dim != v.Dim {
			return nil, fmt.Errorf("embeddings %s: dimension %d asked for, but %s has %d-dimensional vectors (leave the dimension unset)", GloveSIF, spec.Dim, path, v.Dim)
		}
		return glove.New(v, glove.Options{})
	case Hashing:
		if spec.Path != "" {
			return nil, fmt.Errorf("embeddings %s: takes no vectors file (got %q); it needs no model", Hashing, spec.Path)
		}
		e, err := hashing.New(spec.Dim)
		if err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
		return e, nil
	default:
		return nil, fmt.Errorf("embeddings: unknown encoder %q; choose %q (default) or %q", spec.Name, GloveSIF, Hashing)
	}
}

// ErrNoCommonComponent is returned by FitCommonComponent when the corpus
// gives no component to remove (it is empty, or no text has a known word).
var ErrNoCommonComponent = errors.New("no common component: no text of the corpus has a known word")

// FitCommonComponent completes SIF: for a GloVe-SIF encoder (directly or
// behind a Cache) it encodes corpus, fits the first principal component
// (glove.FitPC) and returns an encoder that removes it, with a new
// fingerprint. Other encoders have no such step and come back unchanged.
func FitCommonComponent(ctx context.Context, enc Encoder, corpus []string) (Encoder, error) {
	cached, isCache := enc.(*Cache)
	inner := enc
	if isCache {
		inner = cached.enc
	}
	sif, ok := inner.(*glove.Encoder)
	if !ok {
		return enc, nil
	}
	base, err := sif.WithPC(nil)
	if err != nil {
		return nil, err
	}
	vecs, err := base.Encode(ctx, corpus)
	if err != nil {
		return nil, fmt.Errorf("fit SIF common component: %w", err)
	}
	pc := glove.FitPC(vecs)
	if pc == nil {
		return nil, fmt.Errorf("fit SIF common component on %d texts: %w", len(corpus), ErrNoCommonComponent)
	}
	fitted, err := sif.WithPC(pc)
	if err != nil {
		return nil, err
	}
	if isCache {
		return NewCache(fitted, cached.max), nil
	}
	return fitted, nil
}
