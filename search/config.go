package search

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/internal/nn"
)

// Config is a training run's whole configuration. A field's comment gives
// its default (from DefaultConfig) and what zero means.
type Config struct {
	// Model
	Generator     generator.Config     `yaml:"generator" json:"generator"`
	Discriminator discriminator.Config `yaml:"discriminator" json:"discriminator"`
	Target        string               `yaml:"target" json:"target"` // target backend; "identity"
	Ledger        bool                 `yaml:"ledger" json:"ledger"` // record every target call in RUN/ledger and answer repeats from it; false (identity calls are free)

	// Data
	Train  string `yaml:"train" json:"train"`     // real sequences (token ids); required
	Test   string `yaml:"test" json:"test"`       // held-out sequences for NLL-test; "" = none
	Oracle string `yaml:"oracle" json:"oracle"`   // SeqGAN oracle safetensors for NLL-oracle; "" = none
	SeqLen int    `yaml:"seq_len" json:"seq_len"` // sequence length; 20

	// Schedule (steps are global: MLE, then D pre-training, then adversarial)
	Steps          int `yaml:"steps" json:"steps"`                       // total steps of the run
	MLESteps       int `yaml:"mle_steps" json:"mle_steps"`               // MLE pre-training steps of G; 0 = none
	DPretrainSteps int `yaml:"d_pretrain_steps" json:"d_pretrain_steps"` // D pre-training steps; 0 = none
	BatchSize      int `yaml:"batch_size" json:"batch_size"`             // sequences per batch; 64

	// Optimisation
	GAdam  nn.AdamConfig `yaml:"g_adam" json:"g_adam"`     // G during MLE; lr 0.01
	GAdvLR float64       `yaml:"g_adv_lr" json:"g_adv_lr"` // G's learning rate in the adversarial phase; 0.001
	DAdam  nn.AdamConfig `yaml:"d_adam" json:"d_adam"`     // each D member; lr 0.005

	// Adversarial objective
	DStepsPerG     int     `yaml:"d_steps_per_g" json:"d_steps_per_g"`     // D updates per adversarial step; 3
	LabelSmoothing float64 `yaml:"label_smoothing" json:"label_smoothing"` // real label is 1−ε (one-sided); 0.1
	ReplaySize     int     `yaml:"replay_size" json:"replay_size"`         // old fakes kept for D; 0 = no replay
	ReplayWeight   float64 `yaml:"replay_weight" json:"replay_weight"`     // λ on the replay term of L_D; 0.5
	Gamma          float64 `yaml:"gamma" json:"gamma"`                     // discount of per-token returns; 0.9
	Credit         string  `yaml:"credit" json:"credit"`                   // per-token reward: "prefix" (log D of the prefix), "delta" (its change from the previous prefix) or "rollout" (SeqGAN's Monte-Carlo roll-outs); "prefix"
	Rollouts       int     `yaml:"rollouts" json:"rollouts"`               // completions per prefix with credit: rollout; 16
	BaselineDecay  float64 `yaml:"baseline_decay" json:"baseline_decay"`   // EMA decay of the per-position baseline; 0.9
	EntropyBonus   float64 `yaml:"entropy_bonus" json:"entropy_bonus"`     // weight of the policy-entropy bonus; 0 (see DefaultConfig)
	MLEWeight      float64 `yaml:"mle_weight" json:"mle_weight"`           // weight of an MLE term on real data in G's adversarial loss; 0 (see DefaultConfig)
	Temperature    float64 `yaml:"temperature" json:"temperature"`         // sampling temperature while training; 1

	// Evaluation and feedback
	EvalEvery       int     `yaml:"eval_every" json:"eval_every"`             // steps between held-out evaluations; 0 = only at the end
	EvalSamples     int     `yaml:"eval_samples" json:"eval_samples"`         // samples drawn for NLL-oracle and diversity; 1000
	EvalTest        int     `yaml:"eval_test" json:"eval_test"`               // test sequences scored per evaluation; 0 = all
	Metric          string  `yaml:"metric" json:"metric"`                     // held-out metric, lower is better: "nll_oracle" or "nll_test"
	Threshold       float64 `yaml:"threshold" json:"threshold"`               // below it, stabilise (lower G's rate); 0 = never
	StabiliseFactor float64 `yaml:"stabilise_factor" json:"stabilise_factor"` // G's rate is multiplied by it once stabilised; 0.3
	Patience        int     `yaml:"patience" json:"patience"`                 // adversarial evaluations without improvement before stopping; 0 = never stop early
	HallOfFame      int     `yaml:"hall_of_fame" json:"hall_of_fame"`         // best samples kept; 20

	// I/O
	Seed            uint64 `yaml:"seed" json:"seed"`                         // seeds every RNG stream; 1
	CheckpointEvery int    `yaml:"checkpoint_every" json:"checkpoint_every"` // steps between checkpoints; 0 = only at the end
	LogEvery        int    `yaml:"log_every" json:"log_every"`               // steps between metrics.jsonl records; 10
	KeepCheckpoints int    `yaml:"keep_checkpoints" json:"keep_checkpoints"` // newest checkpoints kept besides latest and best; 3; 0 = keep all
}

