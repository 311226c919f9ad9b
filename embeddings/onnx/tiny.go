package onnx

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"promptgan/internal/nn"
	"promptgan/internal/ort"
)

// tinyWords is the tiny encoder's vocabulary after the four special tokens:
// common English words and a few of sentiment, enough for demos and tests.
var tinyWords = []string{
	"the", "a", "an", "and", "or", "but", "not", "no", "is", "was", "are", "were", "be", "it", "this", "that",
	"i", "you", "we", "they", "he", "she", "of", "to", "in", "on", "at", "with", "for", "as", "very", "so",
	"good", "great", "excellent", "love", "like", "best", "nice", "happy",
	"bad", "terrible", "awful", "hate", "worst", "boring", "poor", "sad",
	"movie", "film", "food", "service", "phone", "book", "story", "time", "day", "place",
	"cat", "dog", "sat", "mat", ".", ",", "!", "?",
}

// The tiny encoder's special tokens and their ids.
const (
	tinyPad = iota
	tinyUnk
	tinyCLS
	tinySEP
	tinySpecials
)

// tinySpec says what BuildTiny writes; tests vary it to make models a user
// might bring (without token_type_ids, with pooler_output).
type tinySpec struct {
	seed          uint64
	embed, hidden int
	tokenTypes    bool // declare and use token_type_ids (as BERT exports do)
	pooler        bool // also output pooler_output, as a BertModel export does
	maxPositions  int  // config.json max_position_embeddings
}

func defaultTinySpec(seed uint64) tinySpec {
	return tinySpec{seed: seed, embed: 16, hidden: 24, tokenTypes: true, pooler: true, maxPositions: 64}
}

// tinyNet holds the tiny encoder's weights. With x_p = tok[input_ids_p] +
// typ[token_type_ids_p] and c the mean of x over the positions whose
// attention_mask is 1 (the context, a stand-in for attention: it makes
// every position depend on the others, so a padding mistake shows),
//
//	last_hidden_state_p = tanh(x_p · w + c · u + b) · attention_mask_p.
type tinyNet struct {
	spec     tinySpec
	vocab    int
	tok, typ []float32 // [vocab, embed], [2, embed]
	w, u, b  []float32 // [embed, hidden], [embed, hidden], [hidden]
}

func newTinyNet(spec tinySpec) *tinyNet {
	rng := nn.NewRNG(spec.seed, 0)
	n := &tinyNet{spec: spec, vocab: tinySpecials + len(tinyWords)}
	normal := func(count int, scale float64) []float32 {
		out := make([]float32, count)
		for i := range out {
			out[i] = float32(rng.NormFloat64() * scale)
		}
		return out
	}
	n.tok = normal(n.vocab*spec.embed, 1)
	n.typ = normal(2*spec.embed, 0.1)
	n.w = normal(spec.embed*spec.hidden, 1/math.Sqrt(float64(spec.embed)))
	n.u = normal(spec.embed*spec.hidden, 1/math.Sqrt(float64(spec.embed)))
	n.b = normal(spec.hidden, 0.1)
	return n
}

