// Package englishsteer is the English prompt-search benchmark (issue 13,
// items 4 and 5): on each built-in English task (audit.Tasks), prompt
// search methods steer the English target LM at equal numbers of target
// calls, and the audit — a judge none of them sees — scores what each one
// outputs.
//
// Per task and seed there is one shared start: a text run of
// search.Trainer on the task file (good = the class, bad = the others, the
// corpus's "disc" part) against the English target, G pre-trained by MLE on
// windows of the good texts, D fitted on the labelled train split and then
// pre-trained against generations of G's prompts. The pre-training's
// target calls count against every method's budget. Then, each method with
// the same budget:
//   - seed prompts: the task's hand-written prompts, no search; their mean,
//     and the one D ranks first (each continued Continuations times);
//   - random: random word prompts of the target's vocabulary (as in
//     `bench steerability`); no evaluator, so their mean;
//   - best-of-n: batches of prompts sampled from the pre-trained G, each
//     continued Continuations times and ranked by D's mean verdict;
//   - evolution: a (μ+λ) search over G's token prompts (tournament,
//     crossover, mutation from fresh samples of G), fitness D's mean
//     verdict on Continuations continuations;
//   - promptgan: the adversarial loop continued (search.Run). Its output is
//     a hall of fame: every prompt the loop has had continued, ranked by the
//     CURRENT D's mean verdict on the continuations it already has — no
//     extra calls (fresh samples would have to be continued, out of the
//     same budget), and the same evaluator the baselines rank by;
//   - ceiling-g (with Options.Ceiling; a diagnostic, not a method):
//     evolution with the same draws, its fitness the audit's score instead
//     of D's verdict — what the audit as evaluator would add to search from
//     G (measured: not an upper bound, see ceilingG);
//   - ceiling (with Options.Ceiling; a diagnostic): the steerability
//     bench's evolution over the target's words rewarded by the audit
//     itself (audit.SearchCeiling) at the same budget — search without
//     G's prior.
//
// The searches are package rank's, once for every benchmark: best-of-n,
// evolution and ceiling-g run rank.BestOfN and rank.Evolution over G's
// prompts read as text (rank.Space, the evaluator this package's), and the
// ceiling's search is rank.WordEvolution.
//
// Beside them, with Options.Docs, each task's Real: the audit's score of
// the class's own held-out text, the level at which a method has made the
// target write as the class does (a reference, not a bound: a prompt can
// make the target write more typical text than the real one).
//
// A method's output at a point of the call schedule is its best Output
// prompts by its own evaluator (D; the audit for the ceiling only). Each is
// scored by audit.Score on the fixed evaluation seeds
// audit.EvalSeeds(EvalContinuations), calls not counted: Top is the score
// of the first (the prompt a user would be handed), Mean the mean over all
// of them, Distinct2 the distinct-2 of their continuations.
package englishsteer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"promptgan/audit"
	"promptgan/english"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/search"
	"promptgan/search/rank"
	"promptgan/targets"
	"promptgan/task"
)

// Method names, in table order.
const (
	MethodSeed      = "seed-prompts"
	MethodRandom    = "random"
	MethodBestOfN   = "best-of-n"
	MethodEvolution = "evolution"
	MethodPromptgan = "promptgan"
	MethodCeiling   = "ceiling"   // a diagnostic: evolution over the target's words rewarded by the audit
	MethodCeilingG  = "ceiling-g" // a diagnostic: evolution with the same draws, rewarded by the audit instead of D
)

// baselines are the methods promptgan is compared with.
var baselines = []string{MethodSeed, MethodRandom, MethodBestOfN, MethodEvolution}

// RNG streams of a (task, seed) run (the trainer has its own).
const (
	streamSeedPrompts = 1 + iota
	streamRandom
	streamBestOfN
	streamBestOfNSeeds
	streamEvolution
	streamEvolutionSeeds
	streamHallVerify
)

// Options configure Run. Zero numbers take the defaults of Defaults.
type Options struct {
	Tasks    []audit.Task // nil = audit.Tasks()
	TasksDir string       // the task files, <task name>.jsonl
	Seeds    []uint64     // nil = 1, 2, 3
	Budget   int          // target calls per method, pre-training included
	// Schedule holds the shares of the budget at which every method's
	// output is scored (increasing, the last 1).
	Schedule []float64

	Output            int // prompts a method outputs at a point
	EvalContinuations int // the audit's continuations per output prompt (fixed evaluation seeds)
	Continuations     int // continuations per candidate prompt that D's verdict is averaged over (seed prompts, best-of-n, evolution)
	CandidateBatch    int // best-of-n: prompts per batch
	Population        int // evolution: μ = λ
	Tournament        int // evolution: draws per tournament selection
	RandomPrompts     int // random word prompts per seed
	MinWords          int // words per random prompt
	MaxWords          int

	// Train is promptgan's text run (and the shared start's); Run sets its
	// task, seed, template and steps; Train.Target names the target's
	// directory (Target is what is called). See DefaultTrain.
	Train search.Config

	// ExpertIteration, when > 0, adds AdvPrompter's expert iteration to
	// promptgan's loop (an item-5 lever): after each adversarial step G
	// takes one maximum-likelihood step on that step's prompts whose
	// continuations the current D rates in the top ExpertIteration share,
	// with its own Adam at ExpertLR (0 = 0.005). D stays the evaluator.
	ExpertIteration float64
	ExpertLR        float64

	// HallVerify, when > 0, has promptgan check its hall of fame before
	// each output, as `promptgan search --verify` does: the HallVerify
	// prompts the current D ranks first that have not been checked yet get
	// Continuations more continuations each (target calls, counted: its
	// training stops that much earlier), and the output is ranked on all
	// of a prompt's continuations — so that one lucky continuation does not
	// put a prompt on top.
	HallVerify int

	// HallShrinkage ranks promptgan's hall of fame by each prompt's mean D
	// verdict shrunk toward the hall's mean as if HallShrinkage more
	// continuations had scored that mean — (Σ d + m·μ)/(n + m) — so that a
	// prompt that one lucky continuation put on top does not outrank one
	// that several continuations rate almost as high (0 = the plain mean).
	HallShrinkage float64

	Ceiling              bool
	CeilingContinuations int // the ceiling's continuations per prompt and generation
	CeilingPopulation    int

	Docs     []audit.Doc         // the corpus: each task's Real is the audit's score of its class's held-out texts; nil = not measured
	Target   *targets.TextTarget // the English target, sampling at english.Temperature
	Template task.Template       // english.PromptTemplate
	Judge    *audit.Judge
	Vocab    []string // the target's words (audit.TargetWords): random prompts and the ceiling's
	Logger   *slog.Logger
}

