package onnx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"promptgan/internal/filehash"
	"promptgan/internal/ort"
	"promptgan/internal/tokenize"
)

// The files of the layout.
const (
	ModelFile     = "model.onnx"
	TokenizerFile = "tokenizer.json"
	ConfigFile    = "config.json"
)

// The names of the model's inputs and output (Optimum's, for
// feature-extraction).
const (
	InputIDs       = "input_ids"
	AttentionMask  = "attention_mask"
	TokenTypeIDs   = "token_type_ids"
	LastHiddenName = "last_hidden_state"
)

// Defaults of the zero Options.
const (
	DefaultChunkSize = 32
	DefaultMaxLength = 512 // when config.json gives no max_position_embeddings
)

// Options configure Open.
type Options struct {
	Library   string     // ONNX Runtime library (file or directory); "" = ort.FindLibrary's search ($PROMPTGAN_ORT_LIB, then the setup cache)
	Device    ort.Device // cpu, cuda or auto; "" = cpu
	Threads   int        // ONNX Runtime intra-op threads; 0 = one per core
	ChunkSize int        // texts per ONNX Runtime run; 0 = DefaultChunkSize
	// MaxLength is the most tokens of a text the model sees, special tokens
	// included; longer texts are cut at the end. 0 = config.json's
	// max_position_embeddings, else DefaultMaxLength.
	MaxLength int
}

// Encoder is an ONNX sentence encoder opened from an Optimum-layout
// directory. Its Encode may be called from several goroutines at once;
// Close must not race with it.
type Encoder struct {
	dir         string
	sess        *ort.Session
	tok         *tokenize.Tokenizer
	typeIDs     bool // the model declares token_type_ids
	dim         int
	chunk       int
	maxLen      int
	pad         int64
	fingerprint string
}

// encoderConfig is what Open reads from config.json.
type encoderConfig struct {
	MaxPositions *int `json:"max_position_embeddings"`
	Hidden       *int `json:"hidden_size"`
}

