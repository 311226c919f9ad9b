package audit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"promptgan/generator"
	"promptgan/metrics"
	"promptgan/targets"
	"promptgan/task"
)

// Judge is the task score's judge: the audit classifier, the reference LM
// and the band of perplexities real sentences have under it.
type Judge struct {
	Audit *Classifier
	Ref   PerplexityModel
	Band  Band
}

// JudgeOptions say how NewJudge builds a judge from the corpus.
type JudgeOptions struct {
	Audit ClassifierConfig
	// Ref is the reference LM; nil = an NGramLM trained on the corpus's
	// "disc" and "audit" parts (held out from the target LM, never "test").
	Ref PerplexityModel
	// LoQ, HiQ: the quantiles of the real "test" texts the fluency band is
	// taken at (0, 0 = 0.05, 0.95).
	LoQ, HiQ float64
}

// JudgeInfo is what NewJudge measured.
type JudgeInfo struct {
	Audit        Eval     `json:"audit"` // on the corpus's "test" part
	AuditTexts   int      `json:"audit_texts"`
	AuditParts   []string `json:"audit_parts"`
	Band         Band     `json:"band"`
	RefKind      string   `json:"reference_lm"`
	TrainSeconds float64  `json:"train_seconds"` // audit + reference LM + band
}

// NewJudge trains the audit on docs' "audit" part, evaluates it on "test",
// and fits the fluency band on "test" under the reference LM.
func NewJudge(ctx context.Context, docs []Doc, o JudgeOptions) (*Judge, JudgeInfo, error) {
	start := time.Now()
	var info JudgeInfo
	c, err := TrainClassifier(ctx, docs, o.Audit)
	if err != nil {
		return nil, info, err
	}
	info.AuditParts = c.cfg.Parts
	for _, d := range docs {
		if slices.Contains(c.cfg.Parts, d.Part) {
			info.AuditTexts++
		}
	}
	if info.Audit, err = c.Evaluate(ctx, docs); err != nil {
		return nil, info, err
	}
	ref := o.Ref
	info.RefKind = fmt.Sprintf("%T", ref)
	if _, ok := ref.(EnglishRef); ok {
		info.RefKind = "english's LSTM reference LM"
	}
	if ref == nil {
		var held []string
		for _, d := range docs {
			if d.Part == PartDisc || d.Part == PartAudit {
				held = append(held, d.Text)
			}
		}
		if ref, err = TrainNGram(held); err != nil {
			return nil, info, err
		}
		info.RefKind = "word bigram, Kneser-Ney, on the disc+audit parts"
	}
	if o.LoQ == 0 && o.HiQ == 0 {
		o.LoQ, o.HiQ = 0.05, 0.95
	}
	var test []string
	for _, d := range docs {
		if d.Part == PartTest {
			test = append(test, d.Text)
		}
	}
	if info.Band, err = FitBand(ctx, ref, test, o.LoQ, o.HiQ); err != nil {
		return nil, info, err
	}
	info.TrainSeconds = time.Since(start).Seconds()
	return &Judge{Audit: c, Ref: ref, Band: info.Band}, info, nil
}

// Verdict is the judgement of one text for one class.
type Verdict struct {
	P       float64 `json:"p"`       // audit P(class | text)
	Top     string  `json:"top"`     // the audit's most likely class
	PPL     float64 `json:"ppl"`     // under the reference LM
	Repeat  float64 `json:"repeat"`  // share of repeated word bigrams (RepeatShare)
	Fluent  bool    `json:"fluent"`  // inside the real sentences' band
	Success float64 `json:"success"` // P if fluent, else 0
}

// Judge returns the verdict on each text for class.
//
// Success is the audit's probability itself, not a thresholded hit: it is a
// proper score (a prompt cannot gain by making continuations borderline),
// it moves by degrees where hits move in steps, so a handful of
// continuations per prompt give a usable estimate, and with the audit's
// flat class prior its chance level is 1/C. A text outside the perplexity
// band (word salad, degenerate repetition, nothing at all) scores 0 however
// the audit rates it.
func (j *Judge) Judge(ctx context.Context, texts []string, class string) ([]Verdict, error) {
	q, err := j.Audit.ClassIndex(class)
	if err != nil {
		return nil, err
	}
	p, err := j.Audit.Probs(ctx, texts)
	if err != nil {
		return nil, err
	}
	ppl, err := j.Ref.Perplexity(ctx, texts)
	if err != nil {
		return nil, err
	}
	out := make([]Verdict, len(texts))
	for i := range texts {
		v := Verdict{P: p[i][q], Top: j.Audit.Classes[argmax(p[i])], PPL: ppl[i], Repeat: RepeatShare(texts[i])}
		// A text without words is never fluent, whatever a reference LM
		// that scores the end-of-text token alone makes of it.
		v.Fluent = len(generator.Words(texts[i])) > 0 && j.Band.Fluent(v.PPL, v.Repeat)
		if v.Fluent {
			v.Success = v.P
		}
		out[i] = v
	}
	return out, nil
}

