// Package export writes promptgan's own networks as ONNX models in the
// directory layout Hugging Face Optimum uses for causal language models, so
// that targets/onnx and ONNX Runtime serve them like any exported LM:
//
//   - the SeqGAN oracle LSTM (LSTMLM): model.onnx + config.json, token ids
//     only, no tokenizer.json;
//   - a GPT-2-architecture model with seeded weights (GPT2, WriteGPT2) in
//     the exact signature of Optimum's GPT-2 export with and without
//     past_key_values, with a small byte-level BPE tokenizer.json
//     (BPETokenizer), so that tests and benchmarks take the code path a
//     user's own GPT-2/Qwen/SmolLM export takes.
//
// It takes weights as plain slices and imports no network package:
// generator/onnxexport, above both, hands it the generator's weights, so
// pure-Go builds of the generator never pull in ONNX Runtime's cgo binding.
package export

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"promptgan/internal/atomicfile"
	"promptgan/internal/ort"
)

// The names of the exported model's inputs and outputs. Input and output
// names follow Optimum's causal-LM export; the LSTM's recurrent state has no
// Optimum name (Optimum's past_key_values are attention caches), so the
// stateful variant calls it past_state.h/c in and present_state.h/c out, by
// analogy with past_key_values/present.
const (
	InputIDs       = "input_ids"
	AttentionMask  = "attention_mask"
	Logits         = "logits"
	PastStateH     = "past_state.h"
	PastStateC     = "past_state.c"
	PresentStateH  = "present_state.h"
	PresentStateC  = "present_state.c"
	ModelFile      = "model.onnx"
	ConfigFile     = "config.json"
	defaultModelTy = "promptgan-lstm"
)

// LSTMLM is a single-layer LSTM language model in promptgan's conventions
// (internal/nn.LSTM, row vectors, gates stored side by side as i, f, o, g):
//
//	x_t = Embedding[id_t]
//	i = σ(x·Wi + h·Ui + bi)  f = σ(x·Wf + h·Uf + bf)  o = σ(x·Wo + h·Uo + bo)  g = tanh(x·Wc + h·Uc + bc)
//	c' = f⊙c + i⊙g           h' = o⊙tanh(c')           logits = h'·Wout + Bout
//
// from zero state. The first input of every sequence is StartToken (SeqGAN's
// start token), so the logits at position t are the distribution of the
// token after ids[0..t].
type LSTMLM struct {
	Vocab, Emb, Hidden int
	StartToken         int
	Embedding          []float32 // (Vocab, Emb)
	Wx                 []float32 // (Emb, 4·Hidden), gates i, f, o, g
	Wh                 []float32 // (Hidden, 4·Hidden), gates i, f, o, g
	B                  []float32 // (4·Hidden)
	Wout               []float32 // (Hidden, Vocab)
	Bout               []float32 // (Vocab)
}

// Validate reports the first size or weight that does not fit the shape.
func (m LSTMLM) Validate() error {
	V, E, H := m.Vocab, m.Emb, m.Hidden
	if V < 2 || E < 1 || H < 1 {
		return fmt.Errorf("export: vocab %d, emb %d, hidden %d: need vocab ≥ 2 and positive widths", V, E, H)
	}
	if m.StartToken < 0 || m.StartToken >= V {
		return fmt.Errorf("export: start token %d is not a token id in [0, %d)", m.StartToken, V)
	}
	for _, w := range []struct {
		name string
		got  []float32
		want int
	}{
		{"embedding (vocab×emb)", m.Embedding, V * E}, {"Wx (emb×4·hidden)", m.Wx, E * 4 * H},
		{"Wh (hidden×4·hidden)", m.Wh, H * 4 * H}, {"B (4·hidden)", m.B, 4 * H},
		{"Wout (hidden×vocab)", m.Wout, H * V}, {"Bout (vocab)", m.Bout, V},
	} {
		if len(w.got) != w.want {
			return fmt.Errorf("export: %s has %d values, want %d", w.name, len(w.got), w.want)
		}
	}
	return nil
}

