package targets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"promptgan/internal/ort"
	"promptgan/targets/backend"
	"promptgan/targets/onnx"
	"promptgan/targets/openai"
)

// The target interface, from targets/backend.
type (
	Model      = backend.Model
	Request    = backend.Request
	Generation = backend.Generation
)

// IdentityName is Config.Name of the identity target.
const IdentityName = "identity"

// OpenAIPrefix starts Config.Name of an OpenAI-compatible target: openai:MODEL.
const OpenAIPrefix = "openai:"

// IsOpenAI says whether name is an OpenAI-compatible target (openai:MODEL).
func IsOpenAI(name string) bool { return strings.HasPrefix(name, OpenAIPrefix) }

// OpenAIOptions is how an openai:MODEL target is reached and decodes
// (targets/openai's Options), so that callers configure one through this
// package alone.
type OpenAIOptions = openai.Options

// ModelDefaults are the settings a model directory recommends
// (targets/onnx's Defaults: generation_config.json's temperature, top_p and
// max_new_tokens, promptgan.json's template).
type ModelDefaults = onnx.Defaults

// ReadModelDefaults reads what the model directory named recommends; the
// identity and openai: targets recommend nothing.
func ReadModelDefaults(name string) (ModelDefaults, error) {
	if name == IdentityName || IsOpenAI(name) || name == "" {
		return ModelDefaults{From: map[string]string{}}, nil
	}
	d, err := onnx.ReadDefaults(name)
	if err != nil {
		return ModelDefaults{}, fmt.Errorf("target %s: %w", name, err)
	}
	return d, nil
}

// The endpoints an openai:MODEL target may call (OpenAIOptions.Endpoint).
const (
	OpenAIEndpointCompletions = openai.EndpointCompletions // /v1/completions: continue the prompt (the default)
	OpenAIEndpointChat        = openai.EndpointChat        // /v1/chat/completions: the context as one user message
)

// Config says which target to open and how it decodes.
type Config struct {
	// Name is "identity" or the directory of an Optimum-layout ONNX export
	// (model.onnx, config.json, tokenizer.json).
	Name string
	// GenLen is the number of tokens every generation is fitted to (see
	// FitGenerations); 0 leaves generations as the backend returns them.
	GenLen int
	// MaxNewTokens is how many tokens an ONNX target decodes per request;
	// 0 = GenLen.
	MaxNewTokens int
	Device       string // ONNX Runtime execution provider: cpu, cuda or auto; "" = cpu
	Library      string // ONNX Runtime library (file or directory); "" = the usual search
	Threads      int    // ONNX Runtime intra-op threads; 0 = one per core
	// Temperature and TopP are an ONNX target's sampling settings (0 =
	// temperature 1, no nucleus cut). A target always samples: greedy
	// decoding would give every request of a prompt the same answer.
	Temperature, TopP float64
	// OpenAI configures an openai:MODEL target (its Model and MaxTokens
	// are set by Open from Name and max(MaxNewTokens, GenLen)).
	OpenAI OpenAIOptions
}

// Opened is a target Open returned: the model, the vocabulary its tokens
// come from (0 for the identity target, whose vocabulary is the
// generator's), and Close, which frees what the backend holds.
type Opened struct {
	Model Model
	Vocab int
	Close func()
	// Text is the model with its tokenizer, for text runs; nil when the
	// target has no usable tokenizer.json (and for the identity target).
	Text *TextTarget
}

// Open returns the target cfg names. An ONNX target samples at temperature
// 1 with per-request seeds, decodes max(MaxNewTokens, GenLen) tokens, keeps
// the stop token that ends a generation, and is fitted to GenLen tokens.
func Open(cfg Config) (Opened, error) { return OpenContext(context.Background(), cfg) }