// DefaultTrain returns the shared start's and promptgan's run: the text
// preset with word prompts of 6 words, 16-token continuations (gen_len) at
// the English target's temperature, 200 MLE steps of G (on the example
// prompts the caller sets in PromptExamples — the CLI's default is the
// held-out instructions of every class — else on the task's good texts),
// D fitted on the labelled data read as the target writes it
// (labelled_as_target) then 8 pre-training steps on generations, 16
// prompts a step with 2 continuations each, one D update per G update, G's adversarial learning rate 0.02, no ledger, no
// evaluations.
//
// Measured (docs/BENCHMARKS.md, positive-reviews and definitions, seeds
// 1–3, 2,048 calls): with the words prior (the good texts) promptgan's best
// rate was 0.05 (0.403 on the development LM's positive-reviews); with the
// instruction examples 0.02 (0.456 ± 0.005 against 0.424 ± 0.053 at 0.05);
// D reading the task through the target's tokenizer lifted definitions for
// every method (best-of-n 0.284 → 0.328, promptgan 0.072 → 0.177), and two
// continuations a prompt (16 prompts a step, the same 32 calls; D
// pre-trained on 8 steps of 16, the same 128 calls) lifted promptgan on
// definitions from 0.235 ± 0.113 to 0.338 ± 0.061: a reward averaged over
// two continuations keeps G's updates from chasing one lucky draw.
func DefaultTrain() search.Config {
	c, _ := search.Preset("text")
	c.Template = english.PromptTemplate
	c.TargetTemperature = english.Temperature
	c.PromptVocab = "words"
	c.PromptLen, c.GenLen = 6, 16 // a text run: gen_len is the most tokens the target writes
	c.MLESteps, c.DPretrainSteps = 200, 8
	c.BatchSize, c.ContinuationsPerPrompt = 16, 2 // 32 calls a step, each prompt's reward the mean of 2 continuations
	c.DStepsPerG = 1
	c.GAdvLR = 0.02
	c.LabelledAsTarget = true
	c.Ledger = false
	c.EvalEvery, c.CheckpointEvery = 0, 0
	c.HallOfFame = 0
	return c
}

// Defaults returns the benchmark's defaults (without target, judge and
// vocabulary).
func Defaults() Options {
	return Options{
		Seeds: []uint64{1, 2, 3}, Budget: 2048, Schedule: []float64{0.25, 0.5, 0.75, 1},
		Output: 4, EvalContinuations: 32, Continuations: 4, CandidateBatch: 32, Population: 16, Tournament: 3,
		RandomPrompts: 16, MinWords: 3, MaxWords: 6,
		Train: DefaultTrain(), HallVerify: 8, Ceiling: true, CeilingContinuations: 8, CeilingPopulation: 16,
	}
}