// graph returns the network as an ONNX graph (opset 17) with the inputs and
// outputs of an Optimum feature-extraction export.
func (n *tinyNet) graph() *ort.Graph {
	s := n.spec
	g := ort.NewGraph("promptgan_tiny_encoder")
	bs := []ort.Dim{ort.Dynamic("batch_size"), ort.Dynamic("sequence_length")}
	g.Input("input_ids", ort.Int64, bs...)
	g.Input("attention_mask", ort.Int64, bs...)
	g.Float32Initializer("word_embeddings", n.tok, int64(n.vocab), int64(s.embed))
	g.Float32Initializer("dense_weight", n.w, int64(s.embed), int64(s.hidden))
	g.Float32Initializer("context_weight", n.u, int64(s.embed), int64(s.hidden))
	g.Float32Initializer("dense_bias", n.b, int64(s.hidden))
	g.Int64Initializer("last_axis", []int64{-1}, 1)
	g.Int64Initializer("sequence_axis", []int64{1}, 1)
	g.Node("Gather", []string{"word_embeddings", "input_ids"}, []string{"token_vectors"}, ort.AttrInt("axis", 0))
	x := "token_vectors"
	if s.tokenTypes {
		g.Input("token_type_ids", ort.Int64, bs...)
		g.Float32Initializer("token_type_embeddings", n.typ, 2, int64(s.embed))
		g.Node("Gather", []string{"token_type_embeddings", "token_type_ids"}, []string{"type_vectors"}, ort.AttrInt("axis", 0))
		g.Node("Add", []string{"token_vectors", "type_vectors"}, []string{"embeddings"})
		x = "embeddings"
	}
	g.Node("Cast", []string{"attention_mask"}, []string{"mask_float"}, ort.AttrInt("to", 1))
	g.Node("Unsqueeze", []string{"mask_float", "last_axis"}, []string{"mask_column"})
	// The context: the masked mean of x over the sequence, [batch, 1, embed].
	g.Node("Mul", []string{x, "mask_column"}, []string{"masked_x"})
	g.Node("ReduceSum", []string{"masked_x", "sequence_axis"}, []string{"x_sum"}, ort.AttrInt("keepdims", 1))
	g.Node("ReduceSum", []string{"mask_column", "sequence_axis"}, []string{"mask_count"}, ort.AttrInt("keepdims", 1))
	g.Node("Div", []string{"x_sum", "mask_count"}, []string{"context"})
	g.Node("MatMul", []string{x, "dense_weight"}, []string{"dense_mm"})
	g.Node("MatMul", []string{"context", "context_weight"}, []string{"context_mm"})
	g.Node("Add", []string{"dense_mm", "context_mm"}, []string{"dense_sum"})
	g.Node("Add", []string{"dense_sum", "dense_bias"}, []string{"dense_pre"})
	g.Node("Tanh", []string{"dense_pre"}, []string{"hidden"})
	// Padded positions are zeroed, as a transformer's masked attention
	// leaves them meaningless; pooling ignores them either way.
	g.Node("Mul", []string{"hidden", "mask_column"}, []string{"last_hidden_state"})
	g.Output("last_hidden_state", ort.Float32, ort.Dynamic("batch_size"), ort.Dynamic("sequence_length"), ort.Fixed(int64(s.hidden)))
	if s.pooler {
		// BERT's pooler reads the first ([CLS]) position.
		g.Int64Initializer("first_position", []int64{0})
		g.Node("Gather", []string{"hidden", "first_position"}, []string{"first_hidden"}, ort.AttrInt("axis", 1))
		g.Node("Tanh", []string{"first_hidden"}, []string{"pooler_output"})
		g.Output("pooler_output", ort.Float32, ort.Dynamic("batch_size"), ort.Fixed(int64(s.hidden)))
	}
	g.Meta("promptgan.tiny_encoder.seed", fmt.Sprint(s.seed))
	return g
}

// hiddenStates is the Go reference of the ONNX graph: the rows of
// last_hidden_state for one unpadded sequence of ids (token types 0).
func (n *tinyNet) hiddenStates(ids []int32) [][]float64 {
	s := n.spec
	xs := make([][]float64, len(ids))
	ctx := make([]float64, s.embed)
	for p, id := range ids {
		xs[p] = make([]float64, s.embed)
		for k := range xs[p] {
			xs[p][k] = float64(n.tok[int(id)*s.embed+k])
			if s.tokenTypes {
				xs[p][k] += float64(n.typ[k])
			}
			ctx[k] += xs[p][k] / float64(len(ids))
		}
	}
	out := make([][]float64, len(ids))
	for p, x := range xs {
		h := make([]float64, s.hidden)
		for j := range h {
			sum := float64(n.b[j])
			for k := range x {
				sum += x[k]*float64(n.w[k*s.hidden+j]) + ctx[k]*float64(n.u[k*s.hidden+j])
			}
			h[j] = math.Tanh(sum)
		}
		out[p] = h
	}
	return out
}

// The tokenizer.json written for the tiny encoder, in the field order the
// Hugging Face tokenizers library writes.
type (
	hfAddedToken struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	hfPiece struct {
		SpecialToken *hfPieceRef `json:"SpecialToken,omitempty"`
		Sequence     *hfPieceRef `json:"Sequence,omitempty"`
	}
	hfPieceRef struct {
		ID     string `json:"id"`
		TypeID int    `json:"type_id"`
	}
	hfSpecial struct {
		ID     string   `json:"id"`
		IDs    []int    `json:"ids"`
		Tokens []string `json:"tokens"`
	}
	hfTokenizer struct {
		Version      string            `json:"version"`
		Truncation   any               `json:"truncation"`
		Padding      any               `json:"padding"`
		AddedTokens  []hfAddedToken    `json:"added_tokens"`
		Normalizer   map[string]string `json:"normalizer"`
		PreTokenizer map[string]string `json:"pre_tokenizer"`
		PostProcess  struct {
			Type          string               `json:"type"`
			Single        []hfPiece            `json:"single"`
			Pair          []hfPiece            `json:"pair"`
			SpecialTokens map[string]hfSpecial `json:"special_tokens"`
		} `json:"post_processor"`
		Decoder any `json:"decoder"`
		Model   struct {
			Type     string         `json:"type"`
			Vocab    map[string]int `json:"vocab"`
			UnkToken string         `json:"unk_token"`
		} `json:"model"`
	}
)

