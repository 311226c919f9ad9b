package export

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"promptgan/internal/atomicfile"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
)

// The names of the inputs and outputs of a GPT-2 export, exactly as Hugging
// Face Optimum names them for the tasks text-generation-with-past and
// text-generation (GPT2OnnxConfig, a TextDecoderWithPositionIdsOnnxConfig;
// past_key_values/present names from OnnxConfigWithPast.add_past_key_values).
// Layer i's cache tensors are PastKey(i), PastValue(i), PresentKey(i) and
// PresentValue(i).
const (
	PositionIDs = "position_ids"
	// The files written beside model.onnx and config.json.
	TokenizerFile        = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
	SpecialTokensMapFile = "special_tokens_map.json"
	GenerationConfigFile = "generation_config.json"
)

// The names of the dynamic dimensions, as Optimum declares them.
const (
	DimBatch     = "batch_size"
	DimSequence  = "sequence_length"
	DimPast      = "past_sequence_length"
	DimPastTotal = "past_sequence_length + sequence_length"
)

// PastKey returns the name of layer i's key-cache input.
func PastKey(i int) string { return fmt.Sprintf("past_key_values.%d.key", i) }

// PastValue returns the name of layer i's value-cache input.
func PastValue(i int) string { return fmt.Sprintf("past_key_values.%d.value", i) }

// PresentKey returns the name of layer i's key-cache output.
func PresentKey(i int) string { return fmt.Sprintf("present.%d.key", i) }

// PresentValue returns the name of layer i's value-cache output.
func PresentValue(i int) string { return fmt.Sprintf("present.%d.value", i) }

// GPT2Config is the shape of a GPT-2 model, with Hugging Face's names in the
// comments (GPT2Config). The MLP is 4·Embd wide (n_inner null), the
// activation gelu_new, attention scaled by 1/√head_dim.
type GPT2Config struct {
	Vocab        int     // vocab_size
	Positions    int     // n_positions: the longest sequence, past included
	Embd         int     // n_embd
	Layers       int     // n_layer
	Heads        int     // n_head; must divide Embd
	LayerNormEps float64 // layer_norm_epsilon (GPT-2: 1e-5)
	BOS, EOS     int     // bos_token_id, eos_token_id (GPT-2: both the last id, <|endoftext|>)
	// InitStd is the standard deviation of the seeded normal weights
	// (Hugging Face initialises with 0.02; a larger one gives peaked,
	// non-trivial next-token distributions to test against).
	InitStd float64
}

// TinyGPT2Config is the model tests use: vocabulary 512 (the tokenizer's
// 256 bytes, 255 merges and <|endoftext|>), 2 layers of width 64 with 4
// heads, 128 positions.
func TinyGPT2Config() GPT2Config {
	return GPT2Config{Vocab: 512, Positions: 128, Embd: 64, Layers: 2, Heads: 4, LayerNormEps: 1e-5, BOS: 511, EOS: 511, InitStd: 0.15}
}

// BenchGPT2Config is a bigger model for decode-throughput benchmarks:
// vocabulary 1024, 4 layers of width 256 with 8 heads, 256 positions
// (about 3.4 M parameters, a 14 MB model.onnx).
func BenchGPT2Config() GPT2Config {
	return GPT2Config{Vocab: 1024, Positions: 256, Embd: 256, Layers: 4, Heads: 8, LayerNormEps: 1e-5, BOS: 1023, EOS: 1023, InitStd: 0.08}
}

// HeadDim returns Embd / Heads.
func (c GPT2Config) HeadDim() int { return c.Embd / c.Heads }

// Validate reports the first size that makes no model.
func (c GPT2Config) Validate() error {
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("gpt2 config: vocab_size %d < 2", c.Vocab)
	case c.Positions < 1:
		return fmt.Errorf("gpt2 config: n_positions %d < 1", c.Positions)
	case c.Embd < 1 || c.Layers < 1 || c.Heads < 1:
		return fmt.Errorf("gpt2 config: n_embd %d, n_layer %d, n_head %d: all must be positive", c.Embd, c.Layers, c.Heads)
	case c.Embd%c.Heads != 0:
		return fmt.Errorf("gpt2 config: n_head %d does not divide n_embd %d", c.Heads, c.Embd)
	case !(c.LayerNormEps > 0):
		return fmt.Errorf("gpt2 config: layer_norm_epsilon %g must be positive", c.LayerNormEps)
	case c.BOS < 0 || c.BOS >= c.Vocab || c.EOS < 0 || c.EOS >= c.Vocab:
		return fmt.Errorf("gpt2 config: bos_token_id %d / eos_token_id %d outside [0, %d)", c.BOS, c.EOS, c.Vocab)
	}
	return nil
}

