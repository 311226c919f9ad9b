package onnx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"promptgan/internal/filehash"
	"promptgan/internal/ort"
	"promptgan/internal/tokenize"
	"promptgan/targets/backend"
)

// Order says how a request's task input and prompt are joined.
type Order string

// The two orders.
const (
	// InputPrompt feeds Input ⊕ Prompt: the prompt continues the task
	// input, as an adversarial suffix does (the default).
	InputPrompt Order = "input+prompt"
	// PromptInput feeds Prompt ⊕ Input: the prompt is a prefix (an
	// instruction) before the task input, DESIGN.md's T(p ⊕ x).
	PromptInput Order = "prompt+input"
)

// Defaults of the zero Options.
const (
	DefaultMaxNewTokens = 32
	DefaultBatchSize    = 32
)

// Decode are the decoding settings. All of them are part of the
// fingerprint; the zero value is greedy decoding of DefaultMaxNewTokens
// tokens in InputPrompt order.
type Decode struct {
	MaxNewTokens int     // most tokens generated per request; 0 = DefaultMaxNewTokens
	Temperature  float64 // 0 = greedy (arg-max; TopK and TopP must then be 0); > 0 = sampling
	TopK         int     // sample among the K most likely tokens; 0 = all
	TopP         float64 // sample within the smallest set of tokens of probability ≥ TopP; 0 or 1 = off
	// StopTokens end a generation, in addition to the eos_token_id of
	// config.json and generation_config.json.
	StopTokens []int32
	// IncludeStop keeps the stop token that ended a generation as its last
	// token; by default it is dropped.
	IncludeStop bool
	Order       Order // "" = InputPrompt
}

// Options configure Open.
type Options struct {
	Library   string     // ONNX Runtime library (file or directory); "" = ort.FindLibrary's search ($PROMPTGAN_ORT_LIB, then the setup cache)
	Device    ort.Device // cpu, cuda or auto; "" = cpu
	Threads   int        // ONNX Runtime intra-op threads; 0 = one per core
	Spin      bool       // keep the intra-op threads spinning between runs (see ort.Options.Spin); off by default
	BatchSize int        // requests decoded together; 0 = DefaultBatchSize
	// IgnoreTokenizer skips tokenizer.json (for a tokenizer the pure-Go
	// library cannot read): the model then takes token ids only.
	IgnoreTokenizer bool
	Decode          Decode
}

// Model is an ONNX causal LM opened from an Optimum-layout directory. Its
// Generate may be called from several goroutines at once; Close must not
// race with it.
type Model struct {
	dir         string
	sess        *ort.Session
	sig         signature
	cfg         *modelConfig
	tok         *tokenize.Tokenizer
	dec         Decode // resolved: defaults filled in, TopP 1 → 0, StopTokens sorted with the config's EOS
	stop        map[int32]bool
	vocab       int
	batch       int
	fingerprint string
}

// Info describes an opened model.
type Info struct {
	Dir          string
	Kind         Kind       // how context is carried between steps
	Device       ort.Device // where the session runs
	ModelType    string     // config.json model_type
	Vocab        int        // logits' last dimension
	Layers       int        // KVCache: layers with past_key_values
	BOS          int32      // bos_token_id; -1 when none
	AddBOS       bool       // BOS starts every sequence
	MaxPositions int        // longest sequence the model takes; 0 = not declared
	Tokenizer    bool       // text can be encoded and decoded
	Decode       Decode     // the resolved decode settings
}

