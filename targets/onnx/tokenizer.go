package onnx

import (
	"fmt"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// textTokenizer turns text into token ids and back through a Hugging Face
// tokenizer.json, read by github.com/sugarme/tokenizer (pure Go). That
// library panics on some inputs (lookahead regexes of cl100k/Llama-3-style
// pre-tokenizers, for one): every call recovers and reports an error.
type textTokenizer struct {
	path string
	tk   *tokenizer.Tokenizer
	size int // vocabulary size with added tokens
}

func loadTokenizer(path string) (t *textTokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%s: cannot load it with github.com/sugarme/tokenizer (it panicked: %v); give token ids instead, or set Options.IgnoreTokenizer", path, r)
		}
	}()
	tk, err := pretrained.FromFile(path)
	if err != nil {
		// The library's errors may print the whole parsed config: keep the start.
		msg := err.Error()
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("%s: cannot load it with github.com/sugarme/tokenizer: %s", path, msg)
	}
	if tk.GetModel() == nil {
		return nil, fmt.Errorf("%s: cannot load it: no model section", path)
	}
	t = &textTokenizer{path: path, tk: tk, size: tk.GetVocabSize(true)}
	if t.size == 0 {
		return nil, fmt.Errorf("%s: the tokenizer has an empty vocabulary", path)
	}
	return t, nil
}

// encode returns the ids of text, without special tokens (BOS is the
// decoder's business: see Options and the package doc).
func (t *textTokenizer) encode(text string) (ids []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			ids, err = nil, fmt.Errorf("%s: encoding %q panicked in github.com/sugarme/tokenizer: %v", t.path, text, r)
		}
	}()
	enc, err := t.tk.EncodeSingle(text, false)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %q: %w", t.path, text, err)
	}
	ids = make([]int32, len(enc.Ids))
	for i, id := range enc.Ids {
		ids[i] = int32(id)
	}
	return ids, nil
}

// decode returns the text of ids, special tokens included.
func (t *textTokenizer) decode(ids []int32) (s string, err error) {
	in := make([]int, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= t.size {
			return "", fmt.Errorf("%s: token id %d (position %d) is not in the tokenizer's vocabulary of %d", t.path, id, i, t.size)
		}
		in[i] = int(id)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = "", fmt.Errorf("%s: decoding panicked in github.com/sugarme/tokenizer: %v", t.path, r)
		}
	}()
	return t.tk.Decode(in, false), nil
}
