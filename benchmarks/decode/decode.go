// Package decode is the decode-throughput benchmark behind
// `promptgan bench decode`: greedy decoding of an Optimum-layout ONNX causal
// LM through targets/onnx, timed in new tokens per second of wall time.
//
// It is the Go side of benchmarks/decode-throughput, which compares
// targets/onnx with onnxruntime-node on the same ONNX files: Run writes the
// exact decoding task (Options.TaskFile, read by peer.js) and the generated
// tokens (Options.TokensFile, diffed by compare.sh against the peer's), and
// its Result is the JSON that report.js reads. Run alone is also a quick
// check that a user's own export loads and decodes.
package decode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"promptgan/internal/ort"
	"promptgan/targets"
	"promptgan/targets/onnx"
)

// Options configure Run. DefaultOptions gives the defaults of
// `promptgan bench decode`.
type Options struct {
	Model     string // Optimum-layout directory (model.onnx, config.json, optional tokenizer.json)
	Batches   []int  // batch sizes, in order; batch B decodes the first B prompts
	NewTokens int    // new tokens per request (fewer when the model's EOS comes first)
	PromptLen int    // random prompt tokens per request (BOS is prepended when the model asks for it)
	Warmup    int    // untimed decodes per batch size before the timed ones
	Repeats   int    // timed decodes per batch size
	Seed      uint64 // seed of the random prompts

	Device  ort.Device // execution provider: cpu, cuda or auto, any case ("" = cpu)
	Library string     // ONNX Runtime library (file or directory); "" = ort.FindLibrary's search
	Threads int        // ONNX Runtime intra-op threads (sequential execution, so no inter-op pool)
	// Spin keeps the intra-op threads spinning between runs, ONNX Runtime's
	// default and how the Node.js peer runs it.
	Spin bool
	// IgnoreTokenizer skips tokenizer.json (for one the pure-Go tokenizer
	// library cannot read); the benchmark feeds token ids anyway.
	IgnoreTokenizer bool

	TaskFile   string // when set, the decoding task is written there as JSON (Task) for the Node.js peer
	TokensFile string // when set, the generated tokens are written there, one line per request ("batch B row I: ids")
	// SampleText asks for Result.Sample: the first prompt and its
	// generation as text, when the model has a tokenizer.
	SampleText bool
	// CPUProfile, when set, is the file that receives a pprof CPU profile of
	// the decodes (warm-up and timed).
	CPUProfile string
	// OnOpen, when set, is called once the model is open, before the first
	// decode, with every field of the Result but Rows and Sample filled in
	// (for a header printed before the timings come).
	OnOpen func(Result)
}

// DefaultOptions returns the defaults of `promptgan bench decode` (Model is
// left empty).
func DefaultOptions() Options {
	return Options{
		Batches: []int{1, 32}, NewTokens: 32, PromptLen: 4, Warmup: 1, Repeats: 5, Seed: 1,
		Device: ort.CPU, Threads: runtime.NumCPU(),
		Spin: true, // nothing else competes for the cores here
	}
}

// Validate reports the first invalid option, by its flag name.
func (o Options) Validate() error {
	if o.Model == "" {
		return errors.New("bench decode needs --model DIR, an Optimum-layout directory (model.onnx, config.json)")
	}
	if len(o.Batches) == 0 {
		return errors.New("--batch: no batch size; want a comma-separated list such as 1,32")
	}
	for i, b := range o.Batches {
		if b < 1 {
			return fmt.Errorf("--batch %v: batch size %d: must be ≥ 1", o.Batches, b)
		}
		if slices.Contains(o.Batches[:i], b) {
			return fmt.Errorf("--batch %v: batch size %d appears twice", o.Batches, b)
		}
	}
	for _, f := range []struct {
		name  string
		value int
		least int
	}{{"new-tokens", o.NewTokens, 1}, {"prompt-len", o.PromptLen, 1}, {"repeats", o.Repeats, 1}, {"warmup", o.Warmup, 0}, {"threads", o.Threads, 1}} {
		if f.value < f.least {
			return fmt.Errorf("--%s %d: must be ≥ %d", f.name, f.value, f.least)
		}
	}
	if o.Device != "" {
		if _, err := ort.ParseDevice(string(o.Device)); err != nil {
			return fmt.Errorf("--device: %w", err)
		}
	}
	return nil
}

