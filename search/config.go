package search

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/targets/openai"
	"promptgan/task"
)

// Config is a run's whole configuration: one set of keys for every kind of
// run. The run kind follows from Target: "identity" makes the engine a
// sequence GAN (G's samples are judged directly, per-token credit); an
// ONNX model directory makes it prompt search against that model (G writes
// prompt_len-token prompts, the target continues each, D reads gen_len
// tokens). A field's comment gives its default (DefaultConfig) and what
// zero means; the "steer" preset holds the defaults of a run against a model.
type Config struct {
	// Model
	Generator         generator.Config     `yaml:"generator" json:"generator"`
	Discriminator     discriminator.Config `yaml:"discriminator" json:"discriminator"`
	Target            string               `yaml:"target" json:"target"`                         // "identity" or the directory of an Optimum-layout ONNX export (model.onnx, config.json, tokenizer.json); "identity"
	Device            string               `yaml:"device" json:"device"`                         // ONNX Runtime execution provider of a model target: cpu, cuda or auto; cpu
	MaxNewTokens      int                  `yaml:"max_new_tokens" json:"max_new_tokens"`         // tokens a model target decodes per prompt; 0 = gen_len; D reads the first gen_len
	TargetTemperature float64              `yaml:"target_temperature" json:"target_temperature"` // an ONNX target's sampling temperature; 0 = 1 (an openai: target's is openai.temperature)
	TargetTopP        float64              `yaml:"target_top_p" json:"target_top_p"`             // an ONNX target's nucleus cut, in (0, 1]; 0 = none
	Ledger            bool                 `yaml:"ledger" json:"ledger"`                         // record every target call in RUN/ledger and answer repeats from it; false (identity calls are free)
	OpenAI            OpenAIConfig         `yaml:"openai" json:"openai"`                         // an openai:MODEL target's server and decode settings

	// Data (paths are made absolute when a run starts, so that resume works from any directory)
	Train   string  `yaml:"train" json:"train"`       // real sequences: what D learns is good (gen_len token ids a line, .txt or .jsonl {"ids"}); required
	Test    string  `yaml:"test" json:"test"`         // held-out real sequences for d_real (and NLL-test with the identity target); "" = held_out of train
	HeldOut float64 `yaml:"held_out" json:"held_out"` // without test: share of train (its last lines) kept out of training to measure d_real; 0
	Prior   string  `yaml:"prior" json:"prior"`       // prompts for G's MLE pre-training (prompt_len ids a line); "" = train with the identity target, none otherwise
	Oracle  string  `yaml:"oracle" json:"oracle"`     // SeqGAN oracle safetensors for NLL-oracle (identity target); "" = none

	// Text runs (task set; the target must be a model with tokenizer.json; train, test, prior and oracle stay empty)
	Task              string                   `yaml:"task" json:"task"`                             // text task: a JSONL file or a built-in name (sentiment); "" = a token run
	Template          string                   `yaml:"template" json:"template"`                     // how prompt and input are joined for the target ({prompt}, {input}); "" = {prompt}, or {input}\n{prompt} for a task with inputs
	Encoder           string                   `yaml:"encoder" json:"encoder"`                       // sentence encoder of the text discriminator: glove-sif, hashing[:DIM] or onnx:DIR; glove-sif
	PromptVocab       string                   `yaml:"prompt_vocab" json:"prompt_vocab"`             // what G's tokens are: words (the train split's most frequent good words), phrases:FILE (a phrase bank, one a line) or target (the target's tokens); words
	PromptWords       int                      `yaml:"prompt_words" json:"prompt_words"`             // size of the words vocabulary; 2000
	SplitSeed         uint64                   `yaml:"split_seed" json:"split_seed"`                 // seed of the task's train/validation/test split (not the run's seed, so runs share a test set); 1
	ValidationShare   float64                  `yaml:"validation_share" json:"validation_share"`     // share of the task's examples for D's calibration; 0.15
	TestShare         float64                  `yaml:"test_share" json:"test_share"`                 // share of the task's examples for D's held-out AUC/ECE; 0.15
	BadWeight         float64                  `yaml:"bad_weight" json:"bad_weight"`                 // weight of the task's bad examples (label 0) in L_D; 1
	DFitEpochs        int                      `yaml:"d_fit_epochs" json:"d_fit_epochs"`             // before its first update on generations, D learns the train split's good vs bad items for up to this many epochs (early stopping on the validation split; no target calls); 100; 0 = off
	TextDiscriminator discriminator.TextConfig `yaml:"text_discriminator" json:"text_discriminator"` // the text discriminator's ensemble (dim and input_free follow from the encoder and the task)

	// Lengths
	PromptLen int `yaml:"prompt_len" json:"prompt_len"` // tokens G writes per prompt; 20
	GenLen    int `yaml:"gen_len" json:"gen_len"`       // tokens of a generation, what D reads; 0 = prompt_len (the identity target's generation is the prompt); in a text run, the most tokens the target writes (it stops earlier at a stop token)

	// Schedule (steps are global: MLE, then D pre-training, then adversarial)
	Steps          int `yaml:"steps" json:"steps"`                       // total steps of the run
	MLESteps       int `yaml:"mle_steps" json:"mle_steps"`               // MLE pre-training steps of G; 0 = none
	DPretrainSteps int `yaml:"d_pretrain_steps" json:"d_pretrain_steps"` // D pre-training steps; 0 = none
	BatchSize      int `yaml:"batch_size" json:"batch_size"`             // prompts per step; 64

	// Optimisation
	GAdam  nn.AdamConfig `yaml:"g_adam" json:"g_adam"`     // G during MLE; lr 0.01
	GAdvLR float64       `yaml:"g_adv_lr" json:"g_adv_lr"` // G's learning rate in the adversarial phase; 0.001
	DAdam  nn.AdamConfig `yaml:"d_adam" json:"d_adam"`     // each D member; lr 0.005

	// Adversarial objective
	DStepsPerG             int     `yaml:"d_steps_per_g" json:"d_steps_per_g"`                       // D updates (each on fresh target calls) per adversarial step; 3
	ContinuationsPerPrompt int     `yaml:"continuations_per_prompt" json:"continuations_per_prompt"` // continuations (target calls, distinct seeds) of each prompt per D update; a prompt's reward is their mean; 1
	LabelSmoothing         float64 `yaml:"label_smoothing" json:"label_smoothing"`                   // real label is 1−ε (one-sided); 0.1
	ReplaySize             int     `yaml:"replay_size" json:"replay_size"`                           // old fakes kept for D; 0 = no replay
	ReplayWeight           float64 `yaml:"replay_weight" json:"replay_weight"`                       // λ on the replay term of L_D; 0.5
	Credit                 string  `yaml:"credit" json:"credit"`                                     // how D's verdict becomes per-token reward: "prefix" (log D of each prefix), "delta" (its change from the previous prefix), "rollout" (SeqGAN's Monte-Carlo roll-outs) — these three judge prompts directly, so need the identity target — or "sequence" (log D of the whole generation, for every prompt token); "" = prefix with the identity target, sequence otherwise
	Gamma                  float64 `yaml:"gamma" json:"gamma"`                                       // discount of per-token returns (prefix, delta); 0.9
	Rollouts               int     `yaml:"rollouts" json:"rollouts"`                                 // completions per prefix with credit: rollout; 16
	BaselineDecay          float64 `yaml:"baseline_decay" json:"baseline_decay"`                     // EMA decay of the reward baseline (one per position); 0.9
	EntropyBonus           float64 `yaml:"entropy_bonus" json:"entropy_bonus"`                       // weight of the policy-entropy bonus; 0 (see DefaultConfig)
	MLEWeight              float64 `yaml:"mle_weight" json:"mle_weight"`                             // weight of an MLE term on real prompts (the prior) in G's adversarial loss; 0 (see DefaultConfig)
	Temperature            float64 `yaml:"temperature" json:"temperature"`                           // G's sampling temperature while training; 1

	// Evaluation and feedback
	EvalEvery       int     `yaml:"eval_every" json:"eval_every"`             // steps between held-out evaluations; 0 = only at the end
	EvalSamples     int     `yaml:"eval_samples" json:"eval_samples"`         // prompts sampled per evaluation (target calls with a model target); 1000
	EvalTest        int     `yaml:"eval_test" json:"eval_test"`               // held-out sequences scored per evaluation; 0 = all
	Metric          string  `yaml:"metric" json:"metric"`                     // what "best" means: "nll_oracle", "nll_test" (lower is better) or "d_fake" (D's mean verdict on the generations, higher is better); "" = nll_oracle with an oracle, else nll_test with a test file and the identity target, else d_fake
	Threshold       float64 `yaml:"threshold" json:"threshold"`               // once the metric passes it, stabilise (lower G's rate); 0 = never
	StabiliseFactor float64 `yaml:"stabilise_factor" json:"stabilise_factor"` // G's rate is multiplied by it once stabilised; 0.3
	Patience        int     `yaml:"patience" json:"patience"`                 // adversarial evaluations without improvement before stopping; 0 = never stop early
	HallOfFame      int     `yaml:"hall_of_fame" json:"hall_of_fame"`         // best prompts kept; 20

	// I/O
	Seed            uint64 `yaml:"seed" json:"seed"`                         // seeds every RNG stream; 1
	CheckpointEvery int    `yaml:"checkpoint_every" json:"checkpoint_every"` // steps between checkpoints; 0 = only at the end
	LogEvery        int    `yaml:"log_every" json:"log_every"`               // steps between metrics.jsonl records; 10
	KeepCheckpoints int    `yaml:"keep_checkpoints" json:"keep_checkpoints"` // newest checkpoints kept besides latest and best; 3; 0 = keep all
}

