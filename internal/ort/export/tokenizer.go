package export

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// EndOfText is GPT-2's one special token, its bos, eos and unk token; it is
// the last id of the vocabulary.
const EndOfText = "<|endoftext|>"

// corpus is the fixed English text the default tokenizer is trained on: a
// frozen copy of the project's DESIGN.md and README.md (it must not change,
// or the default tokenizer — and every fixture made with it — changes).
//
//go:embed corpus.txt
var corpus string

// BPETokenizer is a byte-level BPE tokenizer in GPT-2's scheme: text is cut
// into words by GPT-2's pre-tokenizer pattern, each word's UTF-8 bytes are
// written as GPT-2's printable stand-in characters (bytes_to_unicode), and
// merges are applied in rank order. Ids 0..255 are the 256 byte symbols,
// then one token per merge, then EndOfText. Encode and Decode follow Hugging
// Face tokenizers' behaviour for the tokenizer.json that JSON writes.
type BPETokenizer struct {
	Vocab  []string    // id → token, in byte-level characters; the last is EndOfText
	Merges [][2]string // in rank order
	ids    map[string]int
	ranks  map[[2]string]int
}

// byteChars maps each byte to GPT-2's stand-in character (bytes_to_unicode):
// printable Latin-1 bytes stand for themselves, the other 68 for U+0100 on.
// byteOrder lists the bytes in GPT-2's vocabulary order (printable first).
var byteChars, byteOrder, charBytes = func() ([256]rune, []byte, map[rune]byte) {
	var chars [256]rune
	var order []byte
	printable := func(b int) bool { return b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF }
	for b := range 256 {
		if printable(b) {
			chars[b] = rune(b)
			order = append(order, byte(b))
		}
	}
	n := 0
	for b := range 256 {
		if !printable(b) {
			chars[b] = rune(256 + n)
			order = append(order, byte(b))
			n++
		}
	}
	back := make(map[rune]byte, 256)
	for b, c := range chars {
		back[c] = byte(b)
	}
	return chars, order, back
}()

// byteLevel writes s's UTF-8 bytes as stand-in characters.
func byteLevel(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteChars[s[i]])
	}
	return sb.String()
}

// PreTokenize cuts text into words exactly as GPT-2's pattern does in
// Hugging Face tokenizers' ByteLevel pre-tokenizer (use_regex: true):
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so the pattern is matched by hand: a run of
// whitespace before a non-space character leaves its last character to the
// next word (" world" keeps its space; "\n\nword" is "\n", "\n", "word").
// The words are slices of text, so their bytes join back to it exactly; a
// byte that is not UTF-8 counts as punctuation.
func PreTokenize(text string) []string {
	var r []rune
	var at []int // byte offset of each rune
	for i, c := range text {
		r = append(r, c)
		at = append(at, i)
	}
	at = append(at, len(text))
	var words []string
	for i := 0; i < len(r); {
		j := wordEnd(r, i)
		words = append(words, text[at[i]:at[j]])
		i = j
	}
	return words
}

// isOther is [^\s\p{L}\p{N}].
func isOther(c rune) bool { return !unicode.IsSpace(c) && !unicode.IsLetter(c) && !unicode.IsNumber(c) }

// wordEnd returns the end of the word that starts at r[i].
func wordEnd(r []rune, i int) int {
	if r[i] == '\'' {
		for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
			if n := len(c); i+1+n <= len(r) && string(r[i+1:i+1+n]) == c {
				return i + 1 + n
			}
		}
	}
	run := func(j int, class func(rune) bool) int {
		for j < len(r) && class(r[j]) {
			j++
		}
		return j
	}
	for _, class := range []func(rune) bool{unicode.IsLetter, unicode.IsNumber, isOther} {
		if r[i] == ' ' && i+1 < len(r) && class(r[i+1]) {
			return run(i+1, class)
		}
		if class(r[i]) {
			return run(i, class)
		}
	}
	// Whitespace: \s+(?!\S), else \s+.
	j := run(i, unicode.IsSpace)
	if j < len(r) && j-i > 1 {
		return j - 1
	}
	return j
}

