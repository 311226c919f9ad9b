package embeddings

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"promptgan/embeddings/glove"
	"promptgan/embeddings/hashing"
	"promptgan/embeddings/onnx"
	"promptgan/internal/cache"
	"promptgan/internal/ort"
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
	ONNX     = "onnx"
)

// Spec names an encoder and its settings.
type Spec struct {
	Name    string // GloveSIF (the default when empty), Hashing or ONNX
	Path    string // GloVe vectors file ("" = the one `make setup` puts in the setup cache); ONNX: the export's directory
	Dim     int    // Hashing's dimension (0 = hashing.DefaultDim); GloVe's and ONNX's come from their files
	Library string // ONNX: the ONNX Runtime library ("" = the usual search)
	Device  string // ONNX: cpu, cuda or auto ("" = cpu)
}

// ParseSpec reads an encoder as a run's config or a flag names it:
// "glove-sif", "glove-sif:VECTORS", "hashing", "hashing:DIM" or "onnx:DIR"
// (an Optimum feature-extraction export: model.onnx + tokenizer.json).
func ParseSpec(s string) (Spec, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	switch strings.ToLower(name) {
	case "", GloveSIF:
		return Spec{Name: GloveSIF, Path: arg}, nil
	case Hashing:
		if !hasArg {
			return Spec{Name: Hashing}, nil
		}
		dim, err := strconv.Atoi(arg)
		if err != nil || dim < hashing.MinDim || dim > hashing.MaxDim {
			return Spec{}, fmt.Errorf("encoder %q: hashing:DIM needs a dimension from %d to %d, e.g. hashing:512", s, hashing.MinDim, hashing.MaxDim)
		}
		return Spec{Name: Hashing, Dim: dim}, nil
	case ONNX:
		if arg == "" {
			return Spec{}, fmt.Errorf("encoder %q: onnx:DIR needs the directory of a feature-extraction export (model.onnx, tokenizer.json)", s)
		}
		return Spec{Name: ONNX, Path: arg}, nil
	}
	return Spec{}, fmt.Errorf("encoder %q: choose glove-sif, hashing[:DIM] or onnx:DIR", s)
}

// OpenFitted is Open followed by FitCommonComponent on corpus: the encoder
// a run uses, GloVe-SIF fitted on the run's training texts.
func OpenFitted(ctx context.Context, spec Spec, corpus []string) (Encoder, error) {
	enc, err := Open(spec)
	if err != nil {
		return nil, err
	}
	return FitCommonComponent(ctx, enc, corpus)
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
	case ONNX:
		device := ort.CPU
		if spec.Device != "" {
			d, err := ort.ParseDevice(spec.Device)
			if err != nil {
				return nil, fmt.Errorf("embeddings %s: %w", ONNX, err)
			}
			device = d
		}
		// The session lives as long as the process: runs keep their encoder to the end.
		e, err := onnx.Open(spec.Path, onnx.Options{Library: spec.Library, Device: device})
		if err != nil {
			return nil, fmt.Errorf("embeddings %s: %w", ONNX, err)
		}
		return e, nil
	default:
		return nil, fmt.Errorf("embeddings: unknown encoder %q; choose %q (default), %q or %q", spec.Name, GloveSIF, Hashing, ONNX)
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
