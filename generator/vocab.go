package generator

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prompt vocabulary kinds: what the generator's token ids stand for when it
// writes text prompts.
const (
	VocabTarget  = "target"  // the target's own tokens: ids are the target tokenizer's, decoded by it
	VocabWords   = "words"   // the most frequent words of the task's training texts, joined by spaces
	VocabPhrases = "phrases" // the lines of a phrase-bank file, joined by spaces
)

// Vocab maps the generator's token ids to text: a prompt of ids becomes the
// text the template puts before the target. Words and phrases keep prompts
// readable; the target's tokens let G write anything the target can read.
type Vocab struct {
	Kind   string
	Pieces []string // id → text (words and phrases); nil for VocabTarget
	size   int
	decode func([]int32) (string, error) // VocabTarget only
	print  string                        // fingerprint
}

// Size is the number of token ids: the generator's vocabulary size.
func (v *Vocab) Size() int { return v.size }

// Fingerprint identifies the vocabulary: a checkpoint written with another
// one cannot be resumed with this one (the ids would mean other text).
func (v *Vocab) Fingerprint() string { return v.print }

// Text returns the text of a prompt of ids.
func (v *Vocab) Text(ids []int32) (string, error) {
	for i, id := range ids {
		if id < 0 || int(id) >= v.size {
			return "", fmt.Errorf("prompt token %d (position %d) is outside the %s vocabulary of %d", id, i, v.Kind, v.size)
		}
	}
	if v.decode != nil {
		return v.decode(ids)
	}
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = v.Pieces[id]
	}
	return strings.Join(parts, " "), nil
}

// TargetVocab is the target tokenizer's vocabulary of size ids, turned into
// text by decode (the target's tokenizer). fingerprint identifies the
// tokenizer (e.g. its file's SHA-256).
func TargetVocab(size int, decode func([]int32) (string, error), fingerprint string) (*Vocab, error) {
	if size < 2 {
		return nil, fmt.Errorf("target vocabulary of %d tokens: need at least 2", size)
	}
	if decode == nil {
		return nil, errors.New("the target has no tokenizer to turn prompt ids into text: give it a tokenizer.json, or use prompt_vocab words or phrases")
	}
	return &Vocab{Kind: VocabTarget, size: size, decode: decode, print: fmt.Sprintf("target:%d:%s", size, fingerprint)}, nil
}

// Words splits text into the words WordsVocab counts: maximal runs of
// letters, digits and apostrophes, lower-cased.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
	})
}

// WordIDs maps the texts' words (Words) to ids, first seen first numbered:
// the form the n-gram diversity metrics (distinct-n, self-BLEU) take.
func WordIDs(texts []string) [][]int {
	ids := map[string]int{}
	out := make([][]int, len(texts))
	for i, t := range texts {
		for _, w := range Words(t) {
			id, ok := ids[w]
			if !ok {
				id = len(ids)
				ids[w] = id
			}
			out[i] = append(out[i], id)
		}
	}
	return out
}

// WordsVocab is the max most frequent words of texts (ties broken by the
// word, so the list is a function of the texts alone).
func WordsVocab(texts []string, max int) (*Vocab, error) {
	v, _, err := WordsVocabOf(texts, max, nil)
	return v, err
}

// WordsVocabOf is WordsVocab over the words keep accepts (nil: all): the
// max most frequent of them. It also returns the words keep refused, most
// frequent first.
func WordsVocabOf(texts []string, max int, keep func(word string) bool) (*Vocab, []string, error) {
	if max < 2 {
		return nil, nil, fmt.Errorf("words vocabulary of %d: need at least 2 words", max)
	}
	counts := map[string]int{}
	for _, t := range texts {
		for _, w := range Words(t) {
			counts[w]++
		}
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	var refused []string
	if keep != nil {
		kept := words[:0]
		for _, w := range words {
			if keep(w) {
				kept = append(kept, w)
			} else {
				refused = append(refused, w)
			}
		}
		words = kept
	}
	if len(words) < 2 {
		return nil, refused, fmt.Errorf("the training texts hold %d distinct usable word(s): a words vocabulary needs at least 2 (use a phrase bank or the target's tokens)", len(words))
	}
	if len(words) > max {
		words = words[:max]
	}
	return piecesVocab(VocabWords, words), refused, nil
}

// MaxPhraseLen bounds one phrase of a phrase bank, in bytes.
const MaxPhraseLen = 1000

// LoadPhrases reads a phrase bank: one phrase a line (UTF-8, a BOM and CRLF
// line ends accepted, blank lines and lines starting with # skipped,
// surrounding space trimmed, duplicates refused).
func LoadPhrases(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("phrase bank: %w", err)
	}
	defer f.Close()
	v, err := ParsePhrases(f, path)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ParsePhrases is LoadPhrases on a reader; name is used in errors.
func ParsePhrases(r io.Reader, name string) (*Vocab, error) {
	phrases, err := readLines(r, name, "phrase")
	if err != nil {
		return nil, err
	}
	if len(phrases) < 2 {
		return nil, fmt.Errorf("%s: %d phrase(s); a phrase bank needs at least 2, one a line", name, len(phrases))
	}
	return piecesVocab(VocabPhrases, phrases), nil
}

// LoadExamples reads example prompts — prompts of the kind a user would
// write, which G pre-trains on by maximum likelihood — with a phrase
// bank's rules: one a line, UTF-8 (a BOM and CRLF line ends accepted),
// blank lines and lines starting with # skipped, surrounding space
// trimmed, duplicates refused, at least one.
func LoadExamples(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("example prompts: %w", err)
	}
	defer f.Close()
	return ParseExamples(f, path)
}

// ParseExamples is LoadExamples on a reader; name is used in errors.
func ParseExamples(r io.Reader, name string) ([]string, error) {
	ex, err := readLines(r, name, "example prompt")
	if err == nil && len(ex) == 0 {
		err = fmt.Errorf("%s: no example prompts: write one a line", name)
	}
	return ex, err
}

// readLines reads one item (a phrase, an example prompt) a line: UTF-8, a
// BOM and CRLF line ends accepted, blank lines and lines starting with #
// skipped, surrounding space trimmed, at most MaxPhraseLen bytes, each
// once; what names an item in errors.
func readLines(r io.Reader, name, what string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), MaxPhraseLen+2)
	seen := map[string]int{}
	var items []string
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff"))
		}
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%s:%d: not valid UTF-8: save the file as UTF-8", name, line)
		}
		p := strings.TrimSpace(string(b))
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if len(p) > MaxPhraseLen {
			return nil, fmt.Errorf("%s:%d: %s of %d bytes; the limit is %d", name, line, article(what), len(p), MaxPhraseLen)
		}
		if first, ok := seen[p]; ok {
			return nil, fmt.Errorf("%s:%d: %s %q repeats line %d: each %s once", name, line, what, p, first, what)
		}
		seen[p] = line
		items = append(items, p)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: a line longer than %d bytes: one short %s a line", name, line+1, MaxPhraseLen, what)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return items, nil
}

// article is "a what" or "an what".
func article(what string) string {
	if strings.ContainsRune("aeiou", rune(what[0])) {
		return "an " + what
	}
	return "a " + what
}

func piecesVocab(kind string, pieces []string) *Vocab {
	h := sha256.New()
	for _, p := range pieces {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return &Vocab{Kind: kind, Pieces: pieces, size: len(pieces), print: fmt.Sprintf("%s:%d:sha256:%s", kind, len(pieces), hex.EncodeToString(h.Sum(nil)))}
}