// OpenAIConfig is how an openai:MODEL target is reached and decodes (see
// targets/openai). The API key itself is never in a config: only the name
// of the environment variable that holds it.
type OpenAIConfig struct {
	BaseURL     string   `yaml:"base_url" json:"base_url"`       // the server's API root, e.g. http://127.0.0.1:8000/v1; required
	APIKeyEnv   string   `yaml:"api_key_env" json:"api_key_env"` // environment variable holding the API key; "" = OPENAI_API_KEY
	Endpoint    string   `yaml:"endpoint" json:"endpoint"`       // completions (continue the prompt; "") or chat (the context as one user message)
	Temperature *float64 `yaml:"temperature" json:"temperature"` // sampling temperature; null = 1
	TopP        *float64 `yaml:"top_p" json:"top_p"`             // nucleus sampling; null = 1
	Stop        []string `yaml:"stop" json:"stop"`               // stop sequences; none
	SeedBits    int      `yaml:"seed_bits" json:"seed_bits"`     // 31 (seed mod 2^31, any server; 0 = 31) or 64 (the whole seed: promptgan serve, the in-process run's generations)
	Concurrency int      `yaml:"concurrency" json:"concurrency"` // calls in flight at once; 0 = 8
	Timeout     float64  `yaml:"timeout" json:"timeout"`         // seconds per HTTP attempt; 0 = 60
	MaxRetries  int      `yaml:"max_retries" json:"max_retries"` // retries of a call (429, 5xx, connection errors, timeouts); 0 = 6
}

