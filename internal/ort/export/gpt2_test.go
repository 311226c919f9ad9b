package export_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/internal/ort/orttest"

	"google.golang.org/protobuf/proto"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/internal/ort/export"
	"promptgan/internal/ort/onnxpb"
)

var update = flag.Bool("update", false, "rewrite the committed fixtures under testdata/")

func tinyGPT2(t testing.TB) *export.GPT2 {
	t.Helper()
	m, err := export.NewGPT2(export.TinyGPT2Config(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// openGPT2 writes m with opt into a temporary directory and opens its model.
func openGPT2(t testing.TB, rt *ort.Runtime, m *export.GPT2, opt export.GPT2Options) *ort.Session {
	t.Helper()
	dir := t.TempDir()
	if err := export.WriteGPT2(dir, m, opt); err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(filepath.Join(dir, export.ModelFile), ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func flat(rows [][]int64) ort.Tensor {
	var data []int64
	for _, r := range rows {
		data = append(data, r...)
	}
	return ort.I64(data, int64(len(rows)), int64(len(rows[0])))
}

func flatLogits(l [][][]float32) []float32 {
	var out []float32
	for _, row := range l {
		for _, pos := range row {
			out = append(out, pos...)
		}
	}
	return out
}

// runGPT2 runs one call of a GPT-2 export. past holds the present.* outputs
// of the previous call (renamed to past_key_values.* here); nil means an
// empty cache, as Optimum passes on the first call. Without-past models
// get no cache inputs.
func runGPT2(t testing.TB, s *ort.Session, cfg export.GPT2Config, ids, mask, pos [][]int64, past map[string]ort.Tensor) map[string]ort.Tensor {
	t.Helper()
	in := map[string]ort.Tensor{export.InputIDs: flat(ids), export.AttentionMask: flat(mask), export.PositionIDs: flat(pos)}
	if _, ok := s.Input(export.PastKey(0)); ok {
		B, H, D := int64(len(ids)), int64(cfg.Heads), int64(cfg.HeadDim())
		for i := range cfg.Layers {
			if past == nil {
				in[export.PastKey(i)] = ort.F32([]float32{}, B, H, 0, D)
				in[export.PastValue(i)] = ort.F32([]float32{}, B, H, 0, D)
			} else {
				in[export.PastKey(i)] = past[export.PresentKey(i)]
				in[export.PastValue(i)] = past[export.PresentValue(i)]
			}
		}
	}
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// randomIDs returns B rows of T token ids, uniform over the vocabulary.
func randomIDs(rng *nn.RNG, B, T, V int) [][]int64 {
	ids := make([][]int64, B)
	for b := range ids {
		ids[b] = make([]int64, T)
		for t := range ids[b] {
			ids[b][t] = int64(rng.IntN(V))
		}
	}
	return ids
}

// paddedMask returns the attention mask of rows of the given lengths padded
// to T, on the right or on the left.
func paddedMask(lengths []int, T int, left bool) [][]int64 {
	mask := make([][]int64, len(lengths))
	for b, n := range lengths {
		mask[b] = make([]int64, T)
		for t := range n {
			if left {
				mask[b][T-1-t] = 1
			} else {
				mask[b][t] = 1
			}
		}
	}
	return mask
}

// The tolerance of ONNX Runtime against the float64 reference, relative to
// the row's scale max(1, max |logit|), as orttest.MaxDiff computes (the bar
// is 1e-5). The models' logits stay within about ±6 and ONNX Runtime sums
// in float32, so the measured differences are 2–5e-6 absolute, ~1e-6
// relative: the absolute 1e-5 holds as well, with less room.
const gpt2Tol = 1e-5

func TestGPT2ExportMatchesGo(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m := tinyGPT2(t)
	cfg := m.Cfg
	s := openGPT2(t, rt, m, export.GPT2Options{})
	rng := nn.NewRNG(3, 0)
	for _, tc := range []struct {
		name    string
		lengths []int
		T       int
		left    bool
	}{
		{"full batch of 4×16", []int{16, 16, 16, 16}, 16, false},
		{"right-padded 10, 6, 1", []int{10, 6, 1}, 10, false},
		{"left-padded 7, 3", []int{7, 3}, 7, true},
		{"one token", []int{1}, 1, false},
		{"longest sequence", []int{cfg.Positions}, cfg.Positions, false},
	} {
		ids := randomIDs(rng, len(tc.lengths), tc.T, cfg.Vocab)
		mask := paddedMask(tc.lengths, tc.T, tc.left)
		pos := export.PositionsFromMask(mask)
		want, err := m.Logits(ids, mask)
		if err != nil {
			t.Fatal(err)
		}
		out := runGPT2(t, s, cfg, ids, mask, pos, nil)
		got := out[export.Logits]
		if wantShape := []int64{int64(len(ids)), int64(tc.T), int64(cfg.Vocab)}; !slices.Equal(got.Shape, wantShape) {
			t.Fatalf("%s: logits shape %v, want %v", tc.name, got.Shape, wantShape)
		}
		abs, rel := orttest.MaxDiff(got.Float32, flatLogits(want), cfg.Vocab)
		if rel > gpt2Tol {
			t.Errorf("%s: logits ONNX vs Go: max difference relative to the row's largest logit %g > %g (absolute %g)", tc.name, rel, gpt2Tol, abs)
		}
		t.Logf("%s: logits ONNX vs Go: max difference %.2g absolute, %.2g relative", tc.name, abs, rel)
		for i := range cfg.Layers {
			k := out[export.PresentKey(i)]
			if wantShape := []int64{int64(len(ids)), int64(cfg.Heads), int64(tc.T), int64(cfg.HeadDim())}; !slices.Equal(k.Shape, wantShape) {
				t.Errorf("%s: %s shape %v, want %v", tc.name, export.PresentKey(i), k.Shape, wantShape)
			}
		}
	}
}

// The bench model (8 heads of 32, MLP 1024 wide) agrees as well.
func TestGPT2BenchConfigMatchesGo(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m, err := export.NewGPT2(export.BenchGPT2Config(), 1)
	if err != nil {
		t.Fatal(err)
	}
	s := openGPT2(t, rt, m, export.GPT2Options{})
	ids := randomIDs(nn.NewRNG(4, 0), 2, 8, m.Cfg.Vocab)
	mask := paddedMask([]int{8, 5}, 8, false)
	want, err := m.Logits(ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	got := runGPT2(t, s, m.Cfg, ids, mask, export.PositionsFromMask(mask), nil)[export.Logits]
	abs, rel := orttest.MaxDiff(got.Float32, flatLogits(want), m.Cfg.Vocab)
	if rel > gpt2Tol {
		t.Errorf("bench model: logits ONNX vs Go: max difference relative to the row's largest logit %g > %g (absolute %g)", rel, gpt2Tol, abs)
	}
	t.Logf("bench model: logits ONNX vs Go: max difference %.2g absolute, %.2g relative", abs, rel)
}

// greedy returns the argmax of each row.
func greedy(rows [][]float32) []int64 {
	out := make([]int64, len(rows))
	for b, r := range rows {
		out[b] = int64(slices.Index(r, slices.Max(r)))
	}
	return out
}

// lastLogits returns, for each row of a (B, S, V) logits tensor, position S−1.
func lastLogits(l ort.Tensor) [][]float32 {
	B, S, V := int(l.Shape[0]), int(l.Shape[1]), int(l.Shape[2])
	out := make([][]float32, B)
	for b := range B {
		out[b] = l.Float32[(b*S+S-1)*V : (b*S+S)*V]
	}
	return out
}

func TestGPT2KVCacheMatchesFullRecompute(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m := tinyGPT2(t)
	cfg := m.Cfg
	withPast := openGPT2(t, rt, m, export.GPT2Options{})
	noPast := openGPT2(t, rt, m, export.GPT2Options{WithoutPast: true})

	// A left-padded batch of prompts (as a batched decoder pads), decoded
	// greedily for 12 tokens, one token per call, present fed back as past.
	const steps = 12
	lengths := []int{6, 3, 1}
	T0 := 6
	ids := randomIDs(nn.NewRNG(5, 0), len(lengths), T0, cfg.Vocab)
	mask := paddedMask(lengths, T0, true)
	out := runGPT2(t, withPast, cfg, ids, mask, export.PositionsFromMask(mask), nil)
	var worstRef, worstNoPast float64
	for step := range steps {
		// Full recomputation of the whole sequence so far, by the Go
		// reference and by the without-past export.
		ref, err := m.Logits(ids, mask)
		if err != nil {
			t.Fatal(err)
		}
		refLast := make([][]float32, len(ids))
		for b := range ids {
			refLast[b] = ref[b][len(ids[b])-1]
		}
		full := lastLogits(runGPT2(t, noPast, cfg, ids, mask, export.PositionsFromMask(mask), nil)[export.Logits])
		cached := lastLogits(out[export.Logits])
		for b := range cached {
			_, rel := orttest.MaxDiff(cached[b], refLast[b], cfg.Vocab)
			worstRef = max(worstRef, rel)
			_, rel = orttest.MaxDiff(cached[b], full[b], cfg.Vocab)
			worstNoPast = max(worstNoPast, rel)
		}
		next := greedy(cached)
		if want := greedy(refLast); !slices.Equal(next, want) {
			t.Fatalf("step %d: cached decoding picks %v, full recomputation %v", step, next, want)
		}
		// Append the tokens; the next call sees one new token per row.
		// Its position id is, as Optimum computes it, the row's count of
		// kept tokens minus one.
		newIDs, newPos := make([][]int64, len(ids)), make([][]int64, len(ids))
		for b := range ids {
			ids[b] = append(ids[b], next[b])
			mask[b] = append(mask[b], 1)
			newIDs[b] = []int64{next[b]}
			newPos[b] = []int64{export.PositionsFromMask(mask[b : b+1])[0][len(mask[b])-1]}
		}
		if step == steps-1 {
			break
		}
		out = runGPT2(t, withPast, cfg, newIDs, mask, newPos, out)
		if k := out[export.PresentKey(cfg.Layers-1)]; k.Shape[2] != int64(len(ids[0])) {
			t.Fatalf("step %d: present length %d, want %d", step, k.Shape[2], len(ids[0]))
		}
	}
	if worstRef > gpt2Tol || worstNoPast > gpt2Tol {
		t.Errorf("KV-cache decoding vs full recomputation: max relative difference %g (Go reference), %g (ONNX without past) > %g", worstRef, worstNoPast, gpt2Tol)
	}
	t.Logf("%d greedy steps with the KV cache vs full recomputation: max relative difference %.2g (Go reference), %.2g (ONNX without past); sequences %v", steps, worstRef, worstNoPast, ids)

	// Prefill in chunks of 5, 1 and 4 tokens (several new tokens on top of
	// a cache) equals one call over all 10.
	ids = randomIDs(nn.NewRNG(6, 0), 2, 10, cfg.Vocab)
	mask = paddedMask([]int{10, 10}, 10, false)
	pos := export.PositionsFromMask(mask)
	want, err := m.Logits(ids, mask)
	if err != nil {
		t.Fatal(err)
	}
	var past map[string]ort.Tensor
	var worst float64
	t0 := 0
	for _, n := range []int{5, 1, 4} {
		cut := func(rows [][]int64, from, to int) [][]int64 {
			out := make([][]int64, len(rows))
			for b, r := range rows {
				out[b] = r[from:to]
			}
			return out
		}
		past = runGPT2(t, withPast, cfg, cut(ids, t0, t0+n), cut(mask, 0, t0+n), cut(pos, t0, t0+n), past)
		l := past[export.Logits]
		for b := range ids {
			_, rel := orttest.MaxDiff(l.Float32[b*n*cfg.Vocab:(b+1)*n*cfg.Vocab], flatLogits([][][]float32{want[b][t0 : t0+n]}), cfg.Vocab)
			worst = max(worst, rel)
		}
		t0 += n
	}
	if worst > gpt2Tol {
		t.Errorf("chunked prefill 5+1+4 vs one forward: max relative difference %g > %g", worst, gpt2Tol)
	}
	t.Logf("chunked prefill 5+1+4 vs Go reference: max relative difference %.2g", worst)
}

func TestGPT2WithoutPastMatchesWithPast(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m := tinyGPT2(t)
	cfg := m.Cfg
	withPast := openGPT2(t, rt, m, export.GPT2Options{})
	noPast := openGPT2(t, rt, m, export.GPT2Options{WithoutPast: true})
	ids := randomIDs(nn.NewRNG(7, 0), 3, 12, cfg.Vocab)
	mask := paddedMask([]int{12, 8, 2}, 12, false)
	pos := export.PositionsFromMask(mask)
	a := runGPT2(t, withPast, cfg, ids, mask, pos, nil)[export.Logits]
	b := runGPT2(t, noPast, cfg, ids, mask, pos, nil)[export.Logits]
	if !slices.Equal(a.Shape, b.Shape) {
		t.Fatalf("logits shapes %v (with past) and %v (without)", a.Shape, b.Shape)
	}
	abs, rel := orttest.MaxDiff(b.Float32, a.Float32, cfg.Vocab)
	if rel > 1e-6 {
		t.Errorf("without past vs with past: max difference %g absolute, %g relative > 1e-6", abs, rel)
	}
	t.Logf("without past vs with past: max difference %.2g absolute", abs)
}

// declaredDims reads model.onnx's declared inputs or outputs as
// "name type[dim,dim,…]" with the symbolic names of dynamic dimensions.
func declaredDims(t *testing.T, path string) (ins, outs []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	describe := func(vs []*onnxpb.ValueInfoProto) []string {
		var out []string
		for _, v := range vs {
			tt := v.GetType().GetTensorType()
			var dims []string
			for _, d := range tt.GetShape().GetDim() {
				if p := d.GetDimParam(); p != "" {
					dims = append(dims, p)
				} else {
					dims = append(dims, fmt.Sprint(d.GetDimValue()))
				}
			}
			out = append(out, fmt.Sprintf("%s %s[%s]", v.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()), strings.Join(dims, ",")))
		}
		return out
	}
	return describe(mp.GetGraph().GetInput()), describe(mp.GetGraph().GetOutput())
}

func TestGPT2SignatureIsOptimums(t *testing.T) {
	m := tinyGPT2(t)
	dir := t.TempDir()
	if err := export.WriteGPT2(filepath.Join(dir, "past"), m, export.GPT2Options{}); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteGPT2(filepath.Join(dir, "nopast"), m, export.GPT2Options{WithoutPast: true}); err != nil {
		t.Fatal(err)
	}
	// Optimum's GPT-2 export (GPT2OnnxConfig, task text-generation-with-past):
	// inputs in the order of GPT2LMHeadModel.forward's parameters.
	const kv = "[batch_size,4,past_sequence_length,16]"
	const present = "[batch_size,4,past_sequence_length + sequence_length,16]"
	wantIns := []string{"input_ids INT64[batch_size,sequence_length]",
		"past_key_values.0.key FLOAT" + kv, "past_key_values.0.value FLOAT" + kv,
		"past_key_values.1.key FLOAT" + kv, "past_key_values.1.value FLOAT" + kv,
		"attention_mask INT64[batch_size,past_sequence_length + sequence_length]",
		"position_ids INT64[batch_size,sequence_length]"}
	wantOuts := []string{"logits FLOAT[batch_size,sequence_length,512]",
		"present.0.key FLOAT" + present, "present.0.value FLOAT" + present,
		"present.1.key FLOAT" + present, "present.1.value FLOAT" + present}
	ins, outs := declaredDims(t, filepath.Join(dir, "past", export.ModelFile))
	if !slices.Equal(ins, wantIns) || !slices.Equal(outs, wantOuts) {
		t.Errorf("with past:\n got inputs %q\n want       %q\n got outputs %q\n want        %q", ins, wantIns, outs, wantOuts)
	}
	// Task text-generation: no cache.
	wantIns = []string{"input_ids INT64[batch_size,sequence_length]", "attention_mask INT64[batch_size,sequence_length]", "position_ids INT64[batch_size,sequence_length]"}
	ins, outs = declaredDims(t, filepath.Join(dir, "nopast", export.ModelFile))
	if !slices.Equal(ins, wantIns) || !slices.Equal(outs, wantOuts[:1]) {
		t.Errorf("without past:\n got inputs %q\n want       %q\n got outputs %q\n want        %q", ins, wantIns, outs, wantOuts[:1])
	}

	// config.json carries GPT-2's keys.
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "past", export.ConfigFile))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	for k, want := range map[string]any{"model_type": "gpt2", "vocab_size": 512.0, "n_positions": 128.0, "n_embd": 64.0,
		"n_layer": 2.0, "n_head": 4.0, "bos_token_id": 511.0, "eos_token_id": 511.0, "use_cache": true,
		"layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"} {
		if cfg[k] != want {
			t.Errorf("config.json %s = %v, want %v", k, cfg[k], want)
		}
	}
	for _, f := range []string{export.TokenizerFile, export.TokenizerConfigFile, export.SpecialTokensMapFile, export.GenerationConfigFile} {
		if _, err := os.Stat(filepath.Join(dir, "past", f)); err != nil {
			t.Error(err)
		}
	}

	// ONNX Runtime reads the same signature (-1 for dynamic dimensions).
	t.Run("onnxruntime", func(t *testing.T) {
		rt := orttest.LoadOrSkip(t)
		s, err := rt.NewSession(filepath.Join(dir, "past", export.ModelFile), ort.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var got []string
		for _, io := range append(s.Inputs(), s.Outputs()...) {
			got = append(got, io.String())
		}
		want := "input_ids int64[?,?] past_key_values.0.key float32[?,4,?,16] past_key_values.0.value float32[?,4,?,16] " +
			"past_key_values.1.key float32[?,4,?,16] past_key_values.1.value float32[?,4,?,16] attention_mask int64[?,?] position_ids int64[?,?] " +
			"logits float32[?,?,512] present.0.key float32[?,4,?,16] present.0.value float32[?,4,?,16] present.1.key float32[?,4,?,16] present.1.value float32[?,4,?,16]"
		if strings.Join(got, " ") != want {
			t.Errorf("ONNX Runtime signature:\n got %s\nwant %s", strings.Join(got, " "), want)
		}
	})
}

func TestGPT2RejectsBadModels(t *testing.T) {
	m := tinyGPT2(t)
	m.Blocks[1].FcW = m.Blocks[1].FcW[:10]
	if err := export.WriteGPT2(t.TempDir(), m, export.GPT2Options{}); err == nil || !strings.Contains(err.Error(), "h.1.mlp.c_fc.weight (n_embd×4·n_embd) has 10 values, want 16384") {
		t.Errorf("short c_fc weight: got %v", err)
	}
	cfg := export.TinyGPT2Config()
	cfg.Heads = 5
	if _, err := export.NewGPT2(cfg, 1); err == nil || !strings.Contains(err.Error(), "n_head 5 does not divide n_embd 64") {
		t.Errorf("heads not dividing width: got %v", err)
	}
	m = tinyGPT2(t)
	if _, err := m.Logits([][]int64{{1, 512}}, [][]int64{{1, 1}}); err == nil || !strings.Contains(err.Error(), "token id 512 outside [0, 512)") {
		t.Errorf("token out of range: got %v", err)
	}
	if _, err := m.Forward([][]int64{{1}}, [][]int64{{1}}, [][]int64{{128}}); err == nil || !strings.Contains(err.Error(), "position id 128 outside [0, n_positions 128)") {
		t.Errorf("position out of range: got %v", err)
	}
	tok, err := export.DefaultTokenizer(300)
	if err != nil {
		t.Fatal(err)
	}
	if err := export.WriteGPT2(t.TempDir(), m, export.GPT2Options{Tokenizer: tok}); err == nil || !strings.Contains(err.Error(), "the tokenizer has 300 tokens, the model's vocab_size is 512") {
		t.Errorf("tokenizer of the wrong size: got %v", err)
	}
}

// The committed fixtures testdata/tiny-gpt2 (text-generation-with-past) and
// testdata/tiny-gpt2-no-past (text-generation) are TinyGPT2Config with seed
// 1, byte for byte. Rebuild them with
//
//	go test ./internal/ort/export/ -run TestTinyGPT2Fixture -update
func TestTinyGPT2Fixture(t *testing.T) {
	m := tinyGPT2(t)
	for _, f := range []struct {
		dir string
		opt export.GPT2Options
	}{{"testdata/tiny-gpt2", export.GPT2Options{}}, {"testdata/tiny-gpt2-no-past", export.GPT2Options{WithoutPast: true}}} {
		if *update {
			if err := os.RemoveAll(f.dir); err != nil {
				t.Fatal(err)
			}
			if err := export.WriteGPT2(f.dir, m, f.opt); err != nil {
				t.Fatal(err)
			}
			continue
		}
		fresh := t.TempDir()
		if err := export.WriteGPT2(fresh, m, f.opt); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(fresh)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			want, err := os.ReadFile(filepath.Join(fresh, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s differs from what the exporter writes now (%v); rebuild with go test ./internal/ort/export/ -run TestTinyGPT2Fixture -update", f.dir, e.Name(), err)
			}
		}
	}
}

// BenchmarkGPT2DecodeStep measures one KV-cache decode step of the bench
// model (BenchGPT2Config) after a 32-token prefix, through ONNX Runtime on
// CPU.
func BenchmarkGPT2DecodeStep(b *testing.B) {
	rt, err := ort.Load("")
	if err != nil {
		b.Skip(err)
	}
	m, err := export.NewGPT2(export.BenchGPT2Config(), 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := m.Cfg
	s := openGPT2(b, rt, m, export.GPT2Options{})
	for _, B := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", B), func(b *testing.B) {
			const prefix = 32
			ids := randomIDs(nn.NewRNG(1, 0), B, prefix, cfg.Vocab)
			mask := paddedMask(slices.Repeat([]int{prefix}, B), prefix, false)
			past := runGPT2(b, s, cfg, ids, mask, export.PositionsFromMask(mask), nil)
			step := make([][]int64, B)
			pos := make([][]int64, B)
			for i := range B {
				step[i], pos[i] = []int64{1}, []int64{prefix}
				mask[i] = append(mask[i], 1)
			}
			for b.Loop() {
				runGPT2(b, s, cfg, step, mask, pos, past)
			}
			b.ReportMetric(float64(B*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
