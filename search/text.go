package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"promptgan/checkpoints"
	"promptgan/discriminator"
	"promptgan/embeddings"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/targets"
	"promptgan/task"
)

// A text run is the same loop as every run, on text: G writes prompts over
// a prompt vocabulary (the task's frequent words, a phrase bank or the
// target's tokens), each prompt is decoded to text and filled into the
// task's template (with an input of the train split when the task has
// inputs), the target continues it, and the text discriminator — an MLP
// ensemble over sentence embeddings of (input, generation) — learns the
// task's good examples (real) against the generations (fake), the task's
// bad examples and replayed old fakes; G's reward is log D of its
// generations (credit: sequence). Evaluations calibrate D's temperature on
// the validation split and report its AUC, accuracy and ECE on the test
// split beside d_fake, its calibrated verdict on fresh generations.

// DFitPatience is how many epochs D's fit on the labelled items goes on
// without a lower validation loss.
const DFitPatience = 10

// Encoder names of Config.Encoder.
const DefaultEncoder = "glove-sif"

// textRun is the critic of a text run (critic): the task, its splits and
// template, the prompt vocabulary, the encoder and the text discriminator.
type textRun struct {
	tr     *Trainer
	task   *task.Text
	splits task.Splits
	tmpl   task.Template
	vocab  *generator.Vocab
	enc    embeddings.Encoder
	target targets.TextTarget // its Model is replaced by the Trainer's Target (the ledger) at each call
	disc   *discriminator.TextEnsemble

	train, val, test labelled
	surface          []surfaceCheck   // surface features that tell the train split's good texts from its bad
	good, bad        *batches         // cursors over the train split's good and bad items (T = 1 index tables)
	inputs           *batches         // over the train split's examples, for tasks with inputs; nil for input-free
	replay           *Replay[float32] // old fakes' feature rows
	prior            *task.Sequences  // prompt_len windows of the good train texts (or the example prompts) in G's vocabulary, for MLE (mle_steps, mle_weight); nil = none
	examples         bool             // the prior is the example prompts (prompt_examples)
}

// labelled is a split's items with their features.
type labelled struct {
	items []task.Labeled
	x     []float32 // (n, F)
	good  []bool
}

func (l labelled) n() int { return len(l.items) }

// IsText reports whether the run is a text run (a task is set).
func (c Config) IsText() bool { return c.Task != "" }

// MinReadableWords is the fewest words a words vocabulary of the good
// texts may keep once the words the target cannot read are left out: fewer
// cannot write varied prompts.
const MinReadableWords = 8

// textVocab builds the prompt vocabulary that cfg names; texts are the
// prior's (priorTexts), whose words a words vocabulary is. A words
// vocabulary of the good texts leaves out the words the target's tokenizer
// does not give back (a word-level tokenizer's <unk>): prompts made of them
// would all read alike to the target. note says how many were left out;
// example prompts and phrase banks are the user's own words and are refused
// instead, naming the first such word.
func textVocab(cfg Config, texts []string, tt *targets.TextTarget, fingerprint string) (v *generator.Vocab, note string, err error) {
	if tt == nil {
		return nil, "", nil // no target: the run scores pairs only and writes no prompts
	}
	kind, arg, _ := strings.Cut(cfg.PromptVocab, ":")
	switch kind {
	case "", generator.VocabWords:
		if cfg.PromptExamples != "" {
			v, err := generator.WordsVocab(texts, cfg.PromptWords)
			if err != nil {
				return nil, "", fmt.Errorf("words vocabulary of %s: %w", cfg.PromptExamples, err)
			}
			return v, "", outsideTarget(v.Pieces, cfg.PromptExamples, "word", tt.Tokenizer)
		}
		v, refused, err := generator.WordsVocabOf(texts, cfg.PromptWords, func(w string) bool { return readable(tt.Tokenizer, w) })
		if err == nil && len(refused) > 0 && len(v.Pieces) < MinReadableWords {
			err = fmt.Errorf("%d word(s) left once the %d the target's tokenizer cannot read are left out (e.g. %s), fewer than %d: use prompt_vocab: target or phrases:FILE, or a target whose tokenizer knows the task's words", len(v.Pieces), len(refused), quoteFew(refused, 3), MinReadableWords)
		}
		if err != nil {
			return nil, "", fmt.Errorf("words vocabulary of the good train texts: %w", err)
		}
		if len(refused) > 0 {
			note = fmt.Sprintf("prompt vocabulary: %d of the good texts' %d distinct words left out, the target's tokenizer cannot read them (e.g. %s); %d words kept", len(refused), countWords(texts), quoteFew(refused, 3), len(v.Pieces))
		}
		return v, note, nil
	case generator.VocabPhrases:
		v, err := generator.LoadPhrases(arg)
		if err != nil {
			return nil, "", err
		}
		return v, "", outsideTarget(v.Pieces, arg, "phrase", tt.Tokenizer)
	case generator.VocabTarget:
		v, err := generator.TargetVocab(cfg.Generator.Vocab, tt.Tokenizer.Decode, fingerprint)
		return v, "", err
	}
	return nil, "", fmt.Errorf("prompt_vocab = %q: choose words, target or phrases:FILE", cfg.PromptVocab)
}