// DefaultConfig returns the seqgan-oracle preset at full budget with data
// paths relative to the project root.
func DefaultConfig() Config {
	gadam := nn.DefaultAdam(0.01)
	dadam := nn.DefaultAdam(0.005)
	return Config{
		Generator:     generator.DefaultConfig(5000),
		Discriminator: discriminator.DefaultConfig(5000),
		Target:        "identity",

		Train:  "benchmarks/seqgan-oracle/data/real_train.txt",
		Test:   "benchmarks/seqgan-oracle/data/real_test.txt",
		Oracle: "benchmarks/seqgan-oracle/data/oracle.safetensors",
		SeqLen: 20,

		Steps:          10200, // 5,000 adversarial steps: 3,000 missed the target with seed 2
		MLESteps:       4700,  // 30 epochs of 10,000 sequences at batch 64
		DPretrainSteps: 500,
		BatchSize:      64,

		GAdam:  gadam,
		GAdvLR: 0.001,
		DAdam:  dadam,

		DStepsPerG:     3,
		LabelSmoothing: 0.1,
		ReplaySize:     2048,
		ReplayWeight:   0.5,
		Gamma:          0.9,
		Credit:         "prefix",
		Rollouts:       16,
		BaselineDecay:  0.9,
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
		Metric:          "nll_oracle",
		StabiliseFactor: 0.3,
		HallOfFame:      20,

		Seed:            1,
		CheckpointEvery: 1000,
		LogEvery:        10,
		KeepCheckpoints: 3,
	}
}

var presetNames = []string{"seqgan-oracle", "quick", "tiny"}

// PresetNames lists the built-in presets.
func PresetNames() []string { return append([]string(nil), presetNames...) }

// Preset returns a built-in configuration: "seqgan-oracle" (the full
// benchmark budget), "quick" (the demo budget) or "tiny" (seconds; for tests).
func Preset(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "seqgan-oracle":
	case "quick":
		c.Steps, c.MLESteps, c.DPretrainSteps = 3200, 1500, 200 // 1,500 adversarial steps: fewer show no gain over MLE
		c.EvalEvery, c.EvalSamples, c.EvalTest = 250, 500, 1000
		c.CheckpointEvery = 500
	case "tiny":
		c.Generator.Emb, c.Generator.Hidden = 8, 8
		c.Discriminator.Emb, c.Discriminator.Hidden, c.Discriminator.Members = 8, 8, 2
		c.Steps, c.MLESteps, c.DPretrainSteps = 40, 20, 5
		c.BatchSize = 16
		c.ReplaySize = 64
		c.EvalEvery, c.EvalSamples, c.EvalTest = 10, 64, 64
		c.CheckpointEvery = 20
		c.LogEvery = 5
	default:
		return Config{}, fmt.Errorf("unknown preset %q (available: %v)", name, presetNames)
	}
	return c, nil
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

// DecodeYAML applies YAML b on top of base, rejecting unknown keys.
func DecodeYAML(b []byte, base Config) (Config, error) {
	c := base
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return base, nil // an empty file changes nothing
		}
		return Config{}, err
	}
	return c, nil
}

