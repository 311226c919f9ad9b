package english

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"promptgan/generator"
	"promptgan/internal/nn"
)

// LMOptions are the sizes and training settings of the two LMs.
type LMOptions struct {
	Emb, Hidden       int     // the target LM's widths
	Epochs            int     // the target LM's passes over its documents
	RefEmb, RefHidden int     // the reference LM's widths
	RefEpochs         int     // the reference LM's passes
	Batch             int     // sequences per step
	LR                float64 // Adam's learning rate (halved after an epoch that does not improve validation)
	MaxTokens         int     // a document's tokens at most (instruction, separator, text, <eos>); longer texts are cut
	MinCount          int     // a word needs this many occurrences outside the test part to be in the vocabulary
	// WordDropout is the share of the target LM's text tokens replaced by
	// <unk> (and not predicted) in each epoch's documents: the text it
	// reads is noisier, so it leans on the instruction (Bowman et al.
	// 2016's word dropout) and memorises the texts more slowly.
	WordDropout float64
	Seed        uint64
	// Shares of the target LM's documents whose instruction is empty,
	// vague (Vague) or misleading (another class's); the rest get one of
	// their own class's training instructions.
	EmptyShare, VagueShare, MisleadShare float64
	// Balance gives every class the same number of the target LM's
	// documents in each epoch (see balanced).
	Balance bool
}

// DefaultLMOptions returns the settings of the built-in LMs (chosen by
// measurement: docs/BENCHMARKS.md).
func DefaultLMOptions() LMOptions {
	return LMOptions{
		Emb: 64, Hidden: 256, Epochs: 8, RefEmb: 64, RefHidden: 128, RefEpochs: 6,
		Batch: 16, LR: 0.005, MaxTokens: 64, MinCount: 2, WordDropout: 0.3, Seed: 1,
		// Misleading instructions (another class's) measured to halve how far
		// an instruction moves the LM (docs/BENCHMARKS.md); none are used.
		EmptyShare: 0.05, VagueShare: 0.05, MisleadShare: 0, Balance: true,
	}
}

// Validate reports the first invalid field.
func (o LMOptions) Validate() error {
	switch {
	case o.Emb < 1 || o.Hidden < 1 || o.RefEmb < 1 || o.RefHidden < 1:
		return fmt.Errorf("LM widths emb %d hidden %d, ref emb %d hidden %d: must be ≥ 1", o.Emb, o.Hidden, o.RefEmb, o.RefHidden)
	case o.Epochs < 1 || o.RefEpochs < 1:
		return fmt.Errorf("LM epochs %d, ref epochs %d: must be ≥ 1", o.Epochs, o.RefEpochs)
	case o.Batch < 1:
		return fmt.Errorf("LM batch %d: must be ≥ 1", o.Batch)
	case !(o.LR > 0):
		return fmt.Errorf("LM learning rate %v: must be > 0", o.LR)
	case o.MaxTokens < 8:
		return fmt.Errorf("LM max tokens %d: must be ≥ 8", o.MaxTokens)
	case o.WordDropout < 0 || o.WordDropout >= 1:
		return fmt.Errorf("LM word dropout %v: must be in [0, 1)", o.WordDropout)
	case o.MinCount < 1:
		return fmt.Errorf("LM min count %d: must be ≥ 1", o.MinCount)
	case o.EmptyShare < 0 || o.VagueShare < 0 || o.MisleadShare < 0 || o.EmptyShare+o.VagueShare+o.MisleadShare > 1:
		return fmt.Errorf("LM instruction shares empty %v vague %v misleading %v: must be ≥ 0 and sum to ≤ 1", o.EmptyShare, o.VagueShare, o.MisleadShare)
	}
	return nil
}

// seq is one training document: its tokens and the weight of each token's
// −log p (0 for the instruction and separator, which are given, not learnt).
type seq struct {
	tokens  []int32
	weights []float32
}

// document returns the tokens of "instruction => text <eos>" (the
// instruction omitted for a plain LM when instruction is nil) cut to
// maxTokens, and their weights.
func document(v *Vocab, instruction *string, text string, maxTokens int) seq {
	var s seq
	if instruction != nil {
		s.tokens = append(v.Encode(*instruction), SepID)
		s.weights = make([]float32, len(s.tokens))
	}
	body := v.Encode(text)
	if room := maxTokens - len(s.tokens) - 1; len(body) > room {
		body = body[:max(room, 0)]
	}
	s.tokens = append(append(s.tokens, body...), EOSID)
	for range len(body) + 1 {
		s.weights = append(s.weights, 1)
	}
	return s
}

