package englishsteer

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/internal/ort/orttest"
	"promptgan/targets"
	tasks "promptgan/task"
)

const (
	tinyGPT2      = "../../internal/ort/export/testdata/tiny-gpt2"
	fixtureCorpus = "../../cmd/promptgan/testdata/english-corpus.jsonl" // the five task classes in every part
)

// fixture returns options for a toy run on the tiny GPT-2 and the fixture
// corpus (task files written to a temporary directory): 96 calls a method,
// 16 of them D's pre-training.
func fixture(t *testing.T) Options {
	t.Helper()
	orttest.LoadOrSkip(t)
	docs, err := english.LoadCorpus(fixtureCorpus)
	if err != nil {
		t.Fatal(err)
	}
	task, _ := audit.TaskByName("positive-reviews")
	lines, err := audit.TaskData(docs, task)
	if err != nil {
		t.Fatal(err)
	}
	var file []byte
	for _, l := range lines {
		b, _ := json.Marshal(l)
		file = append(append(file, b...), '\n')
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, task.Name+".jsonl"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	judge, _, err := audit.NewJudge(context.Background(), docs, audit.JudgeOptions{Audit: audit.ClassifierConfig{Dim: 1 << 12, Steps: 60}})
	if err != nil {
		t.Fatal(err)
	}
	op, err := targets.Open(targets.Config{Name: tinyGPT2, MaxNewTokens: 6, Temperature: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	tmpl, _ := tasks.ParseTemplate("{prompt} :")
	o := Defaults()
	o.Tasks, o.TasksDir, o.Seeds = []audit.Task{task}, dir, []uint64{1, 2}
	o.Budget, o.Output, o.EvalContinuations, o.Continuations = 96, 2, 2, 2
	o.CandidateBatch, o.Population, o.RandomPrompts = 8, 4, 3
	o.CeilingContinuations, o.CeilingPopulation = 2, 4
	o.HallVerify = 1 // 4 points × 1 prompt × 2 continuations kept back from promptgan's training
	o.Train.ContinuationsPerPrompt = 1
	o.Train.Encoder, o.Train.PromptLen, o.Train.GenLen, o.Train.BatchSize = "hashing:64", 3, 6, 8
	o.Train.MLESteps, o.Train.DPretrainSteps, o.Train.DFitEpochs = 10, 2, 5
	o.Train.TextDiscriminator.Members, o.Train.TextDiscriminator.Hidden = 2, 8
	o.Target, o.Template, o.Judge, o.Docs, o.Train.Target = op.Text, tmpl, judge, docs, tinyGPT2
	o.Vocab = []string{"great", "phone", "atom", "quantum", "vote", "bug", "the", "i", "loved", "awful"}
	return o
}

// TestRunTinyGPT2 runs the benchmark at a toy budget: every search method
// spends exactly the budget (pre-training included) and is scored at every
// point of the schedule, every score is a probability, and a second run
// gives the same figures.
func TestRunTinyGPT2(t *testing.T) {
	o := fixture(t)
	ctx := context.Background()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Tasks[0]
	if !(tr.Real > 0 && tr.Real <= 1) || math.Abs(tr.BaselineOfReal*tr.Real-tr.BestBaselineFinal) > 1e-9 {
		t.Errorf("real text's score %v, best baseline %v at %v of it", tr.Real, tr.BestBaselineFinal, tr.BaselineOfReal)
	}
	if len(tr.Runs) != 2 || len(tr.Methods) != 7 {
		t.Fatalf("%d runs, %d methods; want 2 and 7", len(tr.Runs), len(tr.Methods))
	}
	for _, r := range tr.Runs {
		if r.PretrainCalls != 16 {
			t.Errorf("seed %d: pre-training made %d calls, want 2 steps × 8", r.Seed, r.PretrainCalls)
		}
		for _, m := range r.Methods {
			switch m.Name {
			case MethodBestOfN, MethodEvolution, MethodCeilingG, MethodPromptgan:
				if m.Calls != o.Budget {
					t.Errorf("seed %d: %s spent %d calls, want the budget %d", r.Seed, m.Name, m.Calls, o.Budget)
				}
				if len(m.Points) != len(o.Schedule) {
					t.Errorf("seed %d: %s scored at %d points, want %d", r.Seed, m.Name, len(m.Points), len(o.Schedule))
				}
				for i, p := range m.Points {
					if want := int(o.Schedule[i] * float64(o.Budget)); p.Calls < want || p.Calls > want+16 {
						t.Errorf("seed %d: %s point %d at %d calls, want about %d", r.Seed, m.Name, i, p.Calls, want)
					}
				}
			case MethodSeed:
				if m.Calls != r.PretrainCalls+len(o.Tasks[0].Seeds)*o.Continuations {
					t.Errorf("seed prompts: %d calls", m.Calls)
				}
			case MethodCeiling:
				if m.Calls > o.Budget || m.Calls < o.Budget-o.CeilingPopulation*o.CeilingContinuations {
					t.Errorf("ceiling: %d calls for a budget of %d", m.Calls, o.Budget)
				}
			}
			for _, p := range m.Points {
				for name, v := range map[string]float64{"top": p.Top, "mean": p.Mean, "distinct-2": p.Distinct2} {
					if !(v >= 0 && v <= 1) {
						t.Errorf("seed %d: %s at %d calls: %s %v", r.Seed, m.Name, p.Calls, name, v)
					}
				}
				if len(p.Prompts) == 0 || (m.Name != MethodSeed && m.Name != MethodRandom && len(p.Prompts) > o.Output) {
					t.Errorf("%s outputs %d prompts", m.Name, len(p.Prompts))
				}
			}
		}
		if !(r.OutsideTargetShare > 0 && r.OutsideTargetShare < 1) {
			t.Errorf("outside-target share %v", r.OutsideTargetShare)
		}
	}
	again, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := figures(t, res), figures(t, again); a != b {
		t.Errorf("two runs with the same seeds differ:\n%s\n%s", a, b)
	}
}

// TestRealTextMissing: a corpus with no held-out text of a task's class is
// refused before any method runs, naming the task and the part.
func TestRealTextMissing(t *testing.T) {
	o := fixture(t)
	var kept []audit.Doc
	for _, d := range o.Docs {
		if d.Part != audit.PartTest {
			kept = append(kept, d)
		}
	}
	o.Docs = kept
	_, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "positive-reviews") || !strings.Contains(err.Error(), `"test" part`) {
		t.Fatalf("err = %v; want the task and the corpus's test part named", err)
	}
}

// figures is res as JSON without its wall times: what must repeat.
func figures(t *testing.T, res *Result) string {
	t.Helper()
	c := *res
	c.WallS = 0
	c.Tasks = nil
	for _, tr := range res.Tasks {
		tr.OutsideTargetShare = 0
		var runs []SeedRun
		for _, r := range tr.Runs {
			r.WallS, r.OutsideTargetShare = 0, 0
			var ms []MethodResult
			for _, m := range r.Methods {
				m.WallS, m.GenerateS = 0, 0
				ms = append(ms, m)
			}
			r.Methods = ms
			runs = append(runs, r)
		}
		tr.Runs = runs
		c.Tasks = append(c.Tasks, tr)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"budget under pre-training and a batch", func(o *Options) { o.Budget = 100 }, "--budget 100: must be at least"},
		{"no seeds", func(o *Options) { o.Seeds = []uint64{} }, "--seed"},
		{"negative output", func(o *Options) { o.Output = -1 }, "--output -1"},
		{"tournament over population", func(o *Options) { o.Tournament = 20 }, "--tournament 20"},
		{"population of one", func(o *Options) { o.Population = 1 }, "--population 1"},
		{"schedule not increasing", func(o *Options) { o.Schedule = []float64{0.5, 0.25, 1} }, "must increase"},
		{"schedule short of the budget", func(o *Options) { o.Schedule = []float64{0.5, 0.9} }, "the last point"},
		{"negative pre-training", func(o *Options) { o.Train.DPretrainSteps = -1 }, "--d-pretrain-steps -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Defaults()
			tc.edit(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want %q", err, tc.want)
			}
		})
	}
	o := Defaults()
	if err := o.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}

