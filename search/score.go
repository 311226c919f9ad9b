package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/targets/ledger"
)

// This file is the discriminator as a product: scoring (input, generation)
// pairs with no target call, scoring prompts by what the target writes for
// them, and searching the generator's prompts — all from a text run's
// checkpoint.

// ErrNotText is returned when scoring needs a text run's checkpoint.
var ErrNotText = errors.New("not a text run: scoring needs a checkpoint of a run with a task (train --task)")

// Pair is an (input, generation) pair to score; Input is empty for an
// input-free task.
type Pair struct {
	Input      string `json:"input,omitempty"`
	Generation string `json:"generation"`
}

// PairScore is D's verdict on a pair: the calibrated probability that the
// generation is good for the input, and the members' spread.
type PairScore struct {
	Pair
	Score  float64 `json:"score"`
	Spread float64 `json:"spread"`
}

// PairScorer scores (n, F) feature rows: the Go forward pass
// (TextEnsemble.Score) or the exported model through ONNX Runtime
// (TextScorerORT.Score).
type PairScorer func(x []float32, n int) (discriminator.TextScores, error)

// ScorePairs scores pairs with the run's calibrated discriminator, in
// batches; it calls no target. score nil is the Go forward pass.
func (tr *Trainer) ScorePairs(ctx context.Context, pairs []Pair, score PairScorer) ([]PairScore, error) {
	r := tr.textRun()
	if r == nil {
		return nil, ErrNotText
	}
	if score == nil {
		score = func(x []float32, n int) (discriminator.TextScores, error) { return r.disc.Score(x, n), nil }
	}
	const batch = 4096
	out := make([]PairScore, 0, len(pairs))
	for lo := 0; lo < len(pairs); lo += batch {
		part := pairs[lo:min(lo+batch, len(pairs))]
		inputs, gens := make([]string, len(part)), make([]string, len(part))
		for i, p := range part {
			if r.task.InputFree && p.Input != "" {
				return nil, fmt.Errorf("pair %d has an input, but the run's task is input-free: give generations only", lo+i+1)
			}
			inputs[i], gens[i] = p.Input, p.Generation
		}
		x, err := r.features(ctx, inputs, gens)
		if err != nil {
			return nil, fmt.Errorf("encode pairs %d–%d: %w", lo+1, lo+len(part), err)
		}
		s, err := score(x, len(part))
		if err != nil {
			return nil, fmt.Errorf("score pairs %d–%d: %w", lo+1, lo+len(part), err)
		}
		for i, p := range part {
			out = append(out, PairScore{Pair: p, Score: s.P[i], Spread: s.Std[i]})
		}
	}
	return out, nil
}

// DiscriminatorExport is what `promptgan export` writes beside the ONNX
// model: what its features are, so that another program can build them.
type DiscriminatorExport struct {
	Model           string  `json:"model"`               // the ONNX file's name
	Features        int     `json:"features"`            // F, the width of the "features" input
	Dim             int     `json:"dim"`                 // embedding dimension
	InputFree       bool    `json:"input_free"`          // features are [e(y), surface] instead of [e(x), e(y), e(x)⊙e(y), |e(x)−e(y)|, surface]
	SurfaceFeatures int     `json:"surface_features"`    // the generation's surface features at the end of each row (discriminator.TextFeatures)
	Encoder         string  `json:"encoder"`             // the run's encoder setting
	EncoderPrint    string  `json:"encoder_fingerprint"` // the encoder as fitted (SIF's common component included)
	Temperature     float64 `json:"temperature"`         // the calibration the model applies: σ(z̄/T + b)
	Bias            float64 `json:"bias"`
	Members         int     `json:"members"`
	Hidden          int     `json:"hidden"`
	Task            string  `json:"task"`
	TaskSHA256      string  `json:"task_sha256"`
	Step            int     `json:"step"`
}

// ExportDiscriminator returns a text run's discriminator as ONNX (opset
// 17; input "features" [N, F], outputs "score", "spread", "logits") and
// its description.
func (tr *Trainer) ExportDiscriminator(modelName string) ([]byte, DiscriminatorExport, error) {
	r := tr.textRun()
	if r == nil {
		return nil, DiscriminatorExport{}, ErrNotText
	}
	b, err := r.disc.ExportONNX()
	if err != nil {
		return nil, DiscriminatorExport{}, err
	}
	c := r.disc.Cfg
	return b, DiscriminatorExport{
		Model: modelName, Features: c.Features(), Dim: c.Dim, InputFree: c.InputFree, SurfaceFeatures: discriminator.SurfaceFeatures,
		Encoder: tr.Cfg.Encoder, EncoderPrint: r.enc.Fingerprint(), Temperature: r.disc.Temperature, Bias: r.disc.Bias,
		Members: c.Members, Hidden: c.Hidden, Task: tr.Cfg.Task, TaskSHA256: r.task.SHA256, Step: tr.step,
	}, nil
}