// ParseBatches reads a --batch list such as "1,32".
func ParseBatches(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		b, err := strconv.Atoi(part)
		if err != nil || b < 1 {
			return nil, fmt.Errorf("--batch %q: %q is not a batch size ≥ 1; want a comma-separated list such as 1,32", s, part)
		}
		if slices.Contains(out, b) {
			return nil, fmt.Errorf("--batch %q: batch size %d appears twice", s, b)
		}
		out = append(out, b)
	}
	return out, nil
}

// Result is what Run measured; its JSON is what `bench decode --json`
// prints and benchmarks/decode-throughput/report.js reads.
type Result struct {
	Model      string     `json:"model"`
	Kind       onnx.Kind  `json:"kind"`
	ModelType  string     `json:"model_type"`
	Vocab      int        `json:"vocab"`
	Layers     int        `json:"layers,omitempty"`
	Tokenizer  bool       `json:"tokenizer"` // tokenizer.json loaded
	Device     ort.Device `json:"device"`
	Threads    int        `json:"threads"`
	ORTVersion string     `json:"ort_version"`
	ORTLibrary string     `json:"ort_library"`
	PromptLen  int        `json:"prompt_len"`
	AddBOS     bool       `json:"add_bos"`
	NewTokens  int        `json:"new_tokens"`
	StopTokens []int32    `json:"stop_tokens"`
	Seed       uint64     `json:"seed"`
	Warmup     int        `json:"warmup"`
	Repeats    int        `json:"repeats"`
	Rows       []Row      `json:"rows"`

	BOS int32 `json:"-"` // the model's BOS, prepended to every prompt when AddBOS; -1 when none
	// Sample is the first prompt and its generation (in the last batch size
	// decoded) as text; set with Options.SampleText when Tokenizer.
	Sample string `json:"-"`
}

// Row is the figure of one batch size.
type Row struct {
	Batch      int     `json:"batch"`
	Steps      int     `json:"steps"`      // decode steps (session runs) per decode of the batch
	NewTokens  int     `json:"new_tokens"` // new tokens over the timed decodes
	Seconds    float64 `json:"seconds"`    // wall time of the timed decodes
	TokensPerS float64 `json:"tokens_per_s"`
	MsPerStep  float64 `json:"ms_per_step"`
}

// Task is the file Options.TaskFile names and
// benchmarks/decode-throughput/peer.js reads: everything the peer needs to
// decode exactly what Run decoded.
type Task struct {
	Model      string      `json:"model"` // model.onnx, absolute
	Config     string      `json:"config"`
	Kind       onnx.Kind   `json:"kind"`
	Vocab      int         `json:"vocab"`
	Threads    int         `json:"threads"`
	NewTokens  int         `json:"new_tokens"`
	StopTokens []int32     `json:"stop_tokens"`
	Warmup     int         `json:"warmup"`
	Repeats    int         `json:"repeats"`
	Batches    []TaskBatch `json:"batches"`
}

// TaskBatch is one batch size of a Task.
type TaskBatch struct {
	Batch    int       `json:"batch"`
	Contexts [][]int32 `json:"contexts"` // the tokens fed for each request: BOS (when the model adds it), then the prompt
}

// generator is the part of *onnx.Model that timeDecode uses.
type generator interface {
	Generate(ctx context.Context, reqs []targets.Request) ([]targets.Generation, error)
}