// TestSummarise checks the comparison figures on hand-made curves.
func TestSummarise(t *testing.T) {
	curve := func(name string, calls []int, tops ...float64) MethodResult {
		m := MethodResult{Name: name}
		for i, v := range tops {
			m.Points = append(m.Points, Point{Calls: calls[i], Top: v, Mean: v / 2})
		}
		return m
	}
	sched := []int{100, 200, 300, 400}
	run := func(shift float64, share float64) SeedRun {
		return SeedRun{OutsideTargetShare: share, Methods: []MethodResult{
			curve(MethodSeed, []int{40}, 0.2+shift),
			curve(MethodRandom, []int{0}, 0.1+shift),
			curve(MethodBestOfN, sched, 0.2+shift, 0.25+shift, 0.3+shift, 0.3+shift),
			curve(MethodEvolution, sched, 0.2+shift, 0.2+shift, 0.35+shift, 0.4+shift),
			curve(MethodPromptgan, sched, 0.3+shift, 0.45+shift, 0.5+shift, 0.5+shift),
			curve(MethodCeiling, []int{400}, 0.8+shift),
		}}
	}
	tr := TaskResult{Runs: []SeedRun{run(0, 0.1), run(0.02, 0.3), run(-0.02, 0.2)}, Real: 0.25}
	summarise(&tr)
	approx := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if tr.BestBaseline != MethodEvolution {
		t.Errorf("best baseline %q, want evolution", tr.BestBaseline)
	}
	// on Mean (= top/2 here)
	approx("best baseline's final", tr.BestBaselineFinal, 0.2)
	approx("reach calls", tr.ReachCalls, 200) // 0.225 ≥ 0.2 at the second point
	approx("margin", tr.Margin, 0.05)
	approx("spread", tr.Spread, 0.01)
	approx("of ceiling", tr.OfCeiling, 0.25/0.4)
	approx("outside-target share", tr.OutsideTargetShare, 0.2)
	approx("best baseline of real", tr.BaselineOfReal, 0.2/0.25)
	if got := tr.Methods[4].Final().Top.Mean; math.Abs(got-0.5) > 1e-9 {
		t.Errorf("promptgan's final top %v, want 0.5", got)
	}
	never := TaskResult{Runs: []SeedRun{{Methods: []MethodResult{curve(MethodBestOfN, sched, 0.5, 0.5, 0.5, 0.6), curve(MethodPromptgan, sched, 0.1, 0.2, 0.3, 0.4)}}}}
	summarise(&never)
	if never.ReachCalls != -1 || never.OfCeiling != 0 || never.BaselineOfReal != 0 {
		t.Errorf("promptgan below the baseline, no real text: reach %v, of ceiling %v, baseline of real %v; want -1, 0, 0", never.ReachCalls, never.OfCeiling, never.BaselineOfReal)
	}
}