// dropWords replaces each text token of s (weight > 0, not <eos>) by
// <unk> with probability p and stops predicting it; the next token then
// reads <unk>. s is changed in place.
func dropWords(s seq, p float64, rng *nn.RNG) {
	if p == 0 {
		return
	}
	for i, w := range s.weights {
		if w > 0 && s.tokens[i] != EOSID && rng.Float64() < p {
			s.tokens[i], s.weights[i] = UnkID, 0
		}
	}
}

// validation reports whether a training text is kept out of training to
// choose the epoch (~5%, by hash, so the choice is fixed by the text).
func validation(text string) bool {
	h := sha256.Sum256([]byte("validation:" + key(text)))
	return h[0] < 13
}

// hasSpecial reports whether the text contains the separator or a special
// token's name: the tokenizer would read them as such, and they would teach
// the model that they appear inside text.
func hasSpecial(text string) bool {
	if slices.Contains(Words(text), Separator) {
		return true
	}
	for _, s := range []string{PadToken, UnkToken, BOSToken, EOSToken} {
		if strings.Contains(strings.ToLower(text), s) {
			return true
		}
	}
	return false
}

// instructionFor picks a document's instruction for one epoch.
func instructionFor(class string, o LMOptions, rng *nn.RNG, train map[string][]string, others []string) string {
	u := rng.Float64()
	switch {
	case u < o.EmptyShare:
		return ""
	case u < o.EmptyShare+o.VagueShare:
		return Vague[rng.IntN(len(Vague))]
	case u < o.EmptyShare+o.VagueShare+o.MisleadShare:
		var other string
		for other = others[rng.IntN(len(others))]; other == class; other = others[rng.IntN(len(others))] {
		}
		return train[other][rng.IntN(len(train[other]))]
	default:
		return train[class][rng.IntN(len(train[class]))]
	}
}

// batches packs seqs into (B, T) batches: shuffled, then sorted by length
// within windows of 16 batches so that little is padding, then the batches
// shuffled. Padding is <pad> with weight 0; each weight is divided by the
// batch's count of weighted tokens, so a step's loss is the mean −log p.
func batches(seqs []seq, B int, rng *nn.RNG) []generator.Batch {
	order := rng.Perm(len(seqs))
	window := 16 * B
	for lo := 0; lo < len(order); lo += window {
		w := order[lo:min(lo+window, len(order))]
		slices.SortStableFunc(w, func(a, b int) int { return cmp.Compare(len(seqs[a].tokens), len(seqs[b].tokens)) })
	}
	var out []generator.Batch
	for lo := 0; lo < len(order); lo += B {
		idx := order[lo:min(lo+B, len(order))]
		T := 0
		for _, i := range idx {
			T = max(T, len(seqs[i].tokens))
		}
		bt := generator.Batch{B: len(idx), T: T, Tokens: make([]int32, len(idx)*T), Weights: make([]float32, len(idx)*T)}
		var n float32
		for r, i := range idx {
			copy(bt.Tokens[r*T:], seqs[i].tokens)
			copy(bt.Weights[r*T:], seqs[i].weights)
			for _, w := range seqs[i].weights {
				n += w
			}
		}
		for j := range bt.Weights {
			bt.Weights[j] /= max(n, 1)
		}
		out = append(out, bt)
	}
	rng.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out
}

// nll returns the total −log p of the weighted tokens of seqs under m and
// their count (weights taken as 0/1).
func nll(m *generator.Model, seqs []seq) (total float64, n int) {
	each, counts := nllEach(m, seqs)
	for i := range each {
		total += each[i]
		n += counts[i]
	}
	return total, n
}

