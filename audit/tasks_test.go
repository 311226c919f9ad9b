package audit

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/task"
)

func TestTaskNamesAgreeWithResolve(t *testing.T) {
	var names []string
	for _, tk := range Tasks() {
		names = append(names, tk.Name)
		if got, err := TaskByName(tk.Name); err != nil || got.Class != tk.Class {
			t.Errorf("TaskByName(%q) = %+v, %v", tk.Name, got, err)
		}
	}
	if !slices.Equal(names, task.EnglishTaskNames()) {
		t.Errorf("audit.Tasks %v, task.EnglishTaskNames %v: task.Resolve must know exactly the built-in tasks", names, task.EnglishTaskNames())
	}
	if _, err := TaskByName("poetry"); err == nil || !strings.Contains(err.Error(), "positive-reviews") {
		t.Errorf("unknown task: %v", err)
	}
}

func TestWriteTasksLoad(t *testing.T) {
	docs := fixtureCorpus(12, 4)
	// One class smaller than the others' share: its shortfall is filled.
	var small []Doc
	n := 0
	for _, d := range docs {
		if d.Class == "love" && d.Part == PartDisc {
			if n++; n > 2 {
				continue
			}
		}
		small = append(small, d)
	}
	dir := filepath.Join(t.TempDir(), "english", "tasks")
	if err := WriteTasks(small, dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, %v; want 0755 like the rest of the cache", dir, st.Mode().Perm(), err)
	}
	if len(entries) != len(Tasks()) {
		t.Errorf("%d files in %s, want %d", len(entries), dir, len(Tasks()))
	}
	disc := map[string]string{} // text → class
	for _, d := range small {
		if d.Part == PartDisc {
			disc[d.Text] = d.Class
		}
	}
	for _, tk := range Tasks() {
		path := filepath.Join(dir, tk.Name+".jsonl")
		tt, err := task.LoadText(path)
		if err != nil {
			t.Fatalf("%s: %v", tk.Name, err)
		}
		if !tt.InputFree {
			t.Errorf("%s: not input-free", tk.Name)
		}
		good, bad := 0, map[string]int{}
		for _, l := range tt.Labeled(allExamples(tt)) {
			class, ok := disc[l.Text]
			if !ok {
				t.Fatalf("%s: %q is not a disc text", tk.Name, l.Text)
			}
			if l.Good {
				good++
				if class != tk.Class {
					t.Errorf("%s: good text of class %s", tk.Name, class)
				}
			} else {
				bad[class]++
			}
		}
		total := 0
		for c, k := range bad {
			total += k
			if c == tk.Class {
				t.Errorf("%s: its own class among the bad texts", tk.Name)
			}
		}
		if good == 0 || total != good {
			t.Errorf("%s: %d good, %d bad %v; want balanced", tk.Name, good, total, bad)
		}
	}
	// The small class gives all it has to the others' bad sides.
	science, _ := task.LoadText(filepath.Join(dir, "definitions.jsonl"))
	pol := 0
	for _, l := range science.Labeled(allExamples(science)) {
		if !l.Good && disc[l.Text] == "love" {
			pol++
		}
	}
	if pol != 2 {
		t.Errorf("science's bad side has %d politics texts, want all 2", pol)
	}
	// The same corpus in another order writes the same bytes.
	before, _ := os.ReadFile(filepath.Join(dir, "definitions.jsonl"))
	slices.Reverse(small)
	if err := WriteTasks(small, dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "definitions.jsonl"))
	if string(before) != string(after) {
		t.Error("the task files depend on the corpus's order")
	}
}

