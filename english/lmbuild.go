package english

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"

	"promptgan/generator"
	"promptgan/internal/atomicfile"
	"promptgan/internal/nn"
)

// ReportFile holds the LMs' sizes, training and held-out measurements
// (report.json) and REPORT.md the same as Markdown.
const (
	ReportFile   = "report.json"
	ReportMDFile = "REPORT.md"
)

// Report is what the build measured.
type Report struct {
	Target TrainStats `json:"target"`
	Ref    TrainStats `json:"ref"`
	// Perplexities on the test part (per token, <eos> included): the
	// target LM given a held-out instruction of the text's class, given
	// none ("=>" alone), and the reference LM.
	TargetPPLInstructed float64 `json:"target_ppl_instructed"`
	TargetPPLPlain      float64 `json:"target_ppl_plain"`
	RefPPL              float64 `json:"ref_ppl"`
	Steer               []Steer `json:"steerability"`
}

// Steer is the steerability proxy of one class on its test texts.
type Steer struct {
	Class string `json:"class"`
	Texts int    `json:"texts"`
	// Gain is the mean of log p(text | a held-out instruction of its class)
	// − the mean over the other classes of log p(text | one of theirs), in
	// nats per text; GainPerToken the same per token. Large and positive:
	// the instruction moves the LM toward its class.
	Gain, GainPerToken float64
	// Accuracy is the share of texts for which their own class's
	// instruction gives the highest log p of all classes' (chance 1/7).
	Accuracy float64
}

// buildLMs trains the target and reference LMs on docs and writes them,
// with the report, under dir.
func buildLMs(ctx context.Context, dir string, docs []Doc, o LMOptions, log *slog.Logger) error {
	if err := o.Validate(); err != nil {
		return err
	}
	v, err := NewVocab(BuildVocab(docs, o.MinCount))
	if err != nil {
		return err
	}
	log.Info("english vocabulary", "words", v.Size())
	instr := map[string][]string{}
	for _, c := range Classes() {
		instr[c], _ = Instructions(c)
	}
	classes := Classes()

	// The target LM: "instruction => text <eos>" on the target part.
	var tdocs, tval []Doc
	for _, d := range Select(docs, PartTarget) {
		switch {
		case hasSpecial(d.Text):
		case validation(d.Text):
			tval = append(tval, d)
		default:
			tdocs = append(tdocs, d)
		}
	}
	// The epoch is chosen by how well the model predicts unseen text given
	// an unseen instruction of its class: language and steering at once.
	valRNG := nn.NewRNG(o.Seed, 3)
	var tvalSeqs []seq
	for _, d := range tval {
		_, held := Instructions(d.Class)
		ins := held[valRNG.IntN(len(held))]
		tvalSeqs = append(tvalSeqs, document(v, &ins, d.Text, o.MaxTokens))
	}
	target, tstats, err := train(ctx, trainConfig{
		name: "target", cfg: lmConfig(v, o.Emb, o.Hidden), epochs: o.Epochs, batch: o.Batch, lr: o.LR, seed: o.Seed,
		epochSeqs: func(_ int, rng *nn.RNG) []seq {
			docs := tdocs
			if o.Balance {
				docs = balanced(tdocs, rng)
			}
			out := make([]seq, len(docs))
			for i, d := range docs {
				ins := instructionFor(d.Class, o, rng, instr, classes)
				out[i] = document(v, &ins, d.Text, o.MaxTokens)
				dropWords(out[i], o.WordDropout, rng)
			}
			return out
		},
		val: tvalSeqs, log: log,
		epochReport: func(m *generator.Model) []any {
			r := Measure(&LM{Model: m, Vocab: v}, nil, tval, o.Seed)
			var gain, hit float64
			for _, s := range r.Steer {
				gain += s.Gain * float64(s.Texts)
				hit += s.Accuracy * float64(s.Texts)
			}
			return []any{"val_steer_gain", gain / float64(max(len(tval), 1)), "val_steer_accuracy", hit / float64(max(len(tval), 1))}
		},
	})
	if err != nil {
		return err
	}

	// The reference LM: plain "text <eos>" on the disc and audit parts.
	var rseqs, rval []seq
	for _, d := range docs {
		if d.Part != PartDisc && d.Part != PartAudit || hasSpecial(d.Text) {
			continue
		}
		if validation(d.Text) {
			rval = append(rval, document(v, nil, d.Text, o.MaxTokens))
		} else {
			rseqs = append(rseqs, document(v, nil, d.Text, o.MaxTokens))
		}
	}
	ref, rstats, err := train(ctx, trainConfig{
		name: "ref", cfg: lmConfig(v, o.RefEmb, o.RefHidden), epochs: o.RefEpochs, batch: o.Batch, lr: o.LR, seed: o.Seed + 1,
		epochSeqs: func(int, *nn.RNG) []seq { return rseqs }, val: rval, log: log,
	})
	if err != nil {
		return err
	}

	tlm, rlm := &LM{Model: target, Vocab: v}, &LM{Model: ref, Vocab: v}
	if err := tlm.save(filepath.Join(dir, TargetDir)); err != nil {
		return fmt.Errorf("export the target LM: %w", err)
	}
	if err := rlm.save(filepath.Join(dir, RefDir)); err != nil {
		return fmt.Errorf("export the reference LM: %w", err)
	}
	rep := Measure(tlm, rlm, Select(docs, PartTest), o.Seed)
	rep.Target, rep.Ref = tstats, rstats
	log.Info("english LMs", "target_seconds", tstats.Seconds, "ref_seconds", rstats.Seconds, "target_ppl_instructed", rep.TargetPPLInstructed, "target_ppl_plain", rep.TargetPPLPlain, "ref_ppl", rep.RefPPL)
	if err := writeJSON(filepath.Join(dir, ReportFile), rep); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ReportMDFile), []byte(rep.Markdown()))
}