// Run opens opt.Model, decodes the same seeded random prompts at each batch
// size greedily (opt.Warmup untimed, then opt.Repeats timed decodes), and
// writes the task and tokens files when asked.
func Run(ctx context.Context, opt Options) (_ *Result, err error) {
	if err := opt.Validate(); err != nil {
		return nil, fmt.Errorf("bench decode: %w", err)
	}
	if opt.Device != "" {
		opt.Device, _ = ort.ParseDevice(string(opt.Device))
	}
	largest := slices.Max(opt.Batches)
	m, err := onnx.Open(opt.Model, onnx.Options{
		Library: opt.Library, Device: opt.Device, Threads: opt.Threads, BatchSize: largest,
		Spin:            opt.Spin,
		IgnoreTokenizer: opt.IgnoreTokenizer,
		Decode:          onnx.Decode{MaxNewTokens: opt.NewTokens},
	})
	if err != nil {
		return nil, fmt.Errorf("bench decode: %w", err)
	}
	defer func() {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench decode %s: close: %w", opt.Model, cerr)
		}
	}()
	info := m.Info()
	rt, err := ort.Load(opt.Library) // the runtime Open loaded: its version and path
	if err != nil {
		return nil, fmt.Errorf("bench decode: %w", err)
	}

	prompts, err := randomPrompts(info, largest, opt.PromptLen, opt.Seed)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Model: opt.Model, Kind: info.Kind, ModelType: info.ModelType, Vocab: info.Vocab, Layers: info.Layers,
		Tokenizer: info.Tokenizer, Device: info.Device, Threads: opt.Threads, ORTVersion: rt.Version, ORTLibrary: rt.Path,
		PromptLen: opt.PromptLen, AddBOS: info.AddBOS, NewTokens: opt.NewTokens, StopTokens: info.Decode.StopTokens,
		Seed: opt.Seed, Warmup: opt.Warmup, Repeats: opt.Repeats, BOS: info.BOS,
	}
	if res.StopTokens == nil {
		res.StopTokens = []int32{}
	}
	if opt.OnOpen != nil {
		opt.OnOpen(*res)
	}

	var tokens strings.Builder
	var sample []int32 // the first request's generation
	if err := profile(opt.CPUProfile, func() error {
		for _, B := range opt.Batches {
			row, gens, err := timeDecode(ctx, m, prompts[:B], opt.Warmup, opt.Repeats, opt.NewTokens)
			if err != nil {
				return fmt.Errorf("bench decode %s: batch %d: %w", opt.Model, B, err)
			}
			res.Rows = append(res.Rows, row)
			sample = gens[0].Tokens
			for i, g := range gens {
				fmt.Fprintf(&tokens, "batch %d row %d:%s\n", B, i, joinIDs(g.Tokens))
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}

	if opt.TaskFile != "" {
		if err := writeTask(opt.TaskFile, res, prompts, opt.Batches); err != nil {
			return nil, fmt.Errorf("bench decode: task file: %w", err)
		}
	}
	if opt.TokensFile != "" {
		if err := os.WriteFile(opt.TokensFile, []byte(tokens.String()), 0o644); err != nil {
			return nil, fmt.Errorf("bench decode: tokens file: %w", err)
		}
	}
	if opt.SampleText && info.Tokenizer {
		if res.Sample, err = m.Decode(append(slices.Clone(prompts[0]), sample...)); err != nil {
			return nil, fmt.Errorf("bench decode %s: decode the first generation to text: %w", opt.Model, err)
		}
	}
	return res, nil
}

// profile runs f under a pprof CPU profile written to the file path; with
// no path it just runs f.
func profile(path string, f func() error) (err error) {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench decode: CPU profile: %w", err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench decode: CPU profile: %w", cerr)
		}
	}()
	if err := pprof.StartCPUProfile(out); err != nil {
		return fmt.Errorf("bench decode: CPU profile %s: %w", path, err)
	}
	defer pprof.StopCPUProfile()
	return f()
}