func (o *Options) defaults() {
	d := Defaults()
	if o.Tasks == nil {
		o.Tasks = audit.Tasks()
	}
	if o.Seeds == nil {
		o.Seeds = d.Seeds
	}
	if o.Schedule == nil {
		o.Schedule = d.Schedule
	}
	for _, f := range []struct {
		p *int
		v int
	}{
		{&o.Budget, d.Budget}, {&o.Output, d.Output}, {&o.EvalContinuations, d.EvalContinuations}, {&o.Continuations, d.Continuations},
		{&o.CandidateBatch, d.CandidateBatch}, {&o.Population, d.Population}, {&o.Tournament, d.Tournament},
		{&o.RandomPrompts, d.RandomPrompts}, {&o.MinWords, d.MinWords}, {&o.MaxWords, d.MaxWords},
		{&o.CeilingContinuations, d.CeilingContinuations}, {&o.CeilingPopulation, d.CeilingPopulation},
	} {
		if *f.p == 0 {
			*f.p = f.v
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// verifyCalls is what promptgan keeps back from training to check its
// hall of fame at every point of the schedule (HallVerify).
func (o *Options) verifyCalls() int { return len(o.Schedule) * o.HallVerify * o.Continuations }

// pretrainCalls is the shared start's target calls: D's pre-training steps
// on generations, one request per prompt each.
func (o *Options) pretrainCalls() int { return o.Train.DPretrainSteps * o.Train.BatchSize }

// Validate checks the numbers (after filling defaults), by their flag names;
// the task files, target and judge are checked by Run.
func (o *Options) Validate() error {
	o.defaults()
	switch {
	case len(o.Seeds) == 0:
		return errors.New("--seed: need at least one seed")
	case o.Output < 1 || o.EvalContinuations < 1 || o.Continuations < 1 || o.CandidateBatch < 1 || o.RandomPrompts < 1:
		return fmt.Errorf("--output %d, --eval-continuations %d, --continuations %d, --candidate-batch %d, --random-prompts %d: each must be at least 1",
			o.Output, o.EvalContinuations, o.Continuations, o.CandidateBatch, o.RandomPrompts)
	case o.Population < 2:
		return fmt.Errorf("--population %d: must be at least 2", o.Population)
	case o.Tournament < 1 || o.Tournament > o.Population:
		return fmt.Errorf("--tournament %d: must be in [1, --population %d]", o.Tournament, o.Population)
	case o.MinWords < 1 || o.MaxWords < o.MinWords:
		return fmt.Errorf("words per random prompt %d..%d: need 1 ≤ min ≤ max", o.MinWords, o.MaxWords)
	case o.HallVerify < 0:
		return fmt.Errorf("--hall-verify %d: must be >= 0", o.HallVerify)
	case !(o.HallShrinkage >= 0 && o.HallShrinkage <= 1000):
		return fmt.Errorf("--hall-shrinkage %v: must be in [0, 1000]", o.HallShrinkage)
	case !(o.ExpertIteration >= 0 && o.ExpertIteration <= 1) || !(o.ExpertLR >= 0):
		return fmt.Errorf("--expert-iteration %v (a share in [0, 1]), --expert-lr %v (>= 0)", o.ExpertIteration, o.ExpertLR)
	case o.Train.BatchSize < 1:
		return fmt.Errorf("--batch-size %d: must be at least 1", o.Train.BatchSize)
	case o.Train.DPretrainSteps < 0 || o.Train.MLESteps < 0:
		return fmt.Errorf("--d-pretrain-steps %d, --mle-steps %d: must be >= 0", o.Train.DPretrainSteps, o.Train.MLESteps)
	}
	for i, f := range o.Schedule {
		if !(f > 0 && f <= 1) || (i > 0 && f <= o.Schedule[i-1]) {
			return fmt.Errorf("schedule %v: shares of the budget must increase within (0, 1]", o.Schedule)
		}
	}
	if o.Schedule[len(o.Schedule)-1] != 1 {
		return fmt.Errorf("schedule %v: the last point must be the whole budget (1)", o.Schedule)
	}
	per := o.Train.CallsPerStep()
	need := o.pretrainCalls() + max(per+o.verifyCalls(), o.CandidateBatch*o.Continuations, o.Population*o.Continuations)
	if o.Ceiling {
		need = max(need, o.CeilingPopulation*o.CeilingContinuations)
	}
	if o.Budget < need {
		return fmt.Errorf("--budget %d: must be at least %d calls (D pre-training %d×%d plus one batch of each method)", o.Budget, need, o.Train.DPretrainSteps, o.Train.BatchSize)
	}
	return nil
}

// Point is a method's output scored at one point of the schedule.
type Point struct {
	Calls     int      `json:"calls"`       // target calls the method had spent (pre-training included)
	Top       float64  `json:"top"`         // the audit's task score of its first prompt
	Mean      float64  `json:"mean"`        // the mean over its output prompts
	Distinct2 float64  `json:"distinct_2"`  // of the output prompts' evaluation continuations
	D         float64  `json:"d,omitempty"` // its own evaluator's score of the first prompt (D's mean verdict; the audit's for the ceiling; none for random)
	Prompts   []string `json:"prompts"`     // best first
	Sample    string   `json:"sample"`      // the first prompt's first evaluation continuation
}

// MethodResult is one method's curve in one (task, seed) run.
type MethodResult struct {
	Name      string  `json:"name"`
	Points    []Point `json:"points"`
	Calls     int     `json:"calls"`      // target calls spent in all, pre-training included (evaluations excluded)
	WallS     float64 `json:"wall_s"`     // the method's own wall time, evaluations excluded
	GenerateS float64 `json:"generate_s"` // of which inside the target
}

// SeedRun is one (task, seed) run.
type SeedRun struct {
	Seed          uint64             `json:"seed"`
	PretrainCalls int                `json:"pretrain_calls"`
	PretrainD     map[string]float64 `json:"pretrain_d"` // D's last pre-training step
	Methods       []MethodResult     `json:"methods"`
	EvalCalls     int                `json:"eval_calls"` // the audit's calls (not counted against any method)
	// OutsideTargetShare is the share of promptgan's wall time spent outside
	// the target (G and D work, the hall's D scoring).
	OutsideTargetShare float64 `json:"outside_target_share"`
	WallS              float64 `json:"wall_s"`
}

// SummaryPoint is a schedule point over the seeds.
type SummaryPoint struct {
	Calls     float64      `json:"calls"` // the mean over seeds
	Top       audit.Spread `json:"top"`
	Mean      audit.Spread `json:"mean"`
	Distinct2 float64      `json:"distinct_2"`
}

// MethodSummary is a method's curve over the seeds.
type MethodSummary struct {
	Name   string         `json:"name"`
	Points []SummaryPoint `json:"points"`
}

// Final returns the last point.
func (m MethodSummary) Final() SummaryPoint { return m.Points[len(m.Points)-1] }

// TaskResult is one task's figures.
type TaskResult struct {
	Task    string          `json:"task"`
	Class   string          `json:"class"`
	Runs    []SeedRun       `json:"runs"`
	Methods []MethodSummary `json:"methods"`
	// The comparisons are on Mean, the audit's score of a method's output
	// prompts (Top, one prompt on EvalContinuations draws, is noisier).
	// BestBaseline is the baseline with the highest final Mean (mean over
	// seeds); ReachCalls promptgan's calls at its first point (on the mean
	// curve) at or above it, -1 if never.
	BestBaseline      string  `json:"best_baseline"`
	BestBaselineFinal float64 `json:"best_baseline_final"`
	BestBaselineCalls float64 `json:"best_baseline_calls"`
	ReachCalls        float64 `json:"reach_calls"`
	// Margin is promptgan's final Mean minus the best baseline's, and
	// Spread the larger of their standard deviations over seeds.
	Margin float64 `json:"margin"`
	Spread float64 `json:"spread"`
	// OfCeiling is promptgan's final Mean over the better ceiling's
	// (ceiling: one prompt, the audit's best, so its Mean is its Top;
	// ceiling-g: evolution's output with the audit as fitness), means over
	// seeds.
	OfCeiling float64 `json:"of_ceiling"`
	// Real is the audit's score of the class's held-out real text (the
	// corpus's "test" part; 0 without Options.Docs), and BaselineOfReal the
	// best baseline's final Mean over it: near 1, the best baseline already
	// makes the target write as the class's own text scores, and little
	// room is left above it (a reference, not a bound).
	Real               float64 `json:"real,omitempty"`
	BaselineOfReal     float64 `json:"baseline_of_real,omitempty"`
	OutsideTargetShare float64 `json:"outside_target_share"` // mean over seeds
}

// Result is everything Run measured.
type Result struct {
	Budget            int           `json:"budget"`
	Schedule          []float64     `json:"schedule"`
	Seeds             []uint64      `json:"seeds"`
	Output            int           `json:"output"`
	EvalContinuations int           `json:"eval_continuations"`
	Continuations     int           `json:"continuations"`
	Train             search.Config `json:"train"`
	ExpertIteration   float64       `json:"expert_iteration,omitempty"`
	ExpertLR          float64       `json:"expert_lr,omitempty"`
	HallShrinkage     float64       `json:"hall_shrinkage,omitempty"`
	HallVerify        int           `json:"hall_verify,omitempty"`
	Tasks             []TaskResult  `json:"tasks"`
	CPUs              int           `json:"cpus"`
	WallS             float64       `json:"wall_s"`
}

// Run runs every task and seed.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Target == nil || o.Judge == nil {
		return nil, errors.New("englishsteer: no target or no judge")
	}
	if len(o.Vocab) < 2 {
		return nil, fmt.Errorf("englishsteer: %d prompt words: random prompts need the target's vocabulary", len(o.Vocab))
	}
	for _, t := range o.Tasks {
		if _, err := o.Judge.Audit.ClassIndex(t.Class); err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Name, err)
		}
		if _, _, _, err := taskCheck(o, t); err != nil {
			return nil, err
		}
	}
	real, err := realScores(ctx, o)
	if err != nil {
		return nil, err
	}
	res := &Result{Budget: o.Budget, Schedule: o.Schedule, Seeds: o.Seeds, Output: o.Output, EvalContinuations: o.EvalContinuations,
		Continuations: o.Continuations, Train: o.Train, ExpertIteration: o.ExpertIteration, ExpertLR: o.ExpertLR, HallShrinkage: o.HallShrinkage, HallVerify: o.HallVerify, CPUs: runtime.NumCPU()}
	for _, t := range o.Tasks {
		tr := TaskResult{Task: t.Name, Class: t.Class, Real: real[t.Name]}
		for _, seed := range o.Seeds {
			r, err := runOne(ctx, o, t, seed)
			if err != nil {
				return nil, fmt.Errorf("task %s, seed %d: %w", t.Name, seed, err)
			}
			tr.Runs = append(tr.Runs, r)
		}
		summarise(&tr)
		res.Tasks = append(res.Tasks, tr)
	}
	res.WallS = time.Since(start).Seconds()
	return res, nil
}

