package english

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// The parts of every class (see the package doc).
const (
	PartTarget = "target"
	PartDisc   = "disc"
	PartAudit  = "audit"
	PartTest   = "test"
)

// Parts lists the parts in order.
var Parts = []string{PartTarget, PartDisc, PartAudit, PartTest}

// The sentiment classes, from the UCI review sentences.
const (
	ClassPositive = "positive"
	ClassNegative = "negative"
)

// Topic is a class made of fortunes files.
type Topic struct {
	Class string   // the class name, e.g. "science"
	Files []string // fortunes files (under /usr/share/games/fortunes) whose quotes form it
}

// Topics are the fortunes classes: the package's files with a clear subject
// and at least MinPerClass usable quotes (people, cookie, miscellaneous and
// the like have no subject), related files joined (computers with linux,
// perl and debian; politics with law; love with men-women). More classes
// mean more English for the target LM to learn from; the built-in tasks
// (audit.Tasks) use the ones whose text the LM can be steered to (measured:
// docs/BENCHMARKS.md). The package has no offensive-by-design files (those
// are in fortunes-off, which is never fetched).
var Topics = []Topic{
	{"science", []string{"science", "medicine", "goedel"}},
	{"computers", []string{"computers", "linux", "perl", "linuxcookie", "debian"}},
	{"politics", []string{"politics", "law"}},
	{"work", []string{"work"}},
	{"love", []string{"love", "men-women"}},
	{"zippy", []string{"zippy"}},
	{"songs", []string{"songs-poems"}},
	{"startrek", []string{"startrek"}},
	{"food", []string{"food", "drugs"}},
	{"definitions", []string{"definitions"}},
	{"art", []string{"art"}},
	{"education", []string{"education", "kids"}},
}

// Classes returns every class name: the sentiment classes, then the topics.
func Classes() []string {
	out := []string{ClassPositive, ClassNegative}
	for _, t := range Topics {
		out = append(out, t.Class)
	}
	return out
}

// Filters on quotes and sentences (words = whitespace-separated fields).
const (
	MinWords          = 5   // shorter fortunes are mostly one-liners without a topic
	MaxWords          = 40  // longer ones are dialogues, lists and ASCII art
	MinSentimentWords = 3   // review sentences are short; "Great phone." still says something
	MinPerClass       = 150 // a class needs this many texts to split four ways usefully
)

// Doc is one text of the corpus.
type Doc struct {
	Text   string `json:"text"`
	Class  string `json:"class"`
	Part   string `json:"part"`
	Source string `json:"source"` // where it came from: "fortunes/science", "uci/amazon", …
}

// ErrCorpus marks a corpus that is malformed or too small (test it with errors.Is).
var ErrCorpus = errors.New("english corpus")

// unstrike applies the backspaces of overstruck text as a terminal shows
// it: old fortunes underline ("_\bn"), embolden ("b\bb") and accent
// ("e'\b") by overstriking, and the last character struck is the one kept.
func unstrike(s string) string {
	if !strings.ContainsRune(s, '\b') {
		return s
	}
	var out []rune
	for _, r := range s {
		if r == '\b' {
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

// attribution matches a quote's attribution line ("\t\t-- Mark Twain").
var attribution = regexp.MustCompile(`^\s*--\s*\S`)

// ParseFortunes reads a fortune file (quotes separated by lines holding
// only "%") and returns each quote as one line of normalised text: the
// attribution and everything after it dropped, overstriking removed,
// whitespace collapsed. Empty quotes are skipped. name is used in errors.
func ParseFortunes(r io.Reader, name string) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []string
	var cur []string
	attributed := false
	flush := func() {
		if t := Normalize(strings.Join(cur, " ")); t != "" {
			out = append(out, t)
		}
		cur, attributed = cur[:0], false
	}
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: %s:%d: not UTF-8 text: is it a fortune file (not its .dat index)?", ErrCorpus, name, line)
		}
		if strings.TrimRight(s, " \t\r") == "%" {
			flush()
			continue
		}
		if attributed {
			continue
		}
		if attribution.MatchString(s) {
			attributed = true
			continue
		}
		cur = append(cur, unstrike(s))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrCorpus, name, line+1, err)
	}
	flush()
	return out, nil
}

