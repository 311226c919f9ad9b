package english

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// The special tokens, ids 0–3 of every vocabulary; Separator is id 4.
const (
	PadToken = "<pad>"
	UnkToken = "<unk>"
	BOSToken = "<bos>" // the LSTM's start token: the first input of every sequence
	EOSToken = "<eos>" // ends a text: the target stops there
)

// Fixed ids of the special tokens and the separator.
const (
	PadID int32 = iota
	UnkID
	BOSID
	EOSID
	SepID
)

// Vocab is a word-level vocabulary: id → word and back.
type Vocab struct {
	Words []string
	ids   map[string]int32
}

// NewVocab indexes words (id = position). It fails if the specials and the
// separator are not ids 0–4 or a word repeats.
func NewVocab(words []string) (*Vocab, error) {
	for i, w := range []string{PadToken, UnkToken, BOSToken, EOSToken, Separator} {
		if len(words) <= i || words[i] != w {
			return nil, fmt.Errorf("vocabulary: id %d must be %q", i, w)
		}
	}
	v := &Vocab{Words: words, ids: make(map[string]int32, len(words))}
	for i, w := range words {
		if _, dup := v.ids[w]; dup {
			return nil, fmt.Errorf("vocabulary: %q appears twice", w)
		}
		v.ids[w] = int32(i)
	}
	return v, nil
}

// Size returns the number of tokens.
func (v *Vocab) Size() int { return len(v.Words) }

// ID returns the id of word, UnkID when it is not in the vocabulary.
func (v *Vocab) ID(word string) int32 {
	if id, ok := v.ids[word]; ok {
		return id
	}
	return UnkID
}

// Has reports whether word is in the vocabulary.
func (v *Vocab) Has(word string) bool { _, ok := v.ids[word]; return ok }

// Encode returns the ids of text's tokens (Words), as the exported
// tokenizer.json gives them.
func (v *Vocab) Encode(text string) []int32 {
	ws := Words(text)
	out := make([]int32, len(ws))
	for i, w := range ws {
		out[i] = v.ID(w)
	}
	return out
}

// Decode joins the words of ids with spaces, as tokenizer.json decodes.
func (v *Vocab) Decode(ids []int32) string {
	var b []byte
	for i, id := range ids {
		if i > 0 {
			b = append(b, ' ')
		}
		if id >= 0 && int(id) < len(v.Words) {
			b = append(b, v.Words[id]...)
		} else {
			b = append(b, UnkToken...)
		}
	}
	return string(b)
}

// BuildVocab returns the vocabulary of the LMs: the specials and the
// separator, every word of every class's instructions and of Vague, then
// the words of the non-test parts seen at least minCount times, by falling
// count then alphabetically. Test text is never looked at, so held-out
// perplexity counts unseen words as <unk>, as a user's text would.
func BuildVocab(docs []Doc, minCount int) []string {
	out := []string{PadToken, UnkToken, BOSToken, EOSToken, Separator}
	seen := map[string]bool{}
	for _, w := range out {
		seen[w] = true
	}
	add := func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	var instr []string
	for _, c := range Classes() {
		tr, ho := Instructions(c)
		instr = append(append(instr, tr...), ho...)
	}
	instr = append(instr, Vague...)
	var iw []string
	for _, s := range instr {
		iw = append(iw, Words(s)...)
	}
	slices.Sort(iw)
	for _, w := range slices.Compact(iw) {
		add(w)
	}
	counts := map[string]int{}
	for _, d := range docs {
		if d.Part == PartTest {
			continue
		}
		for _, w := range Words(d.Text) {
			counts[w]++
		}
	}
	var rest []string
	for w, n := range counts {
		if n >= minCount && !seen[w] {
			rest = append(rest, w)
		}
	}
	slices.SortFunc(rest, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	return append(out, rest...)
}

// hfTokenizer is the subset of Hugging Face's tokenizer.json written for
// the LMs: lower case, the Whitespace pre-tokenizer (Words), a WordLevel
// model, no post-processor (targets/onnx adds <bos> itself from
// config.json's add_bos_token).
type hfTokenizer struct {
	Version       string         `json:"version"`
	Truncation    any            `json:"truncation"`
	Padding       any            `json:"padding"`
	AddedTokens   []hfAddedToken `json:"added_tokens"`
	Normalizer    map[string]any `json:"normalizer"`
	PreTokenizer  map[string]any `json:"pre_tokenizer"`
	PostProcessor any            `json:"post_processor"`
	Decoder       any            `json:"decoder"`
	Model         struct {
		Type     string           `json:"type"`
		Vocab    map[string]int32 `json:"vocab"`
		UnkToken string           `json:"unk_token"`
	} `json:"model"`
}

type hfAddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// TokenizerJSON returns v as a Hugging Face tokenizer.json (the same bytes
// for the same vocabulary).
func (v *Vocab) TokenizerJSON() ([]byte, error) {
	var t hfTokenizer
	t.Version = "1.0"
	for i, s := range []string{PadToken, UnkToken, BOSToken, EOSToken} {
		t.AddedTokens = append(t.AddedTokens, hfAddedToken{ID: int32(i), Content: s, Special: true})
	}
	t.Normalizer = map[string]any{"type": "Lowercase"}
	t.PreTokenizer = map[string]any{"type": "Whitespace"}
	t.Model.Type = "WordLevel"
	t.Model.UnkToken = UnkToken
	t.Model.Vocab = v.ids
	b, err := json.MarshalIndent(t, "", "  ")
	return append(b, '\n'), err
}

// LoadVocab reads the vocabulary of a tokenizer.json that TokenizerJSON wrote.
func LoadVocab(path string) (*Vocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load vocabulary: %w", err)
	}
	var t hfTokenizer
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("load vocabulary %s: %w", path, err)
	}
	if t.Model.Type != "WordLevel" {
		return nil, fmt.Errorf("load vocabulary %s: model type %q, want WordLevel (an English LM's tokenizer)", path, t.Model.Type)
	}
	words := make([]string, len(t.Model.Vocab))
	for w, id := range t.Model.Vocab {
		if id < 0 || int(id) >= len(words) || words[id] != "" {
			return nil, fmt.Errorf("load vocabulary %s: ids are not 0..%d each once (word %q has id %d)", path, len(words)-1, w, id)
		}
		words[id] = w
	}
	v, err := NewVocab(words)
	if err != nil {
		return nil, fmt.Errorf("load vocabulary %s: %w", path, err)
	}
	return v, nil
}