// realScores returns, per task, the audit's score of its class's held-out
// real text (nil without Options.Docs), before any task runs: a class with
// no such text is an error up front, not after the tasks before it.
func realScores(ctx context.Context, o Options) (map[string]float64, error) {
	if o.Docs == nil {
		return nil, nil
	}
	out := map[string]float64{}
	for _, t := range o.Tasks {
		var texts []string
		for _, d := range english.Select(o.Docs, audit.PartTest, t.Class) {
			texts = append(texts, d.Text)
		}
		if len(texts) == 0 {
			return nil, fmt.Errorf("task %s: the corpus has no %q text in its %q part to score as real text; rebuild the corpus (make setup)", t.Name, t.Class, audit.PartTest)
		}
		sum, err := o.Judge.ScoreTexts(ctx, texts, t.Class)
		if err != nil {
			return nil, fmt.Errorf("task %s: score its real text: %w", t.Name, err)
		}
		out[t.Name] = sum.Score
	}
	return out, nil
}

// taskCheck returns t's run config with its file, checked as a text run
// checks it before it starts.
func taskCheck(o Options, t audit.Task) (search.Config, string, int, error) {
	cfg := o.Train
	cfg.Task = filepath.Join(o.TasksDir, t.Name+".jsonl")
	cfg.Template = o.Template.String()
	pre := cfg.MLESteps + cfg.DPretrainSteps
	cfg.Steps = pre + (o.Budget-o.pretrainCalls()-o.verifyCalls())/cfg.CallsPerStep()
	if err := search.CheckText(cfg); err != nil {
		return cfg, "", 0, fmt.Errorf("task %s: %w", t.Name, err)
	}
	return cfg, cfg.Task, pre, nil
}

// counter counts the requests sent to a target and the time spent in it.
type counter struct {
	targets.Model
	calls   int
	seconds float64
}

func (c *counter) Generate(ctx context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	start := time.Now()
	out, err := c.Model.Generate(ctx, reqs)
	c.calls += len(reqs)
	c.seconds += time.Since(start).Seconds()
	return out, err
}

// run is one (task, seed) run's state.
type run struct {
	o     Options
	t     audit.Task
	seed  uint64
	tr    *search.Trainer
	eval  *counter                     // the audit's target (uncounted)
	cache map[string]audit.PromptScore // audit scores by prompt: a prompt's score on the fixed seeds is a function of it
}

// textTarget returns the target with its model replaced by m.
func (r *run) textTarget(m targets.Model) targets.TextTarget {
	tt := *r.o.Target
	tt.Model = m
	return tt
}