// Options returns c as targets/openai options (model and max_tokens unset).
func (c OpenAIConfig) Options() openai.Options {
	return openai.Options{BaseURL: c.BaseURL, APIKeyEnv: c.APIKeyEnv, Endpoint: c.Endpoint, Temperature: c.Temperature, TopP: c.TopP,
		Stop: c.Stop, SeedBits: c.SeedBits, Concurrency: c.Concurrency, Timeout: time.Duration(c.Timeout * float64(time.Second)), MaxRetries: c.MaxRetries}
}

// DefaultConfig returns the seqgan-oracle settings without data paths: an
// identity-target run of SeqGAN's sizes at the full benchmark budget.
func DefaultConfig() Config {
	gadam := nn.DefaultAdam(0.01)
	dadam := nn.DefaultAdam(0.005)
	return Config{
		Generator:     generator.DefaultConfig(5000),
		Discriminator: discriminator.DefaultConfig(5000),
		Target:        targets.IdentityName,
		Device:        "cpu",

		PromptLen: 20,

		Steps:          10200, // 5,000 adversarial steps: 3,000 missed the target with seed 2
		MLESteps:       4700,  // 30 epochs of 10,000 sequences at batch 64
		DPretrainSteps: 500,
		BatchSize:      64,

		GAdam:  gadam,
		GAdvLR: 0.001,
		DAdam:  dadam,

		DStepsPerG:             3,
		ContinuationsPerPrompt: 1,
		LabelSmoothing:         0.1,
		ReplaySize:             2048,
		ReplayWeight:           0.5,
		Gamma:                  0.9,
		Rollouts:               16,
		BaselineDecay:          0.9,
		// Both off: measured on seqgan-oracle (docs/BENCHMARKS.md), the MLE
		// term on real data keeps pulling G towards the training set and the
		// entropy bonus holds G near MLE's entropy; without them the same
		// 1,500 adversarial steps gain about twice the NLL-oracle.
		EntropyBonus: 0,
		MLEWeight:    0,
		Temperature:  1,

		EvalEvery:       250,
		EvalSamples:     1000,
		EvalTest:        2000,
		StabiliseFactor: 0.3,
		HallOfFame:      20,

		Encoder:           DefaultEncoder,
		PromptVocab:       generator.VocabWords,
		PromptWords:       2000,
		SplitSeed:         1,
		ValidationShare:   0.15,
		TestShare:         0.15,
		BadWeight:         1,
		DFitEpochs:        100,
		TextDiscriminator: discriminator.DefaultTextConfig(0, false),

		Seed:            1,
		CheckpointEvery: 1000,
		LogEvery:        10,
		KeepCheckpoints: 3,
	}
}

var presetNames = []string{"seqgan-oracle", "quick", "tiny", "steer", "text"}

// PresetNames lists the built-in presets.
func PresetNames() []string { return append([]string(nil), presetNames...) }

// seqganData points a config at the seqgan-oracle benchmark's files.
func seqganData(c *Config) {
	c.Train = "benchmarks/seqgan-oracle/data/real_train.txt"
	c.Test = "benchmarks/seqgan-oracle/data/real_test.txt"
	c.Oracle = "benchmarks/seqgan-oracle/data/oracle.safetensors"
}

// Preset returns a built-in configuration: "seqgan-oracle" (the full
// benchmark budget), "quick" (the demo budget), "tiny" (seconds; for tests)
// — all three on the seqgan-oracle data with the identity target — or
// "steer" (the defaults of prompt search against a model; give target,
// train and the networks' vocabulary, which the CLI takes from the model).
func Preset(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "seqgan-oracle":
		seqganData(&c)
	case "quick":
		seqganData(&c)
		c.Steps, c.MLESteps, c.DPretrainSteps = 3200, 1500, 200 // 1,500 adversarial steps: fewer show no gain over MLE
		c.EvalEvery, c.EvalSamples, c.EvalTest = 250, 500, 1000
		c.CheckpointEvery = 500
	case "tiny":
		seqganData(&c)
		c.Generator.Emb, c.Generator.Hidden = 8, 8
		c.Discriminator.Emb, c.Discriminator.Hidden, c.Discriminator.Members = 8, 8, 2
		c.Steps, c.MLESteps, c.DPretrainSteps = 40, 20, 5
		c.BatchSize = 16
		c.ReplaySize = 64
		c.EvalEvery, c.EvalSamples, c.EvalTest = 10, 64, 64
		c.CheckpointEvery = 20
		c.LogEvery = 5
	case "steer":
		c = steerDefaults()
	case "text":
		c = textDefaults()
	default:
		return Config{}, fmt.Errorf("unknown preset %q (available: %v)", name, presetNames)
	}
	return c, nil
}

// steerDefaults are the settings of prompt search against a model, as
// measured on steer-oracle (docs/BENCHMARKS.md). The vocabulary is the
// target's: 0 here, set when the target is opened.
func steerDefaults() Config {
	c := DefaultConfig()
	c.Generator, c.Discriminator = generator.DefaultConfig(0), discriminator.DefaultConfig(0)
	c.Target = ""
	c.GAdam.ClipNorm, c.DAdam.ClipNorm = 5, 5
	c.PromptLen, c.GenLen = 4, 16
	c.HeldOut = 0.1
	c.Steps, c.MLESteps, c.DPretrainSteps = 500, 0, 20
	c.GAdvLR = 0.005
	c.DStepsPerG = 1
	c.ReplaySize = 1024
	c.EntropyBonus = 0.01
	c.EvalEvery, c.EvalSamples, c.EvalTest = 50, 256, 0
	c.CheckpointEvery = 50
	c.Ledger = true
	return c
}

