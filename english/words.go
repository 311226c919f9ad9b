package english

import (
	"regexp"
	"strings"
)

// wordRE is the pattern of Hugging Face's Whitespace pre-tokenizer as
// github.com/sugarme/tokenizer runs it (Go's regexp, so \w and \s are
// ASCII): runs of word characters, or runs of other non-space characters.
var wordRE = regexp.MustCompile(`\w+|[^\w\s]+`)

// Words returns the tokens the LMs' tokenizer.json cuts text into: lower
// case, words and runs of punctuation apart ("Don't!" → don ' t !).
func Words(text string) []string {
	return wordRE.FindAllString(strings.ToLower(text), -1)
}
