package audit

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"promptgan/internal/atomicfile"

	"promptgan/english"
)

// Corpus parts (english's partition of every class).
const (
	PartTarget = english.PartTarget // trains the target LM
	PartDisc   = english.PartDisc   // the tasks' data: what D trains on
	PartAudit  = english.PartAudit  // trains the audit classifier
	PartTest   = english.PartTest   // real held-out text: the real-text score, the perplexity band
)

// Doc is one text of the English corpus.
type Doc = english.Doc

// Task is a built-in English steering task: steer the target towards texts
// of Class.
type Task struct {
	Name  string
	Class string
	// Seeds are hand-written seed prompts: what a user would try first.
	Seeds []string
}

// Tasks returns the built-in English tasks, in the order task.EnglishTaskNames
// lists them: the two review sentiments (negative is positive's red-team
// mirror) and three fortunes topics the target can be steered to.
func Tasks() []Task {
	return []Task{
		{Name: "positive-reviews", Class: "positive", Seeds: []string{"positive", "this is great", "a glowing product review", "i loved it"}},
		{Name: "negative-reviews", Class: "negative", Seeds: []string{"negative", "this is terrible", "an angry customer complaint", "i hated it"}},
		{Name: "definitions", Class: "definitions", Seeds: []string{"definitions", "write like the definitions", "a humorous definition", "a dictionary entry"}},
		{Name: "love", Class: "love", Seeds: []string{"love", "write like the love quotes", "a quote about love", "a lover said"}},
		{Name: "computers", Class: "computers", Seeds: []string{"computers", "write like the computers quotes", "a quote about computers", "a programmer said"}},
	}
}

// TaskByName returns the built-in task called name.
func TaskByName(name string) (Task, error) {
	for _, t := range Tasks() {
		if t.Name == name {
			return t, nil
		}
	}
	var names []string
	for _, t := range Tasks() {
		names = append(names, t.Name)
	}
	return Task{}, fmt.Errorf("no English task %q; the built-in ones are %s", name, strings.Join(names, ", "))
}

// TaskLine is one line of a task file (the input-free text-task format
// task.LoadText reads).
type TaskLine struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

// TaskData returns the lines of t's task file from the corpus's "disc" part:
// good = every disc text of t.Class; bad = as many texts of the other
// classes, an equal share from each (a class with fewer gives all it has and
// the rest come from the others), so that D learns "this class versus the
// rest" on balanced labels and no single other class dominates the bad side.
// Which texts of a class are taken is fixed by a hash of the text, and lines
// alternate good and bad in that order: the file is a function of the corpus
// alone. An error names the class and what the corpus holds when the class
// has no disc text.
func TaskData(docs []Doc, t Task) ([]TaskLine, error) {
	byClass := map[string][]string{}
	for _, d := range docs {
		if d.Part == PartDisc {
			byClass[d.Class] = append(byClass[d.Class], d.Text)
		}
	}
	good := byClass[t.Class]
	if len(good) == 0 {
		return nil, fmt.Errorf("task %s: the corpus has no %q text in its %q part (its classes there: %s); rebuild the corpus with that class or choose another task",
			t.Name, t.Class, PartDisc, classList(byClass))
	}
	var others []string
	for c := range byClass {
		if c != t.Class {
			others = append(others, c)
		}
	}
	if len(others) == 0 {
		return nil, fmt.Errorf("task %s: the corpus's %q part holds only class %q: a task needs other classes for its bad texts", t.Name, PartDisc, t.Class)
	}
	slices.Sort(others)
	good = byHash(good)
	pools := make([][]string, len(others))
	for i, c := range others {
		pools[i] = byHash(byClass[c])
	}
	// Round-robin over the other classes until len(good) bad texts are
	// taken: equal shares, and a small class's shortfall is filled by the rest.
	var bad []string
	for pos := 0; len(bad) < len(good); pos++ {
		took := false
		for _, p := range pools {
			if pos < len(p) && len(bad) < len(good) {
				bad = append(bad, p[pos])
				took = true
			}
		}
		if !took {
			break
		}
	}
	lines := make([]TaskLine, 0, len(good)+len(bad))
	for i := 0; i < max(len(good), len(bad)); i++ {
		if i < len(good) {
			lines = append(lines, TaskLine{Text: good[i], Label: "good"})
		}
		if i < len(bad) {
			lines = append(lines, TaskLine{Text: bad[i], Label: "bad"})
		}
	}
	return lines, nil
}

// WriteTasks writes every built-in task's file, dir/<name>.jsonl, from the
// corpus. The files are written to a temporary directory beside dir that is
// renamed to dir when all are complete, so dir never holds a half-written
// set; an existing dir is replaced.
func WriteTasks(docs []Doc, dir string) error {
	files := map[string][]byte{}
	for _, t := range Tasks() {
		lines, err := TaskData(docs, t)
		if err != nil {
			return fmt.Errorf("write English tasks: %w", err)
		}
		var b strings.Builder
		for _, l := range lines {
			j, err := json.Marshal(l)
			if err != nil {
				return fmt.Errorf("write English tasks: %s: %w", t.Name, err)
			}
			b.Write(j)
			b.WriteByte('\n')
		}
		files[t.Name+".jsonl"] = []byte(b.String())
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write English tasks: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("write English tasks: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	// MkdirTemp's 0700 would outlive the rename.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write English tasks: %w", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := atomicfile.Write(filepath.Join(tmp, n), files[n]); err != nil {
			return fmt.Errorf("write English tasks: %w", err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("write English tasks: replace %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("write English tasks: %w", err)
	}
	return nil
}

// byHash returns texts ordered by a hash of each text (ties by the text), an
// order that does not depend on the corpus file's order.
func byHash(texts []string) []string {
	out := slices.Clone(texts)
	key := func(s string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(s))
		return h.Sum64()
	}
	slices.SortStableFunc(out, func(a, b string) int {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

func classList(byClass map[string][]string) string {
	if len(byClass) == 0 {
		return "none"
	}
	var cs []string
	for c, ts := range byClass {
		cs = append(cs, fmt.Sprintf("%s (%d)", c, len(ts)))
	}
	slices.Sort(cs)
	return strings.Join(cs, ", ")
}