// PromptScore is a prompt judged by what the target writes for it.
type PromptScore struct {
	Prompt string  `json:"prompt"`
	Score  float64 `json:"score"`  // mean calibrated D over its generations
	Spread float64 `json:"spread"` // mean members' spread over them
	// ScoreStd is the standard deviation of D's score over the
	// generations: how much the verdict depends on the input and the draw.
	ScoreStd float64 `json:"score_std"`
	// ScoreSE is the standard error of Score, ScoreStd/√(n−1) over its n
	// generations (0 for one): two prompts whose scores differ by less than
	// a couple of it are not ranked by the data.
	ScoreSE float64 `json:"score_se"`
	// BLEU is the mean sentence BLEU-2 of the generations against their
	// input's good references (tasks with inputs); absent otherwise.
	BLEU        *float64      `json:"bleu_2,omitempty"`
	Generations []ScoredCheck `json:"generations,omitempty"`
}

// ScoredCheck is one generation behind a PromptScore.
type ScoredCheck struct {
	Input      string  `json:"input,omitempty"`
	Generation string  `json:"generation"`
	Score      float64 `json:"score"`
	Spread     float64 `json:"spread"`
}

// ScoreOptions say how prompts are scored.
type ScoreOptions struct {
	// Samples is the number of generations per prompt: the first Samples
	// inputs of the test split (cycled) for a task with inputs, Samples
	// draws (distinct seeds) for an input-free task. >= 1.
	Samples int
	Seed    uint64 // seeds the requests; the same seed asks the same requests (answered by the ledger)
	Keep    bool   // keep every generation in PromptScore.Generations
}

// ScorePrompts has the target continue each prompt (text, filled into the
// run's template) Samples times and scores the generations with the
// calibrated discriminator.
func (tr *Trainer) ScorePrompts(ctx context.Context, prompts []string, opt ScoreOptions) ([]PromptScore, error) {
	r := tr.textRun()
	if r == nil {
		return nil, ErrNotText
	}
	if opt.Samples < 1 {
		return nil, fmt.Errorf("samples = %d: each prompt needs at least one generation", opt.Samples)
	}
	n := len(prompts) * opt.Samples
	texts, inputs, examples := make([]string, 0, n), make([]string, 0, n), make([]int, 0, n)
	for i, p := range prompts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("prompt %d is empty", i+1)
		}
		for s := range opt.Samples {
			texts = append(texts, p)
			ex, in := -1, ""
			if !r.task.InputFree {
				ex = r.splits.TestIdx[s%len(r.splits.TestIdx)]
				in = r.task.Examples[ex].Input
			}
			inputs, examples = append(inputs, in), append(examples, ex)
		}
	}
	// Sample s of every prompt has the same seed (and input): prompts are
	// judged on the same draws, whatever their place in the list.
	rng := nn.NewRNG(opt.Seed, streamScore)
	sampleSeeds := make([]uint64, opt.Samples)
	for i := range sampleSeeds {
		sampleSeeds[i] = rng.Uint64()
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = sampleSeeds[i%opt.Samples]
	}
	gens, s, err := r.judge(ctx, texts, inputs, seeds)
	if err != nil {
		return nil, err
	}
	out := make([]PromptScore, len(prompts))
	for i, p := range prompts {
		ps := PromptScore{Prompt: p}
		lo, hi := i*opt.Samples, (i+1)*opt.Samples
		ps.Score, ps.Spread, ps.ScoreStd = mean(s.P[lo:hi]), mean(s.Std[lo:hi]), stdDev(s.P[lo:hi])
		if opt.Samples > 1 {
			ps.ScoreSE = ps.ScoreStd / math.Sqrt(float64(opt.Samples-1))
		}
		if !r.task.InputFree {
			b := 0.0
			for j := lo; j < hi; j++ {
				b += bleu2(gens[j], r.task.Examples[examples[j]].Good)
			}
			b /= float64(opt.Samples)
			ps.BLEU = &b
		}
		if opt.Keep {
			for j := lo; j < hi; j++ {
				ps.Generations = append(ps.Generations, ScoredCheck{Input: inputs[j], Generation: gens[j], Score: s.P[j], Spread: s.Std[j]})
			}
		}
		out[i] = ps
	}
	return out, nil
}