// Options choose the variant written.
type Options struct {
	// Stateful adds inputs past_state.h and past_state.c (batch, hidden) and
	// outputs present_state.h and present_state.c: the LSTM starts from the
	// given state (zeros for a fresh sequence, which then begins with the
	// start token) and returns the state after the last position, so a
	// decoder feeds one new token per call instead of the whole prefix.
	Stateful bool
	// ModelType is config.json's model_type; "" means "promptgan-lstm".
	ModelType string
}

// onnxGate maps ONNX's LSTM gate order (i, o, f, c) to promptgan's (i, f, o, g).
var onnxGate = [4]int{0, 2, 1, 3}

// Graph returns the model as an ONNX graph: input_ids and attention_mask
// (batch, sequence) int64 → logits (batch, sequence, vocab) float32, through
// Gather → Transpose → LSTM → Squeeze → Transpose → MatMul → Add.
//
// attention_mask is accepted for signature compatibility and not used: an
// LSTM is causal by construction, so with right padding (ones, then zeros)
// every real position's logits are exact and padded positions are to be
// ignored. Left padding is not supported. Sequences need at least one token.
func (m LSTMLM) Graph(opt Options) (*ort.Graph, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	V, E, H := int64(m.Vocab), int64(m.Emb), int64(m.Hidden)
	G := 4 * m.Hidden
	// ONNX LSTM weights: W (1, 4H, E), R (1, 4H, H), B (1, 8H) = [Wb, Rb],
	// each gate block a row block, gates in the order i, o, f, c.
	w := make([]float32, G*m.Emb)
	r := make([]float32, G*m.Hidden)
	b := make([]float32, 2*G)
	for og, pg := range onnxGate {
		for j := 0; j < m.Hidden; j++ {
			row, col := og*m.Hidden+j, pg*m.Hidden+j
			for k := 0; k < m.Emb; k++ {
				w[row*m.Emb+k] = m.Wx[k*G+col]
			}
			for k := 0; k < m.Hidden; k++ {
				r[row*m.Hidden+k] = m.Wh[k*G+col]
			}
			b[row] = m.B[col] // Rb (the second half) stays zero
		}
	}
	batch, seq := ort.Dynamic("batch_size"), ort.Dynamic("sequence_length")
	g := ort.NewGraph("lstm_lm")
	g.Input(InputIDs, ort.Int64, batch, seq)
	g.Input(AttentionMask, ort.Int64, batch, seq)
	if opt.Stateful {
		g.Input(PastStateH, ort.Float32, batch, ort.Fixed(H))
		g.Input(PastStateC, ort.Float32, batch, ort.Fixed(H))
	}
	g.Float32Initializer("embedding", m.Embedding, V, E)
	g.Float32Initializer("lstm.W", w, 1, int64(G), E)
	g.Float32Initializer("lstm.R", r, 1, int64(G), H)
	g.Float32Initializer("lstm.B", b, 1, int64(2*G))
	g.Float32Initializer("out.W", m.Wout, H, V)
	g.Float32Initializer("out.B", m.Bout, V)
	g.Int64Initializer("axis0", []int64{0}, 1)
	g.Int64Initializer("axis1", []int64{1}, 1)

	g.Node("Gather", []string{"embedding", InputIDs}, []string{"x_bse"}, ort.AttrInt("axis", 0))
	g.Node("Transpose", []string{"x_bse"}, []string{"x_sbe"}, ort.AttrInts("perm", 1, 0, 2))
	lstmIn := []string{"x_sbe", "lstm.W", "lstm.R", "lstm.B"}
	lstmOut := []string{"y_s1bh"}
	if opt.Stateful {
		g.Node("Unsqueeze", []string{PastStateH, "axis0"}, []string{"h0"})
		g.Node("Unsqueeze", []string{PastStateC, "axis0"}, []string{"c0"})
		lstmIn = append(lstmIn, "", "h0", "c0") // no sequence_lens
		lstmOut = append(lstmOut, "h_last", "c_last")
	}
	g.Node("LSTM", lstmIn, lstmOut, ort.AttrInt("hidden_size", H))
	g.Node("Squeeze", []string{"y_s1bh", "axis1"}, []string{"y_sbh"})
	g.Node("Transpose", []string{"y_sbh"}, []string{"y_bsh"}, ort.AttrInts("perm", 1, 0, 2))
	g.Node("MatMul", []string{"y_bsh", "out.W"}, []string{"z"})
	g.Node("Add", []string{"z", "out.B"}, []string{Logits})
	g.Output(Logits, ort.Float32, batch, seq, ort.Fixed(V))
	if opt.Stateful {
		g.Node("Squeeze", []string{"h_last", "axis0"}, []string{PresentStateH})
		g.Node("Squeeze", []string{"c_last", "axis0"}, []string{PresentStateC})
		g.Output(PresentStateH, ort.Float32, batch, ort.Fixed(H))
		g.Output(PresentStateC, ort.Float32, batch, ort.Fixed(H))
	}
	g.Meta("promptgan.start_token", fmt.Sprint(m.StartToken))
	return g, nil
}