// Validate checks every field and every cross-field rule once; the message
// names the field, its value and the fix.
func (c Config) Validate() error {
	if field := nonFinite(reflect.ValueOf(c), ""); field != "" {
		return fmt.Errorf("%s is not a finite number", field)
	}
	if err := c.Generator.Validate(); err != nil {
		return err
	}
	if err := c.Discriminator.Validate(); err != nil {
		return err
	}
	if c.Discriminator.Vocab != c.Generator.Vocab {
		return fmt.Errorf("discriminator.vocab = %d but generator.vocab = %d: both networks read the same tokens, set them equal", c.Discriminator.Vocab, c.Generator.Vocab)
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
	type check struct {
		bad bool
		msg string
	}
	for _, ck := range []check{
		{c.Target != "identity", fmt.Sprintf("target = %q: only the identity target exists yet", c.Target)},
		{c.Train == "", "train is empty: give the file of real sequences (one sequence of token ids a line)"},
		{c.SeqLen < 1, fmt.Sprintf("seq_len = %d: must be >= 1 (SeqGAN uses 20)", c.SeqLen)},
		{c.Steps < 1, fmt.Sprintf("steps = %d: the run needs at least 1 step", c.Steps)},
		{c.MLESteps < 0 || c.DPretrainSteps < 0, fmt.Sprintf("mle_steps = %d, d_pretrain_steps = %d: must be >= 0", c.MLESteps, c.DPretrainSteps)},
		{c.BatchSize < 2, fmt.Sprintf("batch_size = %d: need at least 2 sequences per batch (baselines and normalisation need a spread)", c.BatchSize)},
		{!(c.GAdvLR > 0) || math.IsInf(c.GAdvLR, 0), fmt.Sprintf("g_adv_lr = %v: must be a positive learning rate such as 0.001", c.GAdvLR)},
		{c.DStepsPerG < 1, fmt.Sprintf("d_steps_per_g = %d: must be >= 1", c.DStepsPerG)},
		{c.LabelSmoothing < 0 || c.LabelSmoothing >= 0.5, fmt.Sprintf("label_smoothing = %v: must be in [0, 0.5)", c.LabelSmoothing)},
		{c.ReplaySize < 0, fmt.Sprintf("replay_size = %d: must be >= 0 (0 = no replay)", c.ReplaySize)},
		{c.ReplayWeight < 0, fmt.Sprintf("replay_weight = %v: must be >= 0", c.ReplayWeight)},
		{c.Credit != "prefix" && c.Credit != "delta" && c.Credit != "rollout", fmt.Sprintf("credit = %q: choose prefix, delta or rollout", c.Credit)},
		{c.Credit == "rollout" && c.Rollouts < 1, fmt.Sprintf("rollouts = %d: credit rollout needs at least 1 completion per prefix (SeqGAN uses 16)", c.Rollouts)},
		{c.Gamma < 0 || c.Gamma > 1, fmt.Sprintf("gamma = %v: the discount must be in [0, 1]", c.Gamma)},
		{c.BaselineDecay < 0 || c.BaselineDecay >= 1, fmt.Sprintf("baseline_decay = %v: must be in [0, 1)", c.BaselineDecay)},
		{c.EntropyBonus < 0, fmt.Sprintf("entropy_bonus = %v: must be >= 0", c.EntropyBonus)},
		{c.MLEWeight < 0, fmt.Sprintf("mle_weight = %v: must be >= 0", c.MLEWeight)},
		{!(c.Temperature > 0) || c.Temperature > 10, fmt.Sprintf("temperature = %v: must be in (0, 10]", c.Temperature)},
		{c.EvalEvery < 0, fmt.Sprintf("eval_every = %d: must be >= 0 (0 = only at the end)", c.EvalEvery)},
		{c.EvalSamples < 2, fmt.Sprintf("eval_samples = %d: need at least 2 samples for the diversity metrics", c.EvalSamples)},
		{c.EvalTest < 0, fmt.Sprintf("eval_test = %d: must be >= 0 (0 = the whole test file)", c.EvalTest)},
		{c.Metric != "nll_oracle" && c.Metric != "nll_test", fmt.Sprintf("metric = %q: choose nll_oracle or nll_test", c.Metric)},
		{c.Metric == "nll_oracle" && c.Oracle == "", "metric = nll_oracle but oracle is empty: give the oracle file or set metric: nll_test"},
		{c.Metric == "nll_test" && c.Test == "", "metric = nll_test but test is empty: give a held-out file or set metric: nll_oracle"},
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

// ArchitectureDiff returns the architecture fields that differ between a
// and b ("generator.hidden: 32 → 64"), sorted; empty if a checkpoint of a can
// be resumed with b.
func ArchitectureDiff(a, b Config) []string {
	var d fieldDiff
	d.networks(a.Generator, b.Generator, a.Discriminator, b.Discriminator)
	d.add("seq_len", a.SeqLen, b.SeqLen)
	d.add("batch_size", a.BatchSize, b.BatchSize)
	d.add("replay_size", a.ReplaySize, b.ReplaySize)
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