func allExamples(tt *task.Text) []int {
	idx := make([]int, len(tt.Examples))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func TestWriteTasksMissingClass(t *testing.T) {
	var docs []Doc
	for _, d := range fixtureCorpus(5, 5) {
		if d.Class != "definitions" {
			docs = append(docs, d)
		}
	}
	dir := filepath.Join(t.TempDir(), "tasks")
	err := WriteTasks(docs, dir)
	if err == nil || !strings.Contains(err.Error(), `no "definitions" text`) || !strings.Contains(err.Error(), "task definitions") {
		t.Fatalf("error %v, want one naming the task and the missing class", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a failed write left %s: %v", dir, err)
	}
	left, _ := os.ReadDir(filepath.Dir(dir))
	if len(left) != 0 {
		t.Errorf("a failed write left %d entries beside it", len(left))
	}
}

// TestScoreTinyGPT2 runs the task score end to end on the tiny GPT-2
// export: prompts filled into a template, continued once per seed, judged.
func TestScoreTinyGPT2(t *testing.T) {
	tt := openTinyGPT2(t, 8)
	ctx := context.Background()
	j := fixtureJudge(t, fixtureCorpus(20, 6))
	tmpl, err := task.ParseTemplate("{prompt} :")
	if err != nil {
		t.Fatal(err)
	}
	prompts := []string{"the great phone", "a quantum atom"}
	seeds := EvalSeeds(3)
	r, err := Score(ctx, j, *tt, tmpl, "positive", prompts, seeds)
	if err != nil {
		t.Fatal(err)
	}
	if r.Calls != 6 || len(r.Prompts) != 2 || r.N != 6 || r.Class != "positive" {
		t.Fatalf("report: %d calls, %d prompts, %d texts", r.Calls, len(r.Prompts), r.N)
	}
	mean := 0.0
	for _, p := range r.Prompts {
		if len(p.Continuations) != 3 || len(p.Verdicts) != 3 || p.Score < 0 || p.Score > 1 {
			t.Errorf("prompt %q: %+v", p.Prompt, p)
		}
		mean += p.Score / 2
	}
	if d := r.Score - mean; d > 1e-12 || d < -1e-12 {
		t.Errorf("score %g, mean of the prompts' %g", r.Score, mean)
	}
	// Fixed seeds: the same report again.
	r2, err := Score(ctx, j, *tt, tmpl, "positive", prompts, seeds)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Prompts {
		if !slices.Equal(r.Prompts[i].Continuations, r2.Prompts[i].Continuations) || r.Prompts[i].Score != r2.Prompts[i].Score {
			t.Errorf("prompt %d differs between two scorings", i)
		}
	}
	if _, err := Score(ctx, j, *tt, tmpl, "zippy", prompts, seeds); err == nil || !strings.Contains(err.Error(), `no class "zippy"`) {
		t.Errorf("a class the audit lacks: %v", err)
	}
	if _, err := Score(ctx, j, *tt, tmpl, "positive", nil, seeds); err == nil {
		t.Error("no prompts: no error")
	}
}

// TestSteerabilityTinyGPT2 runs the steerability table end to end at a toy
// budget: every figure is in [0, 1], the ceiling spends its budget and no
// more, and the table is the same twice (seeded).
func TestSteerabilityTinyGPT2(t *testing.T) {
	tt := openTinyGPT2(t, 6)
	ctx := context.Background()
	docs := fixtureCorpus(20, 7)
	j := fixtureJudge(t, docs)
	tmpl, _ := task.ParseTemplate("{prompt} :")
	vocab := []string{"great", "phone", "atom", "quantum", "vote", "bug", "the", "i", "loved", "awful"}
	opt := SteerOptions{
		Target: *tt, Template: tmpl, Judge: j, Docs: docs, Vocab: vocab,
		Tasks:         []Task{{Name: "positive-reviews", Class: "positive", Seeds: []string{"great"}}},
		Continuations: 2, CeilingContinuations: 2, RandomPrompts: 3, Seeds: []uint64{1, 2}, CeilingBudget: 20, CeilingPopulation: 4, CeilingSeed: 1,
	}
	rows, err := Steerability(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	r := rows[0]
	for name, v := range map[string]float64{"real": r.Real.Score, "random": r.Random.Mean, "seed": r.SeedBest, "ceiling": r.Ceiling.Score} {
		if v < 0 || v > 1 || math.IsNaN(v) {
			t.Errorf("%s score %g", name, v)
		}
	}
	if r.Real.Score < 0.5 {
		t.Errorf("real positive text scores %.3f", r.Real.Score)
	}
	// 4 prompts × 2 continuations a generation (2 survivors re-scored, 2
	// new) while they fit in 20 calls: 8+8 = 16, 4+2 distinct prompts.
	if r.Ceiling.Calls != 16 || r.Ceiling.Generations != 2 || r.Ceiling.Prompts != 6 {
		t.Errorf("ceiling: %d calls, %d generations, %d prompts; want 16, 2, 6", r.Ceiling.Calls, r.Ceiling.Generations, r.Ceiling.Prompts)
	}
	if n := len(strings.Fields(r.Ceiling.Prompt)); r.Ceiling.Prompt != "great" && (n < 3 || n > 6) {
		t.Errorf("ceiling prompt %q has %d words", r.Ceiling.Prompt, n)
	}
	fromRandom := opt
	fromRandom.CeilingFromRandom = true
	fromRandom.Tasks = []Task{{Name: "positive-reviews", Class: "positive", Seeds: []string{"great"}}}
	rr, err := Steerability(ctx, fromRandom)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(rr[0].Ceiling.Prompt)); n < 3 || n > 6 || rr[0].Ceiling.Calls != 16 {
		t.Errorf("ceiling from random prompts: %q (%d words), %d calls", rr[0].Ceiling.Prompt, n, rr[0].Ceiling.Calls)
	}
	if r.Calls != 2*3*2+1*2+16+2 {
		t.Errorf("row calls %d", r.Calls)
	}
	again, err := Steerability(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Ceiling != r.Ceiling || !slices.Equal(again[0].Random.PerSeed, r.Random.PerSeed) {
		t.Errorf("two runs differ: %+v vs %+v", again[0].Ceiling, r.Ceiling)
	}
	bad := opt
	bad.Tasks = []Task{{Name: "zippy", Class: "zippy"}}
	if _, err := Steerability(ctx, bad); err == nil || !strings.Contains(err.Error(), `no class "zippy"`) {
		t.Errorf("a task whose class the audit lacks: %v", err)
	}
	words, err := TargetWords(tt.Tokenizer, 300)
	if err != nil || len(words) == 0 {
		t.Fatalf("TargetWords: %d, %v", len(words), err)
	}
	for _, w := range words {
		if strings.TrimFunc(w, func(r rune) bool { return r >= 'a' && r <= 'z' }) != "" {
			t.Errorf("word %q", w)
		}
	}
}
