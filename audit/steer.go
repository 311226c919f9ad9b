package audit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"promptgan/internal/nn"
	"promptgan/search/rank"
	"promptgan/targets"
	"promptgan/task"
)

// SteerOptions configure the steerability table: for each task, how well
// real text, random prompts, hand-written seed prompts and an
// audit-rewarded search (the ceiling) score.
type SteerOptions struct {
	Target   targets.TextTarget
	Template task.Template // how a prompt is put to the target, e.g. "{prompt} :"
	Judge    *Judge
	Docs     []Doc    // the corpus: its "test" part gives the real-text score
	Tasks    []Task   // nil = Tasks()
	Vocab    []string // words random prompts and the ceiling draw from (TargetWords)

	Continuations int      // per prompt scored for the table, on the fixed evaluation seeds 1..n (0 = 32)
	RandomPrompts int      // random prompts per seed (0 = 16)
	Seeds         []uint64 // seeds of the random prompts (nil = 1, 2, 3)
	MinWords      int      // words per random prompt (0 = 3)
	MaxWords      int      // (0 = 6)

	CeilingBudget int // target calls of the ceiling's search (0 = 1536)
	// CeilingContinuations per prompt and generation in the search (0 = 8).
	CeilingContinuations int
	CeilingPopulation    int    // its population (0 = 16; half are kept each generation)
	CeilingSeed          uint64 // its seed
	// CeilingFromRandom starts the ceiling's population from random word
	// prompts only; by default the task's seed prompts are in it too (what
	// a user would try first is where search would start).
	CeilingFromRandom bool

	Logger *slog.Logger
}