// Normalize collapses runs of whitespace (tabs, newlines) into one space
// and trims the ends; control characters are dropped.
func Normalize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == 0xA0:
			space = b.Len() > 0
		case r < 0x20 || r == 0x7f:
		default:
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// key is the form two texts are duplicates by: lower case, words only.
func key(text string) string {
	return strings.Join(Words(text), " ")
}

// PartOf returns the part a text belongs to, from the SHA-256 of its
// normalised form (lower case, punctuation split): ~50% target, ~20% disc,
// ~15% audit, ~15% test.
func PartOf(text string) string {
	h := sha256.Sum256([]byte(key(text)))
	switch b := binary.BigEndian.Uint64(h[:8]) % 100; {
	case b < 50:
		return PartTarget
	case b < 70:
		return PartDisc
	case b < 85:
		return PartAudit
	default:
		return PartTest
	}
}

// sentimentLine is one line of .cache/data/sentiment.jsonl.
type sentimentLine struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

// uciSources names the three files of the UCI set in the order
// scripts/setup-sentiment.sh concatenates them, 1,000 lines each.
var uciSources = []string{"uci/amazon", "uci/imdb", "uci/yelp"}

// ParseSentiment reads the sentiment task file ({"text","label"} a line,
// label good or bad) and returns its sentences as positive and negative
// docs (Part unset). name is used in errors.
func ParseSentiment(r io.Reader, name string) ([]Doc, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []Doc
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l sentimentLine
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: want {\"text\": ..., \"label\": \"good\"|\"bad\"}: %v", ErrCorpus, name, line, err)
		}
		d := Doc{Text: Normalize(l.Text)}
		switch l.Label {
		case "good":
			d.Class = ClassPositive
		case "bad":
			d.Class = ClassNegative
		default:
			return nil, fmt.Errorf("%w: %s:%d: label %q: want \"good\" or \"bad\"", ErrCorpus, name, line, l.Label)
		}
		if d.Text == "" {
			return nil, fmt.Errorf("%w: %s:%d: empty text", ErrCorpus, name, line)
		}
		d.Source = "uci"
		if i := (line - 1) / 1000; i < len(uciSources) {
			d.Source = uciSources[i]
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrCorpus, name, line+1, err)
	}
	return out, nil
}

// Build assembles the corpus from a directory of fortune files (the
// package's /usr/share/games/fortunes) and the sentiment task file: every
// class's texts filtered by length, deduplicated (the first occurrence in
// class order wins, so no text carries two labels) and given its part. It
// fails, naming the class and the fix, when a class has fewer than
// minPerClass texts (MinPerClass for the real corpus; tests pass less).
func Build(fortunesDir, sentimentPath string, minPerClass int) ([]Doc, error) {
	f, err := os.Open(sentimentPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (run scripts/setup-sentiment.sh, or make setup)", ErrCorpus, err)
	}
	reviews, err := ParseSentiment(f, sentimentPath)
	f.Close()
	if err != nil {
		return nil, err
	}
	var raw []Doc
	for _, c := range []string{ClassPositive, ClassNegative} {
		for _, d := range reviews {
			if d.Class == c && len(strings.Fields(d.Text)) >= MinSentimentWords && len(strings.Fields(d.Text)) <= MaxWords {
				raw = append(raw, d)
			}
		}
	}
	for _, t := range Topics {
		for _, file := range t.Files {
			path := filepath.Join(fortunesDir, file)
			fh, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("%w: class %s: %v (the fortunes package should hold it; rerun scripts/setup-english.sh)", ErrCorpus, t.Class, err)
			}
			quotes, err := ParseFortunes(fh, path)
			fh.Close()
			if err != nil {
				return nil, err
			}
			for _, q := range quotes {
				if n := len(strings.Fields(q)); n >= MinWords && n <= MaxWords {
					raw = append(raw, Doc{Text: q, Class: t.Class, Source: "fortunes/" + file})
				}
			}
		}
	}
	seen := map[string]bool{}
	var docs []Doc
	for _, d := range raw {
		k := key(d.Text)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		d.Part = PartOf(d.Text)
		docs = append(docs, d)
	}
	counts := Count(docs)
	for _, c := range Classes() {
		if n := counts[c][""]; n < minPerClass {
			return nil, fmt.Errorf("%w: class %s has %d texts after filtering (%d–%d words, duplicates dropped), fewer than the %d a class needs: check the fortunes package version and %s", ErrCorpus, c, n, MinWords, MaxWords, minPerClass, sentimentPath)
		}
	}
	return docs, nil
}

