package glove

import (
	"slices"
	"strings"
	"testing"
)

// winkJSON builds a file in the wink layout with 2-d vectors; entries are
// word:[x, y, norm, index] with the norm right unless bad says otherwise.
const winkGood = `{"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,` +
	`"words":["the","cat","sat"],"vectors":{"the":[3,4,5,0],"cat":[1,0,1,1],"sat":[0,-2,2,2]},"unkVector":[0,0,0,-1]}`

func TestConvertWink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		json     string
		maxWords int
		words    []string
		matrix   []float32
		want     string // error text; "" = success
	}{
		{"all", winkGood, 0, []string{"the", "cat", "sat"}, []float32{3, 4, 1, 0, 0, -2}, ""},
		{"top 2", winkGood, 2, []string{"the", "cat"}, []float32{3, 4, 1, 0}, ""},
		{"more than there are", winkGood, 10, []string{"the", "cat", "sat"}, []float32{3, 4, 1, 0, 0, -2}, ""},
		{"out of order", strings.Replace(winkGood, `"the":[3,4,5,0],"cat":[1,0,1,1]`, `"cat":[1,0,1,1],"the":[3,4,5,0]`, 1), 2,
			[]string{"the", "cat"}, []float32{3, 4, 1, 0}, ""},
		{"index not its place", strings.Replace(winkGood, `[1,0,1,1]`, `[1,0,1,2]`, 1), 0, nil, nil, "not its place"},
		{"wrong norm", strings.Replace(winkGood, `[3,4,5,0]`, `[3,4,6,0]`, 1), 0, nil, nil, "norm 5 but stores 6"},
		{"short vector", strings.Replace(winkGood, `[3,4,5,0]`, `[3,5,0]`, 1), 0, nil, nil, "has 3 values"},
		{"size mismatch", strings.Replace(winkGood, `"size":3`, `"size":4`, 1), 0, nil, nil, `"size" is 4`},
		{"layout changed", strings.Replace(winkGood, `"wordIndex":3`, `"wordIndex":1`, 1), 0, nil, nil, "layout changed"},
		{"missing vector", strings.Replace(winkGood, `,"sat":[0,-2,2,2]`, ``, 1), 0, nil, nil, `"sat" the first`},
		{"no vectors", `{"words":[]}`, 0, nil, nil, `no "vectors"`},
		{"not an object", `[1]`, 0, nil, nil, `where "{" was expected`},
		{"cut off", winkGood[:120], 0, nil, nil, "read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ConvertWink(strings.NewReader(tc.json), tc.maxWords)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("ConvertWink = %v; want an error saying %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(v.Words, tc.words) || !slices.Equal(v.Matrix, tc.matrix) || v.Dim != 2 || v.SourceSize != 3 {
				t.Fatalf("ConvertWink = %d-d %q %v source %d; want 2-d %q %v source 3", v.Dim, v.Words, v.Matrix, v.SourceSize, tc.words, tc.matrix)
			}
		})
	}
}
