package english_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/english"
)

func TestParseFortunes(t *testing.T) {
	f, err := os.Open("testdata/science")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := english.ParseFortunes(f, "testdata/science")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"The laws of physics are the same everywhere, or so the physicists say.",
		"Short one.",
		"A bold move in the lab today was fine.",
		"An experiment is a question which science poses to nature.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}

	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"overstruck underline and accent", "with what ____\b\b\b\bdoes exist, said Ren'\bé.", []string{"with what does exist, said René."}, ""},
		{"no separator at the end", "one two\nthree", []string{"one two three"}, ""},
		{"separator with trailing spaces", "a b \n%  \nc", []string{"a b", "c"}, ""},
		{"only attribution", "\t-- Someone\n%\nx", []string{"x"}, ""},
		{"a dash inside a line is text", "a -- b\n%", []string{"a -- b"}, ""},
		{"not UTF-8 (a .dat index)", "ok\n%\n\xff\xfe\x00\x01", nil, "x:3: not UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := english.ParseFortunes(strings.NewReader(tc.in), "x")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, english.ErrCorpus) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseSentiment(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []english.Doc
		err      string
	}{
		{"good and bad", `{"text":"Great  phone.","label":"good"}` + "\n\n" + `{"text":"Awful.","label":"bad"}`,
			[]english.Doc{{Text: "Great phone.", Class: "positive", Source: "uci/amazon"}, {Text: "Awful.", Class: "negative", Source: "uci/amazon"}}, ""},
		{"bad JSON", `{"text":"a","label":"good"}` + "\n" + `{"text":`, nil, "s.jsonl:2: want"},
		{"unknown label", `{"text":"a","label":"meh"}`, nil, `s.jsonl:1: label "meh"`},
		{"empty text", `{"text":" ","label":"good"}`, nil, "s.jsonl:1: empty text"},
		{"unknown field", `{"text":"a","label":"good","x":1}`, nil, "s.jsonl:1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := english.ParseSentiment(strings.NewReader(tc.in), "s.jsonl")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPartOf(t *testing.T) {
	// Duplicates up to case, spacing and punctuation spacing land together.
	for _, same := range [][]string{
		{"The cat sat.", "the  cat SAT.", "The cat sat ."},
		{"Don't panic!", "don't panic !"},
	} {
		for _, s := range same[1:] {
			if english.PartOf(s) != english.PartOf(same[0]) {
				t.Errorf("PartOf(%q) = %s, PartOf(%q) = %s", s, english.PartOf(s), same[0], english.PartOf(same[0]))
			}
		}
	}
	// The shares are near 50/20/15/15 on many texts, and fixed by the hash:
	// these expectations change only if the partition does.
	counts := map[string]int{}
	for i := range 4000 {
		counts[english.PartOf(fmt.Sprintf("text number %d", i))]++
	}
	for _, tc := range []struct {
		part string
		want float64
	}{{english.PartTarget, 0.5}, {english.PartDisc, 0.2}, {english.PartAudit, 0.15}, {english.PartTest, 0.15}} {
		if got := float64(counts[tc.part]) / 4000; got < tc.want-0.03 || got > tc.want+0.03 {
			t.Errorf("part %s: share %.3f, want %.2f ± 0.03", tc.part, got, tc.want)
		}
	}
	if got, want := english.PartOf("The laws of physics"), english.PartOf("The laws of physics"); got != want {
		t.Errorf("PartOf is not deterministic: %s then %s", got, want)
	}
}

// fixture writes a fortunes directory with n quotes per topic file and a
// sentiment file with n sentences per label (short for class short).
func fixture(t *testing.T, n int, short string) (fortunes, sentiment string) {
	t.Helper()
	dir := t.TempDir()
	fortunes = filepath.Join(dir, "fortunes")
	if err := os.Mkdir(fortunes, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tp := range english.Topics {
		for _, f := range tp.Files {
			var b strings.Builder
			k := n
			if tp.Class == short {
				k = 2
			}
			for i := range k {
				fmt.Fprintf(&b, "Quote %d of the %s file is about %s things indeed.\n\t-- Author %d\n%%\n", i, f, tp.Class, i)
			}
			b.WriteString("Too short.\n%\nThe same quote appears twice in this file.\n%\nThe same quote appears twice in this file.\n")
			if err := os.WriteFile(filepath.Join(fortunes, f), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"text\":\"Review %d is great.\",\"label\":\"good\"}\n{\"text\":\"Review %d is awful.\",\"label\":\"bad\"}\n", i, i)
	}
	sentiment = filepath.Join(dir, "sentiment.jsonl")
	if err := os.WriteFile(sentiment, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return fortunes, sentiment
}

func TestBuild(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "")
	docs, err := english.Build(fortunes, sentiment, 20)
	if err != nil {
		t.Fatal(err)
	}
	counts := english.Count(docs)
	files := map[string]int{english.ClassPositive: 1, english.ClassNegative: 1}
	for _, tp := range english.Topics {
		files[tp.Class] = len(tp.Files)
	}
	for i, c := range english.Classes() {
		// 30 quotes a file ("Too short." dropped); the quote in every file
		// is kept once, in the first topic class
		want := 30 * files[c]
		if i == 2 {
			want++
		}
		if counts[c][""] != want {
			t.Errorf("class %s: %d docs, want %d", c, counts[c][""], want)
		}
	}
	for _, d := range docs {
		if d.Part != english.PartOf(d.Text) {
			t.Errorf("%q: part %s, want %s", d.Text, d.Part, english.PartOf(d.Text))
		}
		if strings.Contains(d.Text, "Author") {
			t.Errorf("%q kept its attribution", d.Text)
		}
	}
	again, err := english.Build(fortunes, sentiment, 20)
	if err != nil || !slices.Equal(docs, again) {
		t.Errorf("a second build differs (err %v)", err)
	}

	_, err = english.Build(fortunes, filepath.Join(t.TempDir(), "none.jsonl"), 20)
	if err == nil || !strings.Contains(err.Error(), "setup-sentiment.sh") {
		t.Errorf("missing sentiment file: err = %v", err)
	}
	if err := os.Remove(filepath.Join(fortunes, "politics")); err != nil {
		t.Fatal(err)
	}
	_, err = english.Build(fortunes, sentiment, 20)
	if err == nil || !strings.Contains(err.Error(), "class politics") {
		t.Errorf("missing fortunes file: err = %v", err)
	}
}

func TestBuildTooFew(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "work")
	_, err := english.Build(fortunes, sentiment, 20)
	if err == nil || !errors.Is(err, english.ErrCorpus) || !strings.Contains(err.Error(), "class work has 2 texts") {
		t.Fatalf("err = %v, want class work has 2 texts", err)
	}
	// BuildDir leaves no directory behind, and an existing finished one alone.
	out := filepath.Join(t.TempDir(), "english")
	err = english.BuildDir(context.Background(), english.BuildOptions{Fortunes: fortunes, Sentiment: sentiment, Out: out, Stamp: "s", MinPerClass: 20, CorpusOnly: true, Logger: quiet})
	if err == nil {
		t.Fatal("BuildDir succeeded on a class with too few texts")
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 0 {
		t.Errorf("a failed build left %v", entries)
	}
}

func TestLoadCorpus(t *testing.T) {
	good := `{"text":"a b c","class":"science","part":"test","source":"fortunes/science"}`
	for _, tc := range []struct {
		name, body, err string
	}{
		{"ok", good + "\n" + good + "\n", ""},
		{"bad JSON", good + "\n{\"text\":", "c.jsonl:2: want"},
		{"unknown class", `{"text":"a","class":"cats","part":"test","source":"x"}`, `c.jsonl:1: class "cats" is not one of positive, negative, science`},
		{"unknown part", `{"text":"a","class":"work","part":"train","source":"x"}`, `c.jsonl:1: part "train" is not one of target, disc, audit, test`},
		{"empty text", `{"text":"","class":"work","part":"test","source":"x"}`, "c.jsonl:1: empty text"},
		{"unknown field", `{"text":"a","class":"work","part":"test","label":"x"}`, "c.jsonl:1:"},
		{"empty file", "", "c.jsonl is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.jsonl")
			if err := os.WriteFile(path, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			docs, err := english.LoadCorpus(path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, english.ErrCorpus) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			want := english.Doc{Text: "a b c", Class: "science", Part: "test", Source: "fortunes/science"}
			if err != nil || len(docs) != 2 || docs[0] != want {
				t.Errorf("got %+v, %v", docs, err)
			}
		})
	}
	if _, err := english.LoadCorpus(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "setup-english.sh") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestBuildDirRoundTrip(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "")
	out := filepath.Join(t.TempDir(), "english")
	if err := os.MkdirAll(filepath.Join(out, "stale"), 0o755); err != nil {
		t.Fatal(err)
	}
	opt := english.BuildOptions{Fortunes: fortunes, Sentiment: sentiment, Out: out, Stamp: "v1", MinPerClass: 20, CorpusOnly: true, Logger: quiet}
	if err := english.BuildDir(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	docs, err := english.LoadCorpus(filepath.Join(out, english.CorpusFile))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := english.Build(fortunes, sentiment, 20)
	if !slices.Equal(docs, want) {
		t.Error("corpus.jsonl does not load back as built")
	}
	if b, _ := os.ReadFile(filepath.Join(out, english.VersionFile)); string(b) != "v1\n" {
		t.Errorf("VERSION = %q", b)
	}
	if _, err := os.Stat(filepath.Join(out, "stale")); !os.IsNotExist(err) {
		t.Error("the old directory's contents survived the rebuild")
	}
}