// GPT2Block is one pre-LayerNorm transformer block. Matrices are stored as
// GPT-2's Conv1D weights, (in, out) row-major, so y = x·W + b.
type GPT2Block struct {
	Ln1G, Ln1B   []float32 // ln_1 (Embd)
	AttnW, AttnB []float32 // attn.c_attn: (Embd, 3·Embd), (3·Embd); columns q | k | v
	ProjW, ProjB []float32 // attn.c_proj: (Embd, Embd), (Embd)
	Ln2G, Ln2B   []float32 // ln_2 (Embd)
	FcW, FcB     []float32 // mlp.c_fc: (Embd, 4·Embd), (4·Embd)
	OutW, OutB   []float32 // mlp.c_proj: (4·Embd, Embd), (Embd)
}

// GPT2 is a GPT-2-architecture causal language model (GPT2LMHeadModel):
//
//	x = wte[id] + wpe[position]
//	for each block: x += attn(ln_1(x)); x += mlp(ln_2(x))
//	logits = ln_f(x) · wteᵀ                      (lm_head tied to wte)
//
// attn is causal multi-head self-attention over the keys the attention mask
// keeps; mlp is c_fc → gelu_new → c_proj.
type GPT2 struct {
	Cfg    GPT2Config
	WTE    []float32 // (Vocab, Embd)
	WPE    []float32 // (Positions, Embd)
	Blocks []GPT2Block
	LnFG   []float32 // ln_f (Embd)
	LnFB   []float32
	Origin string // where the weights came from ("seed 1"), recorded in config.json
}

// NewGPT2 returns a model of shape cfg with weights drawn from seed:
// matrices and embeddings normal(0, InitStd) (positions at half that),
// biases normal(0, InitStd/4), LayerNorm gains 1 + normal(0, 0.1) and
// shifts normal(0, 0.05).
func NewGPT2(cfg GPT2Config, seed uint64) (*GPT2, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !(cfg.InitStd > 0) {
		return nil, fmt.Errorf("gpt2 config: InitStd %g must be positive", cfg.InitStd)
	}
	rng := nn.NewRNG(seed, 0x6770_7432) // "gpt2"
	normal := func(n int, mean, std float64) []float32 {
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(mean + std*rng.NormFloat64())
		}
		return w
	}
	E, s := cfg.Embd, cfg.InitStd
	m := &GPT2{Cfg: cfg, Origin: fmt.Sprintf("seed %d", seed)}
	m.WTE = normal(cfg.Vocab*E, 0, s)
	m.WPE = normal(cfg.Positions*E, 0, s/2)
	for range cfg.Layers {
		m.Blocks = append(m.Blocks, GPT2Block{
			Ln1G: normal(E, 1, 0.1), Ln1B: normal(E, 0, 0.05),
			AttnW: normal(E*3*E, 0, s), AttnB: normal(3*E, 0, s/4),
			ProjW: normal(E*E, 0, s), ProjB: normal(E, 0, s/4),
			Ln2G: normal(E, 1, 0.1), Ln2B: normal(E, 0, 0.05),
			FcW: normal(E*4*E, 0, s), FcB: normal(4*E, 0, s/4),
			OutW: normal(4*E*E, 0, s), OutB: normal(E, 0, s/4),
		})
	}
	m.LnFG, m.LnFB = normal(E, 1, 0.1), normal(E, 0, 0.05)
	return m, nil
}

