package onnx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"promptgan/generator"
	"promptgan/generator/onnxexport"
	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/internal/ort/export"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
)

const oraclePath = "../../benchmarks/seqgan-oracle/data/oracle.safetensors"

// loadOrSkip loads ONNX Runtime or skips the test when the library is absent.
func loadOrSkip(tb testing.TB) *ort.Runtime {
	tb.Helper()
	rt, err := ort.Load("")
	if errors.Is(err, ort.ErrNotFound) {
		tb.Skipf("no ONNX Runtime library (run scripts/setup-ort.sh): %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}

var oracle struct {
	once sync.Once
	m    *generator.Model
	err  error
}

func loadOracle(tb testing.TB) *generator.Model {
	tb.Helper()
	oracle.once.Do(func() { oracle.m, oracle.err = generator.LoadOracle(oraclePath) })
	if oracle.err != nil {
		tb.Fatal(oracle.err)
	}
	return oracle.m
}

// exportLSTM writes m as an Optimum-layout directory (plain or stateful).
func exportLSTM(tb testing.TB, m *generator.Model, stateful bool) string {
	tb.Helper()
	lm, err := onnxexport.LSTM(m)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := lm.Write(dir, export.Options{Stateful: stateful}); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func open(tb testing.TB, dir string, opt onnx.Options) *onnx.Model {
	tb.Helper()
	m, err := onnx.Open(dir, opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// goGreedy decodes context greedily with the generator's own LSTM: the
// start token, then the context, then n arg-max tokens.
func goGreedy(m *generator.Model, context []int32, n int) []int32 {
	V, H, E := m.Cfg.Vocab, m.Cfg.Hidden, m.Cfg.Emb
	h, c := make([]float32, H), make([]float32, H)
	gates := make([]float32, 4*H)
	logits := make([]float32, V)
	feed := func(id int32) {
		m.LSTM.Step(m.Emb.W[int(id)*E:(int(id)+1)*E], h, c, 1, nil, gates)
	}
	feed(int32(m.Cfg.StartToken))
	for _, id := range context {
		feed(id)
	}
	var out []int32
	for range n {
		nn.Gemm(false, false, 1, V, H, 1, h, H, m.Wout.W, V, 0, logits, V)
		best := 0
		for j := range logits {
			if logits[j]+m.Bout.W[j] > logits[best]+m.Bout.W[best] {
				best = j
			}
		}
		out = append(out, int32(best))
		feed(int32(best))
	}
	return out
}

// mixedRequests returns requests of unequal input and prompt lengths
// (some empty), seeds 1..n.
func mixedRequests(n, vocab int) []backend.Request {
	rng := nn.NewRNG(5, 0)
	reqs := make([]backend.Request, n)
	for i := range reqs {
		in := make([]int32, (i*3)%7)
		p := make([]int32, 1+(i*5)%4)
		if i%4 == 3 {
			p = nil
		}
		for j := range in {
			in[j] = int32(rng.IntN(vocab))
		}
		for j := range p {
			p[j] = int32(rng.IntN(vocab))
		}
		reqs[i] = backend.Request{Input: in, Prompt: p, Seed: uint64(i + 1)}
	}
	return reqs
}

func generate(tb testing.TB, m *onnx.Model, reqs []backend.Request) [][]int32 {
	tb.Helper()
	gens, err := m.Generate(context.Background(), reqs)
	if err != nil {
		tb.Fatal(err)
	}
	if len(gens) != len(reqs) {
		tb.Fatalf("%d generations for %d requests", len(gens), len(reqs))
	}
	out := make([][]int32, len(gens))
	for i, g := range gens {
		out[i] = g.Tokens
	}
	return out
}

func TestOracleGreedyMatchesGo(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	const newTokens = 20
	reqs := mixedRequests(11, g.Cfg.Vocab)
	var want [][]int32
	for _, r := range reqs {
		want = append(want, goGreedy(g, append(slices.Clone(r.Input), r.Prompt...), newTokens))
	}
	results := map[string][][]int32{}
	for _, stateful := range []bool{false, true} {
		dir := exportLSTM(t, g, stateful)
		for _, batch := range []int{1, 4, 32} {
			m := open(t, dir, onnx.Options{BatchSize: batch, Decode: onnx.Decode{MaxNewTokens: newTokens}})
			kind := m.Info().Kind
			if want := map[bool]onnx.Kind{false: onnx.Plain, true: onnx.LSTMState}[stateful]; kind != want {
				t.Fatalf("stateful=%v: kind %s, want %s", stateful, kind, want)
			}
			got := generate(t, m, reqs)
			for i := range reqs {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("%s, batch %d, request %d: ONNX greedy %v, Go greedy %v", kind, batch, i, got[i], want[i])
				}
			}
			results[fmt.Sprintf("%s/%d", kind, batch)] = got
		}
	}
	if !t.Failed() {
		t.Logf("%d requests × %d greedy tokens equal to the Go generator's, plain and stateful, batch 1, 4 and 32", len(reqs), newTokens)
	}
}

func TestPromptInputOrder(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	dir := exportLSTM(t, g, true)
	req := backend.Request{Input: []int32{10, 11, 12}, Prompt: []int32{7, 8}}
	for _, tc := range []struct {
		order onnx.Order
		ctx   []int32
	}{{"", []int32{10, 11, 12, 7, 8}}, {onnx.InputPrompt, []int32{10, 11, 12, 7, 8}}, {onnx.PromptInput, []int32{7, 8, 10, 11, 12}}} {
		m := open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 6, Order: tc.order}})
		got := generate(t, m, []backend.Request{req})[0]
		if want := goGreedy(g, tc.ctx, 6); !slices.Equal(got, want) {
			t.Errorf("order %q: got %v, want the continuation of %v: %v", tc.order, got, tc.ctx, want)
		}
	}
}

func TestSamplingIsReproducibleAndBatchIndependent(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	reqs := mixedRequests(9, g.Cfg.Vocab)
	reqs = append(reqs, reqs[2]) // the same request twice in one batch
	for _, stateful := range []bool{false, true} {
		dir := exportLSTM(t, g, stateful)
		for _, dec := range []onnx.Decode{
			{MaxNewTokens: 10, Temperature: 1},
			{MaxNewTokens: 10, Temperature: 0.7, TopK: 50},
			{MaxNewTokens: 10, Temperature: 1.3, TopP: 0.9},
			{MaxNewTokens: 10, Temperature: 1, TopK: 100, TopP: 0.8},
		} {
			all := generate(t, open(t, dir, onnx.Options{BatchSize: 32, Decode: dec}), reqs)
			again := generate(t, open(t, dir, onnx.Options{BatchSize: 32, Decode: dec}), reqs)
			small := generate(t, open(t, dir, onnx.Options{BatchSize: 3, Decode: dec}), reqs)
			one := open(t, dir, onnx.Options{BatchSize: 1, Decode: dec})
			// In reverse order, one request per call.
			for i := len(reqs) - 1; i >= 0; i-- {
				alone := generate(t, one, reqs[i:i+1])[0]
				if !slices.Equal(alone, all[i]) || !slices.Equal(again[i], all[i]) || !slices.Equal(small[i], all[i]) {
					t.Errorf("stateful=%v %+v request %d: batch of %d %v, again %v, batches of 3 %v, alone %v",
						stateful, dec, i, len(reqs), all[i], again[i], small[i], alone)
				}
			}
			if !slices.Equal(all[2], all[len(reqs)-1]) {
				t.Errorf("the same request twice in a batch: %v and %v", all[2], all[len(reqs)-1])
			}
			// Another seed gives another sample.
			other := slices.Clone(reqs)
			for i := range other {
				other[i].Seed += 1000
			}
			diff := 0
			for i, gen := range generate(t, one, other) {
				if !slices.Equal(gen, all[i]) {
					diff++
				}
			}
			if diff < len(reqs)/2 {
				t.Errorf("stateful=%v %+v: only %d of %d requests changed with the seed", stateful, dec, diff, len(reqs))
			}
		}
	}
}

func TestTopK1AndTinyTopPAreGreedy(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	dir := exportLSTM(t, g, true)
	reqs := mixedRequests(8, g.Cfg.Vocab)
	greedy := generate(t, open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 12}}), reqs)
	for _, dec := range []onnx.Decode{
		{MaxNewTokens: 12, Temperature: 1, TopK: 1},
		{MaxNewTokens: 12, Temperature: 5, TopK: 1},
		{MaxNewTokens: 12, Temperature: 1, TopP: 1e-9},
	} {
		got := generate(t, open(t, dir, onnx.Options{Decode: dec}), reqs)
		for i := range reqs {
			if !slices.Equal(got[i], greedy[i]) {
				t.Errorf("%+v request %d: %v, greedy %v", dec, i, got[i], greedy[i])
			}
		}
	}
}

