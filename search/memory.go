package search

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"promptgan/discriminator"
	"promptgan/embeddings"
	"promptgan/embeddings/glove"
	"promptgan/embeddings/hashing"
	"promptgan/generator"
	"promptgan/internal/cache"
	"promptgan/task"
)

// MemoryPart is one share of a run's memory: what it is, its bytes and the
// config fields that size it (what to lower when it does not fit).
type MemoryPart struct {
	What   string   `json:"what"`
	Bytes  float64  `json:"bytes"`
	Fields []string `json:"fields"`
	Sizes  string   `json:"sizes"` // the product, in the config's numbers ("64 × 20 × 5000 values")
}

// MemoryEstimate is the memory a run of a config needs at its peak.
type MemoryEstimate struct {
	Parts []MemoryPart `json:"parts"` // largest first
	Total float64      `json:"total"` // bytes: every part plus the process's base
}

// Memory figures of the estimate.
const (
	float32Bytes = 4
	// processBase is what a promptgan process holds besides the run:
	// 21–27 MiB measured before a run allocates (Go runtime, binary,
	// OpenBLAS), plus the plots drawn at the end (about 10 MiB).
	processBase = 64 << 20
	// gcFactor covers the Go collector: a step's activations become garbage
	// that stays resident until the next collection, which runs when the
	// heap has grown by GOGC (100%) over the live heap.
	gcFactor = 1.5
)