func runOne(ctx context.Context, o Options, t audit.Task, seed uint64) (SeedRun, error) {
	start := time.Now()
	out := SeedRun{Seed: seed}
	cfg, _, pretrainEnd, err := taskCheck(o, t)
	if err != nil {
		return out, err
	}
	cfg.Seed = seed
	r := &run{o: o, t: t, seed: seed, eval: &counter{Model: o.Target.Model}, cache: map[string]audit.PromptScore{}}
	pre := &counter{Model: o.Target.Model}
	tt := r.textTarget(pre)
	if r.tr, err = search.New(cfg, &tt); err != nil {
		return out, err
	}
	if pretrainEnd > 0 {
		_, err := search.Run(ctx, r.tr, search.RunOptions{NoEvaluation: true, Until: pretrainEnd, Logger: o.Logger, AfterStep: func(s search.Stats) error {
			if s.Phase == search.PhaseDPretrain {
				out.PretrainD = s.Values
			}
			return nil
		}})
		if err != nil {
			return out, fmt.Errorf("pre-training: %w", err)
		}
	}
	out.PretrainCalls = pre.calls
	o.Logger.Info("english search: pre-trained", "task", t.Name, "seed", seed, "calls", pre.calls, "d_real", out.PretrainD["d_real"], "d_fake", out.PretrainD["d_fake"])

	// The baselines rank by the pre-trained D and draw from the pre-trained
	// G, which only promptgan (last) trains.
	methods := []func(context.Context, int) (MethodResult, error){r.seedPrompts, r.random, r.bestOfN, r.evolution}
	if o.Ceiling {
		methods = append(methods, r.ceilingG)
	}
	for _, m := range append(methods, r.promptgan) {
		mr, err := m(ctx, pre.calls)
		if err != nil {
			return out, fmt.Errorf("%s: %w", mr.Name, err)
		}
		if mr.Name == MethodPromptgan && mr.WallS > 0 {
			out.OutsideTargetShare = 1 - mr.GenerateS/mr.WallS
		}
		o.Logger.Info("english search", "task", t.Name, "seed", seed, "method", mr.Name, "calls", mr.Calls,
			"top", mr.Points[len(mr.Points)-1].Top, "mean", mr.Points[len(mr.Points)-1].Mean, "prompt", mr.Points[len(mr.Points)-1].Prompts[0])
		out.Methods = append(out.Methods, mr)
	}
	if o.Ceiling {
		mr, err := r.ceiling(ctx)
		if err != nil {
			return out, fmt.Errorf("%s: %w", MethodCeiling, err)
		}
		out.Methods = append(out.Methods, mr)
	}
	out.EvalCalls = r.eval.calls
	out.WallS = time.Since(start).Seconds()
	return out, nil
}

// score scores prompts (best first) with the audit on the fixed evaluation
// seeds; calls stay outside every method's budget.
func (r *run) score(ctx context.Context, prompts []string, calls int, d float64) (Point, error) {
	var todo []string
	for _, p := range prompts {
		if _, ok := r.cache[p]; !ok && !slices.Contains(todo, p) {
			todo = append(todo, p)
		}
	}
	if len(todo) > 0 {
		rep, err := audit.Score(ctx, r.o.Judge, r.textTarget(r.eval), r.o.Template, r.t.Class, todo, audit.EvalSeeds(r.o.EvalContinuations))
		if err != nil {
			return Point{}, fmt.Errorf("audit at %d calls: %w", calls, err)
		}
		for _, ps := range rep.Prompts {
			r.cache[ps.Prompt] = ps
		}
	}
	p := Point{Calls: calls, D: d, Prompts: prompts}
	var texts []string
	var vs []audit.Verdict
	for i, q := range prompts {
		ps := r.cache[q]
		if i == 0 {
			p.Top = ps.Score
			if len(ps.Continuations) > 0 {
				p.Sample = ps.Continuations[0]
			}
		}
		p.Mean += ps.Score / float64(len(prompts))
		texts, vs = append(texts, ps.Continuations...), append(vs, ps.Verdicts...)
	}
	p.Distinct2 = audit.Summarize(texts, vs).Distinct2
	return p, nil
}

// dScore continues each prompt n times on tg (seeds from rng) and returns
// D's mean verdict per prompt.
func (r *run) dScore(ctx context.Context, tg targets.Model, prompts []string, n int, rng *nn.RNG) ([]float64, error) {
	gens, err := r.continueEach(ctx, tg, prompts, n, rng)
	if err != nil {
		return nil, err
	}
	return r.dMeans(ctx, gens, n)
}

// continueEach continues each prompt n times on tg (seeds from rng): the
// generations, prompt by prompt.
func (r *run) continueEach(ctx context.Context, tg targets.Model, prompts []string, n int, rng *nn.RNG) ([]string, error) {
	contexts := make([]string, 0, len(prompts)*n)
	seeds := make([]uint64, 0, cap(contexts))
	for _, p := range prompts {
		c := r.o.Template.Fill(p, "")
		for range n {
			contexts, seeds = append(contexts, c), append(seeds, rng.Uint64())
		}
	}
	return targets.ContinueText(ctx, r.textTarget(tg), contexts, seeds)
}

// dMeans scores gens with the trainer's current D and averages each run of n.
func (r *run) dMeans(ctx context.Context, gens []string, n int) ([]float64, error) {
	pairs := make([]search.Pair, len(gens))
	for i, g := range gens {
		pairs[i].Generation = g
	}
	ps, err := r.tr.ScorePairs(ctx, pairs, nil)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(gens)/n)
	for i := range out {
		for _, s := range ps[i*n : (i+1)*n] {
			out[i] += s.Score / float64(n)
		}
	}
	return out, nil
}

// schedule says when a method passes the next points of the call schedule.
type schedule struct {
	o    Options
	next int
}

// hits is how many points of the schedule calls has passed since the last
// call (due, counted).
func (s *schedule) hits(calls int) int {
	n := s.next
	s.due(calls)
	return s.next - n
}