// Validate reports the first weight whose size does not fit the config.
func (m *GPT2) Validate() error {
	c := m.Cfg
	if err := c.Validate(); err != nil {
		return err
	}
	E := c.Embd
	if len(m.Blocks) != c.Layers {
		return fmt.Errorf("gpt2: %d blocks, config says n_layer %d", len(m.Blocks), c.Layers)
	}
	type w struct {
		name string
		got  []float32
		want int
	}
	ws := []w{{"wte (vocab×n_embd)", m.WTE, c.Vocab * E}, {"wpe (n_positions×n_embd)", m.WPE, c.Positions * E},
		{"ln_f.weight", m.LnFG, E}, {"ln_f.bias", m.LnFB, E}}
	for i, b := range m.Blocks {
		p := fmt.Sprintf("h.%d.", i)
		ws = append(ws, w{p + "ln_1.weight", b.Ln1G, E}, w{p + "ln_1.bias", b.Ln1B, E},
			w{p + "attn.c_attn.weight (n_embd×3·n_embd)", b.AttnW, E * 3 * E}, w{p + "attn.c_attn.bias", b.AttnB, 3 * E},
			w{p + "attn.c_proj.weight (n_embd×n_embd)", b.ProjW, E * E}, w{p + "attn.c_proj.bias", b.ProjB, E},
			w{p + "ln_2.weight", b.Ln2G, E}, w{p + "ln_2.bias", b.Ln2B, E},
			w{p + "mlp.c_fc.weight (n_embd×4·n_embd)", b.FcW, E * 4 * E}, w{p + "mlp.c_fc.bias", b.FcB, 4 * E},
			w{p + "mlp.c_proj.weight (4·n_embd×n_embd)", b.OutW, 4 * E * E}, w{p + "mlp.c_proj.bias", b.OutB, E})
	}
	for _, x := range ws {
		if len(x.got) != x.want {
			return fmt.Errorf("gpt2: %s has %d values, want %d", x.name, len(x.got), x.want)
		}
	}
	return nil
}

// PositionsFromMask returns the position ids Optimum's ORTModelForCausalLM feeds
// for an attention mask: the running count of kept tokens minus one, and 1
// at masked positions (attention_mask.cumsum(-1) - 1, masked_fill(mask == 0, 1)).
// Right-padded rows get 0, 1, 2, … at their real tokens; left-padded rows
// start counting at their first real token.
func PositionsFromMask(mask [][]int64) [][]int64 {
	out := make([][]int64, len(mask))
	for b, row := range mask {
		out[b] = make([]int64, len(row))
		var n int64
		for t, v := range row {
			n += v
			if v == 0 {
				out[b][t] = 1
			} else {
				out[b][t] = n - 1
			}
		}
	}
	return out
}

// Logits runs the model on a batch of equally long rows of token ids with
// their attention mask (1 = attend, 0 = padding) and the position ids
// PositionIDs gives, and returns the (batch, sequence, vocab) logits.
func (m *GPT2) Logits(ids, attentionMask [][]int64) ([][][]float32, error) {
	return m.Forward(ids, attentionMask, PositionsFromMask(attentionMask))
}

// Forward is the reference forward pass, computed in float64 from the
// float32 weights: it returns logits[b][t] for row b's token t, which sees
// tokens 0..t of its row whose mask is 1. A query that sees no token at all
// (a left-padding position) attends uniformly to every key, as the ONNX
// graph does with its finite mask value.
func (m *GPT2) Forward(ids, attentionMask, positionIDs [][]int64) ([][][]float32, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := m.Cfg
	E, H, D := c.Embd, c.Heads, c.HeadDim()
	if len(attentionMask) != len(ids) || len(positionIDs) != len(ids) {
		return nil, fmt.Errorf("gpt2 forward: %d rows of ids, %d of attention mask, %d of position ids", len(ids), len(attentionMask), len(positionIDs))
	}
	out := make([][][]float32, len(ids))
	for b, row := range ids {
		T := len(row)
		if len(attentionMask[b]) != T || len(positionIDs[b]) != T {
			return nil, fmt.Errorf("gpt2 forward: row %d has %d ids, %d mask values, %d position ids", b, T, len(attentionMask[b]), len(positionIDs[b]))
		}
		x := make([][]float64, T)
		for t, id := range row {
			p := positionIDs[b][t]
			if id < 0 || id >= int64(c.Vocab) {
				return nil, fmt.Errorf("gpt2 forward: row %d position %d: token id %d outside [0, %d)", b, t, id, c.Vocab)
			}
			if p < 0 || p >= int64(c.Positions) {
				return nil, fmt.Errorf("gpt2 forward: row %d position %d: position id %d outside [0, n_positions %d)", b, t, p, c.Positions)
			}
			x[t] = make([]float64, E)
			for e := range E {
				x[t][e] = float64(m.WTE[int(id)*E+e]) + float64(m.WPE[int(p)*E+e])
			}
		}
		for _, blk := range m.Blocks {
			// Attention.
			qkv := make([][]float64, T)
			for t := range T {
				qkv[t] = affine(layerNorm(x[t], blk.Ln1G, blk.Ln1B, c.LayerNormEps), blk.AttnW, blk.AttnB, 3*E)
			}
			ctx := make([][]float64, T)
			for t := range T {
				ctx[t] = make([]float64, E)
			}
			scale := 1 / math.Sqrt(float64(D))
			scores := make([]float64, T)
			for h := range H {
				q0, k0, v0 := h*D, E+h*D, 2*E+h*D
				for i := range T {
					for j := range T {
						if j > i || attentionMask[b][j] == 0 {
							scores[j] = -math.MaxFloat32
							continue
						}
						var s float64
						for d := range D {
							s += qkv[i][q0+d] * qkv[j][k0+d]
						}
						scores[j] = s * scale
					}
					softmax(scores[:T])
					for j := range T {
						for d := range D {
							ctx[i][h*D+d] += scores[j] * qkv[j][v0+d]
						}
					}
				}
			}
			for t := range T {
				a := affine(ctx[t], blk.ProjW, blk.ProjB, E)
				for e := range E {
					x[t][e] += a[e]
				}
			}
			// MLP.
			for t := range T {
				f := affine(layerNorm(x[t], blk.Ln2G, blk.Ln2B, c.LayerNormEps), blk.FcW, blk.FcB, 4*E)
				for i, v := range f {
					f[i] = geluNew(v)
				}
				o := affine(f, blk.OutW, blk.OutB, E)
				for e := range E {
					x[t][e] += o[e]
				}
			}
		}
		out[b] = make([][]float32, T)
		for t := range T {
			h := layerNorm(x[t], m.LnFG, m.LnFB, c.LayerNormEps)
			out[b][t] = make([]float32, c.Vocab)
			for v := range c.Vocab {
				var s float64
				for e := range E {
					s += h[e] * float64(m.WTE[v*E+e])
				}
				out[b][t][v] = float32(s)
			}
		}
	}
	return out, nil
}

