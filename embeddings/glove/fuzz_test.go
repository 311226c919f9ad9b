package glove

import (
	"bytes"
	"testing"
)

// FuzzLoad: decoding arbitrary bytes never panics and never allocates more
// than the input implies (the header is checked against the length first);
// whatever decodes re-encodes to the same bytes.
func FuzzLoad(f *testing.F) {
	good := toy(f).Encode()
	f.Add(good)
	f.Add(good[:headerSize])
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			return
		}
		if again := v.Encode(); !bytes.Equal(again, data) {
			t.Fatalf("decode then Encode changed %d bytes into %d", len(data), len(again))
		}
	})
}