// Open opens the causal LM in dir (model.onnx, config.json, optional
// generation_config.json, tokenizer_config.json and tokenizer.json) with
// ONNX Runtime. Every problem is reported with the file and field at fault.
func Open(dir string, opt Options) (*Model, error) {
	dec, err := resolveDecode(opt.Decode)
	if err != nil {
		return nil, err
	}
	if opt.BatchSize < 0 {
		return nil, fmt.Errorf("target/onnx: batch size %d: must be ≥ 1 (0 = %d)", opt.BatchSize, DefaultBatchSize)
	}
	batch := opt.BatchSize
	if batch == 0 {
		batch = DefaultBatchSize
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("target/onnx: model directory: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("target/onnx: %s is not a directory; give the directory that holds model.onnx, config.json and tokenizer.json", dir)
	}
	modelPath := filepath.Join(dir, ModelFile)
	if st, err := os.Stat(modelPath); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: not found; export with `optimum-cli export onnx --model <model> --task text-generation-with-past %s` (or --task text-generation for a model without KV cache)", modelPath, dir)
	} else if err != nil {
		return nil, err
	} else if st.IsDir() || st.Size() == 0 {
		return nil, fmt.Errorf("%s: not an ONNX model file (a directory or empty)", modelPath)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{dir: dir, cfg: cfg, dec: dec, batch: batch}
	tokPath := filepath.Join(dir, TokenizerFile)
	tokHash := "none"
	if opt.IgnoreTokenizer {
		tokHash = "ignored"
	} else if _, err := os.Stat(tokPath); err == nil {
		if m.tok, err = tokenize.Load(tokPath); errors.Is(err, tokenize.ErrPanicked) {
			return nil, fmt.Errorf("%w; give token ids instead, or set Options.IgnoreTokenizer", err)
		} else if err != nil {
			return nil, err
		}
		if tokHash, err = filehash.SHA256(tokPath); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	modelHash, err := filehash.SHA256(modelPath)
	if err != nil {
		return nil, err
	}

	rt, err := ort.Load(opt.Library)
	if err != nil {
		return nil, fmt.Errorf("target/onnx: %w", err)
	}
	m.sess, err = rt.NewSession(modelPath, ort.Options{Device: opt.Device, Threads: opt.Threads, Spin: opt.Spin})
	if err != nil {
		return nil, fmt.Errorf("target/onnx: %w", err)
	}
	if err := m.check(); err != nil {
		m.sess.Close()
		return nil, err
	}
	m.fingerprint = m.makeFingerprint(modelHash, tokHash)
	return m, nil
}

// check detects the signature and checks the vocabulary, BOS and stop
// tokens against it.
func (m *Model) check() (err error) {
	modelPath := filepath.Join(m.dir, ModelFile)
	cfgPath := filepath.Join(m.dir, ConfigFile)
	if m.sig, err = detectSignature(modelPath, m.sess.Inputs(), m.sess.Outputs(), m.cfg); err != nil {
		return err
	}
	switch v := m.sig.vocab; {
	case v > 0 && m.cfg.VocabSize > 0 && int(v) != m.cfg.VocabSize:
		return fmt.Errorf("%s: field vocab_size is %d, but %s declares logits with %d values per token", cfgPath, m.cfg.VocabSize, modelPath, v)
	case v > 0:
		m.vocab = int(v)
	case v == 0:
		return fmt.Errorf("%s: declares logits with a last dimension of 0", modelPath)
	case m.cfg.VocabSize > 0:
		m.vocab = m.cfg.VocabSize
	default:
		return fmt.Errorf("%s: no vocab_size, and %s declares the logits' last dimension dynamic: cannot tell the vocabulary size", cfgPath, modelPath)
	}
	if m.tok != nil && m.tok.Size() > m.vocab {
		return fmt.Errorf("%s: the tokenizer has %d tokens but the model's logits cover %d (%s)", m.tok.Path(), m.tok.Size(), m.vocab, modelPath)
	}
	if b := m.cfg.BOS; b != nil && int(*b) >= m.vocab {
		return fmt.Errorf("%s: field bos_token_id %d is not below the vocabulary size %d", cfgPath, *b, m.vocab)
	}
	for _, id := range m.cfg.EOS {
		if int(id) >= m.vocab {
			return fmt.Errorf("%s (or %s): field eos_token_id %d is not below the vocabulary size %d", cfgPath, GenerationConfigFile, id, m.vocab)
		}
	}
	m.stop = map[int32]bool{}
	for _, id := range m.dec.StopTokens {
		if id < 0 || int(id) >= m.vocab {
			return fmt.Errorf("target/onnx: Decode.StopTokens: %d is not a token id in [0, %d)", id, m.vocab)
		}
		m.stop[id] = true
	}
	for _, id := range m.cfg.EOS {
		m.stop[id] = true
	}
	m.dec.StopTokens = nil
	for id := range m.stop {
		m.dec.StopTokens = append(m.dec.StopTokens, id)
	}
	slices.Sort(m.dec.StopTokens)
	return nil
}

// resolveDecode checks d and fills in its defaults.
func resolveDecode(d Decode) (Decode, error) {
	bad := func(field string, v any, want string) (Decode, error) {
		return Decode{}, fmt.Errorf("target/onnx: Decode.%s = %v: %s", field, v, want)
	}
	switch {
	case d.MaxNewTokens < 0:
		return bad("MaxNewTokens", d.MaxNewTokens, fmt.Sprintf("must be ≥ 1 (0 = %d)", DefaultMaxNewTokens))
	case math.IsNaN(d.Temperature) || math.IsInf(d.Temperature, 0) || d.Temperature < 0:
		return bad("Temperature", d.Temperature, "must be 0 (greedy) or a positive number")
	case d.TopK < 0:
		return bad("TopK", d.TopK, "must be ≥ 0 (0 = off)")
	case math.IsNaN(d.TopP) || d.TopP < 0 || d.TopP > 1:
		return bad("TopP", d.TopP, "must be in [0, 1] (0 or 1 = off)")
	case d.Temperature == 0 && (d.TopK != 0 || (d.TopP != 0 && d.TopP != 1)):
		return bad("Temperature", d.Temperature, "is greedy decoding, which takes no TopK or TopP; set a temperature > 0 to sample")
	}
	switch d.Order {
	case "":
		d.Order = InputPrompt
	case InputPrompt, PromptInput:
	default:
		return bad("Order", strconv.Quote(string(d.Order)), fmt.Sprintf("want %q or %q", InputPrompt, PromptInput))
	}
	if d.MaxNewTokens == 0 {
		d.MaxNewTokens = DefaultMaxNewTokens
	}
	if d.TopP == 1 {
		d.TopP = 0
	}
	d.StopTokens = slices.Clone(d.StopTokens)
	return d, nil
}

// fingerprintVersion names the fingerprint's format and the decoding
// semantics; it changes whenever either does.
const fingerprintVersion = "promptgan/targets/onnx/v1"

func (m *Model) makeFingerprint(modelHash, tokHash string) string {
	file := func(name string) string {
		if h := m.cfg.hashes[name]; h != "" {
			return name + "=sha256:" + h
		}
		return name + "=none"
	}
	if tokHash != "none" && tokHash != "ignored" {
		tokHash = "sha256:" + tokHash
	}
	bos := "none"
	if m.cfg.BOS != nil {
		bos = strconv.Itoa(int(*m.cfg.BOS))
	}
	stops := make([]string, len(m.dec.StopTokens))
	for i, id := range m.dec.StopTokens {
		stops[i] = strconv.Itoa(int(id))
	}
	return strings.Join([]string{
		fingerprintVersion,
		ModelFile + "=sha256:" + modelHash,
		file(ConfigFile),
		file(GenerationConfigFile),
		file(TokenizerConfigFile),
		TokenizerFile + "=" + tokHash,
		"bos=" + bos,
		"add_bos=" + strconv.FormatBool(m.cfg.AddBOS),
		"order=" + string(m.dec.Order),
		"max_new_tokens=" + strconv.Itoa(m.dec.MaxNewTokens),
		"temperature=" + strconv.FormatFloat(m.dec.Temperature, 'g', -1, 64),
		"top_k=" + strconv.Itoa(m.dec.TopK),
		"top_p=" + strconv.FormatFloat(m.dec.TopP, 'g', -1, 64),
		"stop=[" + strings.Join(stops, ",") + "]",
		"include_stop=" + strconv.FormatBool(m.dec.IncludeStop),
	}, ";")
}

// Fingerprint identifies the model and its decoding: the SHA-256 of
// model.onnx, config.json, generation_config.json, tokenizer_config.json and
// tokenizer.json (or "none"), then every decode setting, in one canonical
// string (see the package doc). Execution settings (device, threads, batch
// size) are not in it: a request's generation does not depend on them.
func (m *Model) Fingerprint() string { return m.fingerprint }

// Info describes the model.
func (m *Model) Info() Info {
	bos := int32(-1)
	if m.cfg.BOS != nil {
		bos = *m.cfg.BOS
	}
	d := m.dec
	d.StopTokens = slices.Clone(d.StopTokens)
	return Info{
		Dir: m.dir, Kind: m.sig.kind, Device: m.sess.Device, ModelType: m.cfg.ModelType, Vocab: m.vocab,
		Layers: m.sig.layers, BOS: bos, AddBOS: m.cfg.AddBOS, MaxPositions: m.cfg.MaxPositions,
		Tokenizer: m.tok != nil, Decode: d,
	}
}

// Encode returns the token ids of text through tokenizer.json, without
// special tokens (BOS is added by Generate when the model wants it).
func (m *Model) Encode(text string) ([]int32, error) {
	if m.tok == nil {
		return nil, fmt.Errorf("target/onnx: %s has no usable %s: this model takes token ids only", m.dir, TokenizerFile)
	}
	return m.tok.Encode(text, false)
}

// Decode returns the text of ids through tokenizer.json (special tokens
// are written out, not skipped).
func (m *Model) Decode(ids []int32) (string, error) {
	if m.tok == nil {
		return "", fmt.Errorf("target/onnx: %s has no usable %s: this model takes token ids only", m.dir, TokenizerFile)
	}
	return m.tok.Decode(ids)
}

// Close frees the ONNX Runtime session.
func (m *Model) Close() error { return m.sess.Close() }

var _ backend.Model = (*Model)(nil)

// Generate decodes every request (see the package doc for the semantics),
// BatchSize requests at a time, and returns only the new tokens of each.
func (m *Model) Generate(ctx context.Context, reqs []backend.Request) ([]backend.Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows := make([]*row, len(reqs))
	for i, r := range reqs {
		seq, err := m.sequence(r)
		if err != nil {
			return nil, fmt.Errorf("target/onnx: request %d: %w", i, err)
		}
		rows[i] = &row{seq: seq, rng: newRNG(r.Seed)}
	}
	for lo := 0; lo < len(rows); lo += m.batch {
		if err := m.decodeBatch(ctx, rows[lo:min(lo+m.batch, len(rows))]); err != nil {
			return nil, err
		}
	}
	out := make([]backend.Generation, len(rows))
	for i, r := range rows {
		out[i] = backend.Generation{Tokens: r.out}
		if out[i].Tokens == nil {
			out[i].Tokens = []int32{}
		}
	}
	return out, nil
}

// sequence returns the tokens fed for r: BOS when the model wants it (or
// when the request is empty), then Input ⊕ Prompt or Prompt ⊕ Input.
func (m *Model) sequence(r backend.Request) ([]int32, error) {
	first, second := r.Input, r.Prompt
	firstName, secondName := "Input", "Prompt"
	if m.dec.Order == PromptInput {
		first, second, firstName, secondName = second, first, secondName, firstName
	}
	seq := make([]int32, 0, 1+len(first)+len(second)+m.dec.MaxNewTokens)
	if m.cfg.AddBOS || (len(first)+len(second) == 0 && m.cfg.BOS != nil) {
		seq = append(seq, *m.cfg.BOS)
	}
	for _, part := range []struct {
		name string
		ids  []int32
	}{{firstName, first}, {secondName, second}} {
		for j, id := range part.ids {
			if id < 0 || int(id) >= m.vocab {
				return nil, fmt.Errorf("%s[%d] = %d is not a token id of this model (vocabulary %d)", part.name, j, id, m.vocab)
			}
		}
		seq = append(seq, part.ids...)
	}
	if len(seq) == 0 {
		return nil, fmt.Errorf("empty Input and Prompt, and %s has no bos_token_id to start from", filepath.Join(m.dir, ConfigFile))
	}
	if p := m.cfg.MaxPositions; p > 0 && len(seq)+m.dec.MaxNewTokens-1 > p {
		return nil, fmt.Errorf("%d context tokens + %d new tokens exceed the model's %d positions (%s n_positions / max_position_embeddings)",
			len(seq), m.dec.MaxNewTokens, p, filepath.Join(m.dir, ConfigFile))
	}
	return seq, nil
}