// TestExpertIteration: with expert iteration promptgan still spends the
// budget exactly, and its G (so its prompts) moves away from the plain
// loop's.
func TestExpertIteration(t *testing.T) {
	o := fixture(t)
	o.Seeds, o.Ceiling = []uint64{1}, false
	ctx := context.Background()
	plain, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	o.ExpertIteration, o.ExpertLR = 0.5, 0.05
	ei, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	pg := func(r *Result) MethodResult { return r.Tasks[0].Runs[0].Methods[4] }
	if m := pg(ei); m.Name != MethodPromptgan || m.Calls != o.Budget {
		t.Fatalf("%s spent %d calls, want promptgan and %d", m.Name, m.Calls, o.Budget)
	}
	a, _ := json.Marshal(pg(plain).Points)
	b, _ := json.Marshal(pg(ei).Points)
	if string(a) == string(b) {
		t.Errorf("expert iteration changed nothing: %s", a)
	}
	o.ExpertIteration = 1.5
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--expert-iteration 1.5") {
		t.Errorf("a share over 1: %v", err)
	}
}

// TestHallVerify: checking the hall of fame keeps promptgan within the
// budget (its training stops earlier by what the checks may cost) and
// changes its output.
func TestHallVerify(t *testing.T) {
	o := fixture(t)
	o.Seeds, o.Ceiling = []uint64{1}, false
	ctx := context.Background()
	o.HallVerify = 0
	plain, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	o.HallVerify, o.Train.ContinuationsPerPrompt = 2, 2 // steps of 16 calls: the last check also spends the steps' rounding
	hv, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	pg := func(r *Result) MethodResult { return r.Tasks[0].Runs[0].Methods[4] }
	m := pg(hv)
	if m.Name != MethodPromptgan || m.Calls != o.Budget || len(m.Points) != len(o.Schedule) {
		t.Fatalf("%s spent %d calls with %d points, want promptgan, the budget %d and %d points", m.Name, m.Calls, len(m.Points), o.Budget, len(o.Schedule))
	}
	for i, p := range m.Points {
		if i > 0 && p.Calls <= m.Points[i-1].Calls {
			t.Errorf("point %d at %d calls, after %d", i, p.Calls, m.Points[i-1].Calls)
		}
	}
	a, _ := json.Marshal(pg(plain).Points)
	b, _ := json.Marshal(m.Points)
	if string(a) == string(b) {
		t.Errorf("checking the hall changed nothing: %s", a)
	}
	o.HallVerify = -1
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--hall-verify -1") {
		t.Errorf("a negative count: %v", err)
	}
}
