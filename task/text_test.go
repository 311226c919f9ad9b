package task

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTextValid(t *testing.T) {
	for _, tc := range []struct {
		name      string
		content   string
		inputFree bool
		want      []Example
	}{
		{
			name:    "with inputs",
			content: `{"input": "2+2", "good": ["4", "four"], "bad": ["5"]}` + "\n" + `{"input": "3+3", "good": ["6"]}` + "\n",
			want: []Example{
				{Line: 1, Input: "2+2", Good: []string{"4", "four"}, Bad: []string{"5"}},
				{Line: 2, Input: "3+3", Good: []string{"6"}},
			},
		},
		{
			name:    "only bad on one line, null and empty lists",
			content: `{"input": "a", "good": ["x"], "bad": null}` + "\n" + `{"input": "b", "good": [], "bad": ["y"]}`,
			want: []Example{
				{Line: 1, Input: "a", Good: []string{"x"}},
				{Line: 2, Input: "b", Good: []string{}, Bad: []string{"y"}},
			},
		},
		{
			name:      "input-free, BOM, CRLF, blank lines, no final newline",
			content:   "\xEF\xBB\xBF" + `{"text": "great", "label": "good"}` + "\r\n\r\n   \n" + `{"label": "bad", "text": " awful "}`,
			inputFree: true,
			want: []Example{
				{Line: 1, Good: []string{"great"}},
				{Line: 4, Bad: []string{" awful "}},
			},
		},
		{
			name:      "unicode and escapes",
			content:   `{"text": "caf\u00e9 ☕ \"ok\"", "label": "good"}` + "\n",
			inputFree: true,
			want:      []Example{{Line: 1, Good: []string{"café ☕ \"ok\""}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseText(strings.NewReader(tc.content), "t.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if got.InputFree != tc.inputFree {
				t.Errorf("InputFree = %v, want %v", got.InputFree, tc.inputFree)
			}
			if len(got.Examples) != len(tc.want) {
				t.Fatalf("got %d examples %+v, want %+v", len(got.Examples), got.Examples, tc.want)
			}
			for i, ex := range got.Examples {
				w := tc.want[i]
				if ex.Line != w.Line || ex.Input != w.Input || !slices.Equal(ex.Good, w.Good) || !slices.Equal(ex.Bad, w.Bad) {
					t.Errorf("example %d = %+v, want %+v", i, ex, w)
				}
			}
			if len(got.SHA256) != 64 {
				t.Errorf("SHA256 = %q", got.SHA256)
			}
		})
	}
}

func TestParseTextErrors(t *testing.T) {
	good := `{"text": "fine", "label": "good"}` + "\n"
	withInput := `{"input": "q", "good": ["a"]}` + "\n"
	for _, tc := range []struct {
		name    string
		content string
		want    []string // all must appear in the error
	}{
		{"empty file", "", []string{"t.jsonl:", "no examples"}},
		{"blank file", "\n  \r\n\n", []string{"t.jsonl:", "no examples"}},
		{"no good example", `{"text": "bad one", "label": "bad"}` + "\n", []string{"t.jsonl:", "no good example"}},
		{"no good with inputs", `{"input": "q", "bad": ["b"]}`, []string{"t.jsonl:", "no good example"}},
		{"invalid UTF-8", good + `{"text": "ab` + "\xff" + `", "label": "good"}`, []string{"t.jsonl:2:", "byte 13 of the line", "byte 47 of the file", "UTF-8"}},
		{"BOM not at the start", good + "\xEF\xBB\xBF" + good, []string{"t.jsonl:2:", "not valid JSON"}},
		{"not JSON", good + "hello=fine\n", []string{"t.jsonl:2:", "not valid JSON at byte 1"}},
		{"cut short", `{"text": "fine", "label": "go`, []string{"t.jsonl:1:", "cut short"}},
		{"not an object", `["fine", "good"]`, []string{"t.jsonl:1:", "want a JSON object", "a list"}},
		{"trailing content", `{"text": "fine", "label": "good"} {"text": "x", "label": "bad"}`, []string{"t.jsonl:1:", "after the JSON object", "byte 35"}},
		{"trailing comma", `{"text": "fine", "label": "good"},`, []string{"t.jsonl:1:", "unexpected , at byte 34", "after the JSON object"}},
		{"unknown field", `{"text": "fine", "label": "good", "score": 1}`, []string{"t.jsonl:1:", `unknown field "score"`}},
		{"repeated field", `{"text": "fine", "text": "again", "label": "good"}`, []string{"t.jsonl:1:", `field "text" is given twice`}},
		{"mixed fields", `{"text": "fine", "good": ["x"]}`, []string{"t.jsonl:1:", `"text" and "good"`, "different formats"}},
		{"empty object", `{}`, []string{"t.jsonl:1:", "no fields"}},
		{"mixed lines", good + "\n" + withInput, []string{"t.jsonl:3:", "line 1 is input-free", "one format"}},
		{"mixed lines other way", withInput + good, []string{"t.jsonl:2:", "line 1 is with inputs", "one format"}},
		{"missing text", `{"label": "good"}`, []string{"t.jsonl:1:", `missing field "text"`}},
		{"missing label", `{"text": "fine"}`, []string{"t.jsonl:1:", `missing field "label"`}},
		{"empty text", `{"text": " \t ", "label": "good"}`, []string{"t.jsonl:1:", `field "text" is empty`}},
		{"text a number", `{"text": 3, "label": "good"}`, []string{"t.jsonl:1:", `field "text": want a string, got a number`}},
		{"label unknown", `{"text": "fine", "label": "positive"}`, []string{"t.jsonl:1:", `field "label" is "positive"`, `"good" or "bad"`}},
		{"label a boolean", `{"text": "fine", "label": true}`, []string{"t.jsonl:1:", `field "label": want a string, got a boolean`}},
		{"missing input", `{"good": ["a"]}`, []string{"t.jsonl:1:", `missing field "input"`}},
		{"empty input", `{"input": "", "good": ["a"]}`, []string{"t.jsonl:1:", `field "input" is empty`}},
		{"input a list", `{"input": ["q"], "good": ["a"]}`, []string{"t.jsonl:1:", `field "input": want a string, got a list`}},
		{"good a string", withInput + `{"input": "q", "good": "a"}`, []string{"t.jsonl:2:", `field "good": want a list of strings, got a string`}},
		{"bad an object", `{"input": "q", "good": ["a"], "bad": {"x": 1}}`, []string{"t.jsonl:1:", `field "bad": want a list of strings, got an object`}},
		{"good item a number", `{"input": "q", "good": ["a", 2]}`, []string{"t.jsonl:1:", `good[1] is a number`, "want a list of strings"}},
		{"good item empty", `{"input": "q", "good": ["a", "b", "  "]}`, []string{"t.jsonl:1:", `good[2] is empty`}},
		{"bad item empty", `{"input": "q", "good": ["a"], "bad": [""]}`, []string{"t.jsonl:1:", `bad[0] is empty`}},
		{"neither good nor bad", `{"input": "q", "good": [], "bad": null}`, []string{"t.jsonl:1:", `neither "good" nor "bad"`}},
		{"only input", `{"input": "q"}`, []string{"t.jsonl:1:", `neither "good" nor "bad"`}},
		{"line over the limit", good + `{"text": "` + strings.Repeat("a", MaxLineBytes) + `", "label": "good"}`, []string{"t.jsonl:2:", "longer than", "1 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseText(strings.NewReader(tc.content), "t.jsonl")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "Go struct") || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("error %q speaks Go, not the task's terms", err)
			}
		})
	}
}