func TestStopTokens(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	for _, stateful := range []bool{false, true} {
		dir := exportLSTM(t, g, stateful)
		reqs := mixedRequests(6, g.Cfg.Vocab)
		full := generate(t, open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 16}}), reqs)
		// Stop at request 0's 6th token: every generation ends at its first
		// occurrence of that token, if any.
		stop := full[0][5]
		for _, include := range []bool{false, true} {
			m := open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 16, StopTokens: []int32{stop}, IncludeStop: include}})
			got := generate(t, m, reqs)
			for i := range reqs {
				want := full[i]
				if k := slices.Index(want, stop); k >= 0 {
					want = want[:k]
					if include {
						want = full[i][:k+1]
					}
				}
				if !slices.Equal(got[i], want) {
					t.Errorf("stateful=%v stop %d include=%v request %d: %v, want %v (unstopped %v)", stateful, stop, include, i, got[i], want, full[i])
				}
			}
			if n := len(got[0]); (include && n != 6) || (!include && n != 5) {
				t.Errorf("request 0 with include=%v: %d tokens", include, n)
			}
		}
	}
}

// eosDir exports the oracle with eos_token_id set in config.json (and
// optionally another in generation_config.json).
func TestEOSFromConfigFiles(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	dir := exportLSTM(t, g, true)
	reqs := mixedRequests(4, g.Cfg.Vocab)
	full := generate(t, open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 16}}), reqs)
	a, b := full[1][3], full[2][4]
	setConfig(t, dir, "eos_token_id", a)
	if err := os.WriteFile(filepath.Join(dir, onnx.GenerationConfigFile), fmt.Appendf(nil, `{"eos_token_id": [%d], "do_sample": false}`, b), 0o644); err != nil {
		t.Fatal(err)
	}
	m := open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 16}})
	if got := m.Info().Decode.StopTokens; !slices.Equal(got, sorted(a, b)) {
		t.Errorf("stop tokens %v, want %v", got, sorted(a, b))
	}
	got := generate(t, m, reqs)
	for i := range reqs {
		want := full[i]
		for j, tok := range want {
			if tok == a || tok == b {
				want = want[:j]
				break
			}
		}
		if !slices.Equal(got[i], want) {
			t.Errorf("request %d: %v, want %v", i, got[i], want)
		}
	}
}