// textDefaults are the settings of a text run: prompt search on a text
// task against a model that reads and writes text (give task and target).
func textDefaults() Config {
	c := steerDefaults()
	c.Discriminator = discriminator.Config{}
	c.Task = task.BuiltinSentiment
	c.HeldOut = 0
	c.PromptLen, c.GenLen = 6, 24
	c.BatchSize = 32
	c.Steps, c.MLESteps, c.DPretrainSteps = 300, 0, 50
	c.DAdam = nn.DefaultAdam(0.001)
	c.ReplaySize = 512
	c.EvalEvery, c.EvalSamples = 50, 128
	return c
}

// LoadYAML applies the YAML file at path on top of base. Unknown keys are
// errors that name the key and the line.
func LoadYAML(path string, base Config) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	c, err := DecodeYAML(b, base)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// DecodeYAML applies YAML b on top of base, rejecting unknown keys. Errors
// name the line and the key in the file's terms (config_yaml.go); a UTF-8
// byte-order mark and CRLF line ends are accepted.
func DecodeYAML(b []byte, base Config) (Config, error) {
	return decodeConfigYAML(b, base)
}

// IsIdentity reports whether the run's target is the identity target: a
// sequence GAN, whose generations are the prompts.
func (c Config) IsIdentity() bool { return c.Target == targets.IdentityName }

// Resolved returns c with every "derived" default filled in — gen_len,
// credit and metric — and the data and model paths made absolute (relative
// to the working directory), as a run stores it in its checkpoints.
func (c Config) Resolved() (Config, error) {
	if c.GenLen == 0 && c.IsIdentity() {
		c.GenLen = c.PromptLen
	}
	if c.Credit == "" {
		c.Credit = "sequence"
		if c.IsIdentity() {
			c.Credit = "prefix"
		}
	}
	if c.Metric == "" {
		switch {
		case c.IsIdentity() && c.Oracle != "":
			c.Metric = "nll_oracle"
		case c.IsIdentity() && c.Test != "":
			c.Metric = "nll_test"
		default:
			c.Metric = "d_fake"
		}
	}
	if info, err := os.Stat(c.Task); err == nil && !info.IsDir() && c.Task != task.BuiltinSentiment {
		abs, err := filepath.Abs(c.Task)
		if err != nil {
			return c, fmt.Errorf("resolve task %s: %w", c.Task, err)
		}
		c.Task = abs
	}
	if kind, file, ok := strings.Cut(c.PromptVocab, ":"); ok && kind == generator.VocabPhrases && file != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return c, fmt.Errorf("resolve phrase bank %s: %w", file, err)
		}
		c.PromptVocab = kind + ":" + abs
	}
	if dir, ok := strings.CutPrefix(c.Encoder, "onnx:"); ok && dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return c, fmt.Errorf("resolve encoder %s: %w", dir, err)
		}
		c.Encoder = "onnx:" + abs
	}
	for _, p := range []*string{&c.Train, &c.Test, &c.Prior, &c.Oracle} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return c, fmt.Errorf("resolve %s: %w", *p, err)
		}
		*p = abs
	}
	if info, err := os.Stat(c.Target); err == nil && info.IsDir() && !c.IsIdentity() {
		abs, err := filepath.Abs(c.Target)
		if err != nil {
			return c, fmt.Errorf("resolve target %s: %w", c.Target, err)
		}
		c.Target = abs
	}
	return c, nil
}

// continuations returns ContinuationsPerPrompt, at least 1.
func (c Config) continuations() int { return max(c.ContinuationsPerPrompt, 1) }

// CallsPerStep returns the target calls one adversarial step makes.
func (c Config) CallsPerStep() int { return c.BatchSize * c.continuations() * c.DStepsPerG }