// randomPrompts draws n prompts of length tokens each from seed, uniformly
// over the vocabulary without the stop tokens and BOS (which would end a
// generation at once or restart it). Batch B decodes the first B prompts.
func randomPrompts(info onnx.Info, n, length int, seed uint64) ([][]int32, error) {
	var pool []int32
	for id := range int32(info.Vocab) {
		if id != info.BOS && !slices.Contains(info.Decode.StopTokens, id) {
			pool = append(pool, id)
		}
	}
	if len(pool) == 0 {
		return nil, fmt.Errorf("bench decode %s: every token of the vocabulary (%d) is BOS or a stop token: no prompt to draw", info.Dir, info.Vocab)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6465636f6465)) // "decode"
	prompts := make([][]int32, n)
	for i := range prompts {
		prompts[i] = make([]int32, length)
		for t := range prompts[i] {
			prompts[i][t] = pool[rng.IntN(len(pool))]
		}
	}
	return prompts, nil
}

// timeDecode decodes prompts as one batch warmup times untimed and repeats
// times timed, and returns the figures and the last generations.
func timeDecode(ctx context.Context, m generator, prompts [][]int32, warmup, repeats, maxNew int) (Row, []targets.Generation, error) {
	reqs := make([]targets.Request, len(prompts))
	for i, p := range prompts {
		reqs[i] = targets.Request{Prompt: p}
	}
	var gens []targets.Generation
	var err error
	for range warmup {
		if gens, err = m.Generate(ctx, reqs); err != nil {
			return Row{}, nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	row := Row{Batch: len(prompts)}
	for range repeats {
		start := time.Now()
		gens, err = m.Generate(ctx, reqs)
		row.Seconds += time.Since(start).Seconds()
		if err != nil {
			return Row{}, nil, err
		}
		for _, g := range gens {
			row.NewTokens += len(g.Tokens)
		}
	}
	if len(gens) != len(reqs) {
		return Row{}, nil, fmt.Errorf("%d generations for %d requests", len(gens), len(reqs))
	}
	// A request that stopped early ran one more step, the one whose stop
	// token was dropped; the batch ran as many steps as its longest request.
	for _, g := range gens {
		steps := len(g.Tokens)
		if steps < maxNew {
			steps++
		}
		row.Steps = max(row.Steps, steps)
	}
	row.TokensPerS = float64(row.NewTokens) / row.Seconds
	row.MsPerStep = 1000 * row.Seconds / float64(repeats*row.Steps)
	return row, gens, nil
}

// newTask is the Task of res: the contexts as fed (BOS when the model adds
// it, then the prompt) of the first B prompts for each batch size B.
func newTask(res *Result, prompts [][]int32, batches []int) (Task, error) {
	abs, err := filepath.Abs(res.Model)
	if err != nil {
		return Task{}, err
	}
	task := Task{
		Model: filepath.Join(abs, onnx.ModelFile), Config: filepath.Join(abs, onnx.ConfigFile),
		Kind: res.Kind, Vocab: res.Vocab, Threads: res.Threads, NewTokens: res.NewTokens, StopTokens: res.StopTokens,
		Warmup: res.Warmup, Repeats: res.Repeats,
	}
	for _, B := range batches {
		tb := TaskBatch{Batch: B}
		for _, p := range prompts[:B] {
			ctx := make([]int32, 0, len(p)+1)
			if res.AddBOS {
				ctx = append(ctx, res.BOS)
			}
			tb.Contexts = append(tb.Contexts, append(ctx, p...))
		}
		task.Batches = append(task.Batches, tb)
	}
	return task, nil
}

// writeTask writes the Task of res to path.
func writeTask(path string, res *Result, prompts [][]int32, batches []int) error {
	task, err := newTask(res, prompts, batches)
	if err != nil {
		return err
	}
	data, err := json.Marshal(task)
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// joinIDs writes ids as " id id ...", the tail of a tokens file line.
func joinIDs(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}