// layerNorm returns (x − mean) / √(var + eps) · g + b (biased variance).
func layerNorm(x []float64, g, b []float32, eps float64) []float64 {
	var mean, v float64
	for _, xi := range x {
		mean += xi
	}
	mean /= float64(len(x))
	for _, xi := range x {
		v += (xi - mean) * (xi - mean)
	}
	inv := 1 / math.Sqrt(v/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, xi := range x {
		out[i] = (xi-mean)*inv*float64(g[i]) + float64(b[i])
	}
	return out
}

// affine returns x·W + b for W of shape (len(x), n).
func affine(x []float64, w, b []float32, n int) []float64 {
	out := make([]float64, n)
	for j := range n {
		out[j] = float64(b[j])
	}
	for i, xi := range x {
		row := w[i*n : (i+1)*n]
		for j, wij := range row {
			out[j] += xi * float64(wij)
		}
	}
	return out
}

// softmax replaces s by its softmax.
func softmax(s []float64) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range s {
		s[i] = math.Exp(v - mx)
		sum += s[i]
	}
	for i := range s {
		s[i] /= sum
	}
}

// geluNew is GPT-2's activation, GELU's tanh approximation:
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluNew(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// GPT2Options choose the variant written.
type GPT2Options struct {
	// WithoutPast writes Optimum's text-generation export (inputs
	// input_ids, attention_mask, position_ids; output logits) instead of
	// text-generation-with-past (past_key_values inputs, present outputs).
	WithoutPast bool
	// Tokenizer is written as tokenizer.json; nil trains the default one
	// (DefaultTokenizer) for the model's vocabulary size. Its vocabulary
	// size must equal the model's.
	Tokenizer *BPETokenizer
}

// maskValue is what a masked attention score becomes: float32's lowest
// value, as Hugging Face's GPT-2 uses (torch.finfo(float32).min). Being
// finite, a row with every key masked softmaxes to uniform, not NaN.
const maskValue = -math.MaxFloat32

// Graph returns the model as an ONNX graph in Optimum's GPT-2 signature.
// With past (the default), inputs in the order of GPT2LMHeadModel.forward:
//
//	input_ids                 int64   [batch_size, sequence_length]
//	past_key_values.{i}.key   float32 [batch_size, n_head, past_sequence_length, head_dim]   (and .value; i = 0..n_layer-1)
//	attention_mask            int64   [batch_size, past_sequence_length + sequence_length]
//	position_ids              int64   [batch_size, sequence_length]
//
// outputs logits float32 [batch_size, sequence_length, vocab] and
// present.{i}.key/value [batch_size, n_head, past_sequence_length + sequence_length, head_dim].
// The first call passes empty past tensors (past_sequence_length 0).
// Without past: input_ids, attention_mask [batch_size, sequence_length] and
// position_ids → logits.
func (m *GPT2) Graph(opt GPT2Options) (*ort.Graph, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := m.Cfg
	V, P, E, H, D := int64(c.Vocab), int64(c.Positions), int64(c.Embd), int64(c.Heads), int64(c.HeadDim())
	withPast := !opt.WithoutPast
	batch, seq := ort.Dynamic(DimBatch), ort.Dynamic(DimSequence)
	g := ort.NewGraph("gpt2")

	// Inputs.
	g.Input(InputIDs, ort.Int64, batch, seq)
	if withPast {
		past := ort.Dynamic(DimPast)
		for i := range c.Layers {
			g.Input(PastKey(i), ort.Float32, batch, ort.Fixed(H), past, ort.Fixed(D))
			g.Input(PastValue(i), ort.Float32, batch, ort.Fixed(H), past, ort.Fixed(D))
		}
		g.Input(AttentionMask, ort.Int64, batch, ort.Dynamic(DimPastTotal))
	} else {
		g.Input(AttentionMask, ort.Int64, batch, seq)
	}
	g.Input(PositionIDs, ort.Int64, batch, seq)

	// Weights and constants.
	g.Float32Initializer("transformer.wte.weight", m.WTE, V, E)
	g.Float32Initializer("transformer.wpe.weight", m.WPE, P, E)
	for i, b := range m.Blocks {
		p := fmt.Sprintf("transformer.h.%d.", i)
		g.Float32Initializer(p+"ln_1.weight", b.Ln1G, E)
		g.Float32Initializer(p+"ln_1.bias", b.Ln1B, E)
		g.Float32Initializer(p+"attn.c_attn.weight", b.AttnW, E, 3*E)
		g.Float32Initializer(p+"attn.c_attn.bias", b.AttnB, 3*E)
		g.Float32Initializer(p+"attn.c_proj.weight", b.ProjW, E, E)
		g.Float32Initializer(p+"attn.c_proj.bias", b.ProjB, E)
		g.Float32Initializer(p+"ln_2.weight", b.Ln2G, E)
		g.Float32Initializer(p+"ln_2.bias", b.Ln2B, E)
		g.Float32Initializer(p+"mlp.c_fc.weight", b.FcW, E, 4*E)
		g.Float32Initializer(p+"mlp.c_fc.bias", b.FcB, 4*E)
		g.Float32Initializer(p+"mlp.c_proj.weight", b.OutW, 4*E, E)
		g.Float32Initializer(p+"mlp.c_proj.bias", b.OutB, E)
	}
	g.Float32Initializer("transformer.ln_f.weight", m.LnFG, E)
	g.Float32Initializer("transformer.ln_f.bias", m.LnFB, E)
	g.Int64Initializer("const.i0", []int64{0})
	g.Int64Initializer("const.i1", []int64{1})
	g.Int64Initializer("const.axes0", []int64{0}, 1)
	g.Int64Initializer("const.axes1", []int64{1}, 1)
	g.Int64Initializer("const.axes12", []int64{1, 2}, 2)
	g.Int64Initializer("const.split3", []int64{E, E, E}, 3)
	g.Int64Initializer("const.shape_bshd", []int64{0, 0, H, D}, 4)
	g.Int64Initializer("const.shape_bse", []int64{0, 0, E}, 3)
	g.Float32Initializer("const.scale", []float32{float32(1 / math.Sqrt(float64(D)))})
	g.Float32Initializer("const.mask_value", []float32{maskValue})
	g.Float32Initializer("const.half", []float32{0.5})
	g.Float32Initializer("const.one", []float32{1})
	g.Float32Initializer("const.gelu_a", []float32{0.044715})
	g.Float32Initializer("const.gelu_b", []float32{float32(math.Sqrt(2 / math.Pi))})

	// Embeddings.
	g.Node("Gather", []string{"transformer.wte.weight", InputIDs}, []string{"tok_emb"}, ort.AttrInt("axis", 0))
	g.Node("Gather", []string{"transformer.wpe.weight", PositionIDs}, []string{"pos_emb"}, ort.AttrInt("axis", 0))
	g.Node("Add", []string{"tok_emb", "pos_emb"}, []string{"x.0"})

	// The mask, [batch, 1, sequence, past + sequence]: key j is visible to
	// query i (absolute position past + i) when j ≤ past + i and the
	// attention mask keeps j. The lengths come from the shapes: sequence
	// from input_ids, past from layer 0's key cache.
	g.Node("Shape", []string{InputIDs}, []string{"seq_len"}, ort.AttrInt("start", 1), ort.AttrInt("end", 2))
	if withPast {
		g.Node("Shape", []string{PastKey(0)}, []string{"past_len"}, ort.AttrInt("start", 2), ort.AttrInt("end", 3))
	} else {
		g.Node("Identity", []string{"const.axes0"}, []string{"past_len"}) // [0]
	}
	g.Node("Add", []string{"past_len", "seq_len"}, []string{"total_len"})
	g.Node("Squeeze", []string{"past_len", "const.axes0"}, []string{"past_len.s"})
	g.Node("Squeeze", []string{"total_len", "const.axes0"}, []string{"total_len.s"})
	g.Node("Range", []string{"past_len.s", "total_len.s", "const.i1"}, []string{"query_pos"})
	g.Node("Unsqueeze", []string{"query_pos", "const.axes1"}, []string{"query_pos.col"})
	g.Node("Range", []string{"const.i0", "total_len.s", "const.i1"}, []string{"key_pos"})
	g.Node("LessOrEqual", []string{"key_pos", "query_pos.col"}, []string{"causal"}) // [sequence, total]
	g.Node("Cast", []string{AttentionMask}, []string{"keep"}, ort.AttrInt("to", 9)) // BOOL
	g.Node("Unsqueeze", []string{"keep", "const.axes12"}, []string{"keep.b11t"})
	g.Node("And", []string{"causal", "keep.b11t"}, []string{"visible"})

	x := "x.0"
	for i := range c.Layers {
		p := fmt.Sprintf("transformer.h.%d.", i)
		v := func(name string) string { return fmt.Sprintf("h.%d.%s", i, name) }
		// Attention.
		g.Node("LayerNormalization", []string{x, p + "ln_1.weight", p + "ln_1.bias"}, []string{v("ln_1")},
			ort.AttrInt("axis", -1), ort.AttrFloat("epsilon", float32(c.LayerNormEps)))
		g.Node("MatMul", []string{v("ln_1"), p + "attn.c_attn.weight"}, []string{v("qkv.mm")})
		g.Node("Add", []string{v("qkv.mm"), p + "attn.c_attn.bias"}, []string{v("qkv")})
		g.Node("Split", []string{v("qkv"), "const.split3"}, []string{v("q.bse"), v("k.bse"), v("v.bse")}, ort.AttrInt("axis", 2))
		for _, n := range []string{"q", "k", "v"} {
			g.Node("Reshape", []string{v(n + ".bse"), "const.shape_bshd"}, []string{v(n + ".bshd")})
			g.Node("Transpose", []string{v(n + ".bshd")}, []string{v(n + ".bhsd")}, ort.AttrInts("perm", 0, 2, 1, 3))
		}
		keys, values := v("k.bhsd"), v("v.bhsd")
		if withPast {
			g.Node("Concat", []string{PastKey(i), keys}, []string{PresentKey(i)}, ort.AttrInt("axis", 2))
			g.Node("Concat", []string{PastValue(i), values}, []string{PresentValue(i)}, ort.AttrInt("axis", 2))
			keys, values = PresentKey(i), PresentValue(i)
		}
		g.Node("Transpose", []string{keys}, []string{v("k.bhdt")}, ort.AttrInts("perm", 0, 1, 3, 2))
		g.Node("MatMul", []string{v("q.bhsd"), v("k.bhdt")}, []string{v("scores.raw")})
		g.Node("Mul", []string{v("scores.raw"), "const.scale"}, []string{v("scores")})
		g.Node("Where", []string{"visible", v("scores"), "const.mask_value"}, []string{v("scores.masked")})
		g.Node("Softmax", []string{v("scores.masked")}, []string{v("probs")}, ort.AttrInt("axis", -1))
		g.Node("MatMul", []string{v("probs"), values}, []string{v("ctx.bhsd")})
		g.Node("Transpose", []string{v("ctx.bhsd")}, []string{v("ctx.bshd")}, ort.AttrInts("perm", 0, 2, 1, 3))
		g.Node("Reshape", []string{v("ctx.bshd"), "const.shape_bse"}, []string{v("ctx")})
		g.Node("MatMul", []string{v("ctx"), p + "attn.c_proj.weight"}, []string{v("attn.mm")})
		g.Node("Add", []string{v("attn.mm"), p + "attn.c_proj.bias"}, []string{v("attn")})
		g.Node("Add", []string{x, v("attn")}, []string{v("resid1")})
		// MLP.
		g.Node("LayerNormalization", []string{v("resid1"), p + "ln_2.weight", p + "ln_2.bias"}, []string{v("ln_2")},
			ort.AttrInt("axis", -1), ort.AttrFloat("epsilon", float32(c.LayerNormEps)))
		g.Node("MatMul", []string{v("ln_2"), p + "mlp.c_fc.weight"}, []string{v("fc.mm")})
		g.Node("Add", []string{v("fc.mm"), p + "mlp.c_fc.bias"}, []string{v("fc")})
		geluNewNodes(g, v("fc"), v("gelu"))
		g.Node("MatMul", []string{v("gelu"), p + "mlp.c_proj.weight"}, []string{v("mlp.mm")})
		g.Node("Add", []string{v("mlp.mm"), p + "mlp.c_proj.bias"}, []string{v("mlp")})
		g.Node("Add", []string{v("resid1"), v("mlp")}, []string{fmt.Sprintf("x.%d", i+1)})
		x = fmt.Sprintf("x.%d", i+1)
	}
	g.Node("LayerNormalization", []string{x, "transformer.ln_f.weight", "transformer.ln_f.bias"}, []string{"ln_f"},
		ort.AttrInt("axis", -1), ort.AttrFloat("epsilon", float32(c.LayerNormEps)))
	// lm_head is tied to wte; ONNX Runtime folds the transpose of the
	// constant once, when the session is created.
	g.Node("Transpose", []string{"transformer.wte.weight"}, []string{"lm_head.weight.T"}, ort.AttrInts("perm", 1, 0))
	g.Node("MatMul", []string{"ln_f", "lm_head.weight.T"}, []string{Logits})

	// Outputs.
	g.Output(Logits, ort.Float32, batch, seq, ort.Fixed(V))
	if withPast {
		total := ort.Dynamic(DimPastTotal)
		for i := range c.Layers {
			g.Output(PresentKey(i), ort.Float32, batch, ort.Fixed(H), total, ort.Fixed(D))
			g.Output(PresentValue(i), ort.Float32, batch, ort.Fixed(H), total, ort.Fixed(D))
		}
	}
	g.Meta("promptgan.model", "gpt2 "+m.Origin)
	return g, nil
}

// geluNewNodes appends gelu_new(in) → out: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluNewNodes(g *ort.Graph, in, out string) {
	g.Node("Mul", []string{in, in}, []string{in + ".sq"})
	g.Node("Mul", []string{in + ".sq", in}, []string{in + ".cube"})
	g.Node("Mul", []string{in + ".cube", "const.gelu_a"}, []string{in + ".a"})
	g.Node("Add", []string{in, in + ".a"}, []string{in + ".inner"})
	g.Node("Mul", []string{in + ".inner", "const.gelu_b"}, []string{in + ".scaled"})
	g.Node("Tanh", []string{in + ".scaled"}, []string{in + ".tanh"})
	g.Node("Add", []string{in + ".tanh", "const.one"}, []string{in + ".1p"})
	g.Node("Mul", []string{in, "const.half"}, []string{in + ".half"})
	g.Node("Mul", []string{in + ".half", in + ".1p"}, []string{out})
}

