package targets

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"promptgan/internal/ort/orttest"
)

// byteTokenizer maps each byte to its value: enough to check the plumbing.
type byteTokenizer struct{}

func (byteTokenizer) Encode(s string) ([]int32, error) {
	ids := make([]int32, len(s))
	for i := range len(s) {
		ids[i] = int32(s[i])
	}
	return ids, nil
}

func (byteTokenizer) Decode(ids []int32) (string, error) {
	b := make([]byte, len(ids))
	for i, id := range ids {
		if id < 0 || id > 255 {
			return "", fmt.Errorf("id %d", id)
		}
		b[i] = byte(id)
	}
	return string(b), nil
}

// echoStop answers each prompt reversed, then a stop token 0.
type echoStop struct{ seeds []uint64 }

func (e *echoStop) Generate(_ context.Context, reqs []Request) ([]Generation, error) {
	out := make([]Generation, len(reqs))
	for i, r := range reqs {
		e.seeds = append(e.seeds, r.Seed)
		for j := len(r.Prompt) - 1; j >= 0; j-- {
			out[i].Tokens = append(out[i].Tokens, r.Prompt[j])
		}
		out[i].Tokens = append(out[i].Tokens, 0, 0)
	}
	return out, nil
}

func (e *echoStop) Fingerprint() string { return "echo" }

func TestContinueText(t *testing.T) {
	m := &echoStop{}
	tt := TextTarget{Model: m, Tokenizer: byteTokenizer{}, Stop: []int32{0}}
	got, err := ContinueText(context.Background(), tt, []string{"abc", "hi there"}, []uint64{7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "|") != "cba|ereht ih" {
		t.Errorf("generations %q", got)
	}
	if fmt.Sprint(m.seeds) != "[7 8]" {
		t.Errorf("seeds sent %v", m.seeds)
	}
	for _, tc := range []struct {
		contexts []string
		seeds    []uint64
		err      string
	}{
		{[]string{"a"}, nil, "1 contexts and 0 seeds"},
		{[]string{"a", ""}, []uint64{1, 2}, "context 1 (\"\") encodes to no tokens"},
	} {
		if _, err := ContinueText(context.Background(), tt, tc.contexts, tc.seeds); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ContinueText(%q): %v, want %q", tc.contexts, err, tc.err)
		}
	}
}

// The tiny GPT-2 export (a BPE tokenizer.json) reads and writes text through
// Open's TextTarget, deterministically per seed.
func TestContinueTextTinyGPT2(t *testing.T) {
	orttest.LoadOrSkip(t)
	o, err := Open(Config{Name: "../internal/ort/export/testdata/tiny-gpt2", MaxNewTokens: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Text == nil {
		t.Fatal("no TextTarget for a model with tokenizer.json")
	}
	contexts := []string{"The food was", "hello world"}
	a, err := ContinueText(context.Background(), *o.Text, contexts, []uint64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ContinueText(context.Background(), *o.Text, contexts[:1], []uint64{1})
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != b[0] {
		t.Errorf("same context and seed, different text: %q vs %q", a[0], b[0])
	}
	if id, _ := Open(Config{Name: IdentityName}); id.Text != nil {
		t.Error("the identity target offers text")
	}
}

// Open passes the sampling settings to an ONNX target: they are in its
// fingerprint (so a ledger and a resume tell the runs apart), 0 means
// temperature 1, and a colder target writes more predictable text.
func TestOpenSamplingSettings(t *testing.T) {
	orttest.LoadOrSkip(t)
	const dir = "../internal/ort/export/testdata/tiny-gpt2"
	for _, tc := range []struct {
		temperature, topP float64
		want              []string
	}{
		{0, 0, []string{"temperature=1", "top_p=0"}},
		{0.7, 0, []string{"temperature=0.7", "top_p=0"}},
		{0.7, 0.9, []string{"temperature=0.7", "top_p=0.9"}},
	} {
		o, err := Open(Config{Name: dir, MaxNewTokens: 4, Temperature: tc.temperature, TopP: tc.topP})
		if err != nil {
			t.Fatal(err)
		}
		fp := o.Model.Fingerprint()
		o.Close()
		for _, w := range tc.want {
			if !strings.Contains(fp, w) {
				t.Errorf("T %v, top-p %v: fingerprint %q lacks %q", tc.temperature, tc.topP, fp, w)
			}
		}
	}
	if _, err := Open(Config{Name: dir, Temperature: -1}); err == nil || !strings.Contains(err.Error(), "Temperature") {
		t.Errorf("temperature -1: %v", err)
	}
}