// nllEach returns each sequence's −log p over its weighted tokens and
// their count, scoring in chunks of similar lengths.
func nllEach(m *generator.Model, seqs []seq) (each []float64, n []int) {
	each, n = make([]float64, len(seqs)), make([]int, len(seqs))
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(seqs[a].tokens), len(seqs[b].tokens)) })
	for lo := 0; lo < len(order); lo += generator.EvalChunk {
		part := order[lo:min(lo+generator.EvalChunk, len(order))]
		T := 0
		for _, i := range part {
			T = max(T, len(seqs[i].tokens))
		}
		toks := make([]int32, len(part)*T)
		for r, i := range part {
			copy(toks[r*T:], seqs[i].tokens)
		}
		lp := m.LogProbs(toks, len(part), T, 1, nil)
		for r, i := range part {
			for t, w := range seqs[i].weights {
				if w > 0 {
					each[i] -= float64(lp[r*T+t])
					n[i]++
				}
			}
		}
	}
	return each, n
}

// trainConfig is one LM's training run.
type trainConfig struct {
	name        string
	cfg         generator.Config
	epochs      int
	batch       int
	lr          float64
	seed        uint64
	epochSeqs   func(epoch int, rng *nn.RNG) []seq // the documents of an epoch (instructions drawn anew)
	val         []seq
	log         *slog.Logger
	epochReport func(m *generator.Model) []any // extra key/values logged after each epoch; nil = none
}

// TrainStats summarises an LM's training.
type TrainStats struct {
	Params     int       `json:"params"`
	Epochs     int       `json:"epochs"`
	BestEpoch  int       `json:"best_epoch"`
	ValNLL     []float64 `json:"val_nll"` // per epoch, per weighted token
	Seconds    float64   `json:"-"`       // wall time, logged: not in report.json, which is byte-deterministic
	TrainToks  int       `json:"train_tokens_per_epoch"`
	Vocabulary int       `json:"vocabulary"`
}

// train runs MLE with Adam and returns the model at the epoch of lowest
// validation NLL. The learning rate halves after an epoch that does not
// improve it. Deterministic given the seed (on one build: the pure-Go and
// OpenBLAS kernels round differently).
func train(ctx context.Context, tc trainConfig) (*generator.Model, TrainStats, error) {
	start := time.Now()
	m := generator.New(tc.cfg, nn.NewRNG(tc.seed, 1))
	// Forget gates start open (bias 1, Jozefowicz et al. 2015): at 0 each
	// step halves what the state keeps, and the instruction must survive
	// the whole text for the target LM to be steerable.
	H := tc.cfg.Hidden
	for j := H; j < 2*H; j++ {
		m.LSTM.B.W[j] = 1
	}
	ps := m.Params()
	adam := nn.NewAdam(nn.DefaultAdam(tc.lr), ps)
	dataRNG := nn.NewRNG(tc.seed, 2)
	st := TrainStats{Params: ps.Count(), Epochs: tc.epochs, Vocabulary: tc.cfg.Vocab}
	best := math.Inf(1)
	var bestW map[string]nn.Array
	for ep := 1; ep <= tc.epochs; ep++ {
		seqs := tc.epochSeqs(ep, dataRNG)
		st.TrainToks = 0
		for _, s := range seqs {
			st.TrainToks += len(s.tokens)
		}
		var loss float64
		bs := batches(seqs, tc.batch, dataRNG)
		for i, bt := range bs {
			if i%16 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, st, err
				}
			}
			ps.ZeroGrad()
			loss += m.Backprop(bt).Loss
			adam.Update(ps)
		}
		tot, n := nll(m, tc.val)
		v := tot / float64(max(n, 1))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, st, fmt.Errorf("%s LM: validation NLL is %v after epoch %d: training diverged; lower the learning rate", tc.name, v, ep)
		}
		st.ValNLL = append(st.ValNLL, v)
		kv := []any{"lm", tc.name, "epoch", ep, "train_nll", loss / float64(len(bs)), "val_nll", v, "val_ppl", math.Exp(v), "lr", adam.LR(), "elapsed", time.Since(start).Round(time.Second)}
		if tc.epochReport != nil {
			kv = append(kv, tc.epochReport(m)...)
		}
		tc.log.Info("english LM epoch", kv...)
		if v < best {
			best, bestW, st.BestEpoch = v, ps.Weights(), ep
		} else {
			adam.LRScale /= 2
		}
	}
	if err := ps.SetWeights(bestW); err != nil {
		return nil, st, err
	}
	st.Seconds = time.Since(start).Seconds()
	return m, st, nil
}

// marshalConfig is the generator config as safetensors metadata.
func marshalConfig(c generator.Config) string {
	b, _ := json.Marshal(c) // a struct of numbers cannot fail
	return string(b)
}