// EstimateMemory returns the memory a run of c needs at its peak, from its
// sizes and the sizes of the files it reads (token files, oracle, task,
// encoder vectors; a missing file counts 0): the generator's and
// discriminator's weights, gradients and Adam moments (two optimisers for G,
// plus its end-of-MLE copy), the replay buffer, a training step's
// activations (G's vocabulary-sized output layer over batch_size ×
// prompt_len rows dominates at SeqGAN's sizes), an evaluation's (eval
// batches of 128 sequences, D over eval_samples generations), a
// checkpoint's encoded copy, and for a text run the text discriminator,
// the task's feature rows and the encoder. A model target's own memory is
// not counted: check after opening it (MemAvailable has seen it then).
// The figures are deliberately generous: see docs/RELIABILITY.md for the
// estimate against the measured peak of the presets.
func EstimateMemory(c Config) MemoryEstimate {
	var parts []MemoryPart
	add := func(what string, floats float64, sizes string, fields ...string) {
		if floats > 0 {
			parts = append(parts, MemoryPart{What: what, Bytes: floats * float32Bytes, Fields: fields, Sizes: sizes})
		}
	}
	f := func(xs ...int) float64 { // a product in float64: sizes never overflow
		p := 1.0
		for _, x := range xs {
			p *= float64(max(x, 0))
		}
		return p
	}
	g := c.Generator
	V, E, H := g.Vocab, g.Emb, g.Hidden
	k, m := c.PromptLen, c.GenLen
	if m == 0 {
		m = k
	}
	B := c.BatchSize
	Bg := B // rows of G's adversarial update: the MLE term doubles them
	if c.MLEWeight > 0 {
		Bg = 2 * B
	}
	C := max(c.ContinuationsPerPrompt, 1)
	text := c.IsText()
	if text && V == 0 { // set from the prompt vocabulary when the run starts
		V = c.PromptWords
	}

	// Weights: W and gradient (2), two Adam optimisers' m and v (4) and the
	// end-of-MLE copy (1); a checkpoint encodes weights and moments again.
	pG := f(V, E) + f(4*H, E+H) + f(4*H) + f(H, V) + f(V)
	add("generator weights, gradients and Adam moments", 7*pG, fmt.Sprintf("generator.vocab %d × (emb %d + hidden %d) values", V, E, H), "generator.vocab", "generator.emb", "generator.hidden")

	// G's training step: the (rows, vocab) logits are kept for the backward
	// pass; the LSTM keeps its inputs, gates, cell and hidden states.
	rows := f(Bg, k)
	add("generator training step (output layer over the vocabulary)", rows*f(V)+rows*f(2*E+11*H+8), fmt.Sprintf("batch_size %d × prompt_len %d × generator.vocab %d values", Bg, k, V), "batch_size", "prompt_len", "generator.vocab")

	// Evaluation scores in chunks of EvalChunk sequences through the same
	// logits buffer; the oracle has its own.
	evalTest := c.EvalTest
	if evalTest == 0 {
		evalTest = generator.EvalChunk
	}
	chunk := min(max(c.EvalSamples, evalTest), generator.EvalChunk)
	evalRows := f(chunk, max(k, m))
	if evalRows > rows {
		add("generator evaluation batches", (evalRows-rows)*f(V)+evalRows*f(E+7*H), fmt.Sprintf("%d sequences × prompt_len %d × generator.vocab %d values", chunk, k, V), "generator.vocab", "prompt_len", "eval_samples", "eval_test")
	}
	if c.Oracle != "" {
		add("oracle and its evaluation batches", fileSize(c.Oracle)/float32Bytes+evalRows*f(V+E+7*H), fmt.Sprintf("%d sequences × prompt_len %d × vocabulary %d values", chunk, k, V), "oracle", "prompt_len", "eval_samples", "eval_test")
		if c.MLESteps > 0 && c.IsIdentity() {
			// the end-of-run MLE-vs-GAN table rebuilds both generators from
			// the checkpoint, each with its own evaluation buffer
			add("MLE-vs-GAN comparison at the end", 2*(pG+evalRows*f(V+E+7*H)), fmt.Sprintf("2 generators × %d sequences × prompt_len %d × generator.vocab %d values", chunk, k, V), "generator.vocab", "prompt_len", "eval_samples", "eval_test")
		}
	}
	if c.Credit == "rollout" {
		R := f(B, c.Rollouts)
		add("roll-outs (credit: rollout)", R*f(V+6*H+E)+R*f(k)*(1+f(c.Discriminator.Members)*dPerToken(c.Discriminator)), fmt.Sprintf("batch_size %d × rollouts %d × generator.vocab %d values", B, c.Rollouts, V), "rollouts", "batch_size", "generator.vocab")
	}

	if text {
		td := c.TextDiscriminator
		dim := textDim(c)
		td.Dim = dim
		F := td.Features()
		perMember := f(F, max(td.Hidden, 1)) + 2*f(td.Hidden) + 1
		add("text discriminator weights, gradients and Adam moments", 4*f(td.Members)*perMember, fmt.Sprintf("text_discriminator.members %d × %d features × hidden %d", td.Members, F, td.Hidden), "text_discriminator.members", "text_discriminator.hidden", "encoder")
		// every labelled item of the task is encoded once and kept
		items := fileSize(taskPath(c.Task)) / 24 // a JSONL item is rarely under 24 bytes
		add("the task's feature rows", items*f(F)+fileSize(taskPath(c.Task))/float32Bytes, fmt.Sprintf("about %.0f items × %d features", items, F), "task", "encoder")
		add("sentence encoder", encoderFloats(c.Encoder, dim), fmt.Sprintf("encoder %s", c.Encoder), "encoder")
		add("replay buffer", f(c.ReplaySize, F), fmt.Sprintf("replay_size %d × %d features", c.ReplaySize, F), "replay_size")
		n := f(B*C)*2 + f(c.EvalSamples)
		add("discriminator batches", f(td.Members)*n*f(F+3*max(td.Hidden, 1)), fmt.Sprintf("(2 × batch_size %d × continuations %d + eval_samples %d) × %d features", B, C, c.EvalSamples, F), "batch_size", "eval_samples")
	} else {
		d := c.Discriminator
		K := d.Members
		var pD float64
		if d.IsLinear() {
			pD = f(d.Positions, d.Vocab) + 1
		} else {
			pD = f(d.Vocab, d.Emb) + f(4*d.Hidden, d.Emb+d.Hidden) + f(4*d.Hidden) + f(d.Hidden) + 1
		}
		add("discriminator weights, gradients and Adam moments", 6*f(K)*pD, fmt.Sprintf("discriminator.members %d × vocab %d × (emb %d + hidden %d) values", K, d.Vocab, d.Emb, d.Hidden), "discriminator.members", "discriminator.vocab", "discriminator.emb", "discriminator.hidden")
		// One D update reads real, fresh and replayed sequences; every
		// member runs forward and backward at once.
		nD := f(B*C)*2 + f(B/2)
		add("discriminator training step", f(K)*nD*f(m)*dPerToken(d), fmt.Sprintf("members %d × (2 × batch_size %d × continuations %d + batch_size/2) × gen_len %d × hidden %d", K, B, C, m, d.Hidden), "batch_size", "gen_len", "discriminator.hidden", "discriminator.members")
		// An evaluation scores eval_samples generations in one batch, every
		// member at once (then as many real sequences, in the same room).
		add("discriminator evaluation", f(K, c.EvalSamples, m)*dForward(d)+f(c.EvalSamples, k+m), fmt.Sprintf("members %d × eval_samples %d × gen_len %d × hidden %d", K, c.EvalSamples, m, d.Hidden), "eval_samples", "gen_len", "discriminator.hidden")
		add("replay buffer", f(c.ReplaySize, m), fmt.Sprintf("replay_size %d × gen_len %d tokens", c.ReplaySize, m), "replay_size", "gen_len")
		// token files: read whole, then one int32 per id (ids take >= 2 bytes of text)
		var data float64
		for _, p := range []string{c.Train, c.Test, c.Prior} {
			data += 3 * fileSize(p) / float32Bytes
		}
		add("token data (train, test, prior)", data, "the sizes of the train, test and prior files", "train", "test", "prior")
	}
	slices.SortStableFunc(parts, func(a, b MemoryPart) int {
		switch {
		case a.Bytes > b.Bytes:
			return -1
		case a.Bytes < b.Bytes:
			return 1
		}
		return 0
	})
	est := MemoryEstimate{Parts: parts}
	for _, p := range parts {
		est.Total += p.Bytes
	}
	est.Total = est.Total*gcFactor + processBase
	return est
}

