package search

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSurfaceChecks(t *testing.T) {
	tests := []struct {
		name  string
		texts []string
		good  []bool
		want  string // flagged features, comma-separated
	}{
		{"length", []string{"great", "so good", "loved it", "the worst thing i ever bought in my life", "it broke the day after it came home to me"},
			[]bool{true, true, true, false, false}, "length"},
		{"unk", []string{"the <unk> was fine", "a fine <unk>", "the food was fine", "a fine meal"}, []bool{false, false, true, true}, "unk_rate"},
		{"punctuation", []string{"good , good", "fine ! fine", "good so good", "fine so fine"}, []bool{true, true, false, false}, "punctuation"},
		{"alike", []string{"good food here", "bad food here", "nice room there", "awful room there"}, []bool{true, false, true, false}, ""},
		{"one class", []string{"a", "b"}, []bool{true, true}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range surfaceChecks(tc.texts, tc.good) {
				got = append(got, c.name)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("flagged %v, want %q", got, tc.want)
			}
		})
	}
}

// TestSurfaceNoteAndExplained: a task whose good texts are short and bad
// ones long (issue 26: 7.2 against 14.8 words, and D rated "it ." above a
// real good line) is flagged when the run is built, with length's own
// AUC, and every evaluation reports how much of D's verdict length
// explains; a task without such a difference is not flagged.
func TestSurfaceNoteAndExplained(t *testing.T) {
	tt := openTextTarget(t, 6)
	dir := t.TempDir()
	var lines []string
	for i := range 24 {
		lines = append(lines,
			fmt.Sprintf(`{"text": "loved it %d", "label": "good"}`, i),
			fmt.Sprintf(`{"text": "the service was slow and the food came cold and late on day %d", "label": "bad"}`, i))
	}
	lengthTask := filepath.Join(dir, "length.jsonl")
	if err := os.WriteFile(lengthTask, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		task string
		flag bool
	}{{lengthTask, true}, {"reviews.jsonl", false}} {
		cfg := tinyTextConfig(tc.task)
		if tc.task == lengthTask {
			cfg.Task = lengthTask
		}
		tr, err := New(cfg, tt)
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(tr.Notes(), "\n")
		if got := strings.Contains(notes, "differ in length") && strings.Contains(notes, "AUC 0.00"); got != tc.flag {
			t.Errorf("%s: notes %q, want the length flagged: %v", tc.task, notes, tc.flag)
		}
		st, err := tr.Evaluate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r2, ok := st.Values["surface_r2_length"]
		if ok != tc.flag || r2 < 0 || r2 > 1 {
			b, _ := json.Marshal(st.Values)
			t.Errorf("%s: surface_r2_length %v (reported %v), want reported: %v; %s", tc.task, r2, ok, tc.flag, b)
		}
	}
}
