package audit

import (
	"testing"

	"promptgan/internal/ort/orttest"
	"promptgan/targets"
)

const tinyGPT2 = "../internal/ort/export/testdata/tiny-gpt2"

// openTinyGPT2 opens the tiny GPT-2 export (BPE tokenizer.json) as a text
// target decoding at most n tokens; it skips without ONNX Runtime.
func openTinyGPT2(t *testing.T, n int) *targets.TextTarget {
	t.Helper()
	orttest.LoadOrSkip(t)
	o, err := targets.Open(targets.Config{Name: tinyGPT2, MaxNewTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	if o.Text == nil {
		t.Fatal("tiny-gpt2 offers no text")
	}
	return o.Text
}