func (s *schedule) due(calls int) bool {
	hit := false
	for s.next < len(s.o.Schedule) && float64(calls) >= s.o.Schedule[s.next]*float64(s.o.Budget)-1e-9 {
		s.next++
		hit = true
	}
	return hit
}

// seedPrompts scores the task's hand-written prompts: D ranks them on
// Continuations continuations each (counted), the output is all of them,
// D's first first.
func (r *run) seedPrompts(ctx context.Context, pre int) (MethodResult, error) {
	mr := MethodResult{Name: MethodSeed}
	if len(r.t.Seeds) == 0 {
		return mr, fmt.Errorf("task %s has no seed prompts", r.t.Name)
	}
	start := time.Now()
	c := &counter{Model: r.o.Target.Model}
	d, err := r.dScore(ctx, c, r.t.Seeds, r.o.Continuations, nn.NewRNG(r.seed, streamSeedPrompts))
	if err != nil {
		return mr, err
	}
	pool := make([]rank.Candidate, len(r.t.Seeds))
	for i, s := range r.t.Seeds {
		pool[i] = rank.Candidate{Text: s, Score: d[i]}
	}
	best := rank.Distinct(pool, len(pool))
	mr.Calls, mr.WallS, mr.GenerateS = pre+c.calls, time.Since(start).Seconds(), c.seconds
	p, err := r.score(ctx, rank.Texts(best), mr.Calls, best[0].Score)
	mr.Points = append(mr.Points, p)
	return mr, err
}

// random scores random word prompts of the target's vocabulary; with no
// evaluator to rank them, Top is their mean too.
func (r *run) random(ctx context.Context, _ int) (MethodResult, error) {
	mr := MethodResult{Name: MethodRandom}
	rng := nn.NewRNG(r.seed, streamRandom)
	prompts := make([]string, r.o.RandomPrompts)
	for i := range prompts {
		prompts[i] = audit.RandomPrompt(rng, r.o.Vocab, r.o.MinWords, r.o.MaxWords)
	}
	p, err := r.score(ctx, prompts, 0, 0)
	p.Top = p.Mean
	mr.Points = append(mr.Points, p)
	return mr, err
}

// bestOfN samples batches of prompts from the pre-trained G, has each
// continued Continuations times, and keeps the best Output by D's mean
// (rank.BestOfN).
func (r *run) bestOfN(ctx context.Context, pre int) (MethodResult, error) {
	s := rank.BestOfN{Batch: r.o.CandidateBatch, Budget: r.o.Budget - pre, Keep: r.o.Output}
	return r.ranked(ctx, pre, MethodBestOfN, s, streamBestOfN, streamBestOfNSeeds, r.dScore)
}

// evolution is a (μ+λ) genetic search over G's token prompts
// (rank.Evolution), read as text: the population starts as Population
// samples of the pre-trained G; each generation breeds Population children
// by tournament selection, one-point crossover (probability ½) and token
// mutation (each position with probability 1/k, from a fresh sample of G);
// fitness is D's mean verdict on Continuations continuations; the best
// Population of parents and children survive.
func (r *run) evolution(ctx context.Context, pre int) (MethodResult, error) {
	return r.ranked(ctx, pre, MethodEvolution, r.evolutionSearch(pre), streamEvolution, streamEvolutionSeeds, r.dScore)
}

// evolutionSearch is evolution's settings, shared by ceiling-g so that the
// two differ in their evaluator alone.
func (r *run) evolutionSearch(pre int) rank.Evolution {
	return rank.Evolution{Population: r.o.Population, Tournament: r.o.Tournament, Budget: r.o.Budget - pre, Keep: r.o.Output}
}

// ceilingG is evolution with the audit as its evaluator: the same search
// over G's prompts with the same draws — evolution's RNG streams for G's
// samples and the continuation seeds, consumed alike (continueEach), its
// Continuations continuations a candidate — its fitness the audit's mean
// success on those continuations instead of D's mean verdict. The two differ in
// the evaluator alone, so ceiling-g − evolution is what judging by the
// audit itself would add at this budget. Measured (docs/BENCHMARKS.md), it
// is no upper bound: it is level with D-ranked evolution on the review
// tasks (below it on some seeds) — on four continuations the audit's
// verdict ranks candidates no better than D's.
func (r *run) ceilingG(ctx context.Context, pre int) (MethodResult, error) {
	audited := func(ctx context.Context, tg targets.Model, prompts []string, n int, rng *nn.RNG) ([]float64, error) {
		gens, err := r.continueEach(ctx, tg, prompts, n, rng) // as dScore: the same continuations evolution's D judges
		if err != nil {
			return nil, err
		}
		vs, err := r.o.Judge.Judge(ctx, gens, r.t.Class)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(prompts))
		for i, v := range vs {
			out[i/n] += v.Success / float64(n)
		}
		return out, nil
	}
	return r.ranked(ctx, pre, MethodCeilingG, r.evolutionSearch(pre), streamEvolution, streamEvolutionSeeds, audited)
}

// fitness scores text prompts on tg, n continuations each with seeds from
// rng (the method's own stream): D's mean verdict, or the audit's score.
type fitness func(ctx context.Context, tg targets.Model, prompts []string, n int, rng *nn.RNG) ([]float64, error)

