package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"promptgan/internal/ort"
	"promptgan/targets"
	"promptgan/targets/onnx"
)

// benchDecodeCommand is `promptgan bench decode`: greedy decode throughput
// of any Optimum-layout directory through target/onnx. It doubles as a
// check that a user's own export loads and decodes.
func benchDecodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "decode",
		Usage: "greedy decode throughput (new tokens/s, ms per step) of an Optimum-layout ONNX causal LM through target/onnx",
		Description: "Opens --model as `promptgan train` would (printing the detected kind: plain, KV cache or LSTM state),\n" +
			"decodes --repeats times, after --warmup untimed runs, the same seeded random prompts at each --batch size,\n" +
			"greedily and without stop tokens beyond the model's own EOS, and reports new tokens per second of wall time.\n" +
			"--prompts-out and --tokens-out write the exact decoding task and its tokens for the Node.js peer of\n" +
			"benchmarks/decode-throughput, which runs the same ONNX file with onnxruntime-node.",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Usage: "Optimum-layout directory (model.onnx, config.json, optional tokenizer.json)"},
			&cli.StringFlag{Name: "batch", Value: "1,32", Usage: "comma-separated batch sizes"},
			&cli.IntFlag{Name: "new-tokens", Value: 32, Usage: "new tokens per request (fewer when the model's EOS comes first)"},
			&cli.IntFlag{Name: "prompt-len", Value: 4, Usage: "random prompt tokens per request (BOS is prepended when the model asks for it)"},
			&cli.IntFlag{Name: "repeats", Value: 5, Usage: "timed decodes per batch size"},
			&cli.IntFlag{Name: "warmup", Value: 1, Usage: "untimed decodes per batch size before the timed ones"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the random prompts"},
			&cli.IntFlag{Name: "threads", Value: runtime.NumCPU(), Usage: "ONNX Runtime intra-op threads (sequential execution, so no inter-op pool)"},
			&cli.StringFlag{Name: "device", Value: "cpu", Usage: "execution provider: cpu, cuda or auto"},
			&cli.BoolFlag{Name: "ignore-tokenizer", Usage: "do not load tokenizer.json (for one the pure-Go tokenizer library cannot read); the bench feeds token ids anyway"},
			&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
			&cli.StringFlag{Name: "prompts-out", Usage: "write the decoding task (contexts as fed, new tokens, stop tokens, threads) as JSON for the Node.js peer"},
			&cli.StringFlag{Name: "tokens-out", Usage: "write the generated tokens, one line per request (lines \"batch B row I: ids\")"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a pprof CPU profile of the timed decodes"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		OnUsageError: onUsage,
		Action:       benchDecodeAction,
	}
}

// decodeBenchResult is what `bench decode --json` prints.
type decodeBenchResult struct {
	Model      string           `json:"model"`
	Kind       onnx.Kind        `json:"kind"`
	ModelType  string           `json:"model_type"`
	Vocab      int              `json:"vocab"`
	Layers     int              `json:"layers,omitempty"`
	Tokenizer  bool             `json:"tokenizer"` // tokenizer.json loaded
	Device     ort.Device       `json:"device"`
	Threads    int              `json:"threads"`
	ORTVersion string           `json:"ort_version"`
	ORTLibrary string           `json:"ort_library"`
	PromptLen  int              `json:"prompt_len"`
	AddBOS     bool             `json:"add_bos"`
	NewTokens  int              `json:"new_tokens"`
	StopTokens []int32          `json:"stop_tokens"`
	Seed       uint64           `json:"seed"`
	Warmup     int              `json:"warmup"`
	Repeats    int              `json:"repeats"`
	Rows       []decodeBenchRow `json:"rows"`
}

// decodeBenchRow is the figure of one batch size.
type decodeBenchRow struct {
	Batch      int     `json:"batch"`
	Steps      int     `json:"steps"`      // decode steps (session runs) per decode of the batch
	NewTokens  int     `json:"new_tokens"` // new tokens over the timed decodes
	Seconds    float64 `json:"seconds"`    // wall time of the timed decodes
	TokensPerS float64 `json:"tokens_per_s"`
	MsPerStep  float64 `json:"ms_per_step"`
}