// TrainBPE learns a byte-level BPE tokenizer of vocabSize tokens (256 bytes,
// vocabSize − 257 merges, EndOfText) from text: it repeatedly merges the most
// frequent adjacent pair of symbols within the pre-tokenized words (ties go
// to the pair that sorts first), so the same text always gives the same
// tokenizer.
func TrainBPE(text string, vocabSize int) (*BPETokenizer, error) {
	if vocabSize < 257 {
		return nil, fmt.Errorf("train BPE: vocabulary size %d < 257 (256 bytes and %s)", vocabSize, EndOfText)
	}
	t := &BPETokenizer{}
	for _, b := range byteOrder {
		t.Vocab = append(t.Vocab, string(byteChars[b]))
	}
	seen := map[string]bool{}
	for _, v := range t.Vocab {
		seen[v] = true
	}
	// The distinct words, as symbol sequences, with their counts; kept in
	// first-seen order so that the loop below is deterministic.
	type word struct {
		syms []string
		n    int
	}
	var words []*word
	index := map[string]*word{}
	for _, w := range PreTokenize(text) {
		bl := byteLevel(w)
		if x := index[bl]; x != nil {
			x.n++
			continue
		}
		x := &word{n: 1}
		for _, c := range bl {
			x.syms = append(x.syms, string(c))
		}
		index[bl] = x
		words = append(words, x)
	}
	for len(t.Vocab) < vocabSize-1 {
		counts := map[[2]string]int{}
		for _, w := range words {
			for k := 0; k+1 < len(w.syms); k++ {
				counts[[2]string{w.syms[k], w.syms[k+1]}] += w.n
			}
		}
		var best [2]string
		bestN := 0
		for p, n := range counts {
			if n > bestN || n == bestN && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
				best, bestN = p, n
			}
		}
		if bestN == 0 {
			return nil, fmt.Errorf("train BPE: the text (%d bytes) allows only %d merges, a vocabulary of %d; want %d", len(text), len(t.Merges), len(t.Vocab)+1, vocabSize)
		}
		merged := best[0] + best[1]
		t.Merges = append(t.Merges, best)
		if !seen[merged] {
			seen[merged] = true
			t.Vocab = append(t.Vocab, merged)
		}
		for _, w := range words {
			w.syms = mergePair(w.syms, best, merged)
		}
	}
	t.Vocab = append(t.Vocab, EndOfText)
	t.index()
	return t, nil
}

// mergePair replaces each occurrence of the pair p in syms, left to right, by merged.
func mergePair(syms []string, p [2]string, merged string) []string {
	out := syms[:0]
	for k := 0; k < len(syms); k++ {
		if k+1 < len(syms) && syms[k] == p[0] && syms[k+1] == p[1] {
			out = append(out, merged)
			k++
		} else {
			out = append(out, syms[k])
		}
	}
	return out
}

func (t *BPETokenizer) index() {
	t.ids = make(map[string]int, len(t.Vocab))
	for i, v := range t.Vocab {
		t.ids[v] = i
	}
	t.ranks = make(map[[2]string]int, len(t.Merges))
	for i, m := range t.Merges {
		t.ranks[m] = i
	}
}

var (
	defaultMu   sync.Mutex
	defaultToks = map[int]*BPETokenizer{}
)

// DefaultTokenizer returns the tokenizer of vocabSize tokens trained on the
// package's fixed English corpus (a frozen copy of the project's design
// notes and README, 17 KB, enough for vocabularies up to a few thousand).
// It is trained once per size and shared: do not modify it.
func DefaultTokenizer(vocabSize int) (*BPETokenizer, error) {
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if t := defaultToks[vocabSize]; t != nil {
		return t, nil
	}
	t, err := TrainBPE(corpus, vocabSize)
	if err != nil {
		return nil, fmt.Errorf("default tokenizer: %w", err)
	}
	defaultToks[vocabSize] = t
	return t, nil
}