func sorted(ids ...int32) []int32 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

func TestGenerateEdgeCases(t *testing.T) {
	loadOrSkip(t)
	g := loadOracle(t)
	dir := exportLSTM(t, g, true)
	m := open(t, dir, onnx.Options{Decode: onnx.Decode{MaxNewTokens: 4}})
	if gens, err := m.Generate(context.Background(), nil); err != nil || len(gens) != 0 {
		t.Errorf("no requests: %v, %v", gens, err)
	}
	// An empty request starts from BOS (the start token) alone.
	got := generate(t, m, []backend.Request{{}})[0]
	if want := goGreedy(g, nil, 4); !slices.Equal(got, want) {
		t.Errorf("empty request: %v, want %v", got, want)
	}
	_, err := m.Generate(context.Background(), []backend.Request{{Prompt: []int32{1}}, {Input: []int32{3, 5000}}})
	if err == nil || !strings.Contains(err.Error(), "request 1: Input[1] = 5000 is not a token id of this model (vocabulary 5000)") {
		t.Errorf("token out of range: %v", err)
	}
	_, err = m.Generate(context.Background(), []backend.Request{{Prompt: []int32{-1}}})
	if err == nil || !strings.Contains(err.Error(), "Prompt[0] = -1") {
		t.Errorf("negative token: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Generate(ctx, []backend.Request{{Prompt: []int32{1}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	var _ backend.Model = m
}
