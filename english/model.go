package english

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/generator/onnxexport"
	"promptgan/internal/atomicfile"
	"promptgan/internal/nn"
	"promptgan/internal/ort/export"
	"promptgan/targets/onnx"
)

// The files of an LM directory besides the Optimum layout's model.onnx,
// config.json and tokenizer.json.
const (
	WeightsFile   = "weights.safetensors" // the generator.Model, for scoring in Go
	TokenizerFile = "tokenizer.json"
)

// LM is one of the English LMs loaded for scoring in Go: the
// generator.Model the ONNX export was made from, and its vocabulary.
type LM struct {
	Model *generator.Model
	Vocab *Vocab
}

// RefLM is the reference LM: a plain LM of held-out text (the disc and
// audit parts) whose perplexity tells fluent text from degenerate text.
type RefLM = LM

// LoadLM reads the LM in dir (weights.safetensors and tokenizer.json).
func LoadLM(dir string) (*LM, error) {
	v, err := LoadVocab(filepath.Join(dir, TokenizerFile))
	if err != nil {
		return nil, fmt.Errorf("load LM %s: %w (rebuild with scripts/setup-english.sh)", dir, err)
	}
	path := filepath.Join(dir, WeightsFile)
	ts, meta, err := checkpoints.ReadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("load LM %s: %w (rebuild with scripts/setup-english.sh)", dir, err)
	}
	var cfg generator.Config
	if err := json.Unmarshal([]byte(meta["config"]), &cfg); err != nil {
		return nil, fmt.Errorf("load LM %s: metadata config: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("load LM %s: %w", path, err)
	}
	if cfg.Vocab != v.Size() || cfg.CondDim != 0 || cfg.StartToken != int(BOSID) {
		return nil, fmt.Errorf("load LM %s: its network (vocab %d, start token %d) does not fit the %d-word tokenizer.json beside it", path, cfg.Vocab, cfg.StartToken, v.Size())
	}
	m := generator.New(cfg, nn.NewRNG(0, 0))
	ws := make(map[string]nn.Array, len(ts))
	for name, t := range ts {
		if t.F32 == nil {
			return nil, fmt.Errorf("load LM %s: tensor %q is not float32", path, name)
		}
		ws[name] = nn.Array{Shape: t.Shape, Data: t.F32}
	}
	if err := m.Params().SetWeights(ws); err != nil {
		return nil, fmt.Errorf("load LM %s: %w", path, err)
	}
	for name, a := range ws {
		for _, x := range a.Data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("load LM %s: tensor %q holds %v", path, name, x)
			}
		}
	}
	return &LM{Model: m, Vocab: v}, nil
}

// save writes the LM into dir in the Optimum layout (model.onnx with the
// recurrent state as inputs and outputs, config.json with <eos> as
// eos_token_id, tokenizer.json) plus weights.safetensors. Each file is
// written whole and renamed into place.
func (l *LM) save(dir string) error {
	e, err := onnxexport.LSTM(l.Model)
	if err != nil {
		return err
	}
	opt := export.Options{Stateful: true, ModelType: "promptgan-english-lstm"}
	if err := e.Write(dir, opt); err != nil {
		return err
	}
	// Write puts no eos_token_id (the oracle's sequences have a fixed
	// length); an English text ends at <eos>, where decoding stops.
	cfg := e.ConfigFor(opt)
	eos := int(EOSID)
	cfg.EOSTokenID = &eos
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, export.ConfigFile), append(b, '\n')); err != nil {
		return err
	}
	// How a run should read and sample the target, beside it where
	// promptgan finds a model's recommendations (targets.ReadModelDefaults):
	// its prompt format and temperature.
	for file, v := range map[string]any{
		onnx.GenerationConfigFile: map[string]any{"eos_token_id": eos, "temperature": Temperature},
		onnx.PromptFormatFile:     map[string]string{"template": PromptTemplate},
	} {
		if err := writeJSON(filepath.Join(dir, file), v); err != nil {
			return err
		}
	}
	tok, err := l.Vocab.TokenizerJSON()
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, TokenizerFile), tok); err != nil {
		return err
	}
	ts := map[string]checkpoints.Tensor{}
	for name, a := range l.Model.Params().Weights() {
		ts[name] = checkpoints.F32Tensor(a.Shape, a.Data)
	}
	enc, err := checkpoints.EncodeSafetensors(ts, map[string]string{"config": marshalConfig(l.Model.Cfg)})
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, WeightsFile), enc)
}

// LogProbs returns, for each text, the sum of log p(token) over its tokens
// and the closing <eos>, given the context before it (nothing but <bos>
// when context is ""), and the number of tokens summed. For the target LM
// the context of an instruction is Context(instruction).
func (l *LM) LogProbs(context string, texts []string) (logp []float64, n []int) {
	var ctx *string
	if context != "" {
		ctx = &context
	}
	seqs := make([]seq, len(texts))
	for i, t := range texts {
		var s seq
		if ctx != nil {
			s.tokens = l.Vocab.Encode(*ctx)
			s.weights = make([]float32, len(s.tokens))
		}
		body := append(l.Vocab.Encode(t), EOSID)
		s.tokens = append(s.tokens, body...)
		for range body {
			s.weights = append(s.weights, 1)
		}
		seqs[i] = s
	}
	each, n := nllEach(l.Model, seqs)
	for i := range each {
		each[i] = -each[i]
	}
	return each, n
}

// Perplexity returns each text's perplexity under the LM without context:
// exp of the mean −log p per token, <eos> included (the reference LM's
// fluency measure). An empty text is scored on its <eos> alone.
func (l *LM) Perplexity(texts []string) []float64 {
	return l.PerplexityGiven("", texts)
}

// PerplexityGiven is Perplexity after the context (for the target LM,
// Context(instruction)).
func (l *LM) PerplexityGiven(context string, texts []string) []float64 {
	lp, n := l.LogProbs(context, texts)
	out := make([]float64, len(texts))
	for i := range lp {
		out[i] = math.Exp(-lp[i] / float64(n[i]))
	}
	return out
}

// Context returns what the target LM reads before a text written for
// instruction: PromptTemplate filled with it ("instruction =>"; "=>" alone
// for an empty instruction).
func Context(instruction string) string {
	if instruction == "" {
		return Separator
	}
	return instruction + " " + Separator
}

// writeJSON writes v indented to path atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'))
}