// Count returns the number of docs per class and part; counts[class][""]
// is the class's total and counts[""][part] the part's.
func Count(docs []Doc) map[string]map[string]int {
	out := map[string]map[string]int{"": {}}
	for _, c := range Classes() {
		out[c] = map[string]int{}
	}
	for _, d := range docs {
		if out[d.Class] == nil {
			out[d.Class] = map[string]int{}
		}
		out[d.Class][d.Part]++
		out[d.Class][""]++
		out[""][d.Part]++
		out[""][""]++
	}
	return out
}

// CountTable writes the counts as a Markdown table, a row per class.
func CountTable(docs []Doc) string {
	c := Count(docs)
	var b strings.Builder
	b.WriteString("| class | " + strings.Join(Parts, " | ") + " | all |\n|---|" + strings.Repeat("---:|", len(Parts)+1) + "\n")
	for _, cl := range append(Classes(), "") {
		name := cl
		if cl == "" {
			name = "all"
		}
		b.WriteString("| " + name)
		for _, p := range append(slices.Clone(Parts), "") {
			fmt.Fprintf(&b, " | %d", c[cl][p])
		}
		b.WriteString(" |\n")
	}
	return b.String()
}

// WriteCorpus writes docs as JSONL, one Doc a line.
func WriteCorpus(w io.Writer, docs []Doc) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// LoadCorpus reads a corpus.jsonl that WriteCorpus wrote. Every line must be
// a Doc with non-empty text, a known class and a known part; the first bad
// line is reported as path:line.
func LoadCorpus(path string) ([]Doc, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load corpus: %w (build it with scripts/setup-english.sh, or make setup)", err)
	}
	defer f.Close()
	classes := map[string]bool{}
	for _, c := range Classes() {
		classes[c] = true
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var docs []Doc
	line := 0
	for sc.Scan() {
		line++
		var d Doc
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: want {\"text\",\"class\",\"part\",\"source\"}: %v", ErrCorpus, path, line, err)
		}
		switch {
		case strings.TrimSpace(d.Text) == "":
			return nil, fmt.Errorf("%w: %s:%d: empty text", ErrCorpus, path, line)
		case !classes[d.Class]:
			return nil, fmt.Errorf("%w: %s:%d: class %q is not one of %s", ErrCorpus, path, line, d.Class, strings.Join(Classes(), ", "))
		case !slices.Contains(Parts, d.Part):
			return nil, fmt.Errorf("%w: %s:%d: part %q is not one of %s", ErrCorpus, path, line, d.Part, strings.Join(Parts, ", "))
		}
		docs = append(docs, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s:%d: %v", ErrCorpus, path, line+1, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrCorpus, path)
	}
	return docs, nil
}

// Select returns the docs of the given part whose class is in classes (all
// classes when classes is empty), in corpus order.
func Select(docs []Doc, part string, classes ...string) []Doc {
	var out []Doc
	for _, d := range docs {
		if d.Part == part && (len(classes) == 0 || slices.Contains(classes, d.Class)) {
			out = append(out, d)
		}
	}
	return out
}