// VocabSize returns the number of tokens, EndOfText included.
func (t *BPETokenizer) VocabSize() int { return len(t.Vocab) }

// EOS returns EndOfText's id.
func (t *BPETokenizer) EOS() int { return t.ids[EndOfText] }

// Encode returns text's token ids as Hugging Face tokenizers would for the
// tokenizer.json JSON writes: EndOfText written in the text is that token;
// the rest is pre-tokenized, byte-level mapped and merged by rank.
func (t *BPETokenizer) Encode(text string) []int64 {
	var ids []int64
	for i, part := range strings.Split(text, EndOfText) {
		if i > 0 {
			ids = append(ids, int64(t.EOS()))
		}
		for _, w := range PreTokenize(part) {
			for _, s := range t.bpe(byteLevel(w)) {
				ids = append(ids, int64(t.ids[s]))
			}
		}
	}
	return ids
}

// bpe splits one byte-level word into tokens: starting from its
// characters, it merges the adjacent pair of lowest rank until none has a
// rank (the leftmost pair when a rank occurs twice).
func (t *BPETokenizer) bpe(word string) []string {
	syms := make([]string, 0, utf8.RuneCountInString(word))
	for _, c := range word {
		syms = append(syms, string(c))
	}
	for len(syms) > 1 {
		best, at := -1, -1
		for k := 0; k+1 < len(syms); k++ {
			if r, ok := t.ranks[[2]string{syms[k], syms[k+1]}]; ok && (best < 0 || r < best) {
				best, at = r, k
			}
		}
		if at < 0 {
			break
		}
		syms = slices.Replace(syms, at, at+2, syms[at]+syms[at+1])
	}
	return syms
}

// Decode returns the text of ids (EndOfText is written out); an id outside
// the vocabulary is an error.
func (t *BPETokenizer) Decode(ids []int64) (string, error) {
	var out []byte
	for _, id := range ids {
		if id < 0 || id >= int64(len(t.Vocab)) {
			return "", fmt.Errorf("decode: token id %d outside [0, %d)", id, len(t.Vocab))
		}
		if int(id) == t.EOS() {
			out = append(out, EndOfText...)
			continue
		}
		for _, c := range t.Vocab[id] {
			out = append(out, charBytes[c])
		}
	}
	return string(out), nil
}

// JSON returns the tokenizer in Hugging Face's tokenizer.json format, laid
// out as GPT-2's own: a BPE model (vocabulary in id order, merges as "a b"
// strings), ByteLevel pre-tokenizer, post-processor and decoder, and
// EndOfText as a special added token.
func (t *BPETokenizer) JSON() ([]byte, error) {
	if len(t.Vocab) == 0 || t.Vocab[len(t.Vocab)-1] != EndOfText {
		return nil, fmt.Errorf("tokenizer.json: the vocabulary must end with %s", EndOfText)
	}
	q := func(s string) string { // a JSON string, <, > and & unescaped as in GPT-2's file
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(s) // a string always encodes
		return strings.TrimSuffix(b.String(), "\n")
	}
	var buf bytes.Buffer
	buf.WriteString(`{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [
    {"id": ` + fmt.Sprint(t.EOS()) + `, "content": ` + q(EndOfText) + `, "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}
  ],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": null,
    "continuing_subword_prefix": "",
    "end_of_word_suffix": "",
    "fuse_unk": false,
    "byte_fallback": false,
    "ignore_merges": false,
    "vocab": {`)
	for i, v := range t.Vocab {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n      " + q(v) + ": " + fmt.Sprint(i))
	}
	buf.WriteString("\n    },\n    \"merges\": [")
	for i, m := range t.Merges {
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n      " + q(m[0]+" "+m[1]))
	}
	buf.WriteString("\n    ]\n  }\n}\n")
	if !json.Valid(buf.Bytes()) {
		return nil, fmt.Errorf("tokenizer.json: produced invalid JSON")
	}
	return buf.Bytes(), nil
}
