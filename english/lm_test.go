package english_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/english"
	"promptgan/internal/ort/orttest"
	"promptgan/internal/tokenize"
	"promptgan/targets"
)

func TestInstructions(t *testing.T) {
	all := map[string]string{}
	for _, c := range english.Classes() {
		train, held := english.Instructions(c)
		if len(train) < 300 || len(held) < 30 {
			t.Errorf("class %s: %d training and %d held-out instructions, want ≥ 300 and ≥ 30", c, len(train), len(held))
		}
		for _, s := range append(slices.Clone(train), held...) {
			if prev, ok := all[s]; ok {
				t.Errorf("instruction %q is in classes %s and %s", s, prev, c)
			}
			all[s] = c
			if slices.Contains(english.Words(s), english.Separator) {
				t.Errorf("instruction %q contains the separator", s)
			}
		}
		for _, s := range held {
			if slices.Contains(train, s) {
				t.Errorf("class %s: %q is both held out and trained on", c, s)
			}
		}
	}
	if tr, ho := english.Instructions("cats"); tr != nil || ho != nil || english.Names("cats") != nil {
		t.Error("an unknown class has instructions")
	}
	for _, s := range english.Vague {
		if c, ok := all[s]; ok {
			t.Errorf("vague instruction %q is also one of class %s", s, c)
		}
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// tinyOptions are LM settings that train in a second on the fixture.
func tinyOptions() english.LMOptions {
	o := english.DefaultLMOptions()
	o.Emb, o.Hidden, o.Epochs, o.RefEmb, o.RefHidden, o.RefEpochs, o.Batch = 8, 16, 2, 8, 16, 6, 16
	return o
}

func TestTokenizerRoundTrip(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "")
	docs, err := english.Build(fortunes, sentiment, 20)
	if err != nil {
		t.Fatal(err)
	}
	v, err := english.NewVocab(english.BuildVocab(docs, 2))
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.TokenizerJSON()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := tokenize.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Size() != v.Size() {
		t.Errorf("tokenizer.json has %d tokens, the vocabulary %d", tk.Size(), v.Size())
	}
	for _, text := range []string{
		"A quote about science =>",
		"Quote 3 of the science file is about science things indeed.",
		"Review 7 is GREAT!!! Don't   you think?",
		"zebra-crossing café … unknownword",
		"=> Review 2 is awful.",
	} {
		want := v.Encode(text)
		got, err := tk.Encode(text, false)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: tokenizer.json gives %v (%v), Vocab.Encode %v", text, got, err, want)
		}
		dec, err := tk.Decode(want)
		if err != nil || dec != v.Decode(want) {
			t.Errorf("%q: tokenizer.json decodes to %q (%v), Vocab.Decode to %q", text, dec, err, v.Decode(want))
		}
	}
	back, err := english.LoadVocab(path)
	if err != nil || !slices.Equal(back.Words, v.Words) {
		t.Errorf("LoadVocab: %v", err)
	}
	// Every instruction word is in the vocabulary.
	for _, c := range english.Classes() {
		tr, ho := english.Instructions(c)
		for _, s := range append(tr, ho...) {
			for _, w := range english.Words(s) {
				if !v.Has(w) {
					t.Fatalf("instruction word %q of class %s is not in the vocabulary", w, c)
				}
			}
		}
	}
}

// buildTiny builds the fixture corpus and tiny LMs into a new directory.
func buildTiny(t *testing.T, fortunes, sentiment string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "english")
	opt := english.BuildOptions{Fortunes: fortunes, Sentiment: sentiment, Out: out, Stamp: "v", MinPerClass: 20, LM: tinyOptions(), Logger: quiet}
	if err := english.BuildDir(context.Background(), opt); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBuildLMs(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "")
	a, b := buildTiny(t, fortunes, sentiment), buildTiny(t, fortunes, sentiment)
	var files []string
	err := filepath.WalkDir(a, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(a, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"corpus.jsonl", "lm/model.onnx", "lm/config.json", "lm/tokenizer.json", "lm/weights.safetensors",
		"ref/model.onnx", "ref/weights.safetensors", "report.json", "REPORT.md", "VERSION"} {
		if !slices.Contains(files, filepath.FromSlash(want)) {
			t.Errorf("the build has no %s (files: %v)", want, files)
		}
	}
	for _, f := range files {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two builds with the same seed", f)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(a, "lm", "config.json"))
	if !strings.Contains(string(cfg), `"eos_token_id": 3`) || !strings.Contains(string(cfg), `"bos_token_id": 2`) {
		t.Errorf("config.json lacks <bos> 2 / <eos> 3:\n%s", cfg)
	}

	lm, err := english.LoadLM(filepath.Join(a, english.TargetDir))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := english.LoadLM(filepath.Join(a, english.RefDir))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"Review 3 is great.", "Quote 4 of the work file is about work things indeed.", "indeed things work about is file work the of 4 Quote ."}
	ppl := ref.Perplexity(texts)
	for i, p := range ppl {
		if !(p > 1) || math.IsInf(p, 0) {
			t.Errorf("perplexity of %q = %v", texts[i], p)
		}
	}
	if ppl[2] <= ppl[1] {
		t.Errorf("a sentence backwards (perplexity %v) is not less likely than forwards (%v)", ppl[2], ppl[1])
	}
	lp, n := lm.LogProbs(english.Context("a positive review"), texts[:1])
	if n[0] != 6 || !(lp[0] < 0) { // review 3 is great . <eos>
		t.Errorf("LogProbs = %v over %d tokens, want < 0 over 6", lp, n)
	}
}

