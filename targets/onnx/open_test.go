package onnx_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

// setConfig sets one field of dir's config.json (nil deletes it).
func setConfig(tb testing.TB, dir, field string, value any) {
	tb.Helper()
	path := filepath.Join(dir, onnx.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	if value == nil {
		delete(m, field)
	} else {
		m[field] = value
	}
	if b, err = json.Marshal(m); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// tinyGenerator is a small random unconditioned generator LSTM.
func tinyGenerator(vocab int) *generator.Model {
	cfg := generator.DefaultConfig(vocab)
	cfg.Emb, cfg.Hidden = 8, 8
	return generator.New(cfg, nn.NewRNG(3, 0))
}

// wrongSignature writes a model whose only input is "tokens".
func wrongSignature(tb testing.TB, dir string) {
	tb.Helper()
	g := ort.NewGraph("wrong")
	g.Input("tokens", ort.Int64, ort.Dynamic("batch"), ort.Dynamic("seq"))
	g.Float32Initializer("emb", make([]float32, 10*10), 10, 10)
	g.Node("Gather", []string{"emb", "tokens"}, []string{"logits"}, ort.AttrInt("axis", 0))
	g.Output("logits", ort.Float32, ort.Dynamic("batch"), ort.Dynamic("seq"), ort.Fixed(10))
	if err := g.WriteFile(filepath.Join(dir, onnx.ModelFile)); err != nil {
		tb.Fatal(err)
	}
}

func TestOpenReportsBadDirectories(t *testing.T) {
	loadOrSkip(t)
	base := exportLSTM(t, tinyGenerator(10), false)
	// fresh copies base into a new directory and applies change to it.
	fresh := func(change func(dir string)) string {
		dir := t.TempDir()
		for _, f := range []string{onnx.ModelFile, onnx.ConfigFile} {
			b, err := os.ReadFile(filepath.Join(base, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if change != nil {
			change(dir)
		}
		return dir
	}
	write := func(name, content string) func(string) {
		return func(dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) func(string) {
		return func(dir string) { os.Remove(filepath.Join(dir, name)) }
	}
	field := func(name string, v any) func(string) {
		return func(dir string) { setConfig(t, dir, name, v) }
	}
	for _, tc := range []struct {
		name   string
		dir    string
		opt    onnx.Options
		expect []string
	}{
		{"no directory", filepath.Join(t.TempDir(), "nope"), onnx.Options{}, []string{"model directory", "no such file"}},
		{"a file, not a directory", filepath.Join(fresh(nil), onnx.ConfigFile), onnx.Options{}, []string{"is not a directory"}},
		{"no model.onnx", fresh(remove(onnx.ModelFile)), onnx.Options{}, []string{"model.onnx: not found; export with `optimum-cli export onnx", "--task text-generation-with-past"}},
		{"empty model.onnx", fresh(write(onnx.ModelFile, "")), onnx.Options{}, []string{"model.onnx: not an ONNX model file"}},
		{"garbage model.onnx", fresh(write(onnx.ModelFile, "not a protobuf")), onnx.Options{}, []string{"model.onnx"}},
		{"no config.json", fresh(remove(onnx.ConfigFile)), onnx.Options{}, []string{"config.json: not found"}},
		{"corrupt config.json", fresh(write(onnx.ConfigFile, `{"vocab_size": 10,`)), onnx.Options{}, []string{"config.json: not a JSON object"}},
		{"config.json not an object", fresh(write(onnx.ConfigFile, `[1, 2]`)), onnx.Options{}, []string{"config.json: not a JSON object"}},
		{"vocab_size a string", fresh(field("vocab_size", "ten")), onnx.Options{}, []string{"config.json: field vocab_size: want an integer, got \"ten\""}},
		{"vocab_size disagrees", fresh(field("vocab_size", 11)), onnx.Options{}, []string{"config.json: field vocab_size is 11, but", "model.onnx declares logits with 10 values per token"}},
		{"eos out of range", fresh(field("eos_token_id", 10)), onnx.Options{}, []string{"eos_token_id 10 is not below the vocabulary size 10"}},
		{"eos not an id", fresh(field("eos_token_id", []any{1, "x"})), onnx.Options{}, []string{"config.json: field eos_token_id: want a token id or a list of token ids"}},
		{"bos missing with add_bos_token", fresh(field("bos_token_id", nil)), onnx.Options{}, []string{"config.json: add_bos_token is true but there is no bos_token_id"}},
		{"bad generation_config.json", fresh(write(onnx.GenerationConfigFile, `{"eos_token_id": 1.5}`)), onnx.Options{}, []string{"generation_config.json: field eos_token_id: 1.5 is not a token id"}},
		{"wrong signature", fresh(wrongSignature2(t)), onnx.Options{}, []string{"model.onnx: unsupported signature: no input input_ids", "expected inputs input_ids int64[batch,seq]", "found inputs tokens int64[?,?]; outputs logits float32[?,?,10]"}},
		{"bad tokenizer.json", fresh(write(onnx.TokenizerFile, `{"model": {"type": "Nonsense"}}`)), onnx.Options{}, []string{"tokenizer.json: cannot load it"}},
		{"tokenizer.json not JSON", fresh(write(onnx.TokenizerFile, `{{`)), onnx.Options{}, []string{"tokenizer.json: cannot load it"}},
		{"negative temperature", base, onnx.Options{Decode: onnx.Decode{Temperature: -1}}, []string{"Decode.Temperature = -1: must be 0 (greedy) or a positive number"}},
		{"top-k with greedy", base, onnx.Options{Decode: onnx.Decode{TopK: 5}}, []string{"Decode.Temperature = 0: is greedy decoding, which takes no TopK or TopP"}},
		{"top-p above 1", base, onnx.Options{Decode: onnx.Decode{Temperature: 1, TopP: 1.5}}, []string{"Decode.TopP = 1.5"}},
		{"unknown order", base, onnx.Options{Decode: onnx.Decode{Order: "sideways"}}, []string{`Decode.Order = "sideways"`}},
		{"stop token out of range", base, onnx.Options{Decode: onnx.Decode{StopTokens: []int32{10}}}, []string{"Decode.StopTokens: 10 is not a token id in [0, 10)"}},
		{"negative batch size", base, onnx.Options{BatchSize: -1}, []string{"batch size -1"}},
		{"bad device", base, onnx.Options{Device: "tpu"}, []string{`device "tpu"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := onnx.Open(tc.dir, tc.opt)
			if err == nil {
				m.Close()
				t.Fatalf("Open succeeded; want an error containing %q", tc.expect)
			}
			for _, e := range tc.expect {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q\ndoes not contain %q", err, e)
				}
			}
			t.Log(err)
		})
	}
}

func wrongSignature2(t *testing.T) func(string) {
	return func(dir string) { wrongSignature(t, dir) }
}

// A KV-cache model missing a present output, and one with a past layer
// gap, are refused with the names.
func TestOpenReportsBadKVSignatures(t *testing.T) {
	loadOrSkip(t)
	build := func(pastLayers []int, presents bool) string {
		dir := exportLSTM(t, tinyGenerator(10), false)
		g := ort.NewGraph("kv")
		g.Input("input_ids", ort.Int64, ort.Dynamic("b"), ort.Dynamic("s"))
		g.Input("attention_mask", ort.Int64, ort.Dynamic("b"), ort.Dynamic("t"))
		g.Float32Initializer("emb", make([]float32, 10*10), 10, 10)
		g.Node("Gather", []string{"emb", "input_ids"}, []string{"logits"}, ort.AttrInt("axis", 0))
		g.Output("logits", ort.Float32, ort.Dynamic("b"), ort.Dynamic("s"), ort.Fixed(10))
		for _, l := range pastLayers {
			for _, kv := range []string{"key", "value"} {
				in := "past_key_values." + string(rune('0'+l)) + "." + kv
				g.Input(in, ort.Float32, ort.Dynamic("b"), ort.Fixed(2), ort.Dynamic("p"), ort.Fixed(4))
				if presents {
					out := "present." + string(rune('0'+l)) + "." + kv
					g.Node("Identity", []string{in}, []string{out})
					g.Output(out, ort.Float32, ort.Dynamic("b"), ort.Fixed(2), ort.Dynamic("p"), ort.Fixed(4))
				}
			}
		}
		if err := g.WriteFile(filepath.Join(dir, onnx.ModelFile)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		dir    string
		expect string
	}{
		{build([]int{0, 2}, true), "layer 1 is incomplete or missing"},
		{build([]int{0}, false), "input past_key_values.0.key has no matching output present.0.key"},
	} {
		_, err := onnx.Open(tc.dir, onnx.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.expect) || !strings.Contains(err.Error(), "unsupported signature") {
			t.Errorf("got %v, want %q", err, tc.expect)
		}
	}
	// A well-formed one opens as a KV-cache model.
	m, err := onnx.Open(build([]int{0, 1}, true), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if info := m.Info(); info.Kind != onnx.KVCache || info.Layers != 2 {
		t.Errorf("info %+v", info)
	}
}

func TestCUDAOnCPULibrary(t *testing.T) {
	rt := loadOrSkip(t)
	ps, err := rt.Providers()
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(filepath.Join(filepath.Dir(rt.Path), "libonnxruntime_providers_cuda.so"))
	if slices.Contains(ps, "CUDAExecutionProvider") && statErr == nil {
		t.Skipf("this ONNX Runtime library (%s) has a CUDA provider; the CPU-only error cannot be shown", rt.Path)
	}
	dir := exportLSTM(t, tinyGenerator(10), true)
	_, err = onnx.Open(dir, onnx.Options{Device: ort.CUDA})
	if err == nil || !strings.Contains(err.Error(), "CUDA execution provider unavailable") || !strings.Contains(err.Error(), "--device cpu or auto") {
		t.Fatalf("device cuda on a CPU-only library: got %v", err)
	}
	t.Log(err)
	// auto falls back to the CPU.
	m := open(t, dir, onnx.Options{Device: ort.Auto})
	if d := m.Info().Device; d != ort.CPU {
		t.Errorf("device auto: runs on %s", d)
	}
}

func TestFingerprint(t *testing.T) {
	loadOrSkip(t)
	dir := exportLSTM(t, tinyGenerator(10), true)
	fp := func(opt onnx.Options) string { return open(t, dir, opt).Fingerprint() }
	base := fp(onnx.Options{})
	b, err := os.ReadFile(filepath.Join(dir, onnx.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	cfg, _ := os.ReadFile(filepath.Join(dir, onnx.ConfigFile))
	csum := sha256.Sum256(cfg)
	want := "promptgan/targets/onnx/v1;model.onnx=sha256:" + hex.EncodeToString(sum[:]) +
		";config.json=sha256:" + hex.EncodeToString(csum[:]) +
		";generation_config.json=none;tokenizer_config.json=none;tokenizer.json=none;bos=0;add_bos=true;order=input+prompt;max_new_tokens=32;temperature=0;top_k=0;top_p=0;stop=[];include_stop=false"
	if base != want {
		t.Errorf("fingerprint\n%s\nwant\n%s", base, want)
	}
	// Equal settings, equal fingerprints; execution settings do not count.
	if got := fp(onnx.Options{BatchSize: 3, Threads: 1, Decode: onnx.Decode{MaxNewTokens: 32, Order: onnx.InputPrompt}}); got != base {
		t.Errorf("same decoding, other batch size and threads: %s", got)
	}
	if a, b := fp(onnx.Options{Decode: onnx.Decode{Temperature: 1, TopP: 1}}), fp(onnx.Options{Decode: onnx.Decode{Temperature: 1}}); a != b {
		t.Errorf("TopP 1 and 0 both mean off: %s vs %s", a, b)
	}
	if a, b := fp(onnx.Options{Decode: onnx.Decode{StopTokens: []int32{3, 1, 3}}}), fp(onnx.Options{Decode: onnx.Decode{StopTokens: []int32{1, 3}}}); a != b || !strings.Contains(a, "stop=[1,3]") {
		t.Errorf("stop sets: %s vs %s", a, b)
	}
	// Every decode setting changes it.
	seen := map[string]string{base: "default"}
	for name, d := range map[string]onnx.Decode{
		"max new":      {MaxNewTokens: 5},
		"temperature":  {Temperature: 0.5},
		"top-k":        {Temperature: 0.5, TopK: 3},
		"top-p":        {Temperature: 0.5, TopP: 0.5},
		"stop":         {StopTokens: []int32{2}},
		"include stop": {IncludeStop: true},
		"order":        {Order: onnx.PromptInput},
	} {
		f := fp(onnx.Options{Decode: d})
		if prev, ok := seen[f]; ok {
			t.Errorf("%s: same fingerprint as %s: %s", name, prev, f)
		}
		seen[f] = name
	}
	// So do the files.
	setConfig(t, dir, "eos_token_id", 4)
	if f := fp(onnx.Options{}); f == base || !strings.Contains(f, "stop=[4]") {
		t.Errorf("eos in config.json: %s", f)
	}
	if err := os.WriteFile(filepath.Join(dir, onnx.GenerationConfigFile), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := fp(onnx.Options{}); !strings.Contains(f, "generation_config.json=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a") {
		t.Errorf("generation_config.json: %s", f)
	}
	other := exportLSTM(t, tinyGenerator(11), true)
	if f := open(t, other, onnx.Options{}).Fingerprint(); f == base {
		t.Errorf("another model, same fingerprint")
	}
}

// countUpKV writes a KV-cache model whose next token is always the last
// token + 1 (mod 10), and whose present cache is the past with the new
// tokens' rows appended: it exercises the KV decoding paths (left padding
// with attention_mask and position_ids; one batch per context length
// without them) without a transformer.
func countUpKV(tb testing.TB, mask, pos bool) string {
	tb.Helper()
	dir := exportLSTM(tb, tinyGenerator(10), false) // for config.json
	setConfig(tb, dir, "add_bos_token", false)
	g := ort.NewGraph("count_up")
	b, s := ort.Dynamic("batch_size"), ort.Dynamic("sequence_length")
	g.Input("input_ids", ort.Int64, b, s)
	for l := range 2 {
		for _, kv := range []string{"key", "value"} {
			g.Input(fmt.Sprintf("past_key_values.%d.%s", l, kv), ort.Float32, b, ort.Fixed(2), ort.Dynamic("past_sequence_length"), ort.Fixed(4))
		}
	}
	if mask {
		g.Input("attention_mask", ort.Int64, b, ort.Dynamic("past_sequence_length + sequence_length"))
	}
	if pos {
		g.Input("position_ids", ort.Int64, b, s)
	}
	table := make([]float32, 100)
	kvTable := make([]float32, 80)
	for i := range 10 {
		table[i*10+(i+1)%10] = 1
		for j := range 8 {
			kvTable[i*8+j] = float32(i*8 + j)
		}
	}
	g.Float32Initializer("table", table, 10, 10)
	g.Float32Initializer("kv_table", kvTable, 10, 8)
	g.Int64Initializer("kv_shape", []int64{0, 0, 2, 4}, 4)
	g.Node("Gather", []string{"table", "input_ids"}, []string{"logits"}, ort.AttrInt("axis", 0))
	g.Node("Gather", []string{"kv_table", "input_ids"}, []string{"kv_bs8"}, ort.AttrInt("axis", 0))
	g.Node("Reshape", []string{"kv_bs8", "kv_shape"}, []string{"kv_bs24"})
	g.Node("Transpose", []string{"kv_bs24"}, []string{"kv_b2s4"}, ort.AttrInts("perm", 0, 2, 1, 3))
	g.Output("logits", ort.Float32, b, s, ort.Fixed(10))
	for l := range 2 {
		for _, kv := range []string{"key", "value"} {
			out := fmt.Sprintf("present.%d.%s", l, kv)
			g.Node("Concat", []string{fmt.Sprintf("past_key_values.%d.%s", l, kv), "kv_b2s4"}, []string{out}, ort.AttrInt("axis", 2))
			g.Output(out, ort.Float32, b, ort.Fixed(2), ort.Dynamic("past_sequence_length + sequence_length"), ort.Fixed(4))
		}
	}
	if err := g.WriteFile(filepath.Join(dir, onnx.ModelFile)); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func TestKVDecodingPaths(t *testing.T) {
	loadOrSkip(t)
	reqs := []backend.Request{
		{Prompt: []int32{3}},
		{Input: []int32{1, 2, 3, 4, 5}, Prompt: []int32{8}},
		{Prompt: []int32{5, 6}},
		{Input: []int32{9}},
	}
	stop := int32(2) // ends request 2 after 6 tokens, request 3 after 2, request 0 before MaxNewTokens
	for _, v := range []struct{ mask, pos bool }{{true, true}, {true, false}, {false, false}} {
		m := open(t, countUpKV(t, v.mask, v.pos), onnx.Options{Decode: onnx.Decode{MaxNewTokens: 8, StopTokens: []int32{stop}}})
		if m.Info().Kind != onnx.KVCache {
			t.Fatalf("kind %s", m.Info().Kind)
		}
		for i, gen := range generate(t, m, reqs) {
			ctx := append(slices.Clone(reqs[i].Input), reqs[i].Prompt...)
			var want []int32
			for tok := (ctx[len(ctx)-1] + 1) % 10; tok != stop && len(want) < 8; tok = (tok + 1) % 10 {
				want = append(want, tok)
			}
			if !slices.Equal(gen, want) {
				t.Errorf("mask=%v pos=%v request %d: %v, want %v", v.mask, v.pos, i, gen, want)
			}
		}
	}
}