// Validate checks every field and every cross-field rule once; the message
// names the field, its value and the fix. It accepts a config before
// Resolved (gen_len, credit and metric may be empty).
func (c Config) Validate() error {
	if field := nonFinite(reflect.ValueOf(c), ""); field != "" {
		return fmt.Errorf("%s is not a finite number", field)
	}
	for _, r := range c.sizeRanges() {
		if r.v > r.hi { // values below lo meet a more specific rule below

			return fmt.Errorf("%s = %d is out of range: must be %s to %s (%s)", r.name, r.v, groupDigits(r.lo), groupDigits(r.hi), r.note)
		}
	}
	if c.IsText() {
		if err := c.validateText(); err != nil {
			return err
		}
	} else {
		if err := c.Generator.Validate(); err != nil {
			return err
		}
		if err := c.Discriminator.Validate(); err != nil {
			return err
		}
		if c.Discriminator.Vocab != c.Generator.Vocab {
			return fmt.Errorf("discriminator.vocab = %d but generator.vocab = %d: both networks read the same tokens, set them equal", c.Discriminator.Vocab, c.Generator.Vocab)
		}
	}
	if c.Generator.CondDim != 0 {
		return fmt.Errorf("generator.cond_dim = %d: token-sequence tasks have no task vector; set it to 0", c.Generator.CondDim)
	}
	if err := c.GAdam.Validate("g_adam"); err != nil {
		return err
	}
	if err := c.DAdam.Validate("d_adam"); err != nil {
		return err
	}
	id := c.IsIdentity()
	perToken := c.Credit == "prefix" || c.Credit == "delta" || c.Credit == "rollout"
	type check struct {
		bad bool
		msg string
	}
	for _, ck := range []check{
		{c.Target == "", "target is empty: \"identity\" (a sequence GAN) or the directory of an Optimum-layout ONNX export (--target DIR)"},
		{c.Device != "cpu" && c.Device != "cuda" && c.Device != "auto", fmt.Sprintf("device = %q: choose cpu, cuda or auto", c.Device)},
		{targets.IsOpenAI(c.Target) && c.OpenAI.BaseURL == "", fmt.Sprintf("target = %q needs openai.base_url: the server's API root (--base-url http://HOST:PORT/v1)", c.Target)},
		{targets.IsOpenAI(c.Target) && !c.Ledger, fmt.Sprintf("target = %q with ledger: false: every call to a server is paid for, so it goes through the call ledger; set ledger: true", c.Target)},
		{c.OpenAI.Endpoint != "" && c.OpenAI.Endpoint != openai.EndpointCompletions && c.OpenAI.Endpoint != openai.EndpointChat, fmt.Sprintf("openai.endpoint = %q: choose completions or chat", c.OpenAI.Endpoint)},
		{c.OpenAI.SeedBits != 0 && c.OpenAI.SeedBits != 31 && c.OpenAI.SeedBits != 64, fmt.Sprintf("openai.seed_bits = %d: choose 31 (seed mod 2^31, any server) or 64 (the whole seed, e.g. promptgan serve)", c.OpenAI.SeedBits)},
		{c.OpenAI.Concurrency < 0 || c.OpenAI.Concurrency > 4096, fmt.Sprintf("openai.concurrency = %d: must be in 1..4096 (0 = 8)", c.OpenAI.Concurrency)},
		{!(c.OpenAI.Timeout >= 0 && c.OpenAI.Timeout <= 86400), fmt.Sprintf("openai.timeout = %v: seconds in (0, 86400] (0 = 60)", c.OpenAI.Timeout)},
		{c.OpenAI.MaxRetries < 0 || c.OpenAI.MaxRetries > 100, fmt.Sprintf("openai.max_retries = %d: must be in 0..100 (0 = 6)", c.OpenAI.MaxRetries)},
		{c.OpenAI.Temperature != nil && !(*c.OpenAI.Temperature >= 0 && *c.OpenAI.Temperature <= 2), fmt.Sprintf("openai.temperature = %v: must be in [0, 2]", ptrVal(c.OpenAI.Temperature))},
		{c.OpenAI.TopP != nil && !(*c.OpenAI.TopP > 0 && *c.OpenAI.TopP <= 1), fmt.Sprintf("openai.top_p = %v: must be in (0, 1]", ptrVal(c.OpenAI.TopP))},
		{c.MaxNewTokens < 0, fmt.Sprintf("max_new_tokens = %d: must be >= 0 (0 = gen_len)", c.MaxNewTokens)},
		{!(c.TargetTemperature >= 0 && c.TargetTemperature <= 10), fmt.Sprintf("target_temperature = %v: must be in (0, 10] (0 = 1)", c.TargetTemperature)},
		{!(c.TargetTopP >= 0 && c.TargetTopP <= 1), fmt.Sprintf("target_top_p = %v: must be in (0, 1] (0 = none)", c.TargetTopP)},
		{(c.TargetTemperature != 0 || c.TargetTopP != 0) && (id || targets.IsOpenAI(c.Target)), fmt.Sprintf("target_temperature = %v, target_top_p = %v: they set an ONNX target's sampling; the identity target does not sample and an openai: target takes openai.temperature and openai.top_p", c.TargetTemperature, c.TargetTopP)},
		{c.Train == "" && !c.IsText(), "train is empty: give the file of real sequences (gen_len token ids a line, .txt or .jsonl {\"ids\": [...]})"},
		{!(c.HeldOut >= 0 && c.HeldOut < 1), fmt.Sprintf("held_out = %v: must be in [0, 1)", c.HeldOut)},
		{c.HeldOut > 0 && c.Test != "", fmt.Sprintf("held_out = %v and test = %q: give a test file or a held-out share of train, not both", c.HeldOut, c.Test)},
		{!id && c.Oracle != "", "oracle is set but the target is a model: NLL-oracle scores G's samples as sequences, which only the identity target judges; remove oracle"},
		{c.PromptLen < 1, fmt.Sprintf("prompt_len = %d: must be >= 1 (SeqGAN's sequences are 20)", c.PromptLen)},
		{c.GenLen < 0, fmt.Sprintf("gen_len = %d: must be >= 1 (0 = prompt_len with the identity target)", c.GenLen)},
		{id && c.GenLen != 0 && c.GenLen != c.PromptLen, fmt.Sprintf("gen_len = %d but prompt_len = %d: the identity target's generation is the prompt; set gen_len: 0", c.GenLen, c.PromptLen)},
		{!id && c.GenLen < 1, fmt.Sprintf("gen_len = %d: a model target needs the number of generated tokens D reads (>= 1)", c.GenLen)},
		{c.MaxNewTokens != 0 && c.MaxNewTokens < c.GenLen, fmt.Sprintf("max_new_tokens = %d is below gen_len = %d: the discriminator reads gen_len tokens", c.MaxNewTokens, c.GenLen)},
		{c.Steps < 1, fmt.Sprintf("steps = %d: the run needs at least 1 step", c.Steps)},
		{c.MLESteps < 0 || c.DPretrainSteps < 0, fmt.Sprintf("mle_steps = %d, d_pretrain_steps = %d: must be >= 0", c.MLESteps, c.DPretrainSteps)},
		{!id && !c.IsText() && c.Prior == "" && c.MLESteps > 0, fmt.Sprintf("mle_steps = %d but prior is empty: give prompts to pre-train G on (--prior) or set mle_steps: 0", c.MLESteps)},
		{!id && !c.IsText() && c.Prior == "" && c.MLEWeight > 0, fmt.Sprintf("mle_weight = %v but prior is empty: the MLE term trains G on real prompts; give a prior or set mle_weight: 0", c.MLEWeight)},
		{c.BatchSize < 2, fmt.Sprintf("batch_size = %d: need at least 2 prompts per batch (baselines and normalisation need a spread)", c.BatchSize)},
		{!(c.GAdvLR > 0) || math.IsInf(c.GAdvLR, 0), fmt.Sprintf("g_adv_lr = %v: must be a positive learning rate such as 0.001", c.GAdvLR)},
		{c.DStepsPerG < 1, fmt.Sprintf("d_steps_per_g = %d: must be >= 1", c.DStepsPerG)},
		{c.ContinuationsPerPrompt < 0, fmt.Sprintf("continuations_per_prompt = %d: must be >= 1 (0 = 1)", c.ContinuationsPerPrompt)},
		{id && c.ContinuationsPerPrompt > 1, fmt.Sprintf("continuations_per_prompt = %d: the identity target has one generation per prompt; set it to 1", c.ContinuationsPerPrompt)},
		{c.LabelSmoothing < 0 || c.LabelSmoothing >= 0.5, fmt.Sprintf("label_smoothing = %v: must be in [0, 0.5)", c.LabelSmoothing)},
		{c.ReplaySize < 0, fmt.Sprintf("replay_size = %d: must be >= 0 (0 = no replay)", c.ReplaySize)},
		{c.ReplayWeight < 0, fmt.Sprintf("replay_weight = %v: must be >= 0", c.ReplayWeight)},
		{c.Credit != "" && !perToken && c.Credit != "sequence", fmt.Sprintf("credit = %q: choose prefix, delta, rollout or sequence", c.Credit)},
		{!id && perToken, fmt.Sprintf("credit = %q judges prompt prefixes directly, which needs the identity target; with a model target use credit: sequence", c.Credit)},
		{c.Credit == "rollout" && c.Rollouts < 1, fmt.Sprintf("rollouts = %d: credit rollout needs at least 1 completion per prefix (SeqGAN uses 16)", c.Rollouts)},
		{c.Gamma < 0 || c.Gamma > 1, fmt.Sprintf("gamma = %v: the discount must be in [0, 1]", c.Gamma)},
		{c.BaselineDecay < 0 || c.BaselineDecay >= 1, fmt.Sprintf("baseline_decay = %v: must be in [0, 1)", c.BaselineDecay)},
		{c.EntropyBonus < 0, fmt.Sprintf("entropy_bonus = %v: must be >= 0", c.EntropyBonus)},
		{c.MLEWeight < 0, fmt.Sprintf("mle_weight = %v: must be >= 0", c.MLEWeight)},
		{!(c.Temperature > 0) || c.Temperature > 10, fmt.Sprintf("temperature = %v: must be in (0, 10]", c.Temperature)},
		{c.EvalEvery < 0, fmt.Sprintf("eval_every = %d: must be >= 0 (0 = only at the end)", c.EvalEvery)},
		{c.EvalSamples < 2, fmt.Sprintf("eval_samples = %d: need at least 2 samples for the diversity metrics", c.EvalSamples)},
		{c.EvalTest < 0, fmt.Sprintf("eval_test = %d: must be >= 0 (0 = all)", c.EvalTest)},
		{c.Metric != "" && c.Metric != "nll_oracle" && c.Metric != "nll_test" && c.Metric != "d_fake", fmt.Sprintf("metric = %q: choose nll_oracle, nll_test or d_fake", c.Metric)},
		{c.Metric == "nll_oracle" && c.Oracle == "", "metric = nll_oracle but oracle is empty: give the oracle file or set metric: nll_test"},
		{c.Metric == "nll_test" && (c.Test == "" || !id), "metric = nll_test needs the identity target and a test file (G's NLL of held-out sequences); set metric: d_fake or give test"},
		{c.Threshold < 0, fmt.Sprintf("threshold = %v: must be >= 0 (0 = never stabilise)", c.Threshold)},
		{c.StabiliseFactor <= 0 || c.StabiliseFactor > 1, fmt.Sprintf("stabilise_factor = %v: must be in (0, 1]", c.StabiliseFactor)},
		{c.Patience < 0, fmt.Sprintf("patience = %d: must be >= 0 (0 = never stop early)", c.Patience)},
		{c.HallOfFame < 0, fmt.Sprintf("hall_of_fame = %d: must be >= 0", c.HallOfFame)},
		{c.CheckpointEvery < 0, fmt.Sprintf("checkpoint_every = %d: must be >= 0 (0 = only at the end)", c.CheckpointEvery)},
		{c.LogEvery < 1, fmt.Sprintf("log_every = %d: must be >= 1", c.LogEvery)},
		{c.KeepCheckpoints < 0, fmt.Sprintf("keep_checkpoints = %d: must be >= 0 (0 = keep all)", c.KeepCheckpoints)},
	} {
		if ck.bad {
			return errors.New(ck.msg)
		}
	}
	return nil
}