// decodeTask is the file --prompts-out writes and
// benchmarks/decode-throughput/peer.js reads: everything the peer needs to
// decode exactly what this command decoded.
type decodeTask struct {
	Model      string            `json:"model"` // model.onnx, absolute
	Config     string            `json:"config"`
	Kind       onnx.Kind         `json:"kind"`
	Vocab      int               `json:"vocab"`
	Threads    int               `json:"threads"`
	NewTokens  int               `json:"new_tokens"`
	StopTokens []int32           `json:"stop_tokens"`
	Warmup     int               `json:"warmup"`
	Repeats    int               `json:"repeats"`
	Batches    []decodeTaskBatch `json:"batches"`
}

type decodeTaskBatch struct {
	Batch    int       `json:"batch"`
	Contexts [][]int32 `json:"contexts"` // the tokens fed for each request: BOS (when the model adds it), then the prompt
}

func benchDecodeAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("bench decode takes no arguments, got %q (the model is --model DIR)", c.Args().Slice())
	}
	dir := c.String("model")
	if dir == "" {
		return usagef("bench decode needs --model DIR, an Optimum-layout directory (model.onnx, config.json)")
	}
	batches, err := parseBatches(c.String("batch"))
	if err != nil {
		return usageError{err}
	}
	newTokens, promptLen, repeats, warmup, threads := c.Int("new-tokens"), c.Int("prompt-len"), c.Int("repeats"), c.Int("warmup"), c.Int("threads")
	for _, f := range []struct {
		name  string
		value int
		least int
	}{{"new-tokens", newTokens, 1}, {"prompt-len", promptLen, 1}, {"repeats", repeats, 1}, {"warmup", warmup, 0}, {"threads", threads, 1}} {
		if f.value < f.least {
			return usagef("--%s %d: must be ≥ %d", f.name, f.value, f.least)
		}
	}
	device, err := ort.ParseDevice(c.String("device"))
	if err != nil {
		return usageError{fmt.Errorf("--device: %w", err)}
	}

	m, err := onnx.Open(dir, onnx.Options{
		Library: c.String("ort-lib"), Device: device, Threads: threads, BatchSize: slices.Max(batches),
		Spin:            true, // ONNX Runtime's default, as the Node.js peer runs it: nothing else competes for the cores here
		IgnoreTokenizer: c.Bool("ignore-tokenizer"),
		Decode:          onnx.Decode{MaxNewTokens: newTokens},
	})
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	rt, err := ort.Load(c.String("ort-lib")) // the runtime Open loaded: its version and path
	if err != nil {
		return err
	}

	prompts, err := randomPrompts(info, slices.Max(batches), promptLen, c.Uint64("seed"))
	if err != nil {
		return err
	}
	res := decodeBenchResult{
		Model: dir, Kind: info.Kind, ModelType: info.ModelType, Vocab: info.Vocab, Layers: info.Layers,
		Tokenizer: info.Tokenizer, Device: info.Device, Threads: threads, ORTVersion: rt.Version, ORTLibrary: rt.Path,
		PromptLen: promptLen, AddBOS: info.AddBOS, NewTokens: newTokens, StopTokens: info.Decode.StopTokens,
		Seed: c.Uint64("seed"), Warmup: warmup, Repeats: repeats,
	}
	if res.StopTokens == nil {
		res.StopTokens = []int32{}
	}
	if !c.Bool("json") {
		printDecodeHeader(c.App.Writer, res, info)
	}

	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile %s: %w", path, err)
		}
		defer pprof.StopCPUProfile()
	}

	var tokens strings.Builder
	var sample []int32 // the first request's generation, shown as text when there is a tokenizer
	for _, B := range batches {
		row, gens, err := timeDecode(c, m, prompts[:B], warmup, repeats, newTokens)
		if err != nil {
			return fmt.Errorf("bench decode %s: batch %d: %w", dir, B, err)
		}
		res.Rows = append(res.Rows, row)
		sample = gens[0].Tokens
		for i, g := range gens {
			fmt.Fprintf(&tokens, "batch %d row %d:%s\n", B, i, joinIDs(g.Tokens))
		}
	}

	if path := c.String("prompts-out"); path != "" {
		if err := writeDecodeTask(path, dir, res, info, prompts, batches); err != nil {
			return err
		}
	}
	if path := c.String("tokens-out"); path != "" {
		if err := os.WriteFile(path, []byte(tokens.String()), 0o644); err != nil {
			return fmt.Errorf("--tokens-out: %w", err)
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, res)
	}
	printDecodeRows(c.App.Writer, res.Rows)
	if info.Tokenizer {
		text, err := m.Decode(append(slices.Clone(prompts[0]), sample...))
		if err != nil {
			return fmt.Errorf("bench decode %s: decode the first generation to text: %w", dir, err)
		}
		fmt.Fprintf(c.App.Writer, "\nfirst prompt + generation as text: %q\n", text)
	}
	return nil
}