// tinyTokenizer returns the tiny encoder's tokenizer.json: a lower-casing
// word-level tokenizer splitting on whitespace and punctuation, with BERT's
// [CLS] text [SEP] template.
func tinyTokenizer() ([]byte, error) {
	var t hfTokenizer
	t.Version = "1.0"
	specials := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"}
	for id, s := range specials {
		t.AddedTokens = append(t.AddedTokens, hfAddedToken{ID: id, Content: s, Special: true})
	}
	t.Normalizer = map[string]string{"type": "Lowercase"}
	t.PreTokenizer = map[string]string{"type": "Whitespace"}
	special := func(name string, typ int) hfPiece { return hfPiece{SpecialToken: &hfPieceRef{ID: name, TypeID: typ}} }
	seq := func(name string, typ int) hfPiece { return hfPiece{Sequence: &hfPieceRef{ID: name, TypeID: typ}} }
	t.PostProcess.Type = "TemplateProcessing"
	t.PostProcess.Single = []hfPiece{special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)}
	t.PostProcess.Pair = []hfPiece{special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)}
	t.PostProcess.SpecialTokens = map[string]hfSpecial{
		"[CLS]": {ID: "[CLS]", IDs: []int{tinyCLS}, Tokens: []string{"[CLS]"}},
		"[SEP]": {ID: "[SEP]", IDs: []int{tinySEP}, Tokens: []string{"[SEP]"}},
	}
	t.Model.Type = "WordLevel"
	t.Model.UnkToken = "[UNK]"
	t.Model.Vocab = map[string]int{}
	for id, s := range specials {
		t.Model.Vocab[s] = id
	}
	for i, w := range tinyWords {
		t.Model.Vocab[w] = tinySpecials + i
	}
	b, err := json.MarshalIndent(t, "", "  ")
	return append(b, '\n'), err
}

// tinyConfig returns the tiny encoder's config.json.
func (n *tinyNet) config() ([]byte, error) {
	b, err := json.MarshalIndent(map[string]any{
		"architectures":           []string{"PromptganTinyEncoder"},
		"model_type":              "promptgan-tiny-encoder",
		"vocab_size":              n.vocab,
		"hidden_size":             n.spec.hidden,
		"max_position_embeddings": n.spec.maxPositions,
		"type_vocab_size":         2,
		"pad_token_id":            tinyPad,
	}, "", "  ")
	return append(b, '\n'), err
}

// BuildTiny writes the tiny sentence encoder promptgan builds for tests and
// demos into dir (created if needed), in the layout of an Optimum
// feature-extraction export: model.onnx (word and token-type embeddings and
// one tanh layer over each token and the sequence's masked mean; inputs
// input_ids, attention_mask, token_type_ids; outputs last_hidden_state and
// pooler_output; opset 17), tokenizer.json (lower-case word level, [CLS] …
// [SEP]) and config.json. Its weights are random, drawn from seed: the
// vectors mean nothing, but every step an ONNX encoder takes is exercised.
// The same seed writes the same bytes.
func BuildTiny(dir string, seed uint64) error {
	return buildTiny(dir, defaultTinySpec(seed))
}

func buildTiny(dir string, spec tinySpec) error {
	n := newTinyNet(spec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build tiny encoder: %w", err)
	}
	if err := n.graph().WriteFile(filepath.Join(dir, ModelFile)); err != nil {
		return fmt.Errorf("build tiny encoder: %w", err)
	}
	tok, err := tinyTokenizer()
	if err != nil {
		return fmt.Errorf("build tiny encoder: %w", err)
	}
	cfg, err := n.config()
	if err != nil {
		return fmt.Errorf("build tiny encoder: %w", err)
	}
	for name, data := range map[string][]byte{TokenizerFile: tok, ConfigFile: cfg} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("build tiny encoder: %w", err)
		}
	}
	return nil
}