// sizeRange is the documented range of one size field.
type sizeRange struct {
	name      string
	v, lo, hi int
	note      string
}

// Size limits. Inside them every product a run allocates stays far from
// int overflow; whether it fits in memory is EstimateMemory's question.
const (
	MaxVocab     = 1_000_000 // generator.vocab, discriminator.vocab
	MaxWidth     = 16_384    // emb and hidden of both networks
	MaxLen       = 10_000    // prompt_len, gen_len, discriminator.positions
	MaxBatch     = 1_000_000 // batch_size
	MaxSamples   = 10_000_000
	MaxReplay    = 10_000_000
	MaxPerPrompt = 1_000 // continuations_per_prompt, rollouts
)

// sizeRanges lists every field that sizes an allocation with its range.
// Validate checks the upper bounds here and the lower bounds with a more
// specific message in the rules that follow (a vocabulary is 0 until a
// model target or a text run sets it).
func (c Config) sizeRanges() []sizeRange {
	d := c.Discriminator
	positions := d.Positions
	if !d.IsLinear() {
		positions = 0 // unused by LSTM members
	}
	return []sizeRange{
		{"generator.vocab", c.Generator.Vocab, 2, MaxVocab, "tokens of the networks; a model target's own"},
		{"generator.emb", c.Generator.Emb, 1, MaxWidth, "SeqGAN uses 32"},
		{"generator.hidden", c.Generator.Hidden, 1, MaxWidth, "SeqGAN uses 32"},
		{"discriminator.vocab", d.Vocab, 2, MaxVocab, "equal to generator.vocab"},
		{"discriminator.emb", d.Emb, 1, MaxWidth, "default 64"},
		{"discriminator.hidden", d.Hidden, 1, MaxWidth, "default 64"},
		{"discriminator.positions", positions, 1, MaxLen, "position rows of a linear discriminator"},
		{"prompt_len", c.PromptLen, 1, MaxLen, "SeqGAN's sequences are 20"},
		{"gen_len", c.GenLen, 0, MaxLen, "0 = prompt_len"},
		{"max_new_tokens", c.MaxNewTokens, 0, 10 * MaxLen, "0 = gen_len"},
		{"batch_size", c.BatchSize, 2, MaxBatch, "default 64"},
		{"continuations_per_prompt", c.ContinuationsPerPrompt, 1, MaxPerPrompt, "default 1"},
		{"rollouts", c.Rollouts, 1, MaxPerPrompt, "SeqGAN uses 16"},
		{"replay_size", c.ReplaySize, 0, MaxReplay, "0 = no replay"},
		{"eval_samples", c.EvalSamples, 2, MaxSamples, "default 1000"},
		{"hall_of_fame", c.HallOfFame, 0, 100_000, "default 20"},
		{"prompt_words", c.PromptWords, 2, MaxVocab, "default 2000"},
	}
}