func (o *SteerOptions) defaults() {
	if o.Tasks == nil {
		o.Tasks = Tasks()
	}
	if o.Continuations == 0 {
		o.Continuations = 32
	}
	if o.CeilingContinuations == 0 {
		o.CeilingContinuations = 8
	}
	if o.RandomPrompts == 0 {
		o.RandomPrompts = 16
	}
	if o.Seeds == nil {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.MinWords == 0 {
		o.MinWords = 3
	}
	if o.MaxWords == 0 {
		o.MaxWords = 6
	}
	if o.CeilingBudget == 0 {
		o.CeilingBudget = 1536
	}
	if o.CeilingPopulation == 0 {
		o.CeilingPopulation = 16
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the options' numbers (after filling defaults); the
// judge, the vocabulary and the tasks' classes are checked by Steerability.
func (o *SteerOptions) Validate() error {
	o.defaults()
	switch {
	case o.Continuations < 1 || o.CeilingContinuations < 1 || o.RandomPrompts < 1 || len(o.Seeds) < 1:
		return fmt.Errorf("steerability: continuations %d (ceiling %d), random prompts %d, seeds %d: each must be at least 1", o.Continuations, o.CeilingContinuations, o.RandomPrompts, len(o.Seeds))
	case o.MinWords < 1 || o.MaxWords < o.MinWords:
		return fmt.Errorf("steerability: words per prompt %d..%d: need 1 ≤ min ≤ max", o.MinWords, o.MaxWords)
	case o.CeilingPopulation < 2:
		return fmt.Errorf("steerability: ceiling population %d: need at least 2", o.CeilingPopulation)
	case o.CeilingBudget < o.CeilingPopulation*o.CeilingContinuations:
		return fmt.Errorf("steerability: ceiling budget %d calls is under one generation (%d prompts × %d continuations)", o.CeilingBudget, o.CeilingPopulation, o.CeilingContinuations)
	}
	return nil
}

func (o *SteerOptions) validateInputs() error {
	if o.Judge == nil || o.Judge.Audit == nil || o.Judge.Ref == nil {
		return fmt.Errorf("steerability: no judge")
	}
	if len(o.Vocab) < 2 {
		return fmt.Errorf("steerability: %d prompt words: random prompts need the target's vocabulary", len(o.Vocab))
	}
	for _, t := range o.Tasks {
		if _, err := o.Judge.Audit.ClassIndex(t.Class); err != nil {
			return fmt.Errorf("steerability: task %s: %w", t.Name, err)
		}
	}
	return nil
}

// Spread is a figure over seeds.
type Spread struct {
	Mean    float64   `json:"mean"`
	SD      float64   `json:"sd"` // sample standard deviation over the seeds
	PerSeed []float64 `json:"per_seed"`
}

// SpreadOf is the mean and sample standard deviation of xs (over seeds).
func SpreadOf(xs []float64) Spread {
	s := Spread{PerSeed: xs}
	for _, x := range xs {
		s.Mean += x / float64(len(xs))
	}
	if len(xs) > 1 {
		for _, x := range xs {
			s.SD += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(xs)-1))
	}
	return s
}

// Ceiling is the audit-rewarded search's result.
type Ceiling struct {
	Prompt      string  `json:"prompt"`
	Score       float64 `json:"score"`        // on the evaluation seeds, as every other figure
	SearchScore float64 `json:"search_score"` // its mean over the search's own seeds (optimistic: it was selected on them)
	Calls       int     `json:"calls"`        // target calls of the search
	Prompts     int     `json:"prompts"`      // distinct prompts it scored
	Generations int     `json:"generations"`
	Sample      string  `json:"sample"` // the best prompt's first continuation on the evaluation seeds
}

// SteerRow is one task's line of the table.
type SteerRow struct {
	Task      string        `json:"task"`
	Class     string        `json:"class"`
	Real      Summary       `json:"real"`   // the task's class's "test" texts
	Random    Spread        `json:"random"` // mean score of random word prompts, per seed
	RandomD2  float64       `json:"random_distinct_2"`
	SeedScore []PromptScore `json:"seed_prompts"` // continuations and verdicts omitted in JSON
	SeedBest  float64       `json:"seed_best"`    // the best seed prompt's (a max over noisy scores: optimistic)
	SeedMean  float64       `json:"seed_mean"`
	Ceiling   Ceiling       `json:"ceiling"`
	// The steerability goal: ceiling ≥ 70% of real text and ≥ 2× random.
	OfReal   float64 `json:"ceiling_over_real"`
	OfRandom float64 `json:"ceiling_over_random"`
	Pass     bool    `json:"pass"`
	Calls    int     `json:"calls"` // target calls for this row, all methods
	Seconds  float64 `json:"seconds"`
}

// Goal thresholds of the steerability gate (issue 13).
const (
	GoalOfReal   = 0.7
	GoalOfRandom = 2.0
)

// Steerability measures each task's row. Every prompt is scored on the
// same evaluation seeds (EvalSeeds(Continuations)); the ceiling searches on
// its own seeds and its best prompt is re-scored on the evaluation seeds.
func Steerability(ctx context.Context, o SteerOptions) ([]SteerRow, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := o.validateInputs(); err != nil {
		return nil, err
	}
	eval := EvalSeeds(o.Continuations)
	var rows []SteerRow
	for _, t := range o.Tasks {
		start := time.Now()
		row := SteerRow{Task: t.Name, Class: t.Class}
		real := partTextsOf(o.Docs, PartTest, t.Class)
		if len(real) == 0 {
			return nil, fmt.Errorf("steerability: task %s: the corpus has no %q text in its %q part; rebuild the corpus (make setup)", t.Name, t.Class, PartTest)
		}
		var err error
		if row.Real, err = o.Judge.ScoreTexts(ctx, real, t.Class); err != nil {
			return nil, fmt.Errorf("steerability: task %s: real text: %w", t.Name, err)
		}
		var per []float64
		var d2 float64
		for _, seed := range o.Seeds {
			rng := nn.NewRNG(seed, 0x5eed)
			prompts := make([]string, o.RandomPrompts)
			for i := range prompts {
				prompts[i] = RandomPrompt(rng, o.Vocab, o.MinWords, o.MaxWords)
			}
			r, err := Score(ctx, o.Judge, o.Target, o.Template, t.Class, prompts, eval)
			if err != nil {
				return nil, fmt.Errorf("steerability: task %s: random prompts (seed %d): %w", t.Name, seed, err)
			}
			per = append(per, r.Score)
			d2 += r.Distinct2 / float64(len(o.Seeds))
			row.Calls += r.Calls
		}
		row.Random, row.RandomD2 = SpreadOf(per), d2
		if len(t.Seeds) > 0 {
			r, err := Score(ctx, o.Judge, o.Target, o.Template, t.Class, t.Seeds, eval)
			if err != nil {
				return nil, fmt.Errorf("steerability: task %s: seed prompts: %w", t.Name, err)
			}
			row.SeedScore = r.Prompts
			for _, p := range r.Prompts {
				row.SeedBest = max(row.SeedBest, p.Score)
			}
			row.SeedMean = r.Score
			row.Calls += r.Calls
		}
		if row.Ceiling, err = ceiling(ctx, o, t); err != nil {
			return nil, fmt.Errorf("steerability: task %s: ceiling: %w", t.Name, err)
		}
		row.Calls += row.Ceiling.Calls + o.Continuations
		if row.Real.Score > 0 {
			row.OfReal = row.Ceiling.Score / row.Real.Score
		}
		if row.Random.Mean > 0 {
			row.OfRandom = row.Ceiling.Score / row.Random.Mean
		} else if row.Ceiling.Score > 0 {
			row.OfRandom = math.Inf(1)
		}
		row.Pass = row.OfReal >= GoalOfReal && row.OfRandom >= GoalOfRandom
		row.Seconds = time.Since(start).Seconds()
		o.Logger.Info("steerability", "task", t.Name, "real", row.Real.Score, "random", row.Random.Mean,
			"seed_best", row.SeedBest, "ceiling", row.Ceiling.Score, "prompt", row.Ceiling.Prompt, "seconds", row.Seconds)
		rows = append(rows, row)
	}
	return rows, nil
}

func partTextsOf(docs []Doc, part, class string) []string {
	var out []string
	for _, d := range docs {
		if d.Part == part && d.Class == class {
			out = append(out, d.Text)
		}
	}
	return out
}

// RandomPrompt returns lo..hi words drawn uniformly from vocab, joined by
// spaces: the random word prompts of the steerability table.
func RandomPrompt(rng *nn.RNG, vocab []string, lo, hi int) string {
	return strings.Join(rank.RandomWords(rng, vocab, lo, hi), " ")
}

// SearchCeiling is the ceiling's search (below) for task t with o's
// Ceiling* settings, Vocab, words per prompt and Continuations (the
// evaluation seeds its best prompt is re-scored on): the perfect-evaluator
// diagnostic that other benchmarks compare their methods with.
func SearchCeiling(ctx context.Context, o SteerOptions, t Task) (Ceiling, error) {
	if err := o.Validate(); err != nil {
		return Ceiling{}, err
	}
	if err := o.validateInputs(); err != nil {
		return Ceiling{}, err
	}
	return ceiling(ctx, o, t)
}

// ceiling is rank.WordEvolution over word prompts of the target's words,
// started from the task's seed prompts (unless CeilingFromRandom) and
// random ones, whose fitness is the task score itself (the audit, through
// the fluency filter) on fresh seeds each generation: a diagnostic of what
// search reaches at this budget with a perfect evaluator, not a method.
// Its best prompt is re-scored on the evaluation seeds.
func ceiling(ctx context.Context, o SteerOptions, t Task) (Ceiling, error) {
	n := o.CeilingContinuations
	search := rank.WordEvolution{
		Population: o.CeilingPopulation, Continuations: n, Budget: o.CeilingBudget,
		Vocab: o.Vocab, MinWords: o.MinWords, MaxWords: o.MaxWords,
	}
	if !o.CeilingFromRandom {
		search.Start = t.Seeds // what a user would try first is where search starts
	}
	evaluate := func(ctx context.Context, prompts []string, gen int) ([]float64, error) {
		seeds := make([]uint64, n)
		for i := range seeds {
			seeds[i] = 1_000_000 + uint64(gen*n+i) // never the evaluation seeds
		}
		r, err := Score(ctx, o.Judge, o.Target, o.Template, t.Class, prompts, seeds)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(r.Prompts))
		for i, p := range r.Prompts {
			out[i] = p.Score
		}
		return out, nil
	}
	gens := 1 // the first is not reported
	res, err := search.Search(ctx, nn.NewRNG(o.CeilingSeed, 0xce11), evaluate, func(calls int, best []rank.Candidate) error {
		gens++
		o.Logger.Debug("ceiling generation", "task", t.Name, "generation", gens, "calls", calls, "best", best[0].Text, "mean", best[0].Score)
		return nil
	})
	c := Ceiling{Prompt: res.Best.Text, SearchScore: res.Best.Score, Calls: res.Calls, Prompts: res.Prompts, Generations: res.Generations}
	if err != nil {
		return c, err
	}
	r, err := Score(ctx, o.Judge, o.Target, o.Template, t.Class, []string{c.Prompt}, EvalSeeds(o.Continuations))
	if err != nil {
		return c, fmt.Errorf("re-score %q on the evaluation seeds: %w", c.Prompt, err)
	}
	c.Score = r.Score
	if len(r.Prompts[0].Continuations) > 0 {
		c.Sample = r.Prompts[0].Continuations[0]
	}
	return c, nil
}

// TargetWords returns the target's vocabulary as words for random prompts:
// every token id below vocab that decodes on its own to a lower-case
// alphabetic word (surrounding spaces trimmed), without repeats, in id
// order; special tokens, punctuation and sub-word pieces with marks are
// left out.
func TargetWords(tok targets.Tokenizer, vocab int) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for id := range vocab {
		s, err := tok.Decode([]int32{int32(id)})
		if err != nil {
			continue // a special token the tokenizer will not decode
		}
		s = strings.TrimSpace(s)
		if s == "" || seen[s] || strings.IndexFunc(s, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("the target's tokenizer has %d alphabetic words among %d tokens: random word prompts need a word vocabulary", len(out), vocab)
	}
	return out, nil
}