// OpenContext is Open; ctx bounds the check an openai:MODEL target makes
// of its server (openai.Model.Check) before it is returned.
func OpenContext(ctx context.Context, cfg Config) (Opened, error) {
	if IsOpenAI(cfg.Name) {
		return openOpenAI(ctx, cfg)
	}
	if cfg.Name == IdentityName {
		return Opened{Model: Identity{}, Close: func() {}}, nil
	}
	if cfg.Name == "" {
		return Opened{}, fmt.Errorf("no target given: name %q or the directory of an Optimum-layout ONNX export", IdentityName)
	}
	if cfg.Device == "" {
		cfg.Device = "cpu"
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 1
	}
	device, err := ort.ParseDevice(cfg.Device)
	if err != nil {
		return Opened{}, fmt.Errorf("target %s: device: %w", cfg.Name, err)
	}
	m, err := onnx.Open(cfg.Name, onnx.Options{
		Library: cfg.Library, Device: device, Threads: cfg.Threads,
		Decode: onnx.Decode{MaxNewTokens: max(cfg.MaxNewTokens, cfg.GenLen), Temperature: cfg.Temperature, TopP: cfg.TopP, IncludeStop: true},
	})
	if err != nil {
		return Opened{}, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	var model Model = m
	if cfg.GenLen > 0 {
		model = FitGenerations(m, cfg.GenLen)
	}
	o := Opened{Model: model, Vocab: m.Info().Vocab, Close: func() { m.Close() }}
	if info := m.Info(); info.Tokenizer {
		o.Text = &TextTarget{Model: model, Tokenizer: m, Stop: info.Decode.StopTokens}
	}
	return o, nil
}

// openOpenAI opens an OpenAI-compatible target: a byte-level model whose
// generations (fitted to GenLen when set) end with openai.EndID when the
// server stopped by itself, and which is also a TextTarget.
func openOpenAI(ctx context.Context, cfg Config) (Opened, error) {
	o := cfg.OpenAI
	o.Model = strings.TrimPrefix(cfg.Name, OpenAIPrefix)
	o.MaxTokens = max(cfg.MaxNewTokens, cfg.GenLen)
	m, err := openai.Open(o)
	if err != nil {
		return Opened{}, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	if err := m.Check(ctx); err != nil {
		return Opened{}, fmt.Errorf("target %s: %w", cfg.Name, err)
	}
	var model Model = m
	if cfg.GenLen > 0 {
		model = FitGenerations(m, cfg.GenLen)
	}
	return Opened{Model: model, Vocab: openai.Vocab, Close: func() {},
		Text: &TextTarget{Model: model, Tokenizer: m, Stop: []int32{openai.EndID}}}, nil
}

// Identity is the target whose generation is the prompt: with it, the
// generator's samples are judged directly, as in a plain sequence GAN.
type Identity struct{}

// Generate returns a copy of each prompt.
func (Identity) Generate(ctx context.Context, reqs []Request) ([]Generation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]Generation, len(reqs))
	for i, r := range reqs {
		out[i] = Generation{Tokens: append([]int32(nil), r.Prompt...)}
	}
	return out, nil
}

// Fingerprint names the backend.
func (Identity) Fingerprint() string { return IdentityName }

// FitGenerations returns a target that answers exactly n tokens per
// request: a longer generation is cut to its first n, a shorter one (ended
// by a stop token) is padded by repeating its last token — with
// targets/onnx's IncludeStop that is the stop token that ended it, so the
// discriminator sees "ended here" as a run of end tokens. An empty
// generation is an error. The fingerprint adds ":fit=<n>".
func FitGenerations(m Model, n int) Model {
	return &fitTarget{m: m, n: n, fp: fmt.Sprintf("%s:fit=%d", m.Fingerprint(), n)}
}

type fitTarget struct {
	m  Model
	n  int
	fp string
}

func (f *fitTarget) Fingerprint() string { return f.fp }

func (f *fitTarget) Generate(ctx context.Context, reqs []Request) ([]Generation, error) {
	if on := backend.OnAnswer(ctx); on != nil {
		// whoever listens gets the fitted generation, as Generate returns it
		ctx = backend.WithOnAnswer(ctx, func(i int, g Generation) {
			if t, err := f.fit(i, g.Tokens); err == nil {
				g.Tokens = t
				on(i, g)
			}
		})
	}
	out, err := f.m.Generate(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for i, g := range out {
		if out[i].Tokens, err = f.fit(i, g.Tokens); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fit cuts or pads the tokens of generation i to f.n.
func (f *fitTarget) fit(i int, tokens []int32) ([]int32, error) {
	switch {
	case len(tokens) == 0:
		return nil, fmt.Errorf("request %d: the target generated no tokens (gen_len %d): a stop token came first; include stop tokens in generations", i, f.n)
	case len(tokens) > f.n:
		return slices.Clone(tokens[:f.n]), nil
	case len(tokens) < f.n:
		t := slices.Clone(tokens)
		for len(t) < f.n {
			t = append(t, tokens[len(tokens)-1])
		}
		return t, nil
	}
	return tokens, nil
}

// Continue sends the (n, k) prompts to tg in one batched Generate call,
// prompt i with seeds[i], and returns the (n, m) generations. It fails if
// the target answers a different number of requests or tokens.
func Continue(ctx context.Context, tg Model, prompts []int32, k, m int, seeds []uint64) ([]int32, error) {
	n := 0
	if k > 0 {
		n = len(prompts) / k
	}
	if k < 1 || len(prompts) != n*k || len(seeds) != n {
		return nil, fmt.Errorf("continue prompts: %d tokens and %d seeds for prompts of %d tokens", len(prompts), len(seeds), k)
	}
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{Prompt: prompts[i*k : (i+1)*k], Seed: seeds[i]}
	}
	out, err := tg.Generate(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", tg.Fingerprint(), err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("target %s answered %d of %d requests", tg.Fingerprint(), len(out), n)
	}
	gens := make([]int32, 0, n*m)
	for i, g := range out {
		if len(g.Tokens) != m {
			return nil, fmt.Errorf("target %s: generation %d has %d tokens, want %d (gen_len)", tg.Fingerprint(), i, len(g.Tokens), m)
		}
		gens = append(gens, g.Tokens...)
	}
	return gens, nil
}
