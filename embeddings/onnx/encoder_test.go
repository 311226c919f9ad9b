package onnx

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"promptgan/internal/ort"
	"promptgan/internal/ort/orttest"
)

// referenceWords splits as the Whitespace pre-tokenizer does.
var referenceWords = regexp.MustCompile(`\w+|[^\w\s]+`)

// referenceVector is the Go computation of what the tiny encoder should
// give for text: its own word-level tokenization (lower case, [UNK],
// [CLS] … [SEP] unless bare, cut to maxLen), then the network, masked mean
// and L2 normalisation, all in float64.
func referenceVector(n *tinyNet, text string, maxLen int, bare bool) []float64 {
	vocab := map[string]int32{}
	for i, w := range tinyWords {
		vocab[w] = int32(tinySpecials + i)
	}
	var ids []int32
	for _, w := range referenceWords.FindAllString(strings.ToLower(text), -1) {
		id, ok := vocab[w]
		if !ok {
			id = tinyUnk
		}
		ids = append(ids, id)
	}
	if !bare {
		ids = append([]int32{tinyCLS}, ids[:min(len(ids), maxLen-2)]...)
		ids = append(ids, tinySEP)
	}
	vec := make([]float64, n.spec.hidden)
	if len(ids) == 0 {
		return vec
	}
	for _, h := range n.hiddenStates(ids) {
		for k, v := range h {
			vec[k] += v / float64(len(ids))
		}
	}
	var norm float64
	for _, v := range vec {
		norm += v * v
	}
	for k := range vec {
		vec[k] /= math.Sqrt(norm)
	}
	return vec
}

// sentences have different lengths, unknown words, capitals, punctuation,
// an empty text and one longer than the tiny encoder's 64 positions.
var sentences = []string{
	"The movie was great!",
	"",
	"terrible service",
	"I love this phone , but the story was boring and the food was awful .",
	"Zebras juggle quantum PANCAKES?",
	"good",
	strings.Repeat("the cat sat on the mat . ", 12),
	"we were very happy with the place",
}

func openTiny(t testing.TB, dir string, opt Options) *Encoder {
	t.Helper()
	e, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// ONNX Runtime's vectors equal the Go reference of the same network, for
// models with and without token_type_ids and pooler_output, and padding
// never changes a vector: each text alone, in chunks of 3 (padded to the
// chunk's longest) and all at once give the same one.
func TestEncodeAgreesWithReference(t *testing.T) {
	orttest.LoadOrSkip(t)
	for _, tc := range []struct {
		name   string
		modify func(*tinySpec)
	}{
		{"BERT-like (token types, pooler)", func(*tinySpec) {}},
		{"no token_type_ids, no pooler_output", func(s *tinySpec) { s.tokenTypes, s.pooler = false, false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := defaultTinySpec(7)
			tc.modify(&spec)
			dir := t.TempDir()
			if err := buildTiny(dir, spec); err != nil {
				t.Fatal(err)
			}
			net := newTinyNet(spec)
			var got [][][]float32
			for _, chunk := range []int{1, 3, 32} {
				e := openTiny(t, dir, Options{ChunkSize: chunk, Threads: 1})
				if e.Dim() != spec.hidden || e.MaxLength() != spec.maxPositions {
					t.Fatalf("Dim, MaxLength = %d, %d; want %d, %d", e.Dim(), e.MaxLength(), spec.hidden, spec.maxPositions)
				}
				vecs, err := e.Encode(context.Background(), sentences)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, vecs)
			}
			alone := make([][]float32, len(sentences))
			e := openTiny(t, dir, Options{Threads: 1})
			for i, s := range sentences {
				v, err := e.Encode(context.Background(), []string{s})
				if err != nil {
					t.Fatal(err)
				}
				alone[i] = v[0]
			}
			got = append(got, alone)
			for i, s := range sentences {
				want := referenceVector(net, s, spec.maxPositions, false)
				for run, vecs := range got {
					if len(vecs[i]) != spec.hidden {
						t.Fatalf("run %d text %d: %d values, want %d", run, i, len(vecs[i]), spec.hidden)
					}
					var worst float64
					for k, w := range want {
						worst = max(worst, math.Abs(float64(vecs[i][k])-w))
					}
					// Unit vectors: the absolute error is the relative one.
					if worst > 1e-5 {
						t.Errorf("run %d, text %d %.30q: differs from the Go reference by %.2g", run, i, s, worst)
					}
				}
			}
		})
	}
}