// Open opens the sentence encoder in dir (model.onnx, tokenizer.json,
// optional config.json) with ONNX Runtime. Every problem is reported with
// the file at fault and what to do about it.
func Open(dir string, opt Options) (*Encoder, error) {
	if opt.ChunkSize < 0 {
		return nil, fmt.Errorf("embeddings/onnx: chunk size %d: must be ≥ 1 (0 = %d)", opt.ChunkSize, DefaultChunkSize)
	}
	if opt.MaxLength < 0 {
		return nil, fmt.Errorf("embeddings/onnx: max length %d: must be ≥ 1 (0 = config.json's max_position_embeddings, else %d)", opt.MaxLength, DefaultMaxLength)
	}
	if opt.Threads < 0 {
		return nil, fmt.Errorf("embeddings/onnx: threads %d: must be ≥ 1 (0 = one per core)", opt.Threads)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("embeddings/onnx: encoder directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("embeddings/onnx: %s is not a directory; give the directory that holds %s and %s", dir, ModelFile, TokenizerFile)
	}
	exportHint := fmt.Sprintf("export the encoder with `optimum-cli export onnx --model <model> --task feature-extraction %s`", dir)
	modelPath, tokPath, cfgPath := filepath.Join(dir, ModelFile), filepath.Join(dir, TokenizerFile), filepath.Join(dir, ConfigFile)
	for _, p := range []string{modelPath, tokPath} {
		if st, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: not found; %s", p, exportHint)
		} else if err != nil {
			return nil, fmt.Errorf("embeddings/onnx: %w", err)
		} else if st.IsDir() || st.Size() == 0 {
			return nil, fmt.Errorf("%s: empty or a directory, not the file it should be; %s", p, exportHint)
		}
	}
	cfg, cfgHash, err := readEncoderConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	e := &Encoder{dir: dir, chunk: opt.ChunkSize, maxLen: opt.MaxLength}
	if e.chunk == 0 {
		e.chunk = DefaultChunkSize
	}
	if e.maxLen == 0 {
		e.maxLen = DefaultMaxLength
		if cfg.MaxPositions != nil {
			e.maxLen = *cfg.MaxPositions
		}
	}
	if e.tok, err = tokenize.Load(tokPath); err != nil {
		return nil, fmt.Errorf("%w; the encoder needs a tokenizer.json that github.com/sugarme/tokenizer reads (WordPiece, BPE, WordLevel or Unigram models)", err)
	}
	if room := e.maxLen - e.tok.SpecialAdded(); room < 1 {
		return nil, fmt.Errorf("embeddings/onnx: a maximum length of %d leaves no room for text beside the %d special tokens %s adds; give a larger Options.MaxLength", e.maxLen, e.tok.SpecialAdded(), tokPath)
	}
	if id, ok := e.tok.PadID(); ok {
		e.pad = int64(id)
	}
	modelHash, err := filehash.SHA256(modelPath)
	if err != nil {
		return nil, fmt.Errorf("embeddings/onnx: %w", err)
	}
	tokHash, err := filehash.SHA256(tokPath)
	if err != nil {
		return nil, fmt.Errorf("embeddings/onnx: %w", err)
	}

	rt, err := ort.Load(opt.Library)
	if err != nil {
		return nil, fmt.Errorf("embeddings/onnx: %w", err)
	}
	if e.sess, err = rt.NewSession(modelPath, ort.Options{Device: opt.Device, Threads: opt.Threads}); err != nil {
		if opt.Device == "" || opt.Device == ort.CPU {
			// On the CPU the file itself is at fault (CUDA errors say
			// what to do on their own).
			return nil, fmt.Errorf("embeddings/onnx: %w; check that %s is a complete ONNX model, or %s", err, modelPath, exportHint)
		}
		return nil, fmt.Errorf("embeddings/onnx: %w", err)
	}
	if err := e.checkSignature(modelPath, cfgPath, cfg); err != nil {
		e.sess.Close()
		return nil, err
	}
	e.fingerprint = strings.Join([]string{
		fingerprintVersion,
		ModelFile + "=sha256:" + modelHash,
		TokenizerFile + "=sha256:" + tokHash,
		ConfigFile + "=" + cfgHash,
		"max_length=" + strconv.Itoa(e.maxLen),
		"pooling=mean;normalize=l2",
	}, ";")
	return e, nil
}

// fingerprintVersion names the fingerprint's format and the pooling
// semantics; it changes whenever either does.
const fingerprintVersion = "promptgan/embeddings/onnx/v1"

// readEncoderConfig reads config.json when present; cfgHash is
// "sha256:…" or "none".
func readEncoderConfig(path string) (cfg encoderConfig, cfgHash string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cfg, "none", nil
	} else if err != nil {
		return cfg, "", fmt.Errorf("embeddings/onnx: %w", err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, "", fmt.Errorf("%s: not a valid config.json: %w; fix it, or remove it to use the defaults", path, err)
	}
	if p := cfg.MaxPositions; p != nil && *p < 1 {
		return cfg, "", fmt.Errorf("%s: field max_position_embeddings is %d; it must be ≥ 1", path, *p)
	}
	if h := cfg.Hidden; h != nil && *h < 1 {
		return cfg, "", fmt.Errorf("%s: field hidden_size is %d; it must be ≥ 1", path, *h)
	}
	h, err := filehash.SHA256(path)
	if err != nil {
		return cfg, "", fmt.Errorf("embeddings/onnx: %w", err)
	}
	return cfg, "sha256:" + h, nil
}

