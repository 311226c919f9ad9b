package glove

import (
	"unicode"
	"unicode/utf8"
)

// tokenizerVersion enters the fingerprint: any change to the rules below
// changes which vectors a text gets.
const tokenizerVersion = 1

// forEachToken calls fn with each token of text, lower-cased, in the spirit
// of the Stanford tokeniser GloVe's corpus went through:
//   - a word is a run of letters and digits, with single hyphens inside it
//     kept ("cross-country", "e-mail" are GloVe words);
//   - an apostrophe (' or ’) splits a clitic off: "don't" → "do" "n't",
//     "can't" → "ca" "n't", "it's" → "it" "'s" (the wink vocabulary dropped
//     every word containing an apostrophe, so the clitics end up unknown and
//     skipped, but the stems "do", "ca", "wo" are found);
//   - every other non-space character is a token of its own ("," "." "!" "$"
//     are GloVe words).
//
// buf is scratch space for the lower-cased token; fn must not keep the slice.
// It returns buf for reuse.
func forEachToken(text string, buf []byte, fn func(tok []byte)) []byte {
	i := 0
	for i < len(text) {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case isSpace(r):
			i += size
		case isWordRune(r):
			buf = buf[:0]
			j := i
			for j < len(text) {
				r, size := rune(text[j]), 1
				if r >= utf8.RuneSelf {
					r, size = utf8.DecodeRuneInString(text[j:])
				}
				if isWordRune(r) {
					buf = appendLower(buf, r)
					j += size
					continue
				}
				// A hyphen joins two word runes.
				if r == '-' && j+1 < len(text) && len(buf) > 0 && buf[len(buf)-1] != '-' {
					next, _ := utf8.DecodeRuneInString(text[j+1:])
					if isWordRune(next) {
						buf = append(buf, '-')
						j++
						continue
					}
				}
				break
			}
			i = j
			// "n't": the word ends in n and an apostrophe + t follows.
			if n := len(buf); n >= 2 && buf[n-1] == 'n' && i < len(text) {
				if r, size := utf8.DecodeRuneInString(text[i:]); isApostrophe(r) && i+size < len(text) &&
					(text[i+size] == 't' || text[i+size] == 'T') && (i+size+1 == len(text) || !startsWordRune(text[i+size+1:])) {
					fn(buf[:n-1])
					buf = append(buf[:0], "n't"...)
					fn(buf)
					i += size + 1
					continue
				}
			}
			fn(buf)
		case isApostrophe(r) && i+size < len(text) && startsWordRune(text[i+size:]):
			// A clitic such as 's 're 'll: the apostrophe and the letters after it.
			buf = append(buf[:0], '\'')
			j := i + size
			for j < len(text) {
				r, size := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r) {
					break
				}
				buf = appendLower(buf, r)
				j += size
			}
			i = j
			fn(buf)
		default:
			buf = appendLower(buf[:0], r)
			i += size
			fn(buf)
		}
	}
	return buf
}

func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

func startsWordRune(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return isWordRune(r)
}

func isApostrophe(r rune) bool { return r == '\'' || r == '’' }

func appendLower(buf []byte, r rune) []byte {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(buf, byte(r))
	}
	return utf8.AppendRune(buf, unicode.ToLower(r))
}
