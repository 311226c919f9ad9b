package onnxexport_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"promptgan/generator"
	"promptgan/generator/onnxexport"
	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/internal/ort/export"
	"promptgan/internal/ort/orttest"
)

const oraclePath = "../../benchmarks/seqgan-oracle/data/oracle.safetensors"

// goForward is the generator's own forward pass (the equations of
// internal/nn.LSTM) over the (B, T) input ids, which start with the start
// token: it returns the (B, T, V) logits and the final (B, H) hidden and
// cell states.
func goForward(m *generator.Model, in []int32, B, T int) (logits, h, c []float32) {
	V, E, H := m.Cfg.Vocab, m.Cfg.Emb, m.Cfg.Hidden
	ids := make([]int32, T*B) // time-major, as nn.LSTM wants
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			ids[t*B+b] = in[b*T+t]
		}
	}
	cache := m.LSTM.Forward(nn.Lookup(m.Emb.W, E, ids), T, B, nil)
	z := make([]float32, T*B*V)
	nn.Gemm(false, false, T*B, V, H, 1, cache.Outputs(H), H, m.Wout.W, V, 0, z, V)
	nn.AddBias(z, T*B, V, m.Bout.W)
	out := make([]float32, B*T*V)
	for t := 0; t < T; t++ {
		for b := 0; b < B; b++ {
			copy(out[(b*T+t)*V:(b*T+t+1)*V], z[(t*B+b)*V:(t*B+b+1)*V])
		}
	}
	return out, cache.H[T*B*H:], cache.C[T*B*H:]
}

// testSequences returns B sequences of length T: half sampled from the
// oracle, half uniformly random tokens.
func testSequences(m *generator.Model, B, T int) []int32 {
	rng := nn.NewRNG(11, 0)
	seqs := m.Sample(B/2, T, generator.SampleOptions{Temperature: 1}, nil, rng)
	for range (B - B/2) * T {
		seqs = append(seqs, int32(rng.Float64()*float64(m.Cfg.Vocab)))
	}
	return seqs
}

// withStart returns the model inputs for sequences x: the start token, then
// each sequence shifted right by one (its last token is not an input).
func withStart(m *generator.Model, x []int32, B, T int) []int32 {
	in := make([]int32, B*T)
	for b := 0; b < B; b++ {
		in[b*T] = int32(m.Cfg.StartToken)
		copy(in[b*T+1:(b+1)*T], x[b*T:(b+1)*T-1])
	}
	return in
}

func TestOracleExportMatchesGo(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m, err := generator.LoadOracle(oraclePath)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := onnxexport.LSTM(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := lm.Write(dir, export.Options{ModelType: "seqgan-oracle-lstm"}); err != nil {
		t.Fatal(err)
	}
	var cfg export.Config
	b, err := os.ReadFile(filepath.Join(dir, export.ConfigFile))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("config.json: %v\n%s", err, b)
	}
	if cfg.ModelType != "seqgan-oracle-lstm" || cfg.VocabSize != 5000 || cfg.HiddenSize != 32 || cfg.BOSTokenID != m.Cfg.StartToken || cfg.UseCache {
		t.Errorf("config.json: %+v", cfg)
	}
	if st, err := os.Stat(filepath.Join(dir, export.ModelFile)); err == nil {
		t.Logf("model.onnx: %d bytes", st.Size())
	}
	s, err := rt.NewSession(filepath.Join(dir, export.ModelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sig := func(ios []ort.IOInfo) string {
		var parts []string
		for _, io := range ios {
			parts = append(parts, io.String())
		}
		return strings.Join(parts, ", ")
	}
	if got := sig(s.Inputs()) + " → " + sig(s.Outputs()); got != "input_ids int64[?,?], attention_mask int64[?,?] → logits float32[?,?,5000]" {
		t.Errorf("signature: %s", got)
	}

	const B, T = 6, 20
	x := testSequences(m, B, T)
	in := withStart(m, x, B, T)
	out, err := s.Run(map[string]ort.Tensor{
		export.InputIDs:      ort.I64(orttest.I64(in), B, T),
		export.AttentionMask: ort.I64(orttest.Ones(B*T), B, T),
	})
	if err != nil {
		t.Fatal(err)
	}
	logits := out[export.Logits]
	if !slices.Equal(logits.Shape, []int64{B, T, 5000}) {
		t.Fatalf("logits shape %v", logits.Shape)
	}
	want, _, _ := goForward(m, in, B, T)
	abs, rel := orttest.MaxDiff(logits.Float32, want, 5000)
	if rel > 1e-5 {
		t.Errorf("logits ONNX vs Go: max difference relative to the row's largest logit %g > 1e-5 (absolute %g)", rel, abs)
	}
	t.Logf("logits ONNX vs Go over %d sequences × %d positions: max difference %.2g absolute, %.2g relative", B, T, abs, rel)
	// The same through the generator's own scoring: log-softmax of the
	// ONNX logits at each next token equals generator.Model.LogProbs.
	lp := m.LogProbs(x, B, T, 1, nil)
	V := 5000
	var worst float64
	for r := 0; r < B*T; r++ {
		row := logits.Float32[r*V : (r+1)*V]
		mx := slices.Max(row)
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - mx))
		}
		got := float64(row[x[r]]-mx) - math.Log(s)
		worst = max(worst, math.Abs(got-float64(lp[r])))
	}
	if worst > 1e-5 {
		t.Errorf("max |log p ONNX − generator.LogProbs| = %g > 1e-5", worst)
	} else {
		t.Logf("max |log p ONNX − generator.LogProbs| = %.2g", worst)
	}

	// A wrong signature is refused with the names expected and found.
	_, err = s.Run(map[string]ort.Tensor{"ids": ort.I64(orttest.I64(in), B, T)})
	if err == nil || !strings.Contains(err.Error(), "input_ids int64[?,?], attention_mask int64[?,?]") || !strings.Contains(err.Error(), "unknown [ids]") {
		t.Errorf("wrong input name: got %v", err)
	}
}