// Config is the config.json written beside model.onnx: the fields a causal-LM
// loader reads from a Hugging Face config, plus how the state is passed.
type Config struct {
	ModelType       string   `json:"model_type"`
	Architectures   []string `json:"architectures"`
	VocabSize       int      `json:"vocab_size"`
	EmbeddingSize   int      `json:"embedding_size"`
	HiddenSize      int      `json:"hidden_size"`
	NumHiddenLayers int      `json:"num_hidden_layers"`
	BOSTokenID      int      `json:"bos_token_id"`  // SeqGAN's start token: the first input of every sequence
	AddBOSToken     bool     `json:"add_bos_token"` // a token-id prompt must be preceded by bos_token_id
	EOSTokenID      *int     `json:"eos_token_id"`  // none: sequences have a fixed length
	UseCache        bool     `json:"use_cache"`     // the stateful variant
	StateInputs     []string `json:"state_inputs,omitempty"`
	StateOutputs    []string `json:"state_outputs,omitempty"`
	TorchDtype      string   `json:"torch_dtype"`
	ONNXOpset       int      `json:"onnx_opset"`
	ONNXIRVersion   int      `json:"onnx_ir_version"`
}

// ConfigFor returns the config.json of m exported with opt.
func (m LSTMLM) ConfigFor(opt Options) Config {
	c := Config{
		ModelType: opt.ModelType, Architectures: []string{"LSTMForCausalLM"},
		VocabSize: m.Vocab, EmbeddingSize: m.Emb, HiddenSize: m.Hidden, NumHiddenLayers: 1,
		BOSTokenID: m.StartToken, AddBOSToken: true, UseCache: opt.Stateful,
		TorchDtype: "float32", ONNXOpset: ort.Opset, ONNXIRVersion: ort.IRVersion,
	}
	if c.ModelType == "" {
		c.ModelType = defaultModelTy
	}
	if opt.Stateful {
		c.StateInputs = []string{PastStateH, PastStateC}
		c.StateOutputs = []string{PresentStateH, PresentStateC}
	}
	return c
}

// Write exports m into dir (created if needed) as model.onnx and
// config.json. Each file is written whole and renamed into place.
func (m LSTMLM) Write(dir string, opt Options) error {
	g, err := m.Graph(opt)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := g.WriteFile(filepath.Join(dir, ModelFile)); err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	cfg, err := json.MarshalIndent(m.ConfigFor(opt), "", "  ")
	if err != nil {
		return fmt.Errorf("export: config.json: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, ConfigFile), append(cfg, '\n')); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