// readable reports whether the target's tokenizer gives word back (case
// and spacing ignored).
func readable(tok targets.Tokenizer, word string) bool {
	if tok == nil {
		return true
	}
	back, err := asTarget(tok, word)
	return err == nil && normPiece(back) == normPiece(word)
}

func normPiece(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }

// countWords is the number of distinct words of texts.
func countWords(texts []string) int {
	seen := map[string]bool{}
	for _, t := range texts {
		for _, w := range generator.Words(t) {
			seen[w] = true
		}
	}
	return len(seen)
}

// quoteFew quotes the first n of words, comma-separated.
func quoteFew(words []string, n int) string {
	q := make([]string, 0, n)
	for _, w := range words[:min(n, len(words))] {
		q = append(q, strconv.Quote(w))
	}
	return strings.Join(q, ", ")
}

// priorTexts are the texts a words vocabulary and G's MLE prior come from:
// the example prompts (prompt_examples), else the good items of the train
// split.
func priorTexts(cfg Config, train []task.Labeled) ([]string, error) {
	if cfg.PromptExamples != "" {
		return generator.LoadExamples(cfg.PromptExamples)
	}
	var texts []string
	for _, it := range train {
		if it.Good {
			texts = append(texts, it.Text)
		}
	}
	return texts, nil
}

// outsideTarget refuses pieces (words or phrases of file) that the target's
// tokenizer does not give back — a word-level tokenizer's unknown word, a
// character it drops — because a prompt made of them would not say to the
// target what G and D take it to say. The comparison ignores case and
// spacing (tokenizers that lower-case or split punctuation pass).
func outsideTarget(pieces []string, file, what string, tok targets.Tokenizer) error {
	if tok == nil {
		return nil
	}
	for _, p := range pieces {
		back, err := asTarget(tok, p)
		if err != nil {
			return fmt.Errorf("%s: %s %q: the target's tokenizer: %w", file, what, p, err)
		}
		if normPiece(back) != normPiece(p) {
			return fmt.Errorf("%s: %s %q is outside the target's vocabulary (its tokenizer gives back %q): remove it or use words the target knows", file, what, p, back)
		}
	}
	return nil
}

// asTarget is text as the target writes it: encoded and decoded by its
// tokenizer.
func asTarget(tok targets.Tokenizer, text string) (string, error) {
	ids, err := tok.Encode(text)
	if err != nil {
		return "", err
	}
	return tok.Decode(ids)
}

