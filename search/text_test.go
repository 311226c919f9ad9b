package search

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/checkpoints"
	"promptgan/internal/ort/orttest"
	"promptgan/targets"
)

const tinyGPT2 = "../internal/ort/export/testdata/tiny-gpt2"

// openTextTarget opens the tiny GPT-2 export (BPE tokenizer.json) as a text
// target decoding at most genLen tokens.
func openTextTarget(t *testing.T, genLen int) *targets.TextTarget {
	t.Helper()
	orttest.LoadOrSkip(t)
	o, err := targets.Open(targets.Config{Name: tinyGPT2, MaxNewTokens: genLen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	if o.Text == nil {
		t.Fatal("tiny-gpt2 offers no text")
	}
	return o.Text
}

// tinyTextConfig is a text run of a few seconds on a task of testdata with
// the hashing encoder (no setup cache needed).
func tinyTextConfig(taskFile string) Config {
	c, _ := Preset("text")
	c.Task, c.Target = filepath.Join("testdata", taskFile), tinyGPT2
	c.Encoder = "hashing:64"
	c.Generator.Emb, c.Generator.Hidden = 8, 8
	c.TextDiscriminator.Hidden, c.TextDiscriminator.Members = 8, 2
	c.PromptLen, c.GenLen = 3, 6
	c.BatchSize = 4
	c.Steps, c.MLESteps, c.DPretrainSteps = 10, 2, 3 // G's MLE on windows of the good texts, then D
	c.ValidationShare, c.TestShare = 0.25, 0.25
	c.ReplaySize = 16
	c.EvalEvery, c.EvalSamples = 4, 6
	c.CheckpointEvery = 2
	c.HallOfFame = 3
	return c
}

func TestTextRunResumeIsBitExact(t *testing.T) {
	for _, taskFile := range []string{"reviews.jsonl", "answers.jsonl"} {
		t.Run(taskFile, func(t *testing.T) {
			tt := openTextTarget(t, 6)
			cfg := tinyTextConfig(taskFile)
			ctx := context.Background()
			tr, err := New(cfg, tt)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Run(ctx, tr, RunOptions{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if want.Step != cfg.Steps {
				t.Fatalf("uninterrupted run ended at step %d", want.Step)
			}
			for _, key := range []string{"auc", "ece", "accuracy", "d_fake", "d_real", "d_std", "distinct_2"} {
				if _, ok := want.Eval[key]; !ok {
					t.Errorf("final evaluation lacks %s: %v", key, want.Eval)
				}
			}
			hall := tr.HallOfFame()
			if len(hall) == 0 || hall[0].PromptText == "" || (taskFile == "answers.jsonl") != (hall[0].Input != "") {
				t.Fatalf("hall of fame %+v", hall)
			}
			if tr.Gen.Cfg.Vocab < 2 || tr.Gen.Cfg.Vocab > cfg.PromptWords {
				t.Fatalf("generator vocabulary %d, want the task's words", tr.Gen.Cfg.Vocab)
			}
			if p := tr.Data.Prior; p == nil || p.N < 1 || p.T != cfg.PromptLen || tr.MLEWeights() == nil {
				t.Fatalf("G's MLE prior %+v (MLE weights kept: %v): want prompt_len windows of the good texts", p, tr.MLEWeights() != nil)
			}

			dir := t.TempDir()
			tr, err = New(cfg, tt)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Run(ctx, tr, RunOptions{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			ck, err := checkpoints.Load(filepath.Join(dir, CheckpointsDir, checkpointName(6)))
			if err != nil {
				t.Fatal(err)
			}
			if ck.Manifest.Fingerprints["kind"] != KindText {
				t.Fatalf("fingerprints.kind %q, want %q", ck.Manifest.Fingerprints["kind"], KindText)
			}
			saved, err := ConfigOf(ck)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Restore(ck, saved, tt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Run(ctx, r, RunOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(finalGen(t, got), finalGen(t, want)) {
				t.Fatal("the resumed run's final weights differ from the uninterrupted run's")
			}
			if got.Ledger == nil || got.Ledger.Hits == 0 || got.Ledger.Misses != 0 {
				t.Fatalf("resumed run's ledger: %+v, want every call answered from it", got.Ledger)
			}
			for k, v := range want.Eval {
				if got.Eval[k] != v {
					t.Errorf("final eval %s: %v resumed, %v uninterrupted", k, got.Eval[k], v)
				}
			}

			// Another task, encoder or prompt vocabulary is refused.
			for _, tc := range []struct {
				tweak func(*Config)
				want  error
				msg   string
			}{
				{func(c *Config) {
					c.Task = filepath.Join("testdata", map[string]string{"reviews.jsonl": "answers.jsonl", "answers.jsonl": "reviews.jsonl"}[taskFile])
				}, nil, ""},
				{func(c *Config) { c.Encoder = "hashing:32" }, ErrArchitectureChanged, "encoder"},
				{func(c *Config) { c.SplitSeed = 9 }, ErrDataChanged, "since the checkpoint"},
			} {
				c := saved
				tc.tweak(&c)
				_, err := Restore(ck, c, tt)
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("resume with a changed config: %v, want %v naming %q", err, tc.want, tc.msg)
				}
			}
		})
	}
}

func TestTextConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		tweak func(*Config)
		want  string
	}{
		{func(c *Config) { c.Target = "identity" }, "a text run needs a model that reads and writes text"},
		{func(c *Config) { c.Train = "refs.txt" }, "remove the token files"},
		{func(c *Config) { c.MLESteps, c.PromptVocab = 5, "phrases:bank.txt" }, "a phrase bank cannot segment"},
		{func(c *Config) { c.PromptVocab = "phrases" }, "phrases:FILE"},
		{func(c *Config) { c.PromptVocab = "letters" }, `prompt_vocab = "letters"`},
		{func(c *Config) { c.ValidationShare, c.TestShare = 0.5, 0.5 }, "together < 1"},
		{func(c *Config) { c.Credit = "prefix" }, "use credit: sequence"},
		{func(c *Config) { c.TextDiscriminator.Members = 0 }, "text_discriminator.members = 0"},
		{func(c *Config) { c.MaxNewTokens = 9 }, "set max_new_tokens: 0"},
		{func(c *Config) { c.PromptExamples, c.PromptVocab, c.MLESteps = "ex.txt", "phrases:bank.txt", 0 }, "a phrase bank cannot segment"},
		{func(c *Config) { c.PromptExamples, c.MLESteps, c.MLEWeight = "ex.txt", 0, 0 }, "G learns from the examples only by MLE"},
	} {
		c := tinyTextConfig("reviews.jsonl")
		tc.tweak(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate: %v, want %q", err, tc.want)
		}
	}
}

// TestPromptExamples: with prompt_examples G's words vocabulary is the
// examples' words and its MLE prior their prompt_len windows (a short
// example gives none); a resume with other examples is refused.
func TestPromptExamples(t *testing.T) {
	tt := openTextTarget(t, 6)
	dir := t.TempDir()
	examples := filepath.Join(dir, "examples.txt")
	if err := os.WriteFile(examples, []byte("# example prompts\nwrite a glowing review\n\ufeffa happy customer review\nshort\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := tinyTextConfig("reviews.jsonl")
	cfg.PromptExamples = examples
	cfg, err := cfg.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg, tt)
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Clone(tr.textRun().vocab.Pieces)
	slices.Sort(got)
	want := []string{"a", "customer", "glowing", "happy", "review", "short", "write"}
	if !slices.Equal(got, want) {
		t.Errorf("vocabulary %v, want the examples' words %v", got, want)
	}
	var windows []string
	p := tr.textRun().prior
	for i := range p.N {
		var ws []string
		for _, id := range p.Tokens[i*p.T : (i+1)*p.T] {
			ws = append(ws, tr.textRun().vocab.Pieces[id])
		}
		windows = append(windows, strings.Join(ws, " "))
	}
	wantW := []string{"write a glowing", "a glowing review", "a happy customer", "happy customer review"}
	if !slices.Equal(windows, wantW) {
		t.Errorf("prior windows %q, want %q", windows, wantW)
	}
	dir = t.TempDir()
	if _, err := Run(context.Background(), tr, RunOptions{Dir: dir, Until: 4, NoEvaluation: true}); err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoints.Load(filepath.Join(dir, CheckpointsDir, checkpointName(4)))
	if err != nil {
		t.Fatal(err)
	}
	fresh := cfg
	cfg, err = ConfigOf(ck)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ck, cfg, tt); err != nil {
		t.Fatalf("resume with the same examples: %v", err)
	}
	if err := os.WriteFile(examples, []byte("write a glowing review\na happy customer review\nshort\nreview a happy customer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ck, cfg, tt); !errors.Is(err, ErrDataChanged) || !strings.Contains(err.Error(), "prompt_examples") {
		t.Errorf("resume with other examples: %v, want ErrDataChanged naming prompt_examples", err)
	}
	for _, tc := range []struct {
		text, want string
	}{
		{"", "no example prompts"},
		{"ab\nab\n", "repeats line 1"},
		{"one two\n", "no run of 3 tokens"},
	} {
		if err := os.WriteFile(examples, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := New(fresh, tt); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), examples) {
			t.Errorf("examples %q: %v, want an error naming %s and %q", tc.text, err, examples, tc.want)
		}
	}
}

// wordTokenizer is a word-level tokenizer that gives back <unk> for a word
// outside its vocabulary, lower-cases, and splits off punctuation.
type wordTokenizer map[string]int32

func (w wordTokenizer) Encode(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Fields(strings.ToLower(strings.ReplaceAll(s, ",", " , "))) {
		ids = append(ids, w[f]) // 0 = <unk>
	}
	return ids, nil
}

func (w wordTokenizer) Decode(ids []int32) (string, error) {
	var out []string
	for _, id := range ids {
		s := "<unk>"
		for k, v := range w {
			if v == id && id != 0 {
				s = k
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, " "), nil
}

func TestOutsideTarget(t *testing.T) {
	tok := wordTokenizer{"a": 1, "glowing": 2, "review": 3, ",": 4, "please": 5}
	for _, tc := range []struct {
		pieces []string
		want   string // "" = accepted
	}{
		{[]string{"a glowing review", "Review, please"}, ""},
		{[]string{"a glowing review", "a shiny review"}, `phrase "a shiny review" is outside the target's vocabulary`},
	} {
		err := outsideTarget(tc.pieces, "bank.txt", "phrase", tok)
		if (tc.want == "") != (err == nil) || (err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bank.txt"))) {
			t.Errorf("%q: %v, want %q", tc.pieces, err, tc.want)
		}
	}
}

// TestLabelledAsTarget: with labelled_as_target D's labelled features are
// those of the texts as the target's tokenizer gives them back (a
// word-level tokenizer's unknown words become <unk>), and without it those
// of the texts as written.
func TestLabelledAsTarget(t *testing.T) {
	tt := openTextTarget(t, 6)
	words := wordTokenizer{"the": 1, "was": 2, "room": 3, "food": 4, "lovely": 5}
	wordTarget := &targets.TextTarget{Model: tt.Model, Tokenizer: words, Stop: tt.Stop}
	// Prompts of words the tokenizer reads (a words vocabulary of the good
	// texts would leave out all but a few of theirs).
	bank := filepath.Join(t.TempDir(), "bank.txt")
	if err := os.WriteFile(bank, []byte("the\nwas\nroom\nfood\nlovely\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, on := range []bool{false, true} {
		cfg := tinyTextConfig("reviews.jsonl")
		cfg.LabelledAsTarget = on
		cfg.PromptVocab, cfg.MLESteps, cfg.Steps = "phrases:"+bank, 0, 8
		tr, err := New(cfg, wordTarget)
		if err != nil {
			t.Fatal(err)
		}
		r := tr.textRun()
		item := r.train.items[0]
		want := item.Text
		if on {
			want, _ = asTarget(words, item.Text)
			if !strings.Contains(want, "<unk>") {
				t.Fatalf("%q comes back as %q: the test needs a word outside the tokenizer", item.Text, want)
			}
		}
		x, err := r.features(ctx, []string{item.Input}, []string{want})
		if err != nil {
			t.Fatal(err)
		}
		F := len(x)
		if !slices.Equal(r.train.x[:F], x) {
			t.Errorf("labelled_as_target %v: D's first train row is not the features of %q", on, want)
		}
	}
}

// TestSearchAgreesWithScore: a prompt that search verifies on Verify
// generations with seed S scores exactly what ScorePrompts gives it with
// Samples = Verify and seed S (the CLI's search and score at their
// defaults), standard error included (issue 26: 0.273 against 0.129).
func TestSearchAgreesWithScore(t *testing.T) {
	for _, taskFile := range []string{"reviews.jsonl", "answers.jsonl"} {
		t.Run(taskFile, func(t *testing.T) {
			tr, err := New(tinyTextConfig(taskFile), openTextTarget(t, 6))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			const seed, verify = 7, 5
			res, err := tr.SearchPrompts(ctx, SearchOptions{Draws: 12, Temperature: 1, Screen: 2, Top: 3, Verify: verify, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Verified {
				got, err := tr.ScorePrompts(ctx, []string{v.Prompt}, ScoreOptions{Samples: verify, Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				if got[0].Score != v.Score || got[0].ScoreStd != v.ScoreStd || got[0].ScoreSE != v.ScoreSE {
					t.Errorf("%q: search verified %v ± %v, score %v ± %v", v.Prompt, v.Score, v.ScoreSE, got[0].Score, got[0].ScoreSE)
				}
				if want := v.ScoreStd / math.Sqrt(verify-1); math.Abs(v.ScoreSE-want) > 1e-15 {
					t.Errorf("%q: standard error %v, want %v", v.Prompt, v.ScoreSE, want)
				}
			}
		})
	}
}

// TestWordsVocabLeavesOutUnreadable: a words vocabulary of the good texts
// keeps only words the target's tokenizer gives back (issue 26: 389 of
// 1,084 words came back as <unk>, so distinct prompts read alike), says how
// many it left out, and refuses the run when too few remain.
func TestWordsVocabLeavesOutUnreadable(t *testing.T) {
	tt := openTextTarget(t, 6)
	// the 16 distinct words of the train split's good texts
	good := []string{"and", "i", "it", "loved", "the", "was", "wonderful", "fantastic", "service", "staff", "movie", "great", "battery", "excellent", "delightful", "phone"}
	knows := func(n int) wordTokenizer {
		tok := wordTokenizer{}
		for i, w := range good[:n] {
			tok[w] = int32(i + 1)
		}
		return tok
	}
	tests := []struct {
		name     string
		tok      wordTokenizer
		wantNote string // "" = nothing left out
		wantErr  string
	}{
		{"all readable", knows(len(good)), "", ""},
		{"two unknown", knows(14), `prompt vocabulary: 2 of the good texts' 16 distinct words left out, the target's tokenizer cannot read them`, ""},
		{"too few left", knows(6), "", `6 word(s) left once the 10 the target's tokenizer cannot read are left out`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyTextConfig("reviews.jsonl")
			tr, err := New(cfg, &targets.TextTarget{Model: tt.Model, Tokenizer: tc.tok, Stop: tt.Stop})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tr.textRun().vocab.Pieces {
				if _, ok := tc.tok[w]; !ok {
					t.Errorf("%q is in the prompt vocabulary but outside the tokenizer", w)
				}
			}
			var vocabNotes []string // (the bad texts' <unk>s, read as the target writes them, make a surface note too)
			for _, n := range tr.Notes() {
				if strings.HasPrefix(n, "prompt vocabulary") {
					vocabNotes = append(vocabNotes, n)
				}
			}
			notes := strings.Join(vocabNotes, "\n")
			if (tc.wantNote == "") != (notes == "") || !strings.Contains(notes, tc.wantNote) {
				t.Errorf("notes %q, want %q", notes, tc.wantNote)
			}
		})
	}
}