func TestLoadLMErrors(t *testing.T) {
	fortunes, sentiment := fixture(t, 30, "")
	dir := buildTiny(t, fortunes, sentiment)
	for _, tc := range []struct {
		name string
		edit func(lm string)
		err  string
	}{
		{"no weights", func(lm string) { os.Remove(filepath.Join(lm, english.WeightsFile)) }, "setup-english.sh"},
		{"truncated weights", func(lm string) {
			p := filepath.Join(lm, english.WeightsFile)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)/2], 0o644)
		}, "weights.safetensors"},
		{"another LM's tokenizer", func(lm string) {
			os.WriteFile(filepath.Join(lm, english.TokenizerFile), []byte(`{"model":{"type":"WordLevel","vocab":{"<pad>":0,"<unk>":1,"<bos>":2,"<eos>":3,"=>":4,"a":5}}}`), 0o644)
		}, "does not fit the 6-word tokenizer.json"},
		{"not word level", func(lm string) {
			os.WriteFile(filepath.Join(lm, english.TokenizerFile), []byte(`{"model":{"type":"BPE"}}`), 0o644)
		}, `model type "BPE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lm := filepath.Join(t.TempDir(), "lm")
			if err := os.CopyFS(lm, os.DirFS(filepath.Join(dir, english.TargetDir))); err != nil {
				t.Fatal(err)
			}
			tc.edit(lm)
			_, err := english.LoadLM(lm)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want one containing %q", err, tc.err)
			}
		})
	}
}

// TestTargetOpens loads the exported target LM as a user's export is
// loaded, through targets.Open, and continues instructions with it.
func TestTargetOpens(t *testing.T) {
	orttest.LoadOrSkip(t)
	fortunes, sentiment := fixture(t, 30, "")
	dir := filepath.Join(buildTiny(t, fortunes, sentiment), english.TargetDir)
	o, err := targets.Open(targets.Config{Name: dir, MaxNewTokens: 12})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Text == nil {
		t.Fatal("the target has no tokenizer")
	}
	lm, err := english.LoadLM(dir)
	if err != nil {
		t.Fatal(err)
	}
	if o.Vocab != lm.Vocab.Size() {
		t.Errorf("targets.Open sees %d tokens, the LM has %d", o.Vocab, lm.Vocab.Size())
	}
	contexts := []string{english.Context("a quote about science"), english.Context("a glowing review"), english.Context("")}
	texts, err := targets.ContinueText(context.Background(), *o.Text, contexts, []uint64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for i, s := range texts {
		if strings.Contains(s, english.EOSToken) {
			t.Errorf("continuation %d of %q = %q", i, contexts[i], s)
		}
		if strings.TrimSpace(s) != "" {
			written++ // a tiny LM may end a text at once
		}
	}
	if written == 0 {
		t.Errorf("every continuation is empty: %q", texts)
	}
	again, err := targets.ContinueText(context.Background(), *o.Text, contexts, []uint64{1, 2, 3})
	if err != nil || !slices.Equal(texts, again) {
		t.Errorf("the same seeds gave %q then %q (%v)", texts, again, err)
	}
	t.Logf("continuations: %q", texts)
}

func TestLMOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*english.LMOptions)
		err  string
	}{
		{"default", func(*english.LMOptions) {}, ""},
		{"zero hidden", func(o *english.LMOptions) { o.Hidden = 0 }, "widths"},
		{"no epochs", func(o *english.LMOptions) { o.RefEpochs = 0 }, "epochs"},
		{"shares over 1", func(o *english.LMOptions) { o.EmptyShare, o.VagueShare = 0.6, 0.6 }, "shares"},
		{"no learning rate", func(o *english.LMOptions) { o.LR = 0 }, "learning rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := english.DefaultLMOptions()
			tc.edit(&o)
			err := o.Validate()
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
	fortunes, sentiment := fixture(t, 30, "")
	out := filepath.Join(t.TempDir(), "english")
	o := tinyOptions()
	o.Epochs = 0
	err := english.BuildDir(context.Background(), english.BuildOptions{Fortunes: fortunes, Sentiment: sentiment, Out: out, Stamp: "v", MinPerClass: 20, LM: o, Logger: quiet})
	if err == nil || errors.Is(err, english.ErrCorpus) {
		t.Errorf("bad LM options: err = %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a failed LM build left the output directory")
	}
}

func TestNames(t *testing.T) {
	for _, c := range english.Classes() {
		names := english.Names(c)
		train, held := english.Instructions(c)
		if len(names) == 0 {
			t.Errorf("class %s has no names", c)
		}
		for _, n := range names {
			if !slices.Contains(train, n) && !slices.Contains(held, n) {
				t.Errorf("class %s: name %q is not itself an instruction", c, n)
			}
		}
	}
}