// loadTextTask reads cfg's task, splits it and parses its template.
func loadTextTask(cfg Config) (*task.Text, task.Splits, task.Template, error) {
	path, err := task.Resolve(cfg.Task)
	if err != nil {
		return nil, task.Splits{}, task.Template{}, err
	}
	tk, err := task.LoadText(path)
	if err != nil {
		return nil, task.Splits{}, task.Template{}, err
	}
	sp, err := tk.Split(cfg.SplitSeed, cfg.ValidationShare, cfg.TestShare)
	if err != nil {
		return nil, task.Splits{}, task.Template{}, fmt.Errorf("split %s: %w", path, err)
	}
	tmplText := cfg.Template
	if tmplText == "" {
		tmplText = task.DefaultTemplate(tk.InputFree)
	}
	tmpl, err := task.ParseTemplate(tmplText)
	if err == nil {
		err = tmpl.Check(tk)
	}
	if err != nil {
		err = badConfig{err} // a bad template value (a flag or a config key) is the user's mistake, as a bad flag is
	}
	return tk, sp, tmpl, err
}

// CheckText reads what a text run reads before it starts — the task, its
// split, the template, a phrase bank, the encoder's name — so that bad data
// is reported before the target model is loaded. New checks it all again.
func CheckText(cfg Config) error {
	if !cfg.IsText() {
		return nil
	}
	if _, _, _, err := loadTextTask(cfg); err != nil {
		return err
	}
	if kind, file, _ := strings.Cut(cfg.PromptVocab, ":"); kind == generator.VocabPhrases {
		if _, err := generator.LoadPhrases(file); err != nil {
			return err
		}
	}
	if cfg.PromptExamples != "" {
		if _, err := generator.LoadExamples(cfg.PromptExamples); err != nil {
			return err
		}
	}
	if _, err := embeddings.ParseSpec(cfg.Encoder); err != nil {
		return badConfig{fmt.Errorf("encoder: %w", err)}
	}
	return nil
}

