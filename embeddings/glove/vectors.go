package glove

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"promptgan/internal/atomicfile"
)

// The vectors file, all integers little-endian:
//
//	magic      8 bytes  "PGWVEC\r\n" (the CR LF catches text-mode mangling)
//	version    uint32   1
//	dim        uint32   vector length, 1..MaxDim
//	count      uint64   number of words, 1..MaxWords
//	source     uint64   vocabulary size of the list the words were cut from
//	                    (≥ count; Zipf's normaliser H_source uses it, so
//	                    keeping fewer words does not change a word's p(w))
//	wordBytes  uint64   length of the word block
//	words      the words in frequency-rank order, each followed by '\n'
//	matrix     count × dim float32, row i is the vector of word i
//	checksum   32 bytes SHA-256 of everything above
const (
	magic      = "PGWVEC\r\n"
	version    = 1
	headerSize = 8 + 4 + 4 + 8 + 8 + 8
	sumSize    = sha256.Size
	// MaxDim bounds a vector's length: GloVe's largest is 300.
	MaxDim = 4096
	// MaxWords bounds the vocabulary: the largest GloVe (840B) has 2.2M words.
	MaxWords = 1 << 24
	// maxWordLen bounds one word in bytes: GloVe's longest are ~70.
	maxWordLen = 1024
)

// Vectors is a word-vector table in frequency-rank order: word i (0-based)
// is the (i+1)-th most frequent word of the source corpus.
type Vectors struct {
	Dim        int
	Words      []string
	Matrix     []float32 // len(Words) × Dim, row-major
	SourceSize int       // vocabulary size of the list Words was cut from
	SHA256     string    // hex checksum stored in (and verified against) the file
	index      map[string]int32
}

// Lookup returns the rank (row) of word, or -1 when the vocabulary lacks it.
func (v *Vectors) Lookup(word string) int {
	if i, ok := v.index[word]; ok {
		return int(i)
	}
	return -1
}

// Row returns the vector of the word at rank i (a view, not a copy).
func (v *Vectors) Row(i int) []float32 { return v.Matrix[i*v.Dim : (i+1)*v.Dim] }

// NewVectors validates words and matrix and builds the lookup index. It is
// how tests and the converter make a table; SHA256 is filled by Write/Load.
func NewVectors(dim int, words []string, matrix []float32, sourceSize int) (*Vectors, error) {
	if dim < 1 || dim > MaxDim {
		return nil, fmt.Errorf("dimension %d outside 1..%d", dim, MaxDim)
	}
	if len(words) < 1 || len(words) > MaxWords {
		return nil, fmt.Errorf("%d words outside 1..%d", len(words), MaxWords)
	}
	if len(matrix) != len(words)*dim {
		return nil, fmt.Errorf("matrix has %d values; %d words × %d dimensions need %d", len(matrix), len(words), dim, len(words)*dim)
	}
	if sourceSize < len(words) {
		return nil, fmt.Errorf("source vocabulary size %d is smaller than the %d words kept", sourceSize, len(words))
	}
	index := make(map[string]int32, len(words))
	for i, w := range words {
		if err := checkWord(w); err != nil {
			return nil, fmt.Errorf("word %d: %w", i+1, err)
		}
		if j, dup := index[w]; dup {
			return nil, fmt.Errorf("word %d %q duplicates word %d", i+1, w, j+1)
		}
		index[w] = int32(i)
	}
	for i, x := range matrix {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("vector of word %d %q has a non-finite value at dimension %d", i/dim+1, words[i/dim], i%dim+1)
		}
	}
	return &Vectors{Dim: dim, Words: words, Matrix: matrix, SourceSize: sourceSize, index: index}, nil
}

func checkWord(w string) error {
	switch {
	case w == "":
		return errors.New("empty word")
	case len(w) > maxWordLen:
		return fmt.Errorf("word of %d bytes is longer than %d", len(w), maxWordLen)
	case !utf8.ValidString(w):
		return fmt.Errorf("word %q is not valid UTF-8", w)
	case strings.ContainsAny(w, " \t\r\n"):
		return fmt.Errorf("word %q contains white space", w)
	}
	return nil
}

// Encode returns the file bytes of v (see the layout above).
func (v *Vectors) Encode() []byte {
	wordBytes := 0
	for _, w := range v.Words {
		wordBytes += len(w) + 1
	}
	buf := make([]byte, 0, headerSize+wordBytes+4*len(v.Matrix)+sumSize)
	buf = append(buf, magic...)
	buf = binary.LittleEndian.AppendUint32(buf, version)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(v.Dim))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(v.Words)))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(v.SourceSize))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(wordBytes))
	for _, w := range v.Words {
		buf = append(buf, w...)
		buf = append(buf, '\n')
	}
	for _, x := range v.Matrix {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	sum := sha256.Sum256(buf)
	return append(buf, sum[:]...)
}

