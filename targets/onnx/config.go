package onnx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// The files of the Optimum causal-LM layout that Open reads.
const (
	ModelFile            = "model.onnx"
	ConfigFile           = "config.json"
	GenerationConfigFile = "generation_config.json"
	TokenizerFile        = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
)

// modelConfig holds the fields of config.json (and of the optional
// generation_config.json and tokenizer_config.json) that decoding needs.
// Absent fields are zero / nil.
type modelConfig struct {
	ModelType    string
	VocabSize    int     // 0 = not given
	BOS          *int32  // bos_token_id
	EOS          []int32 // eos_token_id of config.json and generation_config.json, in that order, without duplicates
	AddBOS       bool    // add_bos_token (config.json, else tokenizer_config.json)
	MaxPositions int     // n_positions or max_position_embeddings; 0 = not given
	Heads        int     // num_key_value_heads, else num_attention_heads / n_head
	HeadDim      int     // head_dim, else hidden_size (n_embd) / num_attention_heads
	Hidden       int     // hidden_size / n_embd

	hashes map[string]string // file name → sha256 hex of the files read ("" = absent)
}

// fields is a JSON object whose values are decoded on demand, so that each
// wrong field is reported by name.
type fields struct {
	file string
	m    map[string]json.RawMessage
}

// readObject reads a JSON object from path. It returns the raw bytes too
// (for the fingerprint). A missing file gives os.ErrNotExist (wrapped).
func readObject(path string) (fields, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fields{}, nil, err
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return fields{}, nil, fmt.Errorf("%s: not a JSON object: %w", path, err)
	}
	if m == nil {
		return fields{}, nil, fmt.Errorf("%s: not a JSON object (got null)", path)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fields{}, nil, fmt.Errorf("%s: unexpected data after the JSON object", path)
	}
	return fields{file: path, m: m}, b, nil
}