// groupDigits writes n with thousands separators: 1,000,000.
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// validateText checks the fields of a text run (Validate checks the rest).
func (c Config) validateText() error {
	g := c.Generator
	if g.Vocab == 0 {
		g.Vocab = 2 // derived from the prompt vocabulary when the run starts
	}
	if err := g.Validate(); err != nil {
		return err
	}
	td := c.TextDiscriminator
	if td.Dim == 0 {
		td.Dim = 1 // derived from the encoder when the run starts
	}
	if err := td.Validate(); err != nil {
		return fmt.Errorf("text_%w", err)
	}
	kind, arg, hasArg := strings.Cut(c.PromptVocab, ":")
	for _, ck := range []struct {
		bad bool
		msg string
	}{
		{c.IsIdentity(), "task is set but target is identity: a text run needs a model that reads and writes text (--target DIR of an Optimum export with tokenizer.json)"},
		{c.Train != "" || c.Test != "" || c.Prior != "" || c.Oracle != "", "task is set together with train/test/prior/oracle: a text run reads its examples from the task; remove the token files"},
		{c.HeldOut != 0, fmt.Sprintf("held_out = %v: a text run splits its task with validation_share and test_share; set held_out: 0", c.HeldOut)},
		{c.MaxNewTokens != 0, fmt.Sprintf("max_new_tokens = %d: in a text run gen_len is the most tokens the target writes; set max_new_tokens: 0", c.MaxNewTokens)},
		{c.Encoder == "", "encoder is empty: choose glove-sif, hashing[:DIM] or onnx:DIR"},
		{kind != generator.VocabWords && kind != generator.VocabTarget && kind != generator.VocabPhrases, fmt.Sprintf("prompt_vocab = %q: choose words, target or phrases:FILE", c.PromptVocab)},
		{kind == generator.VocabPhrases && (!hasArg || arg == ""), "prompt_vocab = phrases needs a file: phrases:FILE, one phrase a line"},
		{kind != generator.VocabPhrases && hasArg, fmt.Sprintf("prompt_vocab = %q: only phrases takes a file (phrases:FILE)", c.PromptVocab)},
		{(c.MLESteps > 0 || c.MLEWeight > 0) && kind == generator.VocabPhrases, fmt.Sprintf("mle_steps = %d, mle_weight = %v: G pre-trains on windows of the good texts, which a phrase bank cannot segment; use prompt_vocab words or target, or set both to 0", c.MLESteps, c.MLEWeight)},
		{kind == generator.VocabWords && (c.PromptWords < 2 || c.PromptWords > 1_000_000), fmt.Sprintf("prompt_words = %d: the words vocabulary needs 2 to 1,000,000 words (default 2000)", c.PromptWords)},
		{!(c.ValidationShare > 0) || !(c.TestShare > 0) || c.ValidationShare+c.TestShare >= 1, fmt.Sprintf("validation_share = %v, test_share = %v: each must be > 0 and together < 1 (default 0.15 each)", c.ValidationShare, c.TestShare)},
		{c.BadWeight < 0, fmt.Sprintf("bad_weight = %v: must be >= 0", c.BadWeight)},
		{c.DFitEpochs < 0 || c.DFitEpochs > 100_000, fmt.Sprintf("d_fit_epochs = %d: must be 0 (off) to 100000", c.DFitEpochs)},
		{c.Credit != "" && c.Credit != "sequence", fmt.Sprintf("credit = %q: a text run judges whole generations; use credit: sequence", c.Credit)},
	} {
		if ck.bad {
			return errors.New(ck.msg)
		}
	}
	return nil
}

