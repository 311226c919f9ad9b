package glove

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// toy is a 5-word, 3-dimensional table in rank order.
func toy(t testing.TB) *Vectors {
	t.Helper()
	v, err := NewVectors(3, []string{"the", "cat", "sat", ",", "mat"}, []float32{
		1, 0, 0,
		0, 2, 0,
		0, 0, 3,
		1, 1, 1,
		-1, 2, -2,
	}, 5)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func writeToy(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "toy.f32")
	if err := toy(t).Write(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWriteLoadRoundTrip(t *testing.T) {
	want := toy(t)
	path := writeToy(t)
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Dim != want.Dim || !slices.Equal(got.Words, want.Words) || !slices.Equal(got.Matrix, want.Matrix) || got.SourceSize != want.SourceSize {
		t.Fatalf("Load(Write(v)) = %+v; want %+v", got, want)
	}
	if len(got.SHA256) != 64 {
		t.Errorf("SHA256 = %q; want 64 hex digits", got.SHA256)
	}
	for i, w := range want.Words {
		if r := got.Lookup(w); r != i {
			t.Errorf("Lookup(%q) = %d; want %d", w, r, i)
		}
	}
	if r := got.Lookup("dog"); r != -1 {
		t.Errorf("Lookup(dog) = %d; want -1", r)
	}
}

// reencode returns the file bytes of an unvalidated table, with a correct
// checksum, so that Load's content checks (not the checksum) must catch it.
func reencode(dim int, words []string, matrix []float32, source int) []byte {
	return (&Vectors{Dim: dim, Words: words, Matrix: matrix, SourceSize: source}).Encode()
}

// resum rewrites the checksum after an edit of the body.
func resum(data []byte) []byte {
	body := data[:len(data)-sumSize]
	sum := sha256.Sum256(body)
	return append(slices.Clone(body), sum[:]...)
}

func TestLoadErrors(t *testing.T) {
	good := toy(t).Encode()
	patch := func(off int, b []byte) []byte {
		d := slices.Clone(good)
		copy(d[off:], b)
		return d
	}
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the"},
		{"truncated header", good[:20], "shorter than the"},
		{"truncated body", good[:len(good)-1], "truncated"},
		{"extra byte", append(slices.Clone(good), 0), "truncated or not matching"},
		{"wrong magic", patch(0, []byte("GLOVEVEC")), "not a promptgan vectors file"},
		{"wrong version", patch(8, le.AppendUint32(nil, 2)), "format version 2"},
		{"dimension not matching data", patch(12, le.AppendUint32(nil, 4)), "not matching its header"},
		{"zero dimension", patch(12, le.AppendUint32(nil, 0)), "dimension 0"},
		{"10^12 words", patch(16, le.AppendUint64(nil, 1e12)), "word count 1000000000000"},
		{"source smaller than count", patch(24, le.AppendUint64(nil, 4)), "source vocabulary size 4"},
		{"bad checksum", patch(len(good)-sumSize-1, []byte{0x7f}), "checksum mismatch"},
		{"duplicate word", reencode(3, []string{"the", "cat", "the"}, make([]float32, 9), 3), `duplicates word 1`},
		{"empty word", reencode(3, []string{"the", "", "cat"}, make([]float32, 9), 3), "empty word"},
		{"words short of the count", resum(patch(16, le.AppendUint64(nil, 4))), "not matching its header"},
		{"non-finite value", reencode(1, []string{"a"}, []float32{float32(math.NaN())}, 1), "non-finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.f32")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded; want an error")
			}
			for _, want := range []string{tc.want, path, "make setup"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %q does not wrap ErrCorrupt", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.f32")
		_, err := Load(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), path) {
			t.Errorf("Load(missing) = %v; want a not-exist error naming the file and `make setup`", err)
		}
	})
}

func TestNewVectorsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dim    int
		words  []string
		matrix []float32
		source int
		want   string
	}{
		{"dim 0", 0, []string{"a"}, nil, 1, "dimension 0"},
		{"no words", 1, nil, nil, 1, "0 words"},
		{"matrix short", 2, []string{"a"}, []float32{1}, 1, "need 2"},
		{"source small", 1, []string{"a", "b"}, []float32{1, 2}, 1, "smaller than"},
		{"space in word", 1, []string{"a b"}, []float32{1}, 1, "white space"},
		{"newline in word", 1, []string{"a\nb"}, []float32{1}, 1, "white space"},
		{"bad utf-8", 1, []string{"\xff"}, []float32{1}, 1, "UTF-8"},
	} {
		if _, err := NewVectors(tc.dim, tc.words, tc.matrix, tc.source); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewVectors = %v; want an error saying %q", tc.name, err, tc.want)
		}
	}
}