// dPerToken is the float32 values a discriminator member keeps per token of
// a batch through its forward and backward pass.
func dPerToken(d discriminator.Config) float64 {
	if d.IsLinear() {
		return 4
	}
	return float64(2*d.Emb + 11*d.Hidden + 4)
}

// dForward is dPerToken for a forward pass alone.
func dForward(d discriminator.Config) float64 {
	if d.IsLinear() {
		return 2
	}
	return float64(d.Emb + 7*d.Hidden + 2)
}

// textDim is the encoder's embedding dimension as far as the config tells
// it (GloVe's is 100; an ONNX encoder's is read when it opens: 1024 is a
// generous guess for a sentence encoder).
func textDim(c Config) int {
	if c.TextDiscriminator.Dim > 0 {
		return c.TextDiscriminator.Dim
	}
	spec, err := embeddings.ParseSpec(c.Encoder)
	if err != nil {
		return 0
	}
	switch spec.Name {
	case embeddings.Hashing:
		if spec.Dim == 0 {
			return hashing.DefaultDim
		}
		return spec.Dim
	case embeddings.ONNX:
		return 1024
	}
	return 100
}

// encoderFloats is the encoder's memory in float32 values: GloVe's vectors
// (its file), an ONNX encoder's model (its file), plus the cache of
// encoded texts a run keeps (up to 65,536 vectors).
func encoderFloats(enc string, dim int) float64 {
	const cached = 1 << 16
	spec, err := embeddings.ParseSpec(enc)
	if err != nil {
		return 0
	}
	files := 0.0
	switch spec.Name {
	case embeddings.GloveSIF:
		path := spec.Path
		if path == "" {
			path, _ = cache.Find(glove.CacheFile, "GloVe vectors", "make setup")
		}
		files = fileSize(path)
	case embeddings.ONNX:
		files = fileSize(filepath.Join(spec.Path, "model.onnx"))
	}
	return files/float32Bytes + float64(cached)*float64(dim)
}

// taskPath is the file of a text task ("" when it cannot be found).
func taskPath(name string) string {
	p, err := task.Resolve(name)
	if err != nil {
		return ""
	}
	return p
}

// fileSize is the size of the file at path in bytes, 0 if there is none.
func fileSize(path string) float64 {
	if path == "" {
		return 0
	}
	info, err := os.Stat(path)
	if err != nil || info.IsDir() {
		return 0
	}
	return float64(info.Size())
}

// MachineMemory returns the memory available to a new process and the
// machine's total, in bytes, from /proc/meminfo; ok is false where there is
// no such file (other systems: the check is skipped).
func MachineMemory() (available, total uint64, ok bool) {
	if runtime.GOOS != "linux" {
		return 0, 0, false
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, 0, false
	}
	return parseMeminfo(b)
}

// parseMeminfo reads MemAvailable and MemTotal (in kB) from /proc/meminfo's text.
func parseMeminfo(b []byte) (available, total uint64, ok bool) {
	var haveAvail, haveTotal bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, found := strings.Cut(sc.Text(), ":")
		if !found {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil || kb > 1<<50 {
			continue
		}
		switch key {
		case "MemAvailable":
			available, haveAvail = kb*1024, true
		case "MemTotal":
			total, haveTotal = kb*1024, true
		}
	}
	return available, total, haveAvail && haveTotal
}

// CheckMemory refuses c when its estimate exceeds the memory this machine
// has available; where the machine's memory cannot be read it accepts.
func CheckMemory(c Config) error {
	avail, total, ok := MachineMemory()
	if !ok {
		return nil
	}
	return checkFits(EstimateMemory(c), avail, total)
}

// checkFits refuses est when it exceeds avail bytes, naming the largest
// parts, the fields that size them and the machine's memory.
func checkFits(est MemoryEstimate, avail, total uint64) error {
	if est.Total <= float64(avail) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the configuration needs about %s of memory but this machine has %s available (of %s):", BytesHuman(est.Total), BytesHuman(float64(avail)), BytesHuman(float64(total)))
	var fields []string
	for i, p := range est.Parts {
		if i == 3 || p.Bytes < est.Total/20 {
			break
		}
		fmt.Fprintf(&b, "\n  %s: %s (%s)", p.What, BytesHuman(p.Bytes), p.Sizes)
		for _, f := range p.Fields {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
			}
		}
	}
	if len(fields) == 0 && len(est.Parts) > 0 {
		fields = est.Parts[0].Fields
	}
	fmt.Fprintf(&b, "\nlower %s", strings.Join(fields, ", "))
	return &MemoryError{Estimate: est, Available: avail, Total: total, msg: b.String()}
}

// MemoryError is CheckMemory's refusal: a configuration that does not fit.
type MemoryError struct {
	Estimate         MemoryEstimate
	Available, Total uint64
	msg              string
}

func (e *MemoryError) Error() string { return e.msg }

// bytesHuman writes n bytes as "1.5 GiB".
func BytesHuman(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	if n >= 1024 { // beyond EiB
		return fmt.Sprintf("%.3g %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