// ranked runs method, named name, over G's prompts read as text, each
// evaluated by fit on Continuations continuations, with the budget left
// after the shared pre-training (pre calls) and the RNG streams sample (G's
// samples and the search's choices) and seeds (the continuations'). Its
// output is scored by the audit at the schedule's points and at its last
// step; its wall time excludes that scoring.
func (r *run) ranked(ctx context.Context, pre int, name string, method rank.Search, sample, seeds uint64, fit fitness) (MethodResult, error) {
	mr := MethodResult{Name: name}
	c := &counter{Model: r.o.Target.Model}
	k, budget := r.o.Continuations, r.o.Budget-pre
	seedRNG := nn.NewRNG(r.seed, seeds)
	space := rank.Space{
		PromptLen: r.tr.Cfg.PromptLen,
		Sample:    func(n int, rng *nn.RNG) ([]int32, error) { return r.tr.SamplePrompts(n, 1, rng) },
		Text:      r.tr.PromptTexts,
		Evaluate: func(ctx context.Context, _ []int32, texts []string) ([]float64, error) {
			return fit(ctx, c, texts, k, seedRNG)
		},
		Calls: k,
	}
	sched := schedule{o: r.o}
	var wall float64
	start := time.Now()
	_, calls, err := method.RunSpace(ctx, space, nn.NewRNG(r.seed, sample), func(calls int, best []rank.Candidate) error {
		wall += time.Since(start).Seconds()
		defer func() { start = time.Now() }()
		// due first: it counts the points passed, whether or not this is the last step
		if !sched.due(pre+calls) && calls+k <= budget {
			return nil
		}
		p, err := r.score(ctx, rank.Texts(best), pre+calls, best[0].Score)
		if err != nil {
			return err
		}
		mr.Points = append(mr.Points, p)
		return nil
	})
	if err != nil {
		return mr, err
	}
	mr.Calls, mr.WallS, mr.GenerateS = pre+calls, wall, c.seconds
	return mr, nil
}

// promptgan continues the shared start's adversarial loop (search.Run)
// until the budget is spent. Its output at a point is its hall of fame:
// the prompts its steps have had continued, ranked by the current D's mean
// verdict on their continuations so far.
func (r *run) promptgan(ctx context.Context, pre int) (MethodResult, error) {
	mr := MethodResult{Name: MethodPromptgan}
	c := &counter{Model: r.o.Target.Model}
	r.tr.SetTarget(c)
	type seen struct{ gens []string }
	hall := map[string]*seen{}
	var order []string // first-seen order: ties are stable
	var stepPrompts []int32
	var stepGens []string
	r.tr.OnTextGenerations = func(tokens []int32, prompts, gens []string) {
		stepPrompts, stepGens = tokens, gens
		for i, p := range prompts {
			h := hall[p]
			if h == nil {
				h = &seen{}
				hall[p] = h
				order = append(order, p)
			}
			h.gens = append(h.gens, gens[i])
		}
	}
	defer func() { r.tr.OnTextGenerations = nil }()
	verified, verifySeeds, verifyLeft := map[string]bool{}, nn.NewRNG(r.seed, streamHallVerify), r.o.verifyCalls()
	sched := schedule{o: r.o}
	sched.due(pre) // points the pre-training alone passed have no output yet
	var expert *nn.Adam
	if r.o.ExpertIteration > 0 {
		lr := r.o.ExpertLR
		if lr == 0 {
			lr = 0.005
		}
		expert = nn.NewAdam(nn.DefaultAdam(lr), r.tr.Gen.Params())
	}
	var wall float64
	start := time.Now()
	_, err := search.Run(ctx, r.tr, search.RunOptions{NoEvaluation: true, Logger: r.o.Logger, AfterStep: func(st search.Stats) error {
		if expert != nil && st.Phase == search.PhaseAdversarial {
			if err := r.expertStep(ctx, expert, stepPrompts, stepGens); err != nil {
				return err
			}
		}
		wall += time.Since(start).Seconds()
		defer func() { start = time.Now() }()
		calls := pre + c.calls
		hits, last := sched.hits(calls), st.Step >= r.tr.Cfg.Steps
		if hits == 0 && !last {
			return nil
		}
		t0 := time.Now()
		ranking := func() ([]rank.Candidate, error) {
			var gens []string
			for _, p := range order {
				gens = append(gens, hall[p].gens...)
			}
			ps, err := r.tr.ScorePairs(ctx, pairsOf(gens), nil)
			if err != nil {
				return nil, err
			}
			return r.rankHall(ps, order, func(p string) int { return len(hall[p].gens) }), nil
		}
		pool, err := ranking()
		if err != nil {
			return err
		}
		if k := r.o.Continuations; r.o.HallVerify > 0 {
			n := min(r.o.HallVerify*max(hits, 1), verifyLeft/k)
			if last {
				n = (r.o.Budget - calls) / k // what earlier points and the steps' rounding left unspent
			}
			var check []string
			for _, cd := range rank.Distinct(pool, len(pool)) {
				if len(check) == n {
					break
				}
				if !verified[cd.Text] {
					check, verified[cd.Text] = append(check, cd.Text), true
				}
			}
			verifyLeft -= len(check) * k
			gens, err := r.continueEach(ctx, c, check, k, verifySeeds)
			if err != nil {
				return fmt.Errorf("verify the hall of fame: %w", err)
			}
			for i, p := range check {
				hall[p].gens = append(hall[p].gens, gens[i*k:(i+1)*k]...)
			}
			if pool, err = ranking(); err != nil {
				return err
			}
			calls = pre + c.calls
		}
		best := rank.Distinct(pool, r.o.Output)
		wall += time.Since(t0).Seconds() // ranking the hall is the method's work
		p, err := r.score(ctx, rank.Texts(best), calls, best[0].Score)
		if err != nil {
			return err
		}
		mr.Points = append(mr.Points, p)
		return nil
	}})
	if err != nil {
		return mr, err
	}
	mr.Calls, mr.WallS, mr.GenerateS = pre+c.calls, wall, c.seconds
	return mr, nil
}

// rankHall scores the hall's prompts (order) from D's verdicts ps on
// their generations, prompt by prompt (n(p) each): the mean, shrunk toward
// the hall's mean by HallShrinkage.
func (r *run) rankHall(ps []search.PairScore, order []string, n func(string) int) []rank.Candidate {
	var mu float64
	for _, s := range ps {
		mu += s.Score / float64(len(ps))
	}
	m := r.o.HallShrinkage
	pool := make([]rank.Candidate, len(order))
	at := 0
	for i, p := range order {
		k := n(p)
		sum := m * mu
		for _, s := range ps[at : at+k] {
			sum += s.Score
		}
		pool[i] = rank.Candidate{Text: p, Score: sum / (float64(k) + m)}
		at += k
	}
	return pool
}