// checkSignature checks the session's inputs and outputs against what
// Encode feeds and reads, and sets the vector dimension.
func (e *Encoder) checkSignature(modelPath, cfgPath string, cfg encoderConfig) error {
	ins, outs := e.sess.Inputs(), e.sess.Outputs()
	declared := fmt.Sprintf("it declares inputs %s and outputs %s", describe(ins), describe(outs))
	want := "a feature-extraction export takes input_ids, attention_mask (and optionally token_type_ids) as int64 [batch, sequence] and gives last_hidden_state as float32 [batch, sequence, hidden]"
	for _, name := range []string{InputIDs, AttentionMask} {
		if _, ok := e.sess.Input(name); !ok {
			return fmt.Errorf("%s: no input %s: %s; %s", modelPath, name, declared, want)
		}
	}
	for _, in := range ins {
		switch in.Name {
		case InputIDs, AttentionMask:
		case TokenTypeIDs:
			e.typeIDs = true
		default:
			return fmt.Errorf("%s: input %s is not one the encoder can feed (it feeds %s, %s and %s): %s; %s", modelPath, in.Name, InputIDs, AttentionMask, TokenTypeIDs, declared, want)
		}
		if in.Type != ort.Int64 || len(in.Shape) != 2 {
			return fmt.Errorf("%s: input %s: want int64 [batch, sequence], the model declares %s; %s", modelPath, in.Name, in, want)
		}
		if in.Shape[0] >= 0 || in.Shape[1] >= 0 {
			return fmt.Errorf("%s: input %s has a fixed dimension (%s); re-export it with dynamic batch and sequence axes (optimum-cli does by default)", modelPath, in.Name, in)
		}
	}
	out, ok := e.sess.Output(LastHiddenName)
	if !ok {
		return fmt.Errorf("%s: no output %s: %s; %s", modelPath, LastHiddenName, declared, want)
	}
	if out.Type != ort.Float32 {
		return fmt.Errorf("%s: output %s: want float32, the model declares %s; export it in float32 (not fp16 or quantised outputs)", modelPath, LastHiddenName, out)
	}
	if len(out.Shape) != 3 {
		return fmt.Errorf("%s: output %s: want rank 3 [batch, sequence, hidden], the model declares %s (rank %d); %s", modelPath, LastHiddenName, out, len(out.Shape), want)
	}
	switch h := out.Shape[2]; {
	case h > 0 && cfg.Hidden != nil && int64(*cfg.Hidden) != h:
		return fmt.Errorf("%s: field hidden_size is %d, but %s declares %s; the files come from different models", cfgPath, *cfg.Hidden, modelPath, out)
	case h > 0:
		e.dim = int(h)
	case h == 0:
		return fmt.Errorf("%s: output %s has a hidden size of 0", modelPath, out)
	case cfg.Hidden != nil:
		e.dim = *cfg.Hidden
	default:
		return fmt.Errorf("%s: output %s leaves the hidden size dynamic and there is no hidden_size in %s: cannot tell the vector length; add hidden_size to %s", modelPath, out, cfgPath, cfgPath)
	}
	return nil
}