// Summary is the task score of a set of texts (one prompt's continuations,
// every prompt's, or real text): the mean success, and beside it what it is
// made of and how diverse the texts are.
type Summary struct {
	N         int     `json:"n"`
	Score     float64 `json:"score"`       // mean success: the task score
	Fluent    float64 `json:"fluent"`      // share inside the perplexity band
	Hit       float64 `json:"hit"`         // share fluent with P(class) ≥ 0.5: the one-vs-rest audit's verdict
	MeanP     float64 `json:"mean_p"`      // mean audit P(class), fluent or not
	Distinct2 float64 `json:"distinct_2"`  // distinct word bigrams / all (metrics.DistinctN)
	SelfBLEU3 float64 `json:"self_bleu_3"` // Texygen's self-BLEU-3 over the texts (higher = less diverse)
}

// Summarize folds verdicts on texts into a Summary.
func Summarize(texts []string, vs []Verdict) Summary {
	s := Summary{N: len(vs)}
	if len(vs) == 0 {
		return s
	}
	for _, v := range vs {
		s.Score += v.Success
		s.MeanP += v.P
		if v.Fluent {
			s.Fluent++
			if v.P >= 0.5 {
				s.Hit++
			}
		}
	}
	n := float64(len(vs))
	s.Score, s.MeanP, s.Fluent, s.Hit = s.Score/n, s.MeanP/n, s.Fluent/n, s.Hit/n
	words := generator.WordIDs(texts)
	s.Distinct2 = metrics.DistinctN(words, 2)
	s.SelfBLEU3 = metrics.SelfBLEU(words, 3, 200)
	return s
}

// ScoreTexts judges texts directly (no target): the real-text score.
func (j *Judge) ScoreTexts(ctx context.Context, texts []string, class string) (Summary, error) {
	vs, err := j.Judge(ctx, texts, class)
	if err != nil {
		return Summary{}, err
	}
	return Summarize(texts, vs), nil
}

// PromptScore is one prompt's task score over its continuations.
type PromptScore struct {
	Prompt        string    `json:"prompt"`
	Score         float64   `json:"score"` // mean success over the continuations
	Continuations []string  `json:"continuations"`
	Verdicts      []Verdict `json:"verdicts"`
}

// Report is the task score of a set of prompts.
type Report struct {
	Class   string        `json:"class"`
	Prompts []PromptScore `json:"prompts"`
	Summary               // over every continuation of every prompt; Score = the prompts' mean
	Calls   int           `json:"calls"` // target calls made (one per continuation)
}

// Score is the task score of prompts for class: each prompt is filled into
// tmpl and continued by the target once per seed (the same seeds for every
// prompt: fixed evaluation seeds, so prompts are compared on equal draws),
// in one batched call through targets.ContinueText; each continuation is
// judged, and a prompt's score is the mean success of its continuations.
// Report.Score is the mean over prompts (equal to the mean over all
// continuations, as every prompt has len(seeds)).
func Score(ctx context.Context, j *Judge, target targets.TextTarget, tmpl task.Template, class string, prompts []string, seeds []uint64) (Report, error) {
	if len(prompts) == 0 || len(seeds) == 0 {
		return Report{}, fmt.Errorf("task score: %d prompts and %d seeds: need at least one of each", len(prompts), len(seeds))
	}
	if _, err := j.Audit.ClassIndex(class); err != nil {
		return Report{}, fmt.Errorf("task score: %w", err)
	}
	contexts := make([]string, 0, len(prompts)*len(seeds))
	all := make([]uint64, 0, cap(contexts))
	for _, p := range prompts {
		c := tmpl.Fill(p, "")
		for _, s := range seeds {
			contexts = append(contexts, c)
			all = append(all, s)
		}
	}
	gens, err := targets.ContinueText(ctx, target, contexts, all)
	if err != nil {
		return Report{}, fmt.Errorf("task score: %w", err)
	}
	vs, err := j.Judge(ctx, gens, class)
	if err != nil {
		return Report{}, fmt.Errorf("task score: %w", err)
	}
	r := Report{Class: class, Summary: Summarize(gens, vs), Calls: len(gens)}
	k := len(seeds)
	for i, p := range prompts {
		ps := PromptScore{Prompt: p, Continuations: gens[i*k : (i+1)*k], Verdicts: vs[i*k : (i+1)*k]}
		for _, v := range ps.Verdicts {
			ps.Score += v.Success
		}
		ps.Score /= float64(k)
		r.Prompts = append(r.Prompts, ps)
	}
	return r, nil
}

// EvalSeeds returns n fixed evaluation seeds (1..n): every method's prompts
// are scored on the same continuation draws.
func EvalSeeds(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(i + 1)
	}
	return s
}