// A tokenizer without special tokens gives an empty text no tokens: its
// vector is zero, and the other texts of the batch are unaffected.
func TestEncodeTokenlessText(t *testing.T) {
	orttest.LoadOrSkip(t)
	dir := t.TempDir()
	if err := BuildTiny(dir, 3); err != nil {
		t.Fatal(err)
	}
	tokPath := filepath.Join(dir, TokenizerFile)
	data, err := os.ReadFile(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`(?s)"post_processor": \{.*?\n  \},`).ReplaceAll(data, []byte(`"post_processor": null,`))
	if string(bare) == string(data) {
		t.Fatal("could not remove the post-processor from tokenizer.json")
	}
	if err := os.WriteFile(tokPath, bare, 0o644); err != nil {
		t.Fatal(err)
	}
	vecs, err := openTiny(t, dir, Options{}).Encode(context.Background(), []string{"", "the cat sat", "   "})
	if err != nil {
		t.Fatal(err)
	}
	net := newTinyNet(defaultTinySpec(3))
	for i, want := range [][]float64{make([]float64, net.spec.hidden), referenceVector(net, "the cat sat", 64, true), make([]float64, net.spec.hidden)} {
		for k, w := range want {
			if math.Abs(float64(vecs[i][k])-w) > 1e-5 {
				t.Fatalf("text %d: %v, want %v", i, vecs[i], want)
			}
		}
	}
}