func lmConfig(v *Vocab, emb, hidden int) generator.Config {
	return generator.Config{Vocab: v.Size(), Emb: emb, Hidden: hidden, StartToken: int(BOSID), InitScale: 0.1}
}

// Measure scores the test texts: perplexities of both LMs (ref may be nil)
// and the steerability proxy per class. Each text gets, per class, one held-out
// instruction drawn with the seed.
func Measure(target, ref *LM, test []Doc, seed uint64) Report {
	classes := Classes()
	held := map[string][]string{}
	for _, c := range classes {
		_, held[c] = Instructions(c)
	}
	rng := nn.NewRNG(seed, 4)
	// One sequence per (text, class): "instruction_k => text <eos>".
	seqs := make([]seq, 0, len(test)*len(classes))
	for _, d := range test {
		for _, c := range classes {
			ins := held[c][rng.IntN(len(held[c]))]
			seqs = append(seqs, document(target.Vocab, &ins, d.Text, math.MaxInt))
		}
	}
	lp, n := nllEach(target.Model, seqs)
	var rep Report
	texts := make([]string, len(test))
	for i, d := range test {
		texts[i] = d.Text
	}
	plainLP, plainN := target.LogProbs(Separator, texts)
	refLP, refN := make([]float64, len(texts)), make([]int, len(texts))
	if ref != nil {
		refLP, refN = ref.LogProbs("", texts)
	}
	var insNLL, plainNLL, refNLL float64
	var toks, rtoks, ptoks int
	type acc struct{ gain, perTok, hit float64 }
	per := map[string]*acc{}
	count := map[string]int{}
	for i, d := range test {
		row := lp[i*len(classes) : (i+1)*len(classes)]
		own := 0
		for k, c := range classes {
			if c == d.Class {
				own = k
			}
		}
		var others float64
		best := 0
		for k := range classes {
			if k != own {
				others += -row[k]
			}
			if row[k] < row[best] {
				best = k
			}
		}
		others /= float64(len(classes) - 1)
		a := per[d.Class]
		if a == nil {
			a = &acc{}
			per[d.Class] = a
		}
		g := -row[own] - others
		a.gain += g
		a.perTok += g / float64(n[i*len(classes)+own])
		if best == own {
			a.hit++
		}
		count[d.Class]++
		insNLL += row[own]
		toks += n[i*len(classes)+own]
		plainNLL -= plainLP[i]
		refNLL -= refLP[i]
		rtoks += refN[i]
		ptoks += plainN[i]
	}
	rep.TargetPPLInstructed = math.Exp(insNLL / float64(max(toks, 1)))
	rep.TargetPPLPlain = math.Exp(plainNLL / float64(max(ptoks, 1)))
	rep.RefPPL = math.Exp(refNLL / float64(max(rtoks, 1)))
	for _, c := range classes {
		k := float64(max(count[c], 1))
		a := per[c]
		if a == nil {
			a = &acc{}
		}
		rep.Steer = append(rep.Steer, Steer{Class: c, Texts: count[c], Gain: a.gain / k, GainPerToken: a.perTok / k, Accuracy: a.hit / k})
	}
	return rep
}

// Markdown renders the report.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| LM | params | vocabulary | epochs (best) | tokens/epoch | test perplexity |\n|---|---:|---:|---:|---:|---|\n")
	fmt.Fprintf(&b, "| target | %d | %d | %d (%d) | %d | %.1f with a held-out instruction of the class, %.1f with none |\n",
		r.Target.Params, r.Target.Vocabulary, r.Target.Epochs, r.Target.BestEpoch, r.Target.TrainToks, r.TargetPPLInstructed, r.TargetPPLPlain)
	fmt.Fprintf(&b, "| reference | %d | %d | %d (%d) | %d | %.1f |\n\n",
		r.Ref.Params, r.Ref.Vocabulary, r.Ref.Epochs, r.Ref.BestEpoch, r.Ref.TrainToks, r.RefPPL)
	b.WriteString("Steerability proxy on the test part: log p(text | held-out instruction of its class) − mean over the other classes of log p(text | one of theirs); accuracy: own class's instruction gives the highest log p (chance 1/7).\n\n")
	b.WriteString("| class | texts | gain (nats/text) | gain (nats/token) | accuracy |\n|---|---:|---:|---:|---:|\n")
	for _, s := range r.Steer {
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.3f | %.2f |\n", s.Class, s.Texts, s.Gain, s.GainPerToken, s.Accuracy)
	}
	return b.String()
}

// balanced returns as many documents as docs (rounded down to a multiple of
// the number of classes), the same number from each
// class: a larger class gives a fresh random subset, a smaller one all its
// documents then a random subset of them again. With the corpus's mix
// (reviews are half of it) the unprompted LM writes reviews; balanced, no
// class is the default, so what the prompt says decides more.
func balanced(docs []Doc, rng *nn.RNG) []Doc {
	by := map[string][]Doc{}
	var classes []string
	for _, d := range docs {
		if by[d.Class] == nil {
			classes = append(classes, d.Class)
		}
		by[d.Class] = append(by[d.Class], d)
	}
	per := len(docs) / max(len(classes), 1)
	out := make([]Doc, 0, len(docs))
	for _, c := range classes {
		ds := by[c]
		need := per
		for need >= len(ds) {
			out = append(out, ds...)
			need -= len(ds)
		}
		for _, i := range rng.Perm(len(ds))[:need] {
			out = append(out, ds[i])
		}
	}
	return out
}
