package generator

import (
	"fmt"
	"strings"
	"testing"
)

func TestWordsVocab(t *testing.T) {
	v, err := WordsVocab([]string{"The food was GREAT, the service great.", "Great food! Don't go."}, 4)
	if err != nil {
		t.Fatal(err)
	}
	// great ×3, food ×2, the ×2, then don't/go/service/was ×1 (ties by word).
	if want := []string{"great", "food", "the", "don't"}; strings.Join(v.Pieces, ",") != strings.Join(want, ",") {
		t.Errorf("pieces %q, want %q", v.Pieces, want)
	}
	if got, err := v.Text([]int32{2, 1, 0}); err != nil || got != "the food great" {
		t.Errorf("Text = %q, %v", got, err)
	}
	if _, err := v.Text([]int32{4}); err == nil || !strings.Contains(err.Error(), "outside the words vocabulary of 4") {
		t.Errorf("Text(4): %v", err)
	}
	same, _ := WordsVocab([]string{"Great food! Don't go.", "The food was GREAT, the service great."}, 4)
	if same.Fingerprint() != v.Fingerprint() {
		t.Error("the fingerprint depends on the order of the texts, not only on the words")
	}
	if _, err := WordsVocab([]string{"one one one"}, 10); err == nil {
		t.Error("one distinct word accepted")
	}
}

func TestParsePhrases(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
		err      string
	}{
		{"plain", "write like\nthis is great\n", []string{"write like", "this is great"}, ""},
		{"bom crlf comments blanks", "\ufeff# bank\r\nhello there\r\n\r\n  good food  \r\n", []string{"hello there", "good food"}, ""},
		{"duplicate", "a b\nc\na b\n", nil, "bank.txt:3: phrase \"a b\" repeats line 1"},
		{"one phrase", "only\n", nil, "1 phrase(s); a phrase bank needs at least 2"},
		{"bad utf8", "ok\n\xff\xfe\n", nil, "bank.txt:2: not valid UTF-8"},
		{"long line", "ok\n" + strings.Repeat("x", MaxPhraseLen+10) + "\n", nil, fmt.Sprintf("bank.txt:2: a line longer than %d bytes", MaxPhraseLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParsePhrases(strings.NewReader(tc.in), "bank.txt")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(v.Pieces, "|") != strings.Join(tc.want, "|") || v.Size() != len(tc.want) {
				t.Errorf("pieces %q, want %q", v.Pieces, tc.want)
			}
		})
	}
}

func TestTargetVocab(t *testing.T) {
	dec := func(ids []int32) (string, error) { return fmt.Sprint(ids), nil }
	v, err := TargetVocab(10, dec, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := v.Text([]int32{1, 9}); got != "[1 9]" {
		t.Errorf("Text = %q", got)
	}
	if _, err := v.Text([]int32{10}); err == nil {
		t.Error("id 10 of 10 accepted")
	}
	if _, err := TargetVocab(10, nil, "tok"); err == nil || !strings.Contains(err.Error(), "no tokenizer") {
		t.Errorf("no decoder: %v", err)
	}
}