// Write saves v to path atomically ([atomicfile.Write]: temporary file,
// fsync, rename), so an interrupted setup never leaves a half-written file
// behind, and sets v.SHA256.
func (v *Vectors) Write(path string) error {
	data := v.Encode()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write vectors %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("write vectors %s: %w", path, err)
	}
	v.SHA256 = hex.EncodeToString(data[len(data)-sumSize:])
	return nil
}

// ErrCorrupt is wrapped by every Load error about the file's content (as
// opposed to failing to read it).
var ErrCorrupt = errors.New("corrupt vectors file")

// Load reads and verifies a vectors file written by Write.
func Load(path string) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vectors %s: %w (the setup cache's file is made by `make setup`; your own with `go run ./embeddings/glove/convert`)", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load vectors %s: %w", path, err)
	}
	// Check the header against the file size before reading the rest, so a
	// header that claims 10^12 words costs nothing.
	head := make([]byte, headerSize)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, loadError(path, "truncated: %d bytes, shorter than the %d-byte header", st.Size(), headerSize)
	}
	total, err := checkHeader(head, st.Size())
	if err != nil {
		return nil, loadError(path, "%v", err)
	}
	data := make([]byte, total)
	copy(data, head)
	if _, err := io.ReadFull(f, data[headerSize:]); err != nil {
		return nil, fmt.Errorf("load vectors %s: %w", path, err)
	}
	v, err := decode(data)
	if err != nil {
		return nil, loadError(path, "%v", err)
	}
	return v, nil
}

func loadError(path, format string, args ...any) error {
	return fmt.Errorf("load vectors %s: %w: %s; the setup cache's file: delete it and run `make setup`; your own: convert it again with `go run ./embeddings/glove/convert`",
		path, ErrCorrupt, fmt.Sprintf(format, args...))
}

// checkHeader validates the fixed header and returns the file length it
// implies, which must equal size.
func checkHeader(head []byte, size int64) (int64, error) {
	if string(head[:8]) != magic {
		return 0, fmt.Errorf("not a promptgan vectors file (magic %q, want %q)", head[:8], magic)
	}
	le := binary.LittleEndian
	if ver := le.Uint32(head[8:]); ver != version {
		return 0, fmt.Errorf("format version %d; this build reads version %d", ver, version)
	}
	dim, count, source, wordBytes := uint64(le.Uint32(head[12:])), le.Uint64(head[16:]), le.Uint64(head[24:]), le.Uint64(head[32:])
	switch {
	case dim < 1 || dim > MaxDim:
		return 0, fmt.Errorf("dimension %d outside 1..%d", dim, MaxDim)
	case count < 1 || count > MaxWords:
		return 0, fmt.Errorf("word count %d outside 1..%d", count, MaxWords)
	case source < count:
		return 0, fmt.Errorf("source vocabulary size %d is smaller than the word count %d", source, count)
	case wordBytes < 2*count || wordBytes > count*(maxWordLen+1):
		return 0, fmt.Errorf("word block of %d bytes cannot hold %d words", wordBytes, count)
	}
	// All factors are bounded above, so this cannot overflow.
	want := int64(headerSize + wordBytes + 4*count*dim + sumSize)
	if size != want {
		return 0, fmt.Errorf("%d bytes, but its header (%d words, %d dimensions, %d-byte word block) implies %d: truncated or not matching its header",
			size, count, dim, wordBytes, want)
	}
	return want, nil
}

// decode parses a whole file's bytes.
func decode(data []byte) (*Vectors, error) {
	if len(data) < headerSize {
		return nil, fmt.Errorf("truncated: %d bytes, shorter than the %d-byte header", len(data), headerSize)
	}
	if _, err := checkHeader(data[:headerSize], int64(len(data))); err != nil {
		return nil, err
	}
	body, stored := data[:len(data)-sumSize], data[len(data)-sumSize:]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], stored) {
		return nil, fmt.Errorf("checksum mismatch (stored %x, content %x): the file is damaged", stored[:8], sum[:8])
	}
	le := binary.LittleEndian
	dim, count, source, wordBytes := int(le.Uint32(data[12:])), int(le.Uint64(data[16:])), int(le.Uint64(data[24:])), int(le.Uint64(data[32:]))
	block := data[headerSize : headerSize+wordBytes]
	if block[len(block)-1] != '\n' {
		return nil, errors.New("word block does not end with a newline")
	}
	words := strings.Split(string(block[:len(block)-1]), "\n")
	if len(words) != count {
		return nil, fmt.Errorf("word block holds %d words; the header says %d", len(words), count)
	}
	raw := data[headerSize+wordBytes : len(data)-sumSize]
	matrix := make([]float32, count*dim)
	for i := range matrix {
		matrix[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
	}
	v, err := NewVectors(dim, words, matrix, source)
	if err != nil {
		return nil, err
	}
	v.SHA256 = hex.EncodeToString(stored)
	return v, nil
}