// newTextRun loads cfg's task, splits it, builds the prompt vocabulary (and
// sets generator.vocab from it), opens the encoder (GloVe-SIF fitted on the
// train split's texts), encodes every labelled item once and builds the
// text discriminator.
func newTextRun(ctx context.Context, trainer *Trainer, tg targets.Model) (*textRun, error) {
	cfg := &trainer.Cfg
	// tg is nil only when a checkpoint is loaded to score pairs (no target calls).
	tt, ok := tg.(*targets.TextTarget)
	if tg != nil && !ok {
		return nil, fmt.Errorf("a text run needs a target that reads and writes text (a model with tokenizer.json), got %s", tg.Fingerprint())
	}
	tk, sp, tmpl, err := loadTextTask(*cfg)
	if err != nil {
		return nil, err
	}
	targetPrint := ""
	if tg != nil {
		targetPrint = tg.Fingerprint()
	}
	var prior []string // read once: the words vocabulary and G's MLE prior both come from it
	if tt != nil {
		if prior, err = priorTexts(*cfg, tk.Labeled(sp.Train)); err != nil {
			return nil, err
		}
	}
	vocab, note, err := textVocab(*cfg, prior, tt, targetPrint)
	if err != nil {
		return nil, err
	}
	if vocab != nil {
		if cfg.Generator.Vocab != 0 && cfg.Generator.Vocab != vocab.Size() {
			return nil, fmt.Errorf("%w: the prompt vocabulary (%s) has %d entries, the run's generator %d", ErrDataChanged, cfg.PromptVocab, vocab.Size(), cfg.Generator.Vocab)
		}
		cfg.Generator.Vocab = vocab.Size()
	}
	spec, err := embeddings.ParseSpec(cfg.Encoder)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	splits := [3][]task.Labeled{tk.Labeled(sp.Train), tk.Labeled(sp.Val), tk.Labeled(sp.TestIdx)}
	var corpus []string
	for _, it := range splits[0] {
		corpus = append(corpus, it.Text)
	}
	enc, err := embeddings.OpenFitted(ctx, spec, corpus)
	if err != nil {
		return nil, fmt.Errorf("encoder %s: %w", cfg.Encoder, err)
	}
	cfg.TextDiscriminator.Dim, cfg.TextDiscriminator.InputFree = enc.Dim(), tk.InputFree
	if err := cfg.TextDiscriminator.Validate(); err != nil {
		return nil, err
	}
	if note != "" {
		trainer.notes = append(trainer.notes, note)
	}
	r := &textRun{tr: trainer, task: tk, splits: sp, tmpl: tmpl, vocab: vocab, enc: embeddings.NewCache(enc, 1<<16), examples: cfg.PromptExamples != ""}
	if tt != nil {
		r.target = *tt
	}
	r.disc = discriminator.NewText(cfg.TextDiscriminator, nn.NewRNG(cfg.Seed, streamInitD))
	for i, items := range splits {
		l := labelled{items: items, good: make([]bool, len(items))}
		inputs, texts := make([]string, len(items)), make([]string, len(items))
		for j, it := range items {
			l.good[j], inputs[j], texts[j] = it.Good, it.Input, it.Text
			if cfg.LabelledAsTarget && tt != nil { // without the target (scoring pairs) D does not train on them
				if texts[j], err = asTarget(tt.Tokenizer, it.Text); err != nil {
					return nil, fmt.Errorf("labelled_as_target: item %d of the %s split: %w", j, [3]string{"train", "validation", "test"}[i], err)
				}
			}
		}
		if l.x, err = r.features(ctx, inputs, texts); err != nil {
			return nil, fmt.Errorf("encode the task's texts: %w", err)
		}
		if i == 0 {
			r.surface = surfaceChecks(texts, l.good)
			for _, c := range r.surface {
				trainer.notes = append(trainer.notes, c.note())
			}
		}
		switch i {
		case 0:
			r.train = l
		case 1:
			r.val = l
		default:
			r.test = l
		}
	}
	var good, bad []int32
	for i, g := range r.train.good {
		if g {
			good = append(good, int32(i))
		} else {
			bad = append(bad, int32(i))
		}
	}
	r.good = newBatches(&task.Sequences{N: len(good), T: 1, Tokens: good}, cfg.BatchSize*cfg.continuations(), cfg.Seed, streamTextGood)
	if len(bad) > 0 {
		r.bad = newBatches(&task.Sequences{N: len(bad), T: 1, Tokens: bad}, max(cfg.BatchSize*cfg.continuations()/2, 1), cfg.Seed, streamTextBad)
	}
	if !tk.InputFree {
		idx := make([]int32, len(sp.Train))
		for i, e := range sp.Train {
			idx[i] = int32(e)
		}
		r.inputs = newBatches(&task.Sequences{N: len(idx), T: 1, Tokens: idx}, cfg.BatchSize*cfg.continuations(), cfg.Seed, streamTextInputs)
	}
	r.replay = NewReplay[float32](cfg.ReplaySize, cfg.TextDiscriminator.Features())
	if vocab != nil && (cfg.MLESteps > 0 || cfg.MLEWeight > 0) {
		if r.prior, err = textPrior(*cfg, prior, vocab, tt); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// textPrior cuts the prior's texts (priorTexts: the example prompts, else
// the train split's good texts) into prompt_len windows of G's vocabulary
// — the prompts G pre-trains on by MLE, so that it starts from text that
// reads like them. With the words vocabulary a text is split at words
// outside it (a window never spans a gap); with the target's tokens it is
// the tokenizer's encoding.
func textPrior(cfg Config, texts []string, vocab *generator.Vocab, tt *targets.TextTarget) (*task.Sequences, error) {
	k := cfg.PromptLen
	index := map[string]int32{}
	for i, w := range vocab.Pieces {
		index[w] = int32(i)
	}
	var windows []int32
	addWindows := func(seg []int32) {
		for j := 0; j+k <= len(seg); j++ {
			windows = append(windows, seg[j:j+k]...)
		}
	}
	for _, text := range texts {
		if vocab.Kind == generator.VocabTarget {
			ids, err := tt.Tokenizer.Encode(text)
			if err != nil {
				return nil, fmt.Errorf("prior for G's MLE: %w", err)
			}
			addWindows(ids)
			continue
		}
		var seg []int32
		for _, w := range generator.Words(text) {
			id, ok := index[w]
			if !ok {
				addWindows(seg)
				seg = seg[:0]
				continue
			}
			seg = append(seg, id)
		}
		addWindows(seg)
	}
	n := len(windows) / k
	if n == 0 {
		src := "the good train texts hold"
		if cfg.PromptExamples != "" {
			src = cfg.PromptExamples + " holds"
		}
		return nil, fmt.Errorf("mle_steps = %d, mle_weight = %v: %s no run of %d tokens of the prompt vocabulary to pre-train G on; lower prompt_len or set both to 0", cfg.MLESteps, cfg.MLEWeight, src, k)
	}
	return &task.Sequences{N: n, T: k, Tokens: windows}, nil
}

// features encodes inputs (unless the task is input-free) and texts and
// returns their (n, F) feature rows.
func (r *textRun) features(ctx context.Context, inputs, texts []string) ([]float32, error) {
	ey, err := r.enc.Encode(ctx, texts)
	if err != nil {
		return nil, err
	}
	var ex [][]float32
	if !r.task.InputFree {
		if ex, err = r.enc.Encode(ctx, inputs); err != nil {
			return nil, err
		}
	}
	return discriminator.TextFeatures(r.disc.Cfg, ex, ey, texts)
}

// rows gathers the feature rows of items idx of l.
func (l labelled) rows(idx []int32, F int) []float32 {
	out := make([]float32, 0, len(idx)*F)
	for _, i := range idx {
		out = append(out, l.x[int(i)*F:(int(i)+1)*F]...)
	}
	return out
}

// promptTexts decodes the (n, prompt_len) prompts to text.
func (r *textRun) promptTexts(prompts []int32) ([]string, error) {
	if r.vocab == nil {
		return nil, errors.New("this run was loaded without its target: it can score pairs only")
	}
	k := r.tr.Cfg.PromptLen
	out := make([]string, len(prompts)/k)
	for i := range out {
		var err error
		if out[i], err = r.vocab.Text(prompts[i*k : (i+1)*k]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PromptTexts decodes (n, prompt_len) prompts of a text run's generator
// (SamplePrompts) to text, as the run puts them to the target.
func (tr *Trainer) PromptTexts(prompts []int32) ([]string, error) {
	r := tr.textRun()
	if r == nil {
		return nil, ErrNotText
	}
	return r.promptTexts(prompts)
}

// textRun returns a text run's critic, or nil in a token run.
func (tr *Trainer) textRun() *textRun {
	r, _ := tr.critic.(*textRun)
	return r
}

// generate fills each prompt text into the template with its input and has
// the target continue it (through the ledger when the run uses one); the
// trainer's Calls counts the requests.
func (r *textRun) generate(ctx context.Context, promptTexts, inputs []string, seeds []uint64) ([]string, error) {
	tr := r.tr
	if tr.Target == nil || r.vocab == nil {
		return nil, errors.New("this run was loaded without its target: it can score pairs only")
	}
	contexts := make([]string, len(promptTexts))
	for i, p := range promptTexts {
		contexts[i] = r.tmpl.Fill(p, inputs[i])
	}
	tt := r.target
	tt.Model = tr.Target
	gens, err := targets.ContinueText(ctx, tt, contexts, seeds)
	tr.Calls += len(seeds)
	return gens, err
}

// trainInputs returns the inputs of n requests: the train split's, in
// their per-epoch order, or "" for an input-free task.
func (r *textRun) trainInputs(n int) []string {
	out := make([]string, n)
	if r.inputs == nil {
		return out
	}
	idx := r.inputs.next()
	for i := range out {
		out[i] = r.task.Examples[idx[i%len(idx)]].Input
	}
	return out
}

func (r *textRun) members() []nn.Params { return paramsOf(r.disc.Members) }

// judge has the target continue each prompt text (with its input and
// seed) and D score the generations.
func (r *textRun) judge(ctx context.Context, texts, inputs []string, seeds []uint64) ([]string, discriminator.TextScores, error) {
	gens, err := r.generate(ctx, texts, inputs, seeds)
	if err != nil {
		return nil, discriminator.TextScores{}, err
	}
	x, err := r.features(ctx, inputs, gens)
	if err != nil {
		return nil, discriminator.TextScores{}, fmt.Errorf("encode generations: %w", err)
	}
	return gens, r.disc.Score(x, len(gens)), nil
}

// start: each prompt's text is continued C times, each with its own train
// input; the update's examples are the train split's good items (real,
// label 1−ε), the fresh generations (fake), the task's bad items (weight
// bad_weight) and replayed old fakes (weight replay_weight), as feature
// rows.
func (r *textRun) start(ctx context.Context, prompts []int32, seeds []uint64, C int) (func() (judged, map[string]float64), error) {
	tr := r.tr
	F := r.disc.Cfg.Features()
	texts, err := r.promptTexts(prompts)
	if err != nil {
		return nil, err
	}
	reqTexts := make([]string, 0, len(seeds))
	for _, t := range texts {
		for range C {
			reqTexts = append(reqTexts, t)
		}
	}
	inputs := r.trainInputs(len(seeds))
	gens, err := r.generate(ctx, reqTexts, inputs, seeds)
	if err != nil {
		return nil, err
	}
	if tr.OnTextGenerations != nil {
		tr.OnTextGenerations(prompts, reqTexts, gens)
	}
	fake, err := r.features(ctx, inputs, gens)
	if err != nil {
		return nil, fmt.Errorf("encode generations: %w", err)
	}
	real := r.train.rows(r.good.next(), F)
	var bad []float32
	if r.bad != nil && tr.Cfg.BadWeight > 0 {
		bad = r.train.rows(r.bad.next(), F)
	}
	old := r.replay.Sample(tr.Cfg.BatchSize/2, tr.sampleRNG)
	return func() (judged, map[string]float64) {
		return judged{prompts: prompts, fake: fake}, r.update(real, fake, bad, old)
	}, nil
}

// update takes one step of every D member on L_D over the real, fake, bad
// and replayed rows, and adds the fakes to the replay buffer. The terms'
// weights are divided by their sum, so that loss_d reads as a mean over
// the terms whatever bad_weight and replay_weight are.
func (r *textRun) update(real, fake, bad, old []float32) map[string]float64 {
	cfg, F := r.tr.Cfg, r.disc.Cfg.Features()
	gan := discriminator.GANSets(len(real)/F, len(fake)/F, len(old)/F, cfg.LabelSmoothing, cfg.ReplayWeight)
	all := []discriminator.Set{gan[0], gan[1], {N: len(bad) / F, Label: 0, Weight: cfg.BadWeight}, gan[2]}
	var x []float32
	var sets []discriminator.Set
	var wsum float64
	for i, rows := range [][]float32{real, fake, bad, old} {
		if s := all[i]; s.N > 0 && s.Weight != 0 {
			x, sets, wsum = append(x, rows...), append(sets, s), wsum+s.Weight
		}
	}
	for i := range sets {
		sets[i].Weight /= wsum
	}
	nReal, nFake := len(real)/F, len(fake)/F
	before := r.disc.Score(x[:(nReal+nFake)*F], nReal+nFake)
	loss := r.disc.TrainStep(r.tr.dOpts, x, sets)
	r.replay.Add(fake)
	return map[string]float64{
		"loss_d": loss, "d_real": mean(before.P[:nReal]), "d_fake": mean(before.P[nReal:]),
	}
}

// fit trains D on the train split's good (1−ε) and bad (0) items before it
// meets generations (discriminator.FitText, early stopping on the
// validation split): the labelled data teach the evaluator what the task
// means; the GAN then adds the generations as negatives. It needs bad
// items, and costs no target call.
func (r *textRun) fit() (map[string]float64, error) {
	cfg := r.tr.Cfg
	if cfg.DFitEpochs == 0 || r.bad == nil {
		return nil, nil
	}
	epochs, loss, err := discriminator.FitText(r.disc, r.tr.dOpts, r.train.x, r.train.n(), r.train.good, r.val.x, r.val.n(), r.val.good, discriminator.TextFitOptions{
		Seed: cfg.Seed ^ streamTextFit, MaxEpochs: cfg.DFitEpochs, Patience: DFitPatience, BatchSize: cfg.BatchSize, LabelSmoothing: cfg.LabelSmoothing,
	})
	if err != nil {
		return nil, fmt.Errorf("fit D on the task's labelled items: %w", err)
	}
	return map[string]float64{"d_fit_epochs": float64(epochs), "d_fit_val_loss": loss}, nil
}

// rewards: one per generation, log D of its feature row (credit: sequence).
func (r *textRun) rewards(j judged) ([]float64, float64, error) {
	rc := NonSaturatingRewards(float32s(r.disc.Score(j.fake, len(j.fake)/r.disc.Cfg.Features()).Logit))
	return rc, mean(rc), nil
}

func float32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// evaluate: D calibrated on the validation split (when it holds both
// classes), then
//   - auc, accuracy, ece, brier: D on the test split's good and bad items
//     (absent when the task has no bad items: nothing to tell apart);
//   - d_real: D's calibrated verdict on the test split's good items;
//   - d_fake, d_std, reward: on the prompts' generations (inputs from the
//     test split), with the members' spread;
//   - distinct_2, self_bleu_3 of the generations' words, prompt_distinct_1.
func (r *textRun) evaluate(ctx context.Context, prompts []int32, seeds []uint64, vals map[string]float64) ([]HallEntry, error) {
	if hasBoth(r.val.good) {
		t, err := r.disc.Calibrate(r.val.x, r.val.n(), r.val.good)
		if err != nil {
			return nil, fmt.Errorf("calibrate on the validation split: %w", err)
		}
		vals["temperature"], vals["calibration_bias"] = t, r.disc.Bias
	}
	ts := r.disc.Score(r.test.x, r.test.n())
	var goodP []float64
	for i, g := range r.test.good {
		if g {
			goodP = append(goodP, ts.P[i])
		}
	}
	vals["d_real"] = mean(goodP)
	if hasBoth(r.test.good) {
		for name, f := range map[string]func([]float64, []bool) (float64, error){
			"auc":   metrics.AUC,
			"brier": metrics.BrierScore,
			"ece":   func(p []float64, g []bool) (float64, error) { return metrics.ECE(p, g, ECEBins) },
			"accuracy": func(p []float64, g []bool) (float64, error) {
				return metrics.Accuracy(p, g, 0.5)
			},
		} {
			v, err := f(ts.P, r.test.good)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			vals[name] = v
		}
	}
	n, k := len(seeds), r.tr.Cfg.PromptLen
	texts, err := r.promptTexts(prompts)
	if err != nil {
		return nil, err
	}
	inputs := make([]string, n)
	if !r.task.InputFree {
		for i := range inputs {
			inputs[i] = r.task.Examples[r.splits.TestIdx[i%len(r.splits.TestIdx)]].Input
		}
	}
	gens, s, err := r.judge(ctx, texts, inputs, seeds)
	if err != nil {
		return nil, err
	}
	vals["d_fake"], vals["d_std"] = mean(s.P), mean(s.Std)
	vals["reward"] = mean(NonSaturatingRewards(float32s(s.Logit)))
	words := generator.WordIDs(gens)
	vals["distinct_2"] = metrics.DistinctN(words, 2)
	vals["self_bleu_3"] = metrics.SelfBLEU(words, 3, 200)
	vals["prompt_distinct_1"] = metrics.DistinctN(task.ToInts(prompts, n, k), 1)
	for _, c := range r.surface {
		f := make([]float64, n)
		for i, g := range gens {
			f[i] = c.of(g)
		}
		vals["surface_r2_"+c.name] = explained(f, s.P)
	}
	hall := make([]HallEntry, n)
	for i := range hall {
		hall[i] = HallEntry{Tokens: prompts[i*k : (i+1)*k], PromptText: texts[i], Input: inputs[i], GenerationText: gens[i], DScore: s.P[i], DStd: s.Std[i]}
	}
	return hall, nil
}

// ECEBins is the number of equal-width bins of the ECE a text run reports.
const ECEBins = 15

func hasBoth(good []bool) bool {
	var g, b bool
	for _, v := range good {
		g, b = g || v, b || !v
	}
	return g && b
}

// textFingerprints identify what a text run trains on.
func (r *textRun) fingerprints() map[string]string {
	rec, _ := json.Marshal(r.splits.Record())
	h := sha256.Sum256(rec)
	fp := map[string]string{
		"kind": KindText, "task": r.task.SHA256, "split": hex.EncodeToString(h[:]),
		"encoder": r.enc.Fingerprint(), "template": r.tmpl.String(),
	}
	if r.vocab != nil {
		fp["prompt_vocab"] = r.vocab.Fingerprint()
	}
	if r.examples && r.prior != nil {
		fp["prompt_examples"] = TokensHash(r.prior)
	}
	return fp
}

// sameData refuses a checkpoint of another task, split, prompt vocabulary,
// example prompts, encoder or template.
func (r *textRun) sameData(fp, saved map[string]string) error {
	for _, key := range []string{"task", "split", "prompt_vocab", "prompt_examples", "encoder", "template"} {
		if (key == "prompt_vocab" || key == "prompt_examples") && r.vocab == nil {
			continue // loaded without the target to score pairs: no prompts are written
		}
		if got, want := fp[key], saved[key]; got != want {
			if key == "task" || key == "split" || key == "prompt_examples" { // hex hashes
				got, want = short(got), short(want)+"…"
			}
			return fmt.Errorf("%w: the run's %s is not what the checkpoint was trained with (%s, was %s): resume with the original task (%s), split_seed, shares, prompt_vocab, prompt_examples, encoder and template", ErrDataChanged, key, got, want, r.tr.Cfg.Task)
		}
	}
	return nil
}

// save adds the replay buffer's feature rows, the cursors over the
// task's items and D's calibration.
func (r *textRun) save(st *trainerState, tensors map[string]map[string]checkpoints.Tensor) {
	st.ReplayHead, st.ReplayCount = r.replay.Head, r.replay.Count
	st.Text = &textState{GoodCursor: r.good.cursor, Temperature: r.disc.Temperature, Bias: r.disc.Bias, Split: r.splits.Record(), Vocab: r.vocab.Pieces}
	if r.bad != nil {
		st.Text.BadCursor = r.bad.cursor
	}
	if r.inputs != nil {
		st.Text.InputCursor = r.inputs.cursor
	}
	if r.replay.Count > 0 {
		tensors[fileReplay] = map[string]checkpoints.Tensor{
			"features": checkpoints.F32Tensor([]int{r.replay.Count, r.replay.Width}, slices.Clone(r.replay.Data)),
		}
	}
}

// restore loads what save stored.
func (r *textRun) restore(ck *checkpoints.Checkpoint, st trainerState) error {
	if err := restoreReplay(r.replay, ck, st, "features", "F32", func(t checkpoints.Tensor) []float32 { return t.F32 }, validateFeatures); err != nil {
		return err
	}
	ts := st.Text
	switch {
	case ts == nil:
		return fmt.Errorf("manifest.json: state.text is missing in a text run")
	case ts.GoodCursor < 0 || ts.BadCursor < 0 || ts.InputCursor < 0:
		return fmt.Errorf("manifest.json: state.text cursors %d, %d, %d: must not be negative", ts.GoodCursor, ts.BadCursor, ts.InputCursor)
	case !(ts.Temperature > 0) || math.IsInf(ts.Temperature, 0):
		return fmt.Errorf("manifest.json: state.text.temperature = %v: must be a positive number", ts.Temperature)
	case math.IsNaN(ts.Bias) || math.IsInf(ts.Bias, 0):
		return fmt.Errorf("manifest.json: state.text.bias = %v: must be a finite number", ts.Bias)
	}
	r.good.cursor = ts.GoodCursor
	if r.bad != nil {
		r.bad.cursor = ts.BadCursor
	}
	if r.inputs != nil {
		r.inputs.cursor = ts.InputCursor
	}
	r.disc.Temperature, r.disc.Bias = ts.Temperature, ts.Bias
	return nil
}