// TestParseTextLineLimitBoundary: a line of exactly MaxLineBytes, CRLF
// ended, is accepted; one byte more is not.
func TestParseTextLineLimitBoundary(t *testing.T) {
	prefix, suffix := `{"text": "`, `", "label": "good"}`
	for _, tc := range []struct {
		extra int
		ok    bool
	}{{0, true}, {1, false}} {
		line := prefix + strings.Repeat("a", MaxLineBytes-len(prefix)-len(suffix)+tc.extra) + suffix
		_, err := ParseText(strings.NewReader(line+"\r\n"), "t.jsonl")
		if (err == nil) != tc.ok {
			t.Errorf("line of %d bytes: err = %v, want ok=%v", len(line), err, tc.ok)
		}
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type repeatReader byte

func (b repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestParseTextHugeLine: a 12 MiB line is refused after reading little more
// than the limit, not held in memory whole.
func TestParseTextHugeLine(t *testing.T) {
	r := &countingReader{r: io.MultiReader(strings.NewReader(`{"text": "`), io.LimitReader(repeatReader('a'), 12<<20))}
	_, err := ParseText(r, "huge.jsonl")
	if err == nil || !strings.Contains(err.Error(), "huge.jsonl:1: line is longer than") {
		t.Fatalf("err = %v, want a line-too-long error on line 1", err)
	}
	if r.n > 2*MaxLineBytes {
		t.Errorf("read %d bytes before refusing the line, want at most %d", r.n, 2*MaxLineBytes)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseTextReadError(t *testing.T) {
	_, err := ParseText(io.MultiReader(strings.NewReader(`{"text": "a", "label": "good"}`+"\n"), failingReader{}), "t.jsonl")
	if err == nil || !strings.Contains(err.Error(), "t.jsonl:2: read: disk on fire") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadText(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "task.jsonl")
	content := `{"text": "fine", "label": "good"}` + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadText(path)
	if err != nil {
		t.Fatal(err)
	}
	// sha256 of the bytes above, computed independently with sha256sum.
	if got.Path != path || got.SHA256 != "98ad034f92877b9122b33b8419f24ab96c4e119c5dbc580b358ea5d80d0a299e" {
		t.Errorf("Path %q SHA256 %q", got.Path, got.SHA256)
	}
	if _, err := LoadText(filepath.Join(dir, "missing.jsonl")); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestLabeledAndInputs(t *testing.T) {
	task, err := ParseText(strings.NewReader(
		`{"input": "a", "good": ["a1", "a2"], "bad": ["a3"]}`+"\n"+
			`{"input": "b", "bad": ["b1"]}`+"\n"+
			`{"input": "c", "good": ["c1"]}`+"\n"), "t.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	got := task.Labeled([]int{2, 0})
	want := []Labeled{
		{Input: "c", Text: "c1", Good: true, Line: 3},
		{Input: "a", Text: "a1", Good: true, Line: 1},
		{Input: "a", Text: "a2", Good: true, Line: 1},
		{Input: "a", Text: "a3", Good: false, Line: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Labeled = %+v, want %+v", got, want)
	}
	if in := task.Inputs([]int{1, 2}); !slices.Equal(in, []string{"b", "c"}) {
		t.Errorf("Inputs = %q", in)
	}
}

// BenchmarkParseText parses a 3,000-line input-free task shaped like the
// built-in sentiment task (~90-byte lines).
func BenchmarkParseText(b *testing.B) {
	var sb strings.Builder
	for i := range 3000 {
		label := "good"
		if i%2 == 1 {
			label = "bad"
		}
		sb.WriteString(`{"text": "Sentence number ` + strings.Repeat("x", i%60) + ` with some ordinary review words in it.", "label": "` + label + "\"}\n")
	}
	content := sb.String()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		if _, err := ParseText(strings.NewReader(content), "bench.jsonl"); err != nil {
			b.Fatal(err)
		}
	}
}
