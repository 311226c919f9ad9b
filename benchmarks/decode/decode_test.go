package decode

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/internal/ort"
	"promptgan/targets"
	"promptgan/targets/onnx"
)

func TestParseBatches(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "1,32", want: []int{1, 32}},
		{in: "4", want: []int{4}},
		{in: " 2 , 1 ,8", want: []int{2, 1, 8}},
		{in: "1,x", wantErr: `--batch "1,x": "x" is not a batch size ≥ 1`},
		{in: "0", wantErr: `--batch "0": "0" is not a batch size ≥ 1`},
		{in: "-3", wantErr: `"-3" is not a batch size ≥ 1`},
		{in: "", wantErr: `--batch "": "" is not a batch size ≥ 1`},
		{in: "1,,2", wantErr: `"" is not a batch size ≥ 1`},
		{in: "2,2", wantErr: `--batch "2,2": batch size 2 appears twice`},
	} {
		got, err := ParseBatches(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseBatches(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseBatches(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	valid := DefaultOptions()
	valid.Model = "some/dir"
	for _, tc := range []struct {
		name    string
		edit    func(*Options)
		wantErr string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"no model", func(o *Options) { o.Model = "" }, "--model"},
		{"no batches", func(o *Options) { o.Batches = nil }, "--batch"},
		{"batch 0", func(o *Options) { o.Batches = []int{1, 0} }, "--batch [1 0]: batch size 0"},
		{"batch twice", func(o *Options) { o.Batches = []int{2, 3, 2} }, "batch size 2 appears twice"},
		{"new tokens", func(o *Options) { o.NewTokens = 0 }, "--new-tokens 0: must be ≥ 1"},
		{"prompt len", func(o *Options) { o.PromptLen = 0 }, "--prompt-len 0: must be ≥ 1"},
		{"repeats", func(o *Options) { o.Repeats = 0 }, "--repeats 0: must be ≥ 1"},
		{"no warm-up", func(o *Options) { o.Warmup = 0 }, ""},
		{"warm-up", func(o *Options) { o.Warmup = -1 }, "--warmup -1: must be ≥ 0"},
		{"threads", func(o *Options) { o.Threads = 0 }, "--threads 0: must be ≥ 1"},
		{"device empty", func(o *Options) { o.Device = "" }, ""},
		{"device auto", func(o *Options) { o.Device = ort.Auto }, ""},
		{"device", func(o *Options) { o.Device = "tpu" }, `--device: device "tpu": want cpu, cuda or auto`},
		{"device upper case", func(o *Options) { o.Device = "CPU" }, ""},
	} {
		o := valid
		o.Batches = slices.Clone(valid.Batches)
		tc.edit(&o)
		err := o.Validate()
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestRandomPrompts(t *testing.T) {
	// tiny-gpt2's settings: EOS = BOS = 511, the only stop token.
	tiny := onnx.Info{Vocab: 512, BOS: 511, Decode: onnx.Decode{StopTokens: []int32{511}}}
	for _, tc := range []struct {
		name    string
		info    onnx.Info
		n, len  int
		seed    uint64
		want    [][]int32 // nil: only the checks below
		wantErr string
	}{
		// The prompts the task files of benchmarks/decode-throughput have
		// always held for this seed: a change here changes every run's work.
		{name: "golden", info: tiny, n: 3, len: 4, seed: 1, want: [][]int32{{71, 477, 396, 101}, {353, 394, 217, 145}, {291, 300, 248, 201}}},
		{name: "other seed", info: tiny, n: 8, len: 6, seed: 2},
		{name: "small vocab", info: onnx.Info{Vocab: 4, BOS: 0, Decode: onnx.Decode{StopTokens: []int32{3}}}, n: 16, len: 16, seed: 1},
		{name: "no BOS", info: onnx.Info{Vocab: 3, BOS: -1}, n: 4, len: 4, seed: 7},
		{name: "one token left", info: onnx.Info{Vocab: 3, BOS: 0, Decode: onnx.Decode{StopTokens: []int32{2}}}, n: 2, len: 3, seed: 1, want: [][]int32{{1, 1, 1}, {1, 1, 1}}},
		{name: "nothing to draw", info: onnx.Info{Dir: "m", Vocab: 2, BOS: 0, Decode: onnx.Decode{StopTokens: []int32{1}}}, n: 1, len: 1, seed: 1, wantErr: "every token of the vocabulary (2) is BOS or a stop token"},
	} {
		got, err := randomPrompts(tc.info, tc.n, tc.len, tc.seed)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got %v, %v; want an error with %q", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want != nil && !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if len(got) != tc.n {
			t.Fatalf("%s: %d prompts, want %d", tc.name, len(got), tc.n)
		}
		for _, p := range got {
			if len(p) != tc.len {
				t.Errorf("%s: prompt %v: length %d, want %d", tc.name, p, len(p), tc.len)
			}
			for _, id := range p {
				if id < 0 || int(id) >= tc.info.Vocab || id == tc.info.BOS || slices.Contains(tc.info.Decode.StopTokens, id) {
					t.Errorf("%s: prompt %v holds %d, outside the vocabulary or BOS or a stop token", tc.name, p, id)
				}
			}
		}
		// The same seed gives the same prompts, and fewer prompts are a
		// prefix of more: batch B decodes the first B of the largest batch.
		again, err := randomPrompts(tc.info, tc.n+2, tc.len, tc.seed)
		if err != nil || !slices.EqualFunc(again[:tc.n], got, slices.Equal) {
			t.Errorf("%s: %d prompts %v do not start with the %d prompts %v", tc.name, tc.n+2, again, tc.n, got)
		}
	}
}

// fakeModel answers every request with the next of lens tokens (cycling),
// counting its calls.
type fakeModel struct {
	lens  []int
	calls int
	err   error
}

func (f *fakeModel) Generate(_ context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	gens := make([]targets.Generation, len(reqs))
	for i := range gens {
		gens[i].Tokens = make([]int32, f.lens[i%len(f.lens)])
	}
	return gens, nil
}

func TestTimeDecode(t *testing.T) {
	prompts := [][]int32{{1, 2}, {3, 4}, {5, 6}}
	for _, tc := range []struct {
		name            string
		lens            []int // tokens generated per request
		warmup, repeats int
		maxNew          int
		wantSteps       int
		wantNew         int
	}{
		{"all run to max", []int{4}, 1, 2, 4, 4, 2 * 3 * 4},
		{"one stops early", []int{4, 2, 4}, 0, 3, 4, 4, 3 * 10},
		// Every request stopped early: the stop token's step counts.
		{"all stop early", []int{2, 1, 2}, 2, 1, 4, 3, 5},
		{"stop at once", []int{0}, 1, 1, 4, 1, 0},
	} {
		m := &fakeModel{lens: tc.lens}
		row, gens, err := timeDecode(context.Background(), m, prompts, tc.warmup, tc.repeats, tc.maxNew)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if m.calls != tc.warmup+tc.repeats {
			t.Errorf("%s: %d Generate calls, want %d warm-up + %d timed", tc.name, m.calls, tc.warmup, tc.repeats)
		}
		if row.Batch != 3 || row.Steps != tc.wantSteps || row.NewTokens != tc.wantNew || len(gens) != 3 {
			t.Errorf("%s: row %+v with %d generations; want batch 3, %d steps, %d new tokens", tc.name, row, len(gens), tc.wantSteps, tc.wantNew)
		}
		if !(row.Seconds >= 0) || !(row.MsPerStep >= 0) {
			t.Errorf("%s: row %+v: want timings ≥ 0", tc.name, row)
		}
		if want := 1000 * row.Seconds / float64(tc.repeats*row.Steps); row.MsPerStep != want {
			t.Errorf("%s: ms/step %v, want %v", tc.name, row.MsPerStep, want)
		}
	}

	boom := errors.New("boom")
	for _, warmup := range []int{0, 1} {
		if _, _, err := timeDecode(context.Background(), &fakeModel{err: boom}, prompts, warmup, 1, 4); !errors.Is(err, boom) {
			t.Errorf("warm-up %d: error %v, want it to wrap %v", warmup, err, boom)
		}
	}
}

func TestNewTask(t *testing.T) {
	prompts := [][]int32{{7, 8}, {9, 10}, {11, 12}}
	for _, tc := range []struct {
		name    string
		addBOS  bool
		batches []int
		want    []TaskBatch
	}{
		{"no BOS", false, []int{1, 3}, []TaskBatch{{1, [][]int32{{7, 8}}}, {3, [][]int32{{7, 8}, {9, 10}, {11, 12}}}}},
		{"BOS", true, []int{2, 1}, []TaskBatch{{2, [][]int32{{0, 7, 8}, {0, 9, 10}}}, {1, [][]int32{{0, 7, 8}}}}},
	} {
		res := &Result{Model: "models/m", Kind: onnx.KVCache, Vocab: 13, Threads: 2, NewTokens: 5, StopTokens: []int32{12},
			Warmup: 1, Repeats: 3, AddBOS: tc.addBOS, BOS: 0}
		task, err := newTask(res, prompts, tc.batches)
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs("models/m")
		if task.Model != filepath.Join(abs, "model.onnx") || task.Config != filepath.Join(abs, "config.json") ||
			task.Kind != onnx.KVCache || task.Vocab != 13 || task.Threads != 2 || task.NewTokens != 5 ||
			!slices.Equal(task.StopTokens, []int32{12}) || task.Warmup != 1 || task.Repeats != 3 {
			t.Errorf("%s: %+v", tc.name, task)
		}
		if !slices.EqualFunc(task.Batches, tc.want, func(a, b TaskBatch) bool {
			return a.Batch == b.Batch && slices.EqualFunc(a.Contexts, b.Contexts, slices.Equal)
		}) {
			t.Errorf("%s: batches %v, want %v", tc.name, task.Batches, tc.want)
		}
		// The prompts themselves are left as they were.
		if !slices.Equal(prompts[0], []int32{7, 8}) {
			t.Fatalf("%s: newTask changed the prompts: %v", tc.name, prompts)
		}
	}
}

// TestJSONFields pins the JSON field names that
// benchmarks/decode-throughput/peer.js and report.js read.
func TestJSONFields(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{Result{Layers: 2}, []string{"model", "kind", "model_type", "vocab", "layers", "tokenizer", "device", "threads", "ort_version",
			"ort_library", "prompt_len", "add_bos", "new_tokens", "stop_tokens", "seed", "warmup", "repeats", "rows"}},
		{Row{}, []string{"batch", "steps", "new_tokens", "seconds", "tokens_per_s", "ms_per_step"}},
		{Task{}, []string{"model", "config", "kind", "vocab", "threads", "new_tokens", "stop_tokens", "warmup", "repeats", "batches"}},
		{TaskBatch{}, []string{"batch", "contexts"}},
	} {
		data, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			keys = append(keys, k.(string))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(keys, tc.want) {
			t.Errorf("%T: JSON fields %v, want %v", tc.v, keys, tc.want)
		}
	}
}

func TestJoinIDs(t *testing.T) {
	for _, tc := range []struct {
		ids  []int32
		want string
	}{
		{nil, ""},
		{[]int32{5}, " 5"},
		{[]int32{1, 22, 333}, " 1 22 333"},
	} {
		if got := joinIDs(tc.ids); got != tc.want {
			t.Errorf("joinIDs(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}

func TestRunDecode(t *testing.T) {
	if _, err := ort.FindLibrary(""); errors.Is(err, ort.ErrNotFound) {
		t.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	dir := t.TempDir()
	opt := DefaultOptions()
	opt.Model = "../../internal/ort/export/testdata/tiny-gpt2"
	opt.Batches, opt.NewTokens, opt.Repeats, opt.Threads = []int{2, 1}, 4, 1, 1
	opt.TaskFile, opt.TokensFile, opt.CPUProfile = filepath.Join(dir, "task.json"), filepath.Join(dir, "tokens"), filepath.Join(dir, "cpu.pprof")
	opt.SampleText = true
	var opened []Result
	opt.OnOpen = func(r Result) { opened = append(opened, r) }

	res, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(opened) != 1 || opened[0].Rows != nil || opened[0].Kind != onnx.KVCache || opened[0].Vocab != 512 {
		t.Errorf("OnOpen calls: %+v", opened)
	}
	if res.Kind != onnx.KVCache || res.Layers != 2 || !res.Tokenizer || res.Device != ort.CPU || res.ORTVersion == "" ||
		!slices.Equal(res.StopTokens, []int32{511}) || len(res.Rows) != 2 || res.Rows[0].Batch != 2 || res.Rows[1].Batch != 1 || res.Sample == "" {
		t.Errorf("result %+v", res)
	}
	raw, err := os.ReadFile(opt.TaskFile)
	if err != nil {
		t.Fatal(err)
	}
	var task Task
	if err := json.Unmarshal(raw, &task); err != nil || len(task.Batches) != 2 || task.Batches[0].Batch != 2 ||
		!slices.Equal(task.Batches[0].Contexts[0], []int32{71, 477, 396, 101}) {
		t.Errorf("task file (%v):\n%s", err, raw)
	}
	raw, err = os.ReadFile(opt.TokensFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "batch 2 row 0:") || !strings.HasPrefix(lines[2], "batch 1 row 0:") ||
		strings.TrimPrefix(lines[0], "batch 2 row 0:") != strings.TrimPrefix(lines[2], "batch 1 row 0:") {
		t.Errorf("tokens file:\n%s", raw)
	}
	if st, err := os.Stat(opt.CPUProfile); err != nil || st.Size() == 0 {
		t.Errorf("CPU profile: %v", err)
	}

	// Without SampleText no text; an invalid option names its flag.
	opt.SampleText, opt.TaskFile, opt.TokensFile, opt.CPUProfile, opt.OnOpen = false, "", "", "", nil
	if res, err := Run(context.Background(), opt); err != nil || res.Sample != "" {
		t.Errorf("without SampleText: %v, sample %q", err, res.Sample)
	}
	opt.Repeats = 0
	if _, err := Run(context.Background(), opt); err == nil || !strings.Contains(err.Error(), "--repeats 0") {
		t.Errorf("repeats 0: %v", err)
	}
}

// TestWriteTable: the rows, then the sample only when the model has a
// tokenizer.
func TestWriteTable(t *testing.T) {
	res := &Result{Rows: []Row{{Batch: 32, TokensPerS: 1234.5}}, Sample: "hi there"}
	for _, tok := range []bool{false, true} {
		res.Tokenizer = tok
		var b strings.Builder
		if err := WriteTable(&b, res); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "1234.5") || strings.Contains(b.String(), `first prompt + generation as text: "hi there"`) != tok {
			t.Errorf("tokenizer %v:\n%s", tok, b.String())
		}
	}
}