func (f fields) has(name string) bool {
	v, ok := f.m[name]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

// int reads an integer field; ok is false when it is absent or null.
func (f fields) int(name string) (v int, ok bool, err error) {
	if !f.has(name) {
		return 0, false, nil
	}
	var x float64
	if err := json.Unmarshal(f.m[name], &x); err != nil || x != math.Trunc(x) || math.Abs(x) > 1<<40 {
		return 0, false, fmt.Errorf("%s: field %s: want an integer, got %s", f.file, name, f.m[name])
	}
	return int(x), true, nil
}

// count reads an integer field that must be ≥ 0 (≥ 1 when positive).
func (f fields) count(name string, positive bool) (int, bool, error) {
	v, ok, err := f.int(name)
	if err != nil || !ok {
		return 0, ok, err
	}
	if v < 0 || (positive && v == 0) {
		return 0, false, fmt.Errorf("%s: field %s: %d is not a valid size", f.file, name, v)
	}
	return v, true, nil
}

// ids reads a token-id field that is an integer or a list of integers.
func (f fields) ids(name string) ([]int32, error) {
	if !f.has(name) {
		return nil, nil
	}
	raw := f.m[name]
	var one float64
	if json.Unmarshal(raw, &one) == nil {
		if one != math.Trunc(one) || one < 0 || one > math.MaxInt32 {
			return nil, fmt.Errorf("%s: field %s: %s is not a token id", f.file, name, raw)
		}
		return []int32{int32(one)}, nil
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("%s: field %s: want a token id or a list of token ids, got %s", f.file, name, raw)
	}
	out := make([]int32, len(many))
	for i, v := range many {
		if v != math.Trunc(v) || v < 0 || v > math.MaxInt32 {
			return nil, fmt.Errorf("%s: field %s: element %d (%v) is not a token id", f.file, name, i, v)
		}
		out[i] = int32(v)
	}
	return out, nil
}

func (f fields) str(name string) (string, error) {
	if !f.has(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(f.m[name], &s); err != nil {
		return "", fmt.Errorf("%s: field %s: want a string, got %s", f.file, name, f.m[name])
	}
	return s, nil
}

func (f fields) boolean(name string) (v, ok bool, err error) {
	if !f.has(name) {
		return false, false, nil
	}
	if err := json.Unmarshal(f.m[name], &v); err != nil {
		return false, false, fmt.Errorf("%s: field %s: want true or false, got %s", f.file, name, f.m[name])
	}
	return v, true, nil
}

// firstInt returns the first of names that is present.
func (f fields) firstInt(names ...string) (int, error) {
	for _, n := range names {
		v, ok, err := f.count(n, true)
		if err != nil || ok {
			return v, err
		}
	}
	return 0, nil
}

// readConfig reads config.json (required) and generation_config.json and
// tokenizer_config.json (optional) from dir.
func readConfig(dir string) (*modelConfig, error) {
	c := &modelConfig{hashes: map[string]string{}}
	path := filepath.Join(dir, ConfigFile)
	f, raw, err := readObject(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: not found; the Optimum layout has config.json beside model.onnx (optimum-cli export onnx writes it)", path)
	}
	if err != nil {
		return nil, err
	}
	c.hashes[ConfigFile] = sha256Hex(raw)
	if c.ModelType, err = f.str("model_type"); err != nil {
		return nil, err
	}
	if c.VocabSize, _, err = f.count("vocab_size", true); err != nil {
		return nil, err
	}
	bos, err := f.ids("bos_token_id")
	if err != nil {
		return nil, err
	}
	if len(bos) > 1 {
		return nil, fmt.Errorf("%s: field bos_token_id: want one token id, got %d", path, len(bos))
	}
	if len(bos) == 1 {
		c.BOS = &bos[0]
	}
	if c.EOS, err = f.ids("eos_token_id"); err != nil {
		return nil, err
	}
	addBOS, addBOSSet, err := f.boolean("add_bos_token")
	if err != nil {
		return nil, err
	}
	c.AddBOS = addBOS
	if c.MaxPositions, err = f.firstInt("n_positions", "max_position_embeddings"); err != nil {
		return nil, err
	}
	if c.Hidden, err = f.firstInt("hidden_size", "n_embd"); err != nil {
		return nil, err
	}
	attnHeads, err := f.firstInt("num_attention_heads", "n_head")
	if err != nil {
		return nil, err
	}
	if c.Heads, err = f.firstInt("num_key_value_heads"); err != nil {
		return nil, err
	}
	if c.Heads == 0 {
		c.Heads = attnHeads
	}
	if c.HeadDim, err = f.firstInt("head_dim"); err != nil {
		return nil, err
	}
	if c.HeadDim == 0 && attnHeads > 0 && c.Hidden > 0 && c.Hidden%attnHeads == 0 {
		c.HeadDim = c.Hidden / attnHeads
	}

	// generation_config.json: more end-of-sequence ids.
	gpath := filepath.Join(dir, GenerationConfigFile)
	g, graw, err := readObject(gpath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.hashes[GenerationConfigFile] = ""
	case err != nil:
		return nil, err
	default:
		c.hashes[GenerationConfigFile] = sha256Hex(graw)
		eos, err := g.ids("eos_token_id")
		if err != nil {
			return nil, err
		}
		for _, id := range eos {
			if !containsID(c.EOS, id) {
				c.EOS = append(c.EOS, id)
			}
		}
	}

	// tokenizer_config.json: whether the tokenizer starts every text with
	// BOS (Llama-style), when config.json does not say.
	tpath := filepath.Join(dir, TokenizerConfigFile)
	t, traw, err := readObject(tpath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.hashes[TokenizerConfigFile] = ""
	case err != nil:
		return nil, err
	default:
		c.hashes[TokenizerConfigFile] = sha256Hex(traw)
		v, ok, err := t.boolean("add_bos_token")
		if err != nil {
			return nil, err
		}
		if ok && !addBOSSet {
			c.AddBOS = v
		}
	}
	if c.AddBOS && c.BOS == nil {
		return nil, fmt.Errorf("%s: add_bos_token is true but there is no bos_token_id", path)
	}
	return c, nil
}

func containsID(ids []int32, id int32) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