// GPT2HFConfig is the config.json of a GPT-2 export: Hugging Face's
// GPT2Config keys (what transformers' AutoConfig and Optimum's
// ORTModelForCausalLM read), plus where the weights came from.
type GPT2HFConfig struct {
	ModelType              string   `json:"model_type"`
	Architectures          []string `json:"architectures"`
	VocabSize              int      `json:"vocab_size"`
	NPositions             int      `json:"n_positions"`
	NCtx                   int      `json:"n_ctx"`
	NEmbd                  int      `json:"n_embd"`
	NLayer                 int      `json:"n_layer"`
	NHead                  int      `json:"n_head"`
	NInner                 *int     `json:"n_inner"`
	ActivationFunction     string   `json:"activation_function"`
	LayerNormEpsilon       float64  `json:"layer_norm_epsilon"`
	InitializerRange       float64  `json:"initializer_range"`
	ResidPdrop             float64  `json:"resid_pdrop"`
	EmbdPdrop              float64  `json:"embd_pdrop"`
	AttnPdrop              float64  `json:"attn_pdrop"`
	ScaleAttnWeights       bool     `json:"scale_attn_weights"`
	TieWordEmbeddings      bool     `json:"tie_word_embeddings"`
	BOSTokenID             int      `json:"bos_token_id"`
	EOSTokenID             int      `json:"eos_token_id"`
	UseCache               bool     `json:"use_cache"`
	TorchDtype             string   `json:"torch_dtype"`
	PromptganWeights       string   `json:"promptgan_weights"`
	PromptganONNXOpset     int      `json:"promptgan_onnx_opset"`
	PromptganONNXIRVersion int      `json:"promptgan_onnx_ir_version"`
}