// expertStep is one step of expert iteration: G's maximum-likelihood
// update on the (B, k) prompts of the last D update whose C continuations
// each (gens, prompt by prompt) the current D rates in the top
// ExpertIteration share.
func (r *run) expertStep(ctx context.Context, opt *nn.Adam, prompts []int32, gens []string) error {
	k := r.tr.Cfg.PromptLen
	B := len(prompts) / k
	if B == 0 || len(gens)%B != 0 {
		return fmt.Errorf("expert iteration: %d prompts and %d generations", B, len(gens))
	}
	d, err := r.dMeans(ctx, gens, len(gens)/B)
	if err != nil {
		return err
	}
	order := make([]int, B)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return d[order[a]] > d[order[b]] })
	n := max(1, int(math.Round(r.o.ExpertIteration*float64(B))))
	bt := generator.Batch{B: n, T: k, Weights: make([]float32, n*k)}
	for _, i := range order[:n] {
		bt.Tokens = append(bt.Tokens, prompts[i*k:(i+1)*k]...)
	}
	for i := range bt.Weights {
		bt.Weights[i] = 1 / float32(n*k)
	}
	ps := r.tr.Gen.Params()
	ps.ZeroGrad()
	r.tr.Gen.Backprop(bt)
	opt.Update(ps)
	return nil
}

func pairsOf(gens []string) []search.Pair {
	out := make([]search.Pair, len(gens))
	for i, g := range gens {
		out[i].Generation = g
	}
	return out
}

// ceiling is audit.SearchCeiling at the whole budget (it needs no
// pre-training), its prompt scored as every other output.
func (r *run) ceiling(ctx context.Context) (MethodResult, error) {
	mr := MethodResult{Name: MethodCeiling}
	start := time.Now()
	c := &counter{Model: r.o.Target.Model}
	so := audit.SteerOptions{
		Target: r.textTarget(c), Template: r.o.Template, Judge: r.o.Judge, Vocab: r.o.Vocab, Tasks: []audit.Task{r.t},
		Continuations: r.o.EvalContinuations, MinWords: r.o.MinWords, MaxWords: r.o.MaxWords,
		CeilingBudget: r.o.Budget, CeilingContinuations: r.o.CeilingContinuations, CeilingPopulation: r.o.CeilingPopulation, CeilingSeed: r.seed,
	}
	ce, err := audit.SearchCeiling(ctx, so, r.t)
	if err != nil {
		return mr, err
	}
	mr.Calls = ce.Calls // its re-scoring on the evaluation seeds is the evaluation
	mr.WallS, mr.GenerateS = time.Since(start).Seconds(), c.seconds
	p, err := r.score(ctx, []string{ce.Prompt}, mr.Calls, ce.SearchScore)
	mr.Points = append(mr.Points, p)
	return mr, err
}

// summarise averages each method's curve over the seeds (point by point)
// and compares promptgan with the best baseline and the ceiling.
func summarise(tr *TaskResult) {
	names := []string{}
	for _, m := range tr.Runs[0].Methods {
		names = append(names, m.Name)
	}
	byName := map[string]MethodSummary{}
	for mi, name := range names {
		ms := MethodSummary{Name: name}
		n := len(tr.Runs[0].Methods[mi].Points)
		for _, run := range tr.Runs {
			n = min(n, len(run.Methods[mi].Points))
		}
		for pi := range n {
			var sp SummaryPoint
			var tops, means []float64
			for _, run := range tr.Runs {
				p := run.Methods[mi].Points[pi]
				sp.Calls += float64(p.Calls) / float64(len(tr.Runs))
				sp.Distinct2 += p.Distinct2 / float64(len(tr.Runs))
				tops, means = append(tops, p.Top), append(means, p.Mean)
			}
			sp.Top, sp.Mean = audit.SpreadOf(tops), audit.SpreadOf(means)
			ms.Points = append(ms.Points, sp)
		}
		tr.Methods = append(tr.Methods, ms)
		byName[name] = ms
	}
	tr.ReachCalls, tr.BestBaselineFinal = -1, math.Inf(-1)
	var bestSD float64
	for _, b := range baselines {
		if m, ok := byName[b]; ok && len(m.Points) > 0 && m.Final().Mean.Mean > tr.BestBaselineFinal {
			tr.BestBaseline, tr.BestBaselineFinal, tr.BestBaselineCalls, bestSD = b, m.Final().Mean.Mean, m.Final().Calls, m.Final().Mean.SD
		}
	}
	if tr.Real > 0 && tr.BestBaseline != "" {
		tr.BaselineOfReal = tr.BestBaselineFinal / tr.Real
	}
	pg, ok := byName[MethodPromptgan]
	if !ok || len(pg.Points) == 0 {
		return
	}
	for _, p := range pg.Points {
		if p.Mean.Mean >= tr.BestBaselineFinal {
			tr.ReachCalls = p.Calls
			break
		}
	}
	tr.Margin, tr.Spread = pg.Final().Mean.Mean-tr.BestBaselineFinal, max(pg.Final().Mean.SD, bestSD)
	var ceiling float64 // the better of the two audit-rewarded searches
	for _, name := range []string{MethodCeiling, MethodCeilingG} {
		if ce, ok := byName[name]; ok && len(ce.Points) > 0 {
			ceiling = max(ceiling, ce.Final().Mean.Mean)
		}
	}
	if ceiling > 0 {
		tr.OfCeiling = pg.Final().Mean.Mean / ceiling
	}
	for _, run := range tr.Runs {
		tr.OutsideTargetShare += run.OutsideTargetShare / float64(len(tr.Runs))
	}
}