func TestStatefulExportMatchesFullRecompute(t *testing.T) {
	rt := orttest.LoadOrSkip(t)
	m, err := generator.LoadOracle(oraclePath)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := onnxexport.LSTM(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := lm.Write(dir, export.Options{Stateful: true}); err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(filepath.Join(dir, export.ModelFile), ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const B, T, H, V = 4, 20, 32, 5000
	in := withStart(m, testSequences(m, B, T), B, T)
	want, wantH, wantC := goForward(m, in, B, T)
	// Feed the inputs in chunks of 5, 4, 1, 1, 9 tokens, carrying the state.
	h, c := make([]float32, B*H), make([]float32, B*H)
	got := make([]float32, B*T*V)
	t0 := 0
	for _, n := range []int{5, 4, 1, 1, 9} {
		chunk := make([]int32, 0, B*n)
		for b := 0; b < B; b++ {
			chunk = append(chunk, in[b*T+t0:b*T+t0+n]...)
		}
		out, err := s.Run(map[string]ort.Tensor{
			export.InputIDs:      ort.I64(orttest.I64(chunk), B, int64(n)),
			export.AttentionMask: ort.I64(orttest.Ones(B*n), B, int64(n)),
			export.PastStateH:    ort.F32(h, B, H),
			export.PastStateC:    ort.F32(c, B, H),
		})
		if err != nil {
			t.Fatal(err)
		}
		for b := 0; b < B; b++ {
			copy(got[(b*T+t0)*V:(b*T+t0+n)*V], out[export.Logits].Float32[b*n*V:(b+1)*n*V])
		}
		h, c = out[export.PresentStateH].Float32, out[export.PresentStateC].Float32
		t0 += n
	}
	abs, rel := orttest.MaxDiff(got, want, V)
	if rel > 1e-5 {
		t.Errorf("stateful, chunked: logits ONNX vs Go: max difference relative to the row's largest logit %g > 1e-5 (absolute %g)", rel, abs)
	}
	t.Logf("stateful, chunked: logits ONNX vs Go: max difference %.2g absolute, %.2g relative", abs, rel)
	if len(h) != B*H || len(c) != B*H {
		t.Fatalf("present state: %d and %d values, want %d", len(h), len(c), B*H)
	}
	dh, _ := orttest.MaxDiff(h, wantH, H)
	dc, _ := orttest.MaxDiff(c, wantC, H)
	if dh > 1e-5 || dc > 1e-5 {
		t.Errorf("present state vs Go's final state: max |Δh| %g, |Δc| %g > 1e-5", dh, dc)
	}
	t.Logf("present state vs Go: max |Δh| %.2g, |Δc| %.2g", dh, dc)
}

func TestExportRejectsBadModels(t *testing.T) {
	cfg := generator.DefaultConfig(10)
	cfg.CondDim = 3
	if _, err := onnxexport.LSTM(generator.New(cfg, nn.NewRNG(1, 0))); err == nil || !strings.Contains(err.Error(), "conditioned") {
		t.Errorf("conditioned generator: got %v", err)
	}
	lm, err := onnxexport.LSTM(generator.New(generator.DefaultConfig(10), nn.NewRNG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	lm.Wout = lm.Wout[:5]
	if err := lm.Write(t.TempDir(), export.Options{}); err == nil || !strings.Contains(err.Error(), "Wout (hidden×vocab) has 5 values, want 320") {
		t.Errorf("short Wout: got %v", err)
	}
	lm.StartToken = 10
	if err := lm.Validate(); err == nil || !strings.Contains(err.Error(), "start token 10") {
		t.Errorf("start token out of range: got %v", err)
	}
}

// benchThreads is ONNX Runtime's intra-op thread count in the benchmark.
var benchThreads = 1

// BenchmarkStatefulStep measures one decode step of the exported oracle
// (one token per sequence, state carried) through ONNX Runtime on CPU.
func BenchmarkStatefulStep(b *testing.B) {
	rt, err := ort.Load("")
	if errors.Is(err, ort.ErrNotFound) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	m, err := generator.LoadOracle(oraclePath)
	if err != nil {
		b.Fatal(err)
	}
	lm, _ := onnxexport.LSTM(m)
	dir := b.TempDir()
	if err := lm.Write(dir, export.Options{Stateful: true}); err != nil {
		b.Fatal(err)
	}
	s, err := rt.NewSession(filepath.Join(dir, export.ModelFile), ort.Options{Threads: benchThreads})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, B := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d", B), func(b *testing.B) {
			in := map[string]ort.Tensor{
				export.InputIDs:      ort.I64(make([]int64, B), int64(B), 1),
				export.AttentionMask: ort.I64(orttest.Ones(B), int64(B), 1),
				export.PastStateH:    ort.F32(make([]float32, B*32), int64(B), 32),
				export.PastStateC:    ort.F32(make([]float32, B*32), int64(B), 32),
			}
			for b.Loop() {
				if _, err := s.Run(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(B*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
