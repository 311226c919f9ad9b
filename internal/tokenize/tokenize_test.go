package tokenize_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/internal/tokenize"
)

// wordLevel is a Hugging Face tokenizer.json of a word-level model with
// the pieces a BERT-style encoder uses; post and padding are spliced in.
func wordLevel(post, padding string) string {
	return `{
  "version": "1.0",
  "truncation": null,
  "padding": ` + padding + `,
  "added_tokens": [
    {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "Lowercase"},
  "pre_tokenizer": {"type": "Whitespace"},
  "post_processor": ` + post + `,
  "decoder": null,
  "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "the": 4, "cat": 5, "sat": 6, "on": 7, "mat": 8, "a": 9}, "unk_token": "[UNK]"}
}`
}

const template = `{
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
    "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}
  }`

const bert = `{"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}`

func write(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		post, pad  string
		text       string
		plain      []int32 // Encode(text, false)
		special    []int32 // Encode(text, true)
		added      int
		padID      int32
		truncated3 []int32 // EncodeTruncated(text, 3)
	}{
		{"template", template, "null", "The cat SAT on a dog", []int32{4, 5, 6, 7, 9, 1}, []int32{2, 4, 5, 6, 7, 9, 1, 3}, 2, 0, []int32{2, 4, 3}},
		{"bert", bert, "null", "the mat", []int32{4, 8}, []int32{2, 4, 8, 3}, 2, 0, []int32{2, 4, 3}},
		{"no post-processor", "null", "null", "a cat", []int32{9, 5}, []int32{9, 5}, 0, 0, []int32{9, 5}},
		{"padding section: its pad_id, and no padding applied", template,
			`{"strategy": {"Fixed": 16}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 7, "pad_type_id": 0, "pad_token": "on"}`,
			"cat", []int32{5}, []int32{2, 5, 3}, 2, 7, []int32{2, 5, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tk, err := tokenize.Load(write(t, wordLevel(tc.post, tc.pad)))
			if err != nil {
				t.Fatal(err)
			}
			if tk.Size() != 10 {
				t.Errorf("Size = %d, want 10", tk.Size())
			}
			if got := tk.SpecialAdded(); got != tc.added {
				t.Errorf("SpecialAdded = %d, want %d", got, tc.added)
			}
			if id, ok := tk.PadID(); !ok || id != tc.padID {
				t.Errorf("PadID = %d, %v; want %d, true", id, ok, tc.padID)
			}
			check := func(what string, got []int32, err error, want []int32) {
				t.Helper()
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("%s = %v, %v; want %v", what, got, err, want)
				}
			}
			got, err := tk.Encode(tc.text, false)
			check("Encode(special=false)", got, err, tc.plain)
			got, err = tk.Encode(tc.text, true)
			check("Encode(special=true)", got, err, tc.special)
			got, err = tk.EncodeTruncated(tc.text, 3)
			check("EncodeTruncated(3)", got, err, tc.truncated3)
			got, err = tk.EncodeTruncated(tc.text, 100)
			check("EncodeTruncated(100)", got, err, tc.special)
			if s, err := tk.Decode([]int32{4, 5}); err != nil || !strings.Contains(s, "the") || !strings.Contains(s, "cat") {
				t.Errorf("Decode = %q, %v", s, err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tk, err := tokenize.Load(write(t, wordLevel(template, "null")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.EncodeTruncated("the cat", 2); err == nil || !strings.Contains(err.Error(), "leaves no room for text beside the 2 special tokens") {
		t.Errorf("EncodeTruncated(2): %v", err)
	}
	if _, err := tk.Decode([]int32{4, 10}); err == nil || !strings.Contains(err.Error(), "token id 10 (position 1) is not in the tokenizer's vocabulary of 10") {
		t.Errorf("Decode out of range: %v", err)
	}
	noPad := strings.ReplaceAll(strings.ReplaceAll(wordLevel("null", "null"), `"[PAD]": 0, `, `"x": 0, `), `"content": "[PAD]"`, `"content": "x"`)
	if tk, err := tokenize.Load(write(t, noPad)); err != nil {
		t.Fatal(err)
	} else if id, ok := tk.PadID(); ok {
		t.Errorf("PadID without a pad token = %d, true", id)
	}

	for _, tc := range []struct {
		name, body, want string
		panicked         bool
	}{
		{"missing file", "", "no such file", false},
		{"not JSON", "{", "cannot load it with github.com/sugarme/tokenizer", false},
		{"post-processor without a type", wordLevel(`{"sep": 1}`, "null"), "cannot load it with github.com/sugarme/tokenizer (it panicked", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			if tc.body != "" {
				path = write(t, tc.body)
			}
			_, err := tokenize.Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load: %v; want an error naming %s and saying %q", err, path, tc.want)
			}
			if got := errors.Is(err, tokenize.ErrPanicked); got != tc.panicked {
				t.Errorf("errors.Is(err, ErrPanicked) = %v, want %v", got, tc.panicked)
			}
		})
	}
}
