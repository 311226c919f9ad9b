package tokenize

import (
	"errors"
	"fmt"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/pretrained"
)

// ErrPanicked marks an error that comes from a panic inside
// github.com/sugarme/tokenizer (test it with errors.Is): the tokenizer.json
// uses something the library cannot handle, so a caller may offer a way
// around it (token ids instead of text, say).
var ErrPanicked = errors.New("github.com/sugarme/tokenizer panicked")

// panicError carries a recovered panic's message and matches ErrPanicked.
type panicError struct{ msg string }

func (e *panicError) Error() string        { return e.msg }
func (e *panicError) Is(target error) bool { return target == ErrPanicked }

// Tokenizer is a loaded tokenizer.json. Its methods may be called from
// several goroutines at once.
type Tokenizer struct {
	path   string
	tk     *tokenizer.Tokenizer
	size   int // vocabulary size with added tokens
	padID  int32
	hasPad bool
}

// padTokens are the usual names of a padding token, tried in order when
// tokenizer.json has no padding section.
var padTokens = []string{"[PAD]", "<pad>", "<|pad|>", "<|padding|>"}

// Load reads the tokenizer.json at path.
func Load(path string) (t *Tokenizer, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &panicError{fmt.Sprintf("%s: cannot load it with github.com/sugarme/tokenizer (it panicked: %v)", path, r)}
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
	t = &Tokenizer{path: path, tk: tk, size: tk.GetVocabSize(true)}
	if t.size == 0 {
		return nil, fmt.Errorf("%s: the tokenizer has an empty vocabulary", path)
	}
	if p := tk.GetPadding(); p != nil {
		t.padID, t.hasPad = int32(p.PadId), true
	} else {
		for _, name := range padTokens {
			if id, ok := tk.TokenToId(name); ok {
				t.padID, t.hasPad = int32(id), true
				break
			}
		}
	}
	// Callers pad and truncate batches themselves; the library's own
	// settings would pad a lone text or cut it without telling them.
	tk.WithPadding(nil)
	tk.WithTruncation(nil)
	return t, nil
}

// Path returns the file the tokenizer was loaded from.
func (t *Tokenizer) Path() string { return t.path }

// Size returns the vocabulary size, added tokens included.
func (t *Tokenizer) Size() int { return t.size }

// PadID returns the padding token's id: the pad_id of tokenizer.json's
// padding section, else the id of a token called [PAD], <pad>, <|pad|> or
// <|padding|>; ok is false when there is none.
func (t *Tokenizer) PadID() (id int32, ok bool) { return t.padID, t.hasPad }

// SpecialAdded returns how many special tokens the post-processor adds to a
// single text when Encode is asked for them ([CLS] and [SEP] for BERT: 2).
func (t *Tokenizer) SpecialAdded() int {
	if pp := t.tk.GetPostProcessor(); pp != nil {
		return pp.AddedTokens(false)
	}
	return 0
}

// TokenID returns the id of the token called name.
func (t *Tokenizer) TokenID(name string) (int32, bool) {
	id, ok := t.tk.TokenToId(name)
	return int32(id), ok
}

// Encode returns the ids of text; with addSpecial, the special tokens the
// post-processor adds ([CLS] … [SEP] for BERT) are included.
func (t *Tokenizer) Encode(text string, addSpecial bool) (ids []int32, err error) {
	return t.encode(text, addSpecial, 0)
}

// EncodeTruncated returns the ids of text with the post-processor's special
// tokens, keeping at most maxLen ids in all: the text is cut at its end so
// that the special tokens (a final [SEP], say) survive, as Hugging Face
// truncation does.
func (t *Tokenizer) EncodeTruncated(text string, maxLen int) ([]int32, error) {
	if room := maxLen - t.SpecialAdded(); room < 1 {
		return nil, fmt.Errorf("%s: a maximum length of %d leaves no room for text beside the %d special tokens the post-processor adds", t.path, maxLen, t.SpecialAdded())
	}
	return t.encode(text, true, maxLen)
}

// encode encodes text; maxLen > 0 truncates (special tokens counted).
func (t *Tokenizer) encode(text string, addSpecial bool, maxLen int) (ids []int32, err error) {
	defer func() {
		if r := recover(); r != nil {
			ids, err = nil, &panicError{fmt.Sprintf("%s: encoding %q panicked in github.com/sugarme/tokenizer: %v", t.path, text, r)}
		}
	}()
	var enc *tokenizer.Encoding
	if maxLen > 0 {
		enc, err = t.tk.EncodeSingle(text, false)
		if err == nil && len(enc.Ids) > maxLen-t.SpecialAdded() {
			enc, err = enc.Truncate(maxLen-t.SpecialAdded(), 0)
		}
		if pp := t.tk.GetPostProcessor(); err == nil && pp != nil {
			enc = pp.Process(enc, nil, true)
		}
	} else {
		enc, err = t.tk.EncodeSingle(text, addSpecial)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: encode %q: %w", t.path, text, err)
	}
	ids = make([]int32, len(enc.Ids))
	for i, id := range enc.Ids {
		ids[i] = int32(id)
	}
	return ids, nil
}

// Decode returns the text of ids, special tokens included.
func (t *Tokenizer) Decode(ids []int32) (s string, err error) {
	in := make([]int, len(ids))
	for i, id := range ids {
		if id < 0 || int(id) >= t.size {
			return "", fmt.Errorf("%s: token id %d (position %d) is not in the tokenizer's vocabulary of %d", t.path, id, i, t.size)
		}
		in[i] = int(id)
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = "", &panicError{fmt.Sprintf("%s: decoding panicked in github.com/sugarme/tokenizer: %v", t.path, r)}
		}
	}()
	return t.tk.Decode(in, false), nil
}
