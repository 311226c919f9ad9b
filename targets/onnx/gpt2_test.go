package onnx_test

import (
	"slices"
	"strings"
	"testing"

	"promptgan/internal/ort/export"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

// The tiny GPT-2 fixtures internal/ort/export commits: the same weights
// (export.NewGPT2(export.TinyGPT2Config(), 1)) with and without past.
const (
	gpt2Dir       = "../../internal/ort/export/testdata/tiny-gpt2"
	gpt2NoPastDir = "../../internal/ort/export/testdata/tiny-gpt2-no-past"
)

// gpt2Requests returns requests of unequal lengths (1 to 12 context tokens)
// over the tiny GPT-2's ordinary tokens (not <|endoftext|>).
func gpt2Requests(n int) []backend.Request {
	reqs := mixedRequests(n, 511)
	for i := range reqs {
		if len(reqs[i].Input)+len(reqs[i].Prompt) == 0 {
			reqs[i].Prompt = []int32{int32(40 + i)}
		}
	}
	reqs[0].Input = append(reqs[0].Input, 1, 2, 3, 4, 5, 6, 7, 8)
	return reqs
}

func TestGPT2Signatures(t *testing.T) {
	loadOrSkip(t)
	kv := open(t, gpt2Dir, onnx.Options{})
	plain := open(t, gpt2NoPastDir, onnx.Options{})
	if i := kv.Info(); i.Kind != onnx.KVCache || i.Layers != 2 || i.Vocab != 512 || i.ModelType != "gpt2" || !i.Tokenizer || i.AddBOS || i.MaxPositions != 128 || !slices.Equal(i.Decode.StopTokens, []int32{511}) {
		t.Errorf("tiny-gpt2: %+v", i)
	}
	if i := plain.Info(); i.Kind != onnx.Plain || i.Vocab != 512 {
		t.Errorf("tiny-gpt2-no-past: %+v", i)
	}
}

func TestGPT2KVCacheEqualsNoPast(t *testing.T) {
	loadOrSkip(t)
	reqs := gpt2Requests(12)
	for _, dec := range []onnx.Decode{
		{MaxNewTokens: 24},
		{MaxNewTokens: 24, Temperature: 1},
		{MaxNewTokens: 24, Temperature: 0.8, TopK: 20, TopP: 0.95},
	} {
		kv := generate(t, open(t, gpt2Dir, onnx.Options{Decode: dec}), reqs)
		plain := generate(t, open(t, gpt2NoPastDir, onnx.Options{Decode: dec}), reqs)
		stopped := 0
		for i := range reqs {
			if !slices.Equal(kv[i], plain[i]) {
				t.Errorf("%+v request %d: KV cache %v, no past %v", dec, i, kv[i], plain[i])
			}
			if len(kv[i]) < dec.MaxNewTokens {
				stopped++
			}
		}
		t.Logf("%+v: %d of %d generations ended at <|endoftext|>", dec, stopped, len(reqs))
	}
}

// Left padding in one batch (attention_mask zeros, position_ids from the
// mask) gives every request the tokens it gets alone.
func TestGPT2LeftPaddedBatchEqualsOneByOne(t *testing.T) {
	loadOrSkip(t)
	reqs := gpt2Requests(20)
	for _, dec := range []onnx.Decode{{MaxNewTokens: 20}, {MaxNewTokens: 20, Temperature: 1, TopK: 50}} {
		for _, dir := range []string{gpt2Dir, gpt2NoPastDir} {
			batch := generate(t, open(t, dir, onnx.Options{BatchSize: 32, Decode: dec}), reqs)
			one := open(t, dir, onnx.Options{BatchSize: 1, Decode: dec})
			for i, r := range reqs {
				if alone := generate(t, one, []backend.Request{r})[0]; !slices.Equal(alone, batch[i]) {
					t.Errorf("%s %+v request %d (%d context tokens): batch %v, alone %v", dir, dec, i, len(r.Input)+len(r.Prompt), batch[i], alone)
				}
			}
		}
	}
}

// Greedy decoding through ONNX Runtime equals greedy decoding with the
// exporter's float64 Go reference forward pass.
func TestGPT2GreedyMatchesReference(t *testing.T) {
	loadOrSkip(t)
	ref, err := export.NewGPT2(export.TinyGPT2Config(), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := export.WriteGPT2(dir, ref, export.GPT2Options{}); err != nil {
		t.Fatal(err)
	}
	const newTokens = 12
	reqs := gpt2Requests(6)
	got := generate(t, open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: newTokens}}), reqs)
	for i, r := range reqs {
		seq := make([]int64, 0)
		for _, id := range append(slices.Clone(r.Input), r.Prompt...) {
			seq = append(seq, int64(id))
		}
		var want []int32
		for range newTokens {
			mask := make([]int64, len(seq))
			for j := range mask {
				mask[j] = 1
			}
			logits, err := ref.Logits([][]int64{seq}, [][]int64{mask})
			if err != nil {
				t.Fatal(err)
			}
			last := logits[0][len(seq)-1]
			best := 0
			for j, v := range last {
				if v > last[best] {
					best = j
				}
			}
			if best == 511 {
				break
			}
			want = append(want, int32(best))
			seq = append(seq, int64(best))
		}
		if !slices.Equal(got[i], want) {
			t.Errorf("request %d: ONNX %v, Go reference %v", i, got[i], want)
		}
	}
}