// bleu2 is the sentence BLEU-2 of a generation against references, over
// lower-cased words.
func bleu2(gen string, refs []string) float64 {
	if len(refs) == 0 {
		return 0
	}
	all := append([]string{gen}, refs...)
	ids := generator.WordIDs(all)
	return metrics.BLEU(ids[0], ids[1:], 2)
}

func stdDev(x []float64) float64 {
	m, s := mean(x), 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)))
}

// SearchOptions say how SearchPrompts searches.
type SearchOptions struct {
	Draws       int     // prompts drawn from G (before deduplication); >= 1
	Temperature float64 // G's sampling temperature; > 0
	Screen      int     // generations per drawn prompt to rank them by D (the cheap stage); >= 1
	Top         int     // prompts verified; >= 1
	Verify      int     // generations per verified prompt; >= 1
	Seed        uint64
}

// SearchResult is SearchPrompts' answer.
type SearchResult struct {
	Drawn    int           `json:"drawn"`    // prompts drawn
	Distinct int           `json:"distinct"` // distinct among them
	Screened []PromptScore `json:"screened"` // every distinct prompt's screening score, best first
	Verified []PromptScore `json:"verified"` // the top ones, re-scored on Verify generations each, best first
	Calls    int           `json:"calls"`    // target requests made (ledger hits included)
}

// SearchPrompts draws prompts from G, keeps the distinct ones, ranks them by
// D's score on Screen generations each (cheap), then verifies the Top ones
// on Verify generations each (the test split's inputs) and ranks those.
func (tr *Trainer) SearchPrompts(ctx context.Context, opt SearchOptions) (SearchResult, error) {
	if tr.textRun() == nil {
		return SearchResult{}, ErrNotText
	}
	switch {
	case opt.Draws < 1 || opt.Screen < 1 || opt.Top < 1 || opt.Verify < 1:
		return SearchResult{}, fmt.Errorf("draws %d, screen %d, top %d, verify %d: each must be >= 1", opt.Draws, opt.Screen, opt.Top, opt.Verify)
	case !(opt.Temperature > 0):
		return SearchResult{}, fmt.Errorf("temperature %v: must be > 0", opt.Temperature)
	}
	calls := tr.Calls
	ids := generator.SampleBatched(tr.Gen, opt.Draws, tr.Cfg.PromptLen, opt.Temperature, nn.NewRNG(opt.Seed, streamScore+1))
	texts, err := tr.PromptTexts(ids)
	if err != nil {
		return SearchResult{}, err
	}
	seen := map[string]bool{}
	var distinct []string
	for _, t := range texts {
		if !seen[t] {
			seen[t] = true
			distinct = append(distinct, t)
		}
	}
	// The verified scores are ScorePrompts' with the caller's seed — what
	// `score --seed S --samples Verify` reports for the same prompt — and
	// the screen draws its generations from another seed, so the draw that
	// picked a prompt is not the one that verifies it.
	screened, err := tr.ScorePrompts(ctx, distinct, ScoreOptions{Samples: opt.Screen, Seed: opt.Seed + 1})
	if err != nil {
		return SearchResult{}, fmt.Errorf("screen: %w", err)
	}
	slices.SortStableFunc(screened, func(a, b PromptScore) int { return cmp.Compare(b.Score, a.Score) }) // best first
	top := make([]string, 0, opt.Top)
	for _, p := range screened[:min(opt.Top, len(screened))] {
		top = append(top, p.Prompt)
	}
	verified, err := tr.ScorePrompts(ctx, top, ScoreOptions{Samples: opt.Verify, Seed: opt.Seed, Keep: true})
	if err != nil {
		return SearchResult{}, fmt.Errorf("verify: %w", err)
	}
	slices.SortStableFunc(verified, func(a, b PromptScore) int { return cmp.Compare(b.Score, a.Score) })
	return SearchResult{Drawn: opt.Draws, Distinct: len(distinct), Screened: screened, Verified: verified, Calls: tr.Calls - calls}, nil
}

// UseLedger routes the trainer's target calls through the call ledger in
// the run directory dir (when the run keeps one), for scoring and search
// outside Run; close syncs and closes it.
func (tr *Trainer) UseLedger(dir string, log *slog.Logger) (close func() error, err error) {
	if !tr.Cfg.Ledger {
		return func() error { return nil }, nil
	}
	l, err := ledger.Open(filepath.Join(dir, LedgerDir), ledger.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	tr.useLedger(l, false)
	return func() error {
		tr.useLedger(nil, false)
		return l.Close()
	}, nil
}

// TextDiscriminator returns a text run's discriminator (nil in a token run).
func (tr *Trainer) TextDiscriminator() *discriminator.TextEnsemble {
	if r := tr.textRun(); r != nil {
		return r.disc
	}
	return nil
}