// parseBatches reads a --batch list such as "1,32".
func parseBatches(s string) ([]int, error) {
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
func timeDecode(c *cli.Context, m *onnx.Model, prompts [][]int32, warmup, repeats, maxNew int) (decodeBenchRow, []targets.Generation, error) {
	reqs := make([]targets.Request, len(prompts))
	for i, p := range prompts {
		reqs[i] = targets.Request{Prompt: p}
	}
	var gens []targets.Generation
	var err error
	for range warmup {
		if gens, err = m.Generate(c.Context, reqs); err != nil {
			return decodeBenchRow{}, nil, err
		}
	}
	row := decodeBenchRow{Batch: len(prompts)}
	for range repeats {
		start := time.Now()
		gens, err = m.Generate(c.Context, reqs)
		row.Seconds += time.Since(start).Seconds()
		if err != nil {
			return decodeBenchRow{}, nil, err
		}
		for _, g := range gens {
			row.NewTokens += len(g.Tokens)
		}
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

// writeDecodeTask writes the --prompts-out file.
func writeDecodeTask(path, dir string, res decodeBenchResult, info onnx.Info, prompts [][]int32, batches []int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("--prompts-out: %w", err)
	}
	task := decodeTask{
		Model: filepath.Join(abs, onnx.ModelFile), Config: filepath.Join(abs, onnx.ConfigFile),
		Kind: res.Kind, Vocab: res.Vocab, Threads: res.Threads, NewTokens: res.NewTokens, StopTokens: res.StopTokens,
		Warmup: res.Warmup, Repeats: res.Repeats,
	}
	for _, B := range batches {
		tb := decodeTaskBatch{Batch: B}
		for _, p := range prompts[:B] {
			ctx := make([]int32, 0, len(p)+1)
			if info.AddBOS {
				ctx = append(ctx, info.BOS)
			}
			tb.Contexts = append(tb.Contexts, append(ctx, p...))
		}
		task.Batches = append(task.Batches, tb)
	}
	data, err := json.Marshal(task)
	if err != nil {
		return fmt.Errorf("--prompts-out: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("--prompts-out: %w", err)
	}
	return nil
}

func joinIDs(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}

// kindDescription says how a model of kind k carries context between steps.
func kindDescription(info onnx.Info) string {
	switch info.Kind {
	case onnx.KVCache:
		return fmt.Sprintf("KV cache (past_key_values → present for %d layers): one new token per step", info.Layers)
	case onnx.LSTMState:
		return "LSTM state (past_state.h/.c → present_state.h/.c): one new token per step"
	case onnx.Plain:
		return "plain (no past inputs): the whole sequence is fed again at every step"
	}
	return string(info.Kind)
}

func printDecodeHeader(w io.Writer, res decodeBenchResult, info onnx.Info) {
	stops := "none"
	if len(res.StopTokens) > 0 {
		stops = strings.TrimSpace(joinIDs(res.StopTokens))
	}
	bos := ""
	if info.AddBOS {
		bos = fmt.Sprintf(" after BOS %d", info.BOS)
	}
	fmt.Fprintf(w, "model    %s (model_type %s)\n", res.Model, res.ModelType)
	fmt.Fprintf(w, "kind     %s\n", kindDescription(info))
	tok := "none (token ids only)"
	if res.Tokenizer {
		tok = onnx.TokenizerFile + " loaded"
	}
	fmt.Fprintf(w, "vocab    %d, tokenizer %s\n", res.Vocab, tok)
	fmt.Fprintf(w, "device   %s, %d intra-op threads, ONNX Runtime %s (%s)\n", res.Device, res.Threads, res.ORTVersion, res.ORTLibrary)
	fmt.Fprintf(w, "decode   greedy; %d random prompt tokens (seed %d)%s; %d new tokens; stop tokens %s; %d warm-up + %d timed decodes per batch\n\n",
		res.PromptLen, res.Seed, bos, res.NewTokens, stops, res.Warmup, res.Repeats)
}

func printDecodeRows(w io.Writer, rows []decodeBenchRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\ttokens/s\tms/step\tsteps\tnew tokens\tseconds\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%.1f\t%.3f\t%d\t%d\t%.3f\t\n", r.Batch, r.TokensPerS, r.MsPerStep, r.Steps, r.NewTokens, r.Seconds)
	}
	tw.Flush()
}