func TestGPT2ContextTooLong(t *testing.T) {
	loadOrSkip(t)
	m := open(t, gpt2Dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 10}})
	_, err := m.Generate(t.Context(), []backend.Request{{Prompt: make([]int32, 120)}})
	if err == nil || !strings.Contains(err.Error(), "120 context tokens + 10 new tokens exceed the model's 128 positions") {
		t.Errorf("got %v", err)
	}
	// 119 + 10 − 1 = 128 positions fit.
	if _, err := m.Generate(t.Context(), []backend.Request{{Prompt: make([]int32, 119)}}); err != nil {
		t.Error(err)
	}
}

// The pure-Go tokenizer reads the fixture's tokenizer.json and encodes as
// the exporter's reference BPE (which follows Hugging Face tokenizers).
func TestGPT2Tokenizer(t *testing.T) {
	loadOrSkip(t)
	m := open(t, gpt2Dir, onnx.Options{})
	ref, err := export.DefaultTokenizer(512)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Hello world",
		"promptgan is a Go engine for GAN-style adversarial prompt search.",
		" The discriminator judges   generations, and the generator writes prompts!",
		"Numbers 12345 and punctuation: (a, b); c's d'll — ünïcödé 東京.",
		"tabs\tand\nnewlines\n",
	}
	for _, text := range texts {
		ids, err := m.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Encode(text)
		if len(ids) != len(want) || !slices.EqualFunc(ids, want, func(a int32, b int64) bool { return int64(a) == b }) {
			t.Errorf("Encode(%q) = %v, reference %v", text, ids, want)
		}
		back, err := m.Decode(ids)
		if err != nil || back != text {
			t.Errorf("Decode(Encode(%q)) = %q, %v", text, back, err)
		}
	}
	if _, err := m.Decode([]int32{5, 512}); err == nil || !strings.Contains(err.Error(), "token id 512 (position 1) is not in the tokenizer's vocabulary of 512") {
		t.Errorf("Decode out of range: %v", err)
	}
	// Text in, text out.
	ids, err := m.Encode("The target model")
	if err != nil {
		t.Fatal(err)
	}
	gen := generate(t, m, []backend.Request{{Prompt: ids}})[0]
	text, err := m.Decode(gen)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tiny GPT-2 continues %q with %q", "The target model", text)
	// A model without tokenizer.json takes ids only; IgnoreTokenizer too.
	for _, m := range []*onnx.Model{open(t, exportLSTM(t, tinyGenerator(10), false), onnx.Options{}), open(t, gpt2Dir, onnx.Options{IgnoreTokenizer: true})} {
		if _, err := m.Encode("hi"); err == nil || !strings.Contains(err.Error(), "has no usable tokenizer.json: this model takes token ids only") {
			t.Errorf("Encode without a tokenizer: %v", err)
		}
		if _, err := m.Decode([]int32{1}); err == nil {
			t.Error("Decode without a tokenizer: no error")
		}
	}
	if a, b := open(t, gpt2Dir, onnx.Options{}).Fingerprint(), open(t, gpt2Dir, onnx.Options{IgnoreTokenizer: true}).Fingerprint(); a == b || !strings.Contains(b, "tokenizer.json=ignored") || !strings.Contains(a, "tokenizer.json=sha256:") {
		t.Errorf("fingerprints with and without tokenizer:\n%s\n%s", a, b)
	}
}