func TestEncodeOptions(t *testing.T) {
	orttest.LoadOrSkip(t)
	dir := t.TempDir()
	if err := BuildTiny(dir, 5); err != nil {
		t.Fatal(err)
	}
	net := newTinyNet(defaultTinySpec(5))
	long := sentences[6]
	vecs, err := openTiny(t, dir, Options{MaxLength: 5}).Encode(context.Background(), []string{long})
	if err != nil {
		t.Fatal(err)
	}
	for k, w := range referenceVector(net, long, 5, false) {
		if math.Abs(float64(vecs[0][k])-w) > 1e-5 {
			t.Fatalf("MaxLength 5: not the vector of the first 3 words between [CLS] and [SEP]")
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := openTiny(t, dir, Options{}).Encode(ctx, sentences); err == nil {
		t.Error("Encode with a cancelled context: no error")
	}
	if vecs, err := openTiny(t, dir, Options{}).Encode(context.Background(), nil); err != nil || len(vecs) != 0 {
		t.Errorf("Encode(nil) = %v, %v", vecs, err)
	}

	// The fingerprint follows the files and the settings that change a
	// vector, and only those.
	base := openTiny(t, dir, Options{}).Fingerprint()
	if fp := openTiny(t, dir, Options{ChunkSize: 2, Threads: 1, Device: ort.CPU}).Fingerprint(); fp != base {
		t.Errorf("execution settings changed the fingerprint:\n%s\n%s", base, fp)
	}
	if fp := openTiny(t, dir, Options{MaxLength: 5}).Fingerprint(); fp == base {
		t.Error("MaxLength did not change the fingerprint")
	}
	for _, name := range []string{ModelFile, TokenizerFile, ConfigFile} {
		if !strings.Contains(base, name+"=sha256:") {
			t.Errorf("fingerprint %s has no hash of %s", base, name)
		}
	}
	other := t.TempDir()
	if err := BuildTiny(other, 6); err != nil {
		t.Fatal(err)
	}
	if fp := openTiny(t, other, Options{}).Fingerprint(); fp == base {
		t.Error("another model has the same fingerprint")
	}
	if err := os.Remove(filepath.Join(other, ConfigFile)); err != nil {
		t.Fatal(err)
	}
	if e := openTiny(t, other, Options{}); !strings.Contains(e.Fingerprint(), ConfigFile+"=none") || e.MaxLength() != DefaultMaxLength {
		t.Errorf("without config.json: fingerprint %s, max length %d (want %d)", e.Fingerprint(), e.MaxLength(), DefaultMaxLength)
	}
}

// graphModel writes a model.onnx (with the tiny tokenizer beside it) whose
// inputs and outputs a test chooses: an embedding of input_ids, the other
// inputs declared but unused, and out(g, "emb") producing the outputs.
func graphModel(t *testing.T, inputs func(g *ort.Graph), out func(g *ort.Graph, emb string)) string {
	t.Helper()
	dir := t.TempDir()
	if err := BuildTiny(dir, 1); err != nil {
		t.Fatal(err)
	}
	g := ort.NewGraph("variant")
	inputs(g)
	g.Float32Initializer("table", make([]float32, 8*len(tinyWords)), int64(len(tinyWords)), 8)
	g.Node("Gather", []string{"table", InputIDs}, []string{"emb"}, ort.AttrInt("axis", 0))
	out(g, "emb")
	if err := g.WriteFile(filepath.Join(dir, ModelFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil {
		t.Fatal(err)
	}
	return dir
}

var bs = []ort.Dim{ort.Dynamic("batch"), ort.Dynamic("sequence")}

func idsAndMask(g *ort.Graph) {
	g.Input(InputIDs, ort.Int64, bs...)
	g.Input(AttentionMask, ort.Int64, bs...)
}

func hiddenOut(g *ort.Graph, emb string) {
	g.Node("Identity", []string{emb}, []string{LastHiddenName})
	g.Output(LastHiddenName, ort.Float32, ort.Dynamic("batch"), ort.Dynamic("sequence"), ort.Fixed(8))
}

// A model in the right layout with the minimal signature opens.
func TestOpenMinimalSignature(t *testing.T) {
	orttest.LoadOrSkip(t)
	e := openTiny(t, graphModel(t, idsAndMask, hiddenOut), Options{})
	vecs, err := e.Encode(context.Background(), []string{"the cat"})
	if err != nil || e.Dim() != 8 || len(vecs[0]) != 8 {
		t.Fatalf("Dim %d, Encode = %v, %v", e.Dim(), vecs, err)
	}
}

func TestOpenErrors(t *testing.T) {
	orttest.LoadOrSkip(t)
	tiny := func(t *testing.T) string {
		dir := t.TempDir()
		if err := BuildTiny(dir, 1); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	writeFile := func(name, body string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	remove := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		dir   func(t *testing.T) string // nil = the tiny encoder
		edit  func(t *testing.T, dir string)
		opt   Options
		wants []string // substrings of the error; "DIR" stands for the directory
	}{
		{name: "no directory", dir: func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }, wants: []string{"encoder directory", "DIR"}},
		{name: "a file, not a directory", dir: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			os.WriteFile(p, []byte("x"), 0o644)
			return p
		}, wants: []string{"DIR is not a directory"}},
		{name: "no model.onnx", edit: remove(ModelFile), wants: []string{"DIR/model.onnx: not found", "optimum-cli export onnx", "--task feature-extraction"}},
		{name: "no tokenizer.json", edit: remove(TokenizerFile), wants: []string{"DIR/tokenizer.json: not found", "optimum-cli"}},
		{name: "empty model.onnx", edit: writeFile(ModelFile, ""), wants: []string{"DIR/model.onnx: empty"}},
		{name: "model.onnx not ONNX", edit: writeFile(ModelFile, "not a protobuf"), wants: []string{"DIR/model.onnx", "check that DIR/model.onnx is a complete ONNX model"}},
		{name: "tokenizer.json not JSON", edit: writeFile(TokenizerFile, "{"), wants: []string{"DIR/tokenizer.json: cannot load it", "the encoder needs a tokenizer.json"}},
		{name: "tokenizer.json panics the library", edit: writeFile(TokenizerFile, `{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}, "post_processor": {"sep": 1}}`),
			wants: []string{"DIR/tokenizer.json: cannot load it with github.com/sugarme/tokenizer (it panicked"}},
		{name: "config.json not JSON", edit: writeFile(ConfigFile, "{"), wants: []string{"DIR/config.json: not a valid config.json"}},
		{name: "config.json max_position_embeddings 0", edit: writeFile(ConfigFile, `{"max_position_embeddings": 0}`), wants: []string{"DIR/config.json: field max_position_embeddings is 0"}},
		{name: "config.json hidden_size disagrees", edit: writeFile(ConfigFile, `{"hidden_size": 7}`), wants: []string{"DIR/config.json: field hidden_size is 7", "last_hidden_state float32[?,?,24]"}},
		{name: "negative chunk size", opt: Options{ChunkSize: -1}, wants: []string{"chunk size -1"}},
		{name: "negative max length", opt: Options{MaxLength: -2}, wants: []string{"max length -2"}},
		{name: "negative threads", opt: Options{Threads: -1}, wants: []string{"threads -1"}},
		{name: "unknown device", opt: Options{Device: "tpu"}, wants: []string{`device "tpu": want cpu, cuda or auto`}},
		{name: "max length without room for text", opt: Options{MaxLength: 2}, wants: []string{"maximum length of 2 leaves no room", "2 special tokens"}},
		{name: "no attention_mask", dir: func(t *testing.T) string {
			return graphModel(t, func(g *ort.Graph) { g.Input(InputIDs, ort.Int64, bs...) }, hiddenOut)
		}, wants: []string{"DIR/model.onnx: no input attention_mask", "it declares inputs [input_ids int64[?,?]]"}},
		{name: "an input the encoder cannot feed", dir: func(t *testing.T) string {
			return graphModel(t, func(g *ort.Graph) { idsAndMask(g); g.Input("position_ids", ort.Int64, bs...) }, hiddenOut)
		}, wants: []string{"input position_ids is not one the encoder can feed"}},
		{name: "float attention_mask", dir: func(t *testing.T) string {
			return graphModel(t, func(g *ort.Graph) {
				g.Input(InputIDs, ort.Int64, bs...)
				g.Input(AttentionMask, ort.Float32, bs...)
			}, hiddenOut)
		}, wants: []string{"input attention_mask: want int64 [batch, sequence], the model declares attention_mask float32[?,?]"}},
		{name: "fixed sequence length", dir: func(t *testing.T) string {
			return graphModel(t, func(g *ort.Graph) {
				g.Input(InputIDs, ort.Int64, ort.Dynamic("batch"), ort.Fixed(16))
				g.Input(AttentionMask, ort.Int64, bs...)
			}, hiddenOut)
		}, wants: []string{"input input_ids has a fixed dimension (input_ids int64[?,16])", "dynamic"}},
		{name: "no last_hidden_state", dir: func(t *testing.T) string {
			return graphModel(t, idsAndMask, func(g *ort.Graph, emb string) {
				g.Node("Identity", []string{emb}, []string{"hidden_states"})
				g.Output("hidden_states", ort.Float32, ort.Dynamic("batch"), ort.Dynamic("sequence"), ort.Fixed(8))
			})
		}, wants: []string{"no output last_hidden_state", "outputs [hidden_states float32[?,?,8]]"}},
		{name: "last_hidden_state of rank 2", dir: func(t *testing.T) string {
			return graphModel(t, idsAndMask, func(g *ort.Graph, emb string) {
				g.Node("ReduceMean", []string{emb}, []string{LastHiddenName}, ort.AttrInts("axes", 1), ort.AttrInt("keepdims", 0))
				g.Output(LastHiddenName, ort.Float32, ort.Dynamic("batch"), ort.Fixed(8))
			})
		}, wants: []string{"output last_hidden_state: want rank 3", "(rank 2)"}},
		{name: "int64 last_hidden_state", dir: func(t *testing.T) string {
			return graphModel(t, idsAndMask, func(g *ort.Graph, emb string) {
				g.Node("Cast", []string{emb}, []string{LastHiddenName}, ort.AttrInt("to", 7))
				g.Output(LastHiddenName, ort.Int64, ort.Dynamic("batch"), ort.Dynamic("sequence"), ort.Fixed(8))
			})
		}, wants: []string{"output last_hidden_state: want float32, the model declares last_hidden_state int64[?,?,8]"}},
		{name: "dynamic hidden size without config.json", dir: func(t *testing.T) string {
			return graphModel(t, idsAndMask, func(g *ort.Graph, emb string) {
				// Tiled batch-size times along the last axis: ONNX Runtime's
				// shape inference cannot fix the hidden size either.
				g.Int64Initializer("first", []int64{0}, 1)
				g.Int64Initializer("one_one", []int64{1, 1}, 2)
				g.Node("Shape", []string{AttentionMask}, []string{"mask_shape"})
				g.Node("Gather", []string{"mask_shape", "first"}, []string{"batch_size"}, ort.AttrInt("axis", 0))
				g.Node("Concat", []string{"one_one", "batch_size"}, []string{"repeats"}, ort.AttrInt("axis", 0))
				g.Node("Tile", []string{emb, "repeats"}, []string{LastHiddenName})
				g.Output(LastHiddenName, ort.Float32, ort.Dynamic("batch"), ort.Dynamic("sequence"), ort.Dynamic("hidden"))
			})
		}, wants: []string{"leaves the hidden size dynamic", "add hidden_size to DIR/config.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dir string
			if tc.dir != nil {
				dir = tc.dir(t)
			} else {
				dir = tiny(t)
			}
			if tc.edit != nil {
				tc.edit(t, dir)
			}
			e, err := Open(dir, tc.opt)
			if err == nil {
				e.Close()
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if w = strings.ReplaceAll(w, "DIR", dir); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
		})
	}
}
