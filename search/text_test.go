package search

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
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
	} {
		c := tinyTextConfig("reviews.jsonl")
		tc.tweak(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate: %v, want %q", err, tc.want)
		}
	}
}