// PhaseOf returns the phase that global step s (1-based) belongs to: G's
// MLE pre-training, then D's pre-training, then adversarial steps.
func (c Config) PhaseOf(s int) string {
	switch {
	case s <= c.MLESteps:
		return PhaseMLE
	case s <= c.MLESteps+c.DPretrainSteps:
		return PhaseDPretrain
	default:
		return PhaseAdversarial
	}
}

// ArchitectureDiff returns the shape fields that differ between a
// and b ("generator.hidden: 32 → 64"), sorted; empty if a checkpoint of a can
// be resumed with b.
func ArchitectureDiff(a, b Config) []string {
	var d fieldDiff
	d.networks(a.Generator, b.Generator, a.Discriminator, b.Discriminator)
	d.add("prompt_len", a.PromptLen, b.PromptLen)
	d.add("gen_len", a.GenLen, b.GenLen)
	d.add("batch_size", a.BatchSize, b.BatchSize)
	d.add("replay_size", a.ReplaySize, b.ReplaySize)
	d.add("task", a.Task != "", b.Task != "")
	d.add("encoder", a.Encoder, b.Encoder)
	d.add("prompt_vocab", a.PromptVocab, b.PromptVocab)
	d.add("text_discriminator.dim", a.TextDiscriminator.Dim, b.TextDiscriminator.Dim)
	d.add("text_discriminator.hidden", a.TextDiscriminator.Hidden, b.TextDiscriminator.Hidden)
	d.add("text_discriminator.members", a.TextDiscriminator.Members, b.TextDiscriminator.Members)
	return d.sorted()
}

// fieldDiff collects "name: old → new" lines.
type fieldDiff []string

func (d *fieldDiff) add(name string, x, y any) {
	if x != y {
		*d = append(*d, fmt.Sprintf("%s: %v → %v", name, x, y))
	}
}

// networks adds the generator and discriminator shape fields.
func (d *fieldDiff) networks(ga, gb generator.Config, da, db discriminator.Config) {
	d.add("generator.vocab", ga.Vocab, gb.Vocab)
	d.add("generator.emb", ga.Emb, gb.Emb)
	d.add("generator.hidden", ga.Hidden, gb.Hidden)
	d.add("generator.cond_dim", ga.CondDim, gb.CondDim)
	d.add("generator.start_token", ga.StartToken, gb.StartToken)
	d.add("discriminator.vocab", da.Vocab, db.Vocab)
	d.add("discriminator.emb", da.Emb, db.Emb)
	d.add("discriminator.hidden", da.Hidden, db.Hidden)
	d.add("discriminator.members", da.Members, db.Members)
	d.add("discriminator.kind", da.Kind, db.Kind)
	d.add("discriminator.positions", da.Positions, db.Positions)
}

func (d fieldDiff) sorted() []string {
	sort.Strings(d)
	return d
}

// ConfigDiff returns every field that differs between a and b, as
// "g_adv_lr: 0.001 → 0.0005" with the field's YAML path, sorted.
func ConfigDiff(a, b Config) []string { return leafDiff(a, b) }

// leafDiff compares every leaf field of the structs a and b (of one type)
// by its YAML path.
func leafDiff(a, b any) []string {
	fa, fb := flattenAny(a), flattenAny(b)
	var d fieldDiff
	for k, va := range fa {
		d.add(k, va, fb[k])
	}
	return d.sorted()
}

// nonFinite returns the YAML path of the first NaN or infinite float field
// of v, or "".
func nonFinite(v reflect.Value, prefix string) string {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if f := nonFinite(v.Field(i), fieldPrefix(v.Type().Field(i), prefix)); f != "" {
				return f
			}
		}
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return strings.TrimSuffix(prefix, ".")
		}
	}
	return ""
}

// flattenAny maps each leaf field of the struct c to its value, by the
// field's YAML path.
func flattenAny(c any) map[string]string {
	out := map[string]string{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		if v.Kind() != reflect.Struct {
			out[strings.TrimSuffix(prefix, ".")] = fmt.Sprint(v.Interface())
			return
		}
		for i := range v.NumField() {
			walk(v.Field(i), fieldPrefix(v.Type().Field(i), prefix))
		}
	}
	walk(reflect.ValueOf(c), "")
	return out
}

// fieldPrefix is the YAML path prefix of field f inside prefix: an inline
// field adds nothing.
func fieldPrefix(f reflect.StructField, prefix string) string {
	name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" && strings.Contains(opts, "inline") {
		return prefix
	}
	if name == "" {
		name = f.Name
	}
	return prefix + name + "."
}

func ptrVal(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