func describe(ios []ort.IOInfo) string {
	parts := make([]string, len(ios))
	for i, io := range ios {
		parts[i] = io.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Dim returns the length of every vector: the model's hidden size.
func (e *Encoder) Dim() int { return e.dim }

// MaxLength returns the most tokens of a text the model sees.
func (e *Encoder) MaxLength() int { return e.maxLen }

// Device returns where the session runs.
func (e *Encoder) Device() ort.Device { return e.sess.Device }

// Fingerprint identifies every vector Encode can return: the SHA-256 of
// model.onnx, tokenizer.json and config.json (or "none"), the maximum length
// and the pooling, in one canonical string. Execution settings (device,
// threads, chunk size) are not in it: they change a vector by float32
// rounding at most.
func (e *Encoder) Fingerprint() string { return e.fingerprint }

// Close frees the ONNX Runtime session.
func (e *Encoder) Close() error { return e.sess.Close() }

// Encode returns one unit-length Dim()-long vector per text (see the
// package doc for the pooling).
func (e *Encoder) Encode(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, err := e.tokenize(texts)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	order := make([]int, 0, len(texts))
	for i := range texts {
		if len(ids[i]) == 0 {
			out[i] = make([]float32, e.dim) // nothing to average: the zero vector
			continue
		}
		order = append(order, i)
	}
	// Similar lengths share a chunk, so little of a run is padding.
	slices.SortStableFunc(order, func(a, b int) int { return len(ids[a]) - len(ids[b]) })
	for lo := 0; lo < len(order); lo += e.chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		chunk := order[lo:min(lo+e.chunk, len(order))]
		if err := e.encodeChunk(chunk, ids, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tokenize encodes every text, on all cores: the pure-Go tokenizer, not
// the model, is most of a small encoder's time (BenchmarkEncodeTiny). The
// first failing text (by index) is reported.
func (e *Encoder) tokenize(texts []string) ([][]int32, error) {
	ids := make([][]int32, len(texts))
	errs := make([]error, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(texts); i = int(next.Add(1) - 1) {
				ids[i], errs[i] = e.tok.EncodeTruncated(texts[i], e.maxLen)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("embeddings/onnx: text %d: %w", i, err)
		}
	}
	return ids, nil
}

// encodeChunk runs the texts chunk (indices into ids) through the model,
// padded to the longest, and writes their vectors into out.
func (e *Encoder) encodeChunk(chunk []int, ids [][]int32, out [][]float32) error {
	batch, seq := len(chunk), 0
	for _, i := range chunk {
		seq = max(seq, len(ids[i]))
	}
	inputIDs := make([]int64, batch*seq)
	mask := make([]int64, batch*seq)
	for r, i := range chunk {
		row := inputIDs[r*seq : (r+1)*seq]
		for p := range row {
			if p < len(ids[i]) {
				row[p] = int64(ids[i][p])
				mask[r*seq+p] = 1
			} else {
				row[p] = e.pad
			}
		}
	}
	feed := map[string]ort.Tensor{
		InputIDs:      ort.I64(inputIDs, int64(batch), int64(seq)),
		AttentionMask: ort.I64(mask, int64(batch), int64(seq)),
	}
	if e.typeIDs {
		feed[TokenTypeIDs] = ort.I64(make([]int64, batch*seq), int64(batch), int64(seq))
	}
	res, err := e.sess.Run(feed)
	if err != nil {
		return fmt.Errorf("embeddings/onnx: %w", err)
	}
	hidden := res[LastHiddenName]
	if want := []int64{int64(batch), int64(seq), int64(e.dim)}; !slices.Equal(hidden.Shape, want) || len(hidden.Float32) != batch*seq*e.dim {
		return fmt.Errorf("embeddings/onnx: %s returned %s of shape %v for inputs of shape [%d %d]; want %v", filepath.Join(e.dir, ModelFile), LastHiddenName, hidden.Shape, batch, seq, want)
	}
	for r, i := range chunk {
		vec, ok := meanPoolNormalize(hidden.Float32[r*seq*e.dim:(r+1)*seq*e.dim], len(ids[i]), e.dim)
		if !ok {
			return fmt.Errorf("embeddings/onnx: %s returned a NaN or infinite %s for text %d; the model is broken (or overflows in its precision)", filepath.Join(e.dir, ModelFile), LastHiddenName, i)
		}
		out[i] = vec
	}
	return nil
}

// meanPoolNormalize averages the first n rows of dim values in rows (the
// positions whose attention mask is 1: a row's tokens come first) and
// scales the mean to unit length (the zero vector stays zero); ok is false
// when a value is not finite. Sums run in float64 so that the order of
// positions does not matter at float32 precision.
func meanPoolNormalize(rows []float32, n, dim int) (vec []float32, ok bool) {
	sum := make([]float64, dim)
	for p := range n {
		for k, v := range rows[p*dim : (p+1)*dim] {
			sum[k] += float64(v)
		}
	}
	var norm float64
	for k := range sum {
		sum[k] /= float64(n)
		norm += sum[k] * sum[k]
	}
	norm = math.Sqrt(norm)
	vec = make([]float32, dim)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return nil, false
	}
	if norm == 0 {
		return vec, true
	}
	for k := range sum {
		vec[k] = float32(sum[k] / norm)
	}
	return vec, true
}
