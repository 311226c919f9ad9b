package audit

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestClassifierOnFixture(t *testing.T) {
	ctx := context.Background()
	docs := fixtureCorpus(30, 1)
	cfg := ClassifierConfig{Dim: 1 << 12, Steps: 60}
	c, err := TrainClassifier(ctx, docs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"computers", "definitions", "love", "negative", "positive"}; !slices.Equal(c.Classes, want) {
		t.Fatalf("classes %v, want %v", c.Classes, want)
	}
	e, err := c.Evaluate(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	// Chance is 0.2; the classes differ only in content words.
	if e.Accuracy < 0.9 || e.MeanAUC < 0.95 || len(e.AUC) != 5 {
		t.Errorf("held-out accuracy %.3f, mean AUC %.3f over %d classes; want ≥ 0.9, ≥ 0.95, 5", e.Accuracy, e.MeanAUC, len(e.AUC))
	}
	// Deterministic: the same data and config give the same probabilities.
	c2, err := TrainClassifier(ctx, docs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	test := partTexts(docs, PartTest, "")
	p1, _ := c.Probs(ctx, test)
	p2, _ := c2.Probs(ctx, test)
	if !reflect.DeepEqual(p1, p2) {
		t.Error("two trainings on the same data disagree")
	}
	// Only the audit part trains it: other parts' texts change nothing.
	var auditOnly []Doc
	for _, d := range docs {
		if d.Part == PartAudit {
			auditOnly = append(auditOnly, d)
		}
	}
	c3, err := TrainClassifier(ctx, auditOnly, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p3, _ := c3.Probs(ctx, test); !reflect.DeepEqual(p1, p3) {
		t.Error("the non-audit parts changed the audit")
	}
}

func TestClassifierBadInput(t *testing.T) {
	ctx := context.Background()
	docs := fixtureCorpus(5, 1)
	var noAudit, oneClass []Doc
	for _, d := range docs {
		if d.Part != PartAudit {
			noAudit = append(noAudit, d)
		} else if d.Class == "definitions" {
			oneClass = append(oneClass, d)
		}
	}
	for _, tc := range []struct {
		name string
		docs []Doc
		want string
	}{
		{"empty audit part", noAudit, `no text in its audit part`},
		{"one class", oneClass, `audit part holds one class ("definitions")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TrainClassifier(ctx, tc.docs, ClassifierConfig{Dim: 64, Steps: 2})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	c, err := TrainClassifier(ctx, docs, ClassifierConfig{Dim: 64, Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClassIndex("zippy"); err == nil || !strings.Contains(err.Error(), `no class "zippy"`) || !strings.Contains(err.Error(), "definitions") {
		t.Errorf("unknown class: %v", err)
	}
}

func TestFluencyFilter(t *testing.T) {
	ctx := context.Background()
	docs := fixtureCorpus(40, 2)
	ref, err := TrainNGram(append(partTexts(docs, PartDisc, ""), partTexts(docs, PartAudit, "")...))
	if err != nil {
		t.Fatal(err)
	}
	band, err := FitBand(ctx, ref, partTexts(docs, PartTest, ""), 0.05, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text   string
		fluent bool
	}{
		{"i loved the great phone", true},                                                  // a real sentence (a frame of the corpus)
		{"the quantum atom was observed by me", true},                                      // another
		{"great great great great great great", false},                                     // a repeated word
		{"phone phone phone phone", false},                                                 // another
		{"i loved the great phone i loved the great phone i loved the great phone", false}, // a repeated sentence
		{"by was the me quantum observed atom", false},                                     // word salad: the same words, shuffled
		{"", false},    // nothing
		{"!!!", false}, // no words
	} {
		ppl, err := ref.Perplexity(ctx, []string{tc.text})
		if err != nil {
			t.Fatal(err)
		}
		rep := RepeatShare(tc.text)
		if got := band.Fluent(ppl[0], rep); got != tc.fluent {
			t.Errorf("%q: ppl %.1f, repeat %.2f, band %+v: fluent %v, want %v", tc.text, ppl[0], rep, band, got, tc.fluent)
		}
	}
	if _, err := FitBand(ctx, ref, []string{"", "?"}, 0.05, 0.95); err == nil {
		t.Error("a band from texts without words: no error")
	}
	if _, err := FitBand(ctx, ref, partTexts(docs, PartTest, ""), 0.9, 0.1); err == nil {
		t.Error("reversed quantiles: no error")
	}
	if _, err := TrainNGram([]string{"a b c"}); err == nil {
		t.Error("a reference LM from one sentence: no error")
	}
}

func TestRepeatShare(t *testing.T) {
	for _, tc := range []struct {
		text string
		want float64
	}{
		{"", 0}, {"one", 0}, {"a b c d", 0}, {"the the the the", 2.0 / 3}, {"a b a b", 1.0 / 3},
	} {
		if got := RepeatShare(tc.text); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("RepeatShare(%q) = %g, want %g", tc.text, got, tc.want)
		}
	}
}

func TestJudgeAndSummary(t *testing.T) {
	ctx := context.Background()
	docs := fixtureCorpus(30, 3)
	j := fixtureJudge(t, docs)
	texts := []string{"i enjoyed the wonderful movie", "the awful service was hated by me", "movie movie movie movie"}
	vs, err := j.Judge(ctx, texts, "positive")
	if err != nil {
		t.Fatal(err)
	}
	if !vs[0].Fluent || vs[0].Top != "positive" || vs[0].Success != vs[0].P || vs[0].P < 0.5 {
		t.Errorf("a positive sentence: %+v", vs[0])
	}
	if vs[1].Top != "negative" || vs[1].P > 0.5 {
		t.Errorf("a negative sentence judged for positive: %+v", vs[1])
	}
	if vs[2].Fluent || vs[2].Success != 0 {
		t.Errorf("a repeated word scores: %+v", vs[2])
	}
	s := Summarize(texts, vs)
	want := (vs[0].Success + vs[1].Success) / 3
	if math.Abs(s.Score-want) > 1e-12 || s.N != 3 || math.Abs(s.Fluent-2.0/3) > 1e-12 || math.Abs(s.Hit-1.0/3) > 1e-12 {
		t.Errorf("summary %+v, want score %g, fluent 2/3, hit 1/3", s, want)
	}
	// Real positive test text scores far above the other classes' for "positive".
	pos, err := j.ScoreTexts(ctx, partTexts(docs, PartTest, "positive"), "positive")
	if err != nil {
		t.Fatal(err)
	}
	sci, err := j.ScoreTexts(ctx, partTexts(docs, PartTest, "definitions"), "positive")
	if err != nil {
		t.Fatal(err)
	}
	if pos.Score < 0.6 || sci.Score > 0.2 {
		t.Errorf("real positive text %.3f, science text %.3f for the positive task", pos.Score, sci.Score)
	}
}

// fixtureJudge builds the judge from a fixture corpus as the bench does
// from the English one.
func fixtureJudge(t *testing.T, docs []Doc) *Judge {
	t.Helper()
	ctx := context.Background()
	c, err := TrainClassifier(ctx, docs, ClassifierConfig{Dim: 1 << 12, Steps: 60})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := TrainNGram(append(partTexts(docs, PartDisc, ""), partTexts(docs, PartAudit, "")...))
	if err != nil {
		t.Fatal(err)
	}
	band, err := FitBand(ctx, ref, partTexts(docs, PartTest, ""), 0.05, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	return &Judge{Audit: c, Ref: ref, Band: band}
}

func TestBandFluent(t *testing.T) {
	b := Band{Lo: 10, Hi: 100, MaxRepeat: 0.1}
	for _, tc := range []struct {
		ppl, rep float64
		want     bool
	}{
		{50, 0, true}, {10, 0.1, true}, {100, 0, true},
		{9.9, 0, false},         // more predictable than real text
		{101, 0, false},         // less
		{50, 0.5, false},        // a fluent phrase repeated: every bigram common, half of them repeats
		{math.Inf(1), 0, false}, // nothing to score
		{math.NaN(), 0, false},
	} {
		if got := b.Fluent(tc.ppl, tc.rep); got != tc.want {
			t.Errorf("Fluent(%g, %g) = %v, want %v", tc.ppl, tc.rep, got, tc.want)
		}
	}
}

func TestClassifierParts(t *testing.T) {
	ctx := context.Background()
	docs := fixtureCorpus(10, 1)
	for _, part := range []string{PartDisc, PartTest} {
		if _, err := TrainClassifier(ctx, docs, ClassifierConfig{Dim: 64, Steps: 2, Parts: []string{PartAudit, part}}); err == nil || !strings.Contains(err.Error(), "never trains on") {
			t.Errorf("parts audit+%s: %v", part, err)
		}
	}
	a, err := TrainClassifier(ctx, docs, ClassifierConfig{Dim: 256, Steps: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainClassifier(ctx, docs, ClassifierConfig{Dim: 256, Steps: 5, Parts: []string{PartAudit, PartTarget}})
	if err != nil {
		t.Fatal(err)
	}
	test := partTexts(docs, PartTest, "")
	pa, _ := a.Probs(ctx, test)
	pb, _ := b.Probs(ctx, test)
	if reflect.DeepEqual(pa, pb) {
		t.Error("training on audit+target gave the audit-only classifier")
	}
}