// HFConfig returns the config.json of m exported with opt.
func (m *GPT2) HFConfig(opt GPT2Options) GPT2HFConfig {
	c := m.Cfg
	return GPT2HFConfig{
		ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"},
		VocabSize: c.Vocab, NPositions: c.Positions, NCtx: c.Positions, NEmbd: c.Embd, NLayer: c.Layers, NHead: c.Heads,
		ActivationFunction: "gelu_new", LayerNormEpsilon: c.LayerNormEps, InitializerRange: c.InitStd,
		ScaleAttnWeights: true, TieWordEmbeddings: true,
		BOSTokenID: c.BOS, EOSTokenID: c.EOS, UseCache: !opt.WithoutPast, TorchDtype: "float32",
		PromptganWeights: m.Origin, PromptganONNXOpset: ort.Opset, PromptganONNXIRVersion: ort.IRVersion,
	}
}

// WriteGPT2 exports m into dir (created if needed) in the layout Optimum
// writes for a GPT-2 causal LM: model.onnx, config.json, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json and generation_config.json.
// Each file is written whole and renamed into place.
func WriteGPT2(dir string, m *GPT2, opt GPT2Options) error {
	g, err := m.Graph(opt)
	if err != nil {
		return fmt.Errorf("export gpt2 to %s: %w", dir, err)
	}
	tok := opt.Tokenizer
	if tok == nil {
		if tok, err = DefaultTokenizer(m.Cfg.Vocab); err != nil {
			return fmt.Errorf("export gpt2 to %s: %w", dir, err)
		}
	}
	if tok.VocabSize() != m.Cfg.Vocab {
		return fmt.Errorf("export gpt2 to %s: the tokenizer has %d tokens, the model's vocab_size is %d", dir, tok.VocabSize(), m.Cfg.Vocab)
	}
	if eos := tok.EOS(); eos != m.Cfg.EOS || eos != m.Cfg.BOS {
		return fmt.Errorf("export gpt2 to %s: the tokenizer's %s is id %d, the model's bos/eos_token_id are %d/%d", dir, EndOfText, eos, m.Cfg.BOS, m.Cfg.EOS)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export gpt2: %w", err)
	}
	if err := g.WriteFile(filepath.Join(dir, ModelFile)); err != nil {
		return fmt.Errorf("export gpt2 to %s: %w", dir, err)
	}
	tj, err := tok.JSON()
	if err != nil {
		return fmt.Errorf("export gpt2 to %s: %w", dir, err)
	}
	files := []struct {
		name string
		data any
	}{
		{ConfigFile, m.HFConfig(opt)},
		{GenerationConfigFile, map[string]any{"_from_model_config": true, "bos_token_id": m.Cfg.BOS, "eos_token_id": m.Cfg.EOS}},
		{TokenizerConfigFile, map[string]any{
			"tokenizer_class": "GPT2Tokenizer", "add_prefix_space": false, "add_bos_token": false,
			"bos_token": EndOfText, "eos_token": EndOfText, "unk_token": EndOfText,
			"model_max_length": m.Cfg.Positions, "clean_up_tokenization_spaces": false,
		}},
		{SpecialTokensMapFile, map[string]any{"bos_token": EndOfText, "eos_token": EndOfText, "unk_token": EndOfText}},
	}
	for _, f := range files {
		b, err := json.MarshalIndent(f.data, "", "  ")
		if err != nil {
			return fmt.Errorf("export gpt2: %s: %w", f.name, err)
		}
		if err := atomicWrite(filepath.Join(dir, f.name), append(b, '\n')); err != nil {
			return err
		}
	}
	return atomicWrite(filepath.Join(dir, TokenizerFile), tj)
}

// atomicWrite is atomicfile.Write with the package's error prefix.
func atomicWrite(path string, data []byte) error {
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
