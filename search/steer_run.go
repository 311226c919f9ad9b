package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/targets"
	"promptgan/targets/ledger"
	"promptgan/task"

	"gopkg.in/yaml.v3"
)

// ModeSteer is SteerRunConfig.Mode: the run searches prompts for a real
// target model (as opposed to the identity target of Config).
const ModeSteer = "steer"

// SteerRunConfig is the whole configuration of a steer run: Steer's
// settings plus the data, the target and the schedule. Global steps are
// MLE pre-training of G on the prior, then D pre-training, then adversarial
// steps.
type SteerRunConfig struct {
	Mode        string `yaml:"mode" json:"mode"` // "steer"
	SteerConfig `yaml:",inline"`

	Target       string `yaml:"target" json:"target"`                 // Optimum-layout directory of the target model (model.onnx, config.json, tokenizer.json); required
	Device       string `yaml:"device" json:"device"`                 // ONNX Runtime execution provider: cpu, cuda or auto; cpu
	MaxNewTokens int    `yaml:"max_new_tokens" json:"max_new_tokens"` // tokens the target decodes per prompt; 0 = gen_len; D reads the first gen_len

	Train   string  `yaml:"train" json:"train"`       // references: good generations, gen_len token ids each (.txt lines or .jsonl {"ids"}); required
	Prior   string  `yaml:"prior" json:"prior"`       // prompts for G's MLE pre-training, prompt_len ids each; "" = none
	HeldOut float64 `yaml:"held_out" json:"held_out"` // share of the references (the file's last lines) kept out of training to measure d_real; 0.1

	Steps          int `yaml:"steps" json:"steps"`                       // total global steps
	MLESteps       int `yaml:"mle_steps" json:"mle_steps"`               // G pre-training steps on the prior (no target calls); 0 = none
	DPretrainSteps int `yaml:"d_pretrain_steps" json:"d_pretrain_steps"` // D pre-training steps (batch_size target calls each)

	EvalEvery       int  `yaml:"eval_every" json:"eval_every"`             // steps between evaluations; 0 = only at the end
	EvalSamples     int  `yaml:"eval_samples" json:"eval_samples"`         // prompts sampled and continued per evaluation (target calls)
	CheckpointEvery int  `yaml:"checkpoint_every" json:"checkpoint_every"` // steps between checkpoints; 0 = only at the end
	LogEvery        int  `yaml:"log_every" json:"log_every"`               // steps between metrics.jsonl records
	KeepCheckpoints int  `yaml:"keep_checkpoints" json:"keep_checkpoints"` // newest checkpoints kept besides latest and best; 0 = keep all
	Ledger          bool `yaml:"ledger" json:"ledger"`                     // record every target call in RUN/ledger and answer repeats from it; true
}

// DefaultSteerRunConfig returns the defaults for a target with a
// vocabulary of vocab tokens.
func DefaultSteerRunConfig(vocab int) SteerRunConfig {
	return SteerRunConfig{
		Mode:        ModeSteer,
		SteerConfig: DefaultSteerConfig(vocab),
		Device:      "cpu",
		HeldOut:     0.1,
		Steps:       500, MLESteps: 0, DPretrainSteps: 20,
		EvalEvery: 50, EvalSamples: 256, CheckpointEvery: 50, LogEvery: 10, KeepCheckpoints: 3,
		Ledger: true,
	}
}

// Validate reports the first invalid field, by its yaml name.
func (c SteerRunConfig) Validate() error {
	if field := nonFinite(reflect.ValueOf(c), ""); field != "" {
		return fmt.Errorf("%s is not a finite number", field)
	}
	if err := c.SteerConfig.Validate(); err != nil {
		return err
	}
	switch {
	case c.Mode != ModeSteer:
		return fmt.Errorf("mode = %q: a steer run has mode %q", c.Mode, ModeSteer)
	case c.Target == "":
		return fmt.Errorf("target is empty: give the Optimum-layout directory of the target model (--target DIR)")
	case c.Device != "cpu" && c.Device != "cuda" && c.Device != "auto":
		return fmt.Errorf("device = %q: choose cpu, cuda or auto", c.Device)
	case c.MaxNewTokens != 0 && c.MaxNewTokens < c.GenLen:
		return fmt.Errorf("max_new_tokens = %d is below gen_len = %d: the discriminator reads gen_len tokens", c.MaxNewTokens, c.GenLen)
	case c.Train == "":
		return fmt.Errorf("train is empty: give the file of references (--train REFS, gen_len token ids a line)")
	case c.MLESteps > 0 && c.Prior == "":
		return fmt.Errorf("mle_steps = %d but prior is empty: give prompts to pre-train G on (--prior) or set mle_steps: 0", c.MLESteps)
	case !(c.HeldOut >= 0 && c.HeldOut < 1):
		return fmt.Errorf("held_out = %v: must be in [0, 1)", c.HeldOut)
	case c.MLESteps < 0 || c.DPretrainSteps < 0:
		return fmt.Errorf("mle_steps = %d, d_pretrain_steps = %d: must be >= 0", c.MLESteps, c.DPretrainSteps)
	case c.Steps < 1:
		return fmt.Errorf("steps = %d: the run needs at least 1 step", c.Steps)
	case c.EvalEvery < 0:
		return fmt.Errorf("eval_every = %d: must be >= 0 (0 = only at the end)", c.EvalEvery)
	case c.EvalSamples < 2:
		return fmt.Errorf("eval_samples = %d: need at least 2 for the diversity metrics", c.EvalSamples)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("checkpoint_every = %d: must be >= 0 (0 = only at the end)", c.CheckpointEvery)
	case c.LogEvery < 1:
		return fmt.Errorf("log_every = %d: must be >= 1", c.LogEvery)
	case c.KeepCheckpoints < 0:
		return fmt.Errorf("keep_checkpoints = %d: must be >= 0 (0 = keep all)", c.KeepCheckpoints)
	}
	return nil
}

// PhaseOf returns the phase that global step s (1-based) belongs to.
func (c SteerRunConfig) PhaseOf(s int) string { return phaseOf(s, c.MLESteps, c.DPretrainSteps) }

// SteerData is a steer run's data: training references, held-out
// references and the prior, as token tables.
type SteerData struct {
	Refs, HeldOut, Prior []int32
}

// LoadSteerData reads cfg.Train (gen_len ids a line) and cfg.Prior
// (prompt_len ids a line) against the generator's vocabulary and splits off
// the held-out references (the last ⌊held_out·N⌋ lines, leaving at least one
// for training). Errors name the file and line.
func LoadSteerData(cfg SteerRunConfig) (SteerData, error) {
	V, k, m := cfg.Generator.Vocab, cfg.PromptLen, cfg.GenLen
	refs, err := task.LoadSequences(cfg.Train, V, m)
	if err != nil {
		return SteerData{}, fmt.Errorf("train references (gen_len %d, target vocabulary %d): %w", m, V, err)
	}
	nHeld := min(int(cfg.HeldOut*float64(refs.N)), refs.N-1)
	d := SteerData{Refs: refs.Tokens[:(refs.N-nHeld)*m], HeldOut: refs.Tokens[(refs.N-nHeld)*m:]}
	if cfg.Prior != "" {
		p, err := task.LoadSequences(cfg.Prior, V, k)
		if err != nil {
			return SteerData{}, fmt.Errorf("prior prompts (prompt_len %d, target vocabulary %d): %w", k, V, err)
		}
		d.Prior = p.Tokens
	}
	return d, nil
}

// SteerRun drives a Steer through the phases of a SteerRunConfig with
// evaluations and a best checkpoint; RunSteer runs it with the same
// guarantees as Run (atomic steps, checkpoints, call ledger, interruption).
type SteerRun struct {
	Cfg   SteerRunConfig
	Steer *Steer

	data    SteerData
	base    targets.Model // the target itself
	ledger  *ledger.Ledger
	atCheck int // ledger records when the restored checkpoint was written

	best         float64 // −d_fake of the best evaluation (lower is better); +Inf before the first
	bestStep     int
	lastEval     map[string]float64
	lastEvalStep int
}

// steerRunState is a SteerRun's state beside its Steer's, in manifest.json
// as state.run.
type steerRunState struct {
	Best          *float64           `json:"best,omitempty"`
	BestStep      int                `json:"best_step"`
	LastEval      map[string]float64 `json:"last_eval,omitempty"`
	LastEvalStep  *int               `json:"last_eval_step,omitempty"`
	LedgerRecords int                `json:"ledger_records,omitempty"`
}

// NewSteerRun validates cfg, loads its data and builds a fresh Steer
// against tg (the target itself; RunSteer adds the ledger).
func NewSteerRun(cfg SteerRunConfig, tg targets.Model) (*SteerRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid steer config: %w", err)
	}
	d, err := LoadSteerData(cfg)
	if err != nil {
		return nil, err
	}
	s, err := NewSteer(cfg.SteerConfig, tg, d.Refs, d.Prior)
	if err != nil {
		return nil, err
	}
	return &SteerRun{Cfg: cfg, Steer: s, data: d, base: tg, best: math.Inf(1), lastEvalStep: -1}, nil
}

// SteerRunConfigOf returns the config stored in a steer run's checkpoint.
func SteerRunConfigOf(ck *checkpoints.Checkpoint) (SteerRunConfig, error) {
	if !IsSteerCheckpoint(ck) {
		return SteerRunConfig{}, fmt.Errorf("manifest.json: not a steer checkpoint (fingerprints.kind = %q)", ck.Manifest.Fingerprints["kind"])
	}
	cfg := DefaultSteerRunConfig(0)
	if err := json.Unmarshal(ck.Manifest.Config, &cfg); err != nil {
		return SteerRunConfig{}, fmt.Errorf("manifest.json: config: %w", err)
	}
	return cfg, nil
}

// RestoreSteerRun builds a SteerRun in the exact state of ck with cfg
// (normally the checkpoint's own, possibly with a new step budget) against
// tg. Shape changes are refused naming the field, other changes are
// recorded as manifest warnings, changed data files are refused naming the
// file.
func RestoreSteerRun(ck *checkpoints.Checkpoint, cfg SteerRunConfig, tg targets.Model) (*SteerRun, error) {
	saved, err := SteerRunConfigOf(ck)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid steer config: %w", err)
	}
	if ck.Manifest.Step > cfg.Steps {
		return nil, fmt.Errorf("checkpoint is at step %d, past the requested total of %d steps", ck.Manifest.Step, cfg.Steps)
	}
	if d := SteerArchitectureDiff(saved.SteerConfig, cfg.SteerConfig); len(d) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrArchitectureChanged, d)
	}
	if !samePhases(saved, cfg, ck.Manifest.Step) {
		return nil, fmt.Errorf("%w: mle_steps %d → %d, d_pretrain_steps %d → %d would change the phase of steps the checkpoint (step %d) has already taken", ErrArchitectureChanged, saved.MLESteps, cfg.MLESteps, saved.DPretrainSteps, cfg.DPretrainSteps, ck.Manifest.Step)
	}
	d, err := LoadSteerData(cfg)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		key, file string
		tokens    []int32
		T         int
	}{
		{"refs", cfg.Train, d.Refs, cfg.GenLen},
		{"held_out", cfg.Train, d.HeldOut, cfg.GenLen},
		{"prior", cfg.Prior, d.Prior, cfg.PromptLen},
	} {
		want, ok := ck.Manifest.Fingerprints[f.key]
		if got := TokensHash(f.tokens, f.T); ok && got != want {
			name := f.file
			if name == "" {
				name = "(no prior file)"
			}
			return nil, fmt.Errorf("%w: %s (%s) has changed since the checkpoint was written (sha256 %s…, was %s…): resume with the original file", ErrDataChanged, name, f.key, short(got), short(want))
		}
	}
	var warnings []string
	for _, d := range leafDiff(saved, cfg) {
		warnings = append(warnings, fmt.Sprintf("step %d: resumed with %s", ck.Manifest.Step, d))
	}
	s, runJSON, err := restoreSteer(ck, cfg.SteerConfig, tg, d.Refs, d.Prior, warnings)
	if err != nil {
		return nil, err
	}
	var st steerRunState
	if len(runJSON) > 0 {
		if err := json.Unmarshal(runJSON, &st); err != nil {
			return nil, fmt.Errorf("manifest.json: state.run: %w", err)
		}
	}
	sr := &SteerRun{Cfg: cfg, Steer: s, data: d, base: tg, best: math.Inf(1), bestStep: st.BestStep, lastEval: st.LastEval, lastEvalStep: -1, atCheck: st.LedgerRecords}
	if st.Best != nil {
		sr.best = *st.Best
	}
	if st.LastEvalStep != nil {
		sr.lastEvalStep = *st.LastEvalStep
	}
	if sr.StepCount() != ck.Manifest.Step {
		return nil, fmt.Errorf("manifest.json: state.steer counts %d steps but step = %d", sr.StepCount(), ck.Manifest.Step)
	}
	return sr, nil
}

// StepCount returns the number of completed global steps.
func (sr *SteerRun) StepCount() int {
	s := sr.Steer
	return s.gPretrained + s.dPretrained + s.steps
}

// Step runs the next global step: a G pre-training step on the prior, a D
// pre-training step or an adversarial step.
func (sr *SteerRun) Step(ctx context.Context) (Stats, error) {
	s := sr.StepCount() + 1
	phase := sr.Cfg.PhaseOf(s)
	var vals map[string]float64
	var err error
	switch phase {
	case PhaseMLE:
		vals, err = sr.Steer.PretrainG(1)
	case PhaseDPretrain:
		vals, err = sr.Steer.PretrainD(ctx, 1)
	default:
		vals, err = sr.Steer.Step(ctx)
	}
	if err != nil {
		return Stats{}, fmt.Errorf("step %d (%s): %w", s, phase, err)
	}
	vals["calls"] = float64(sr.Steer.Calls)
	return Stats{Step: s, Phase: phase, Values: vals}, nil
}

// Evaluate continues EvalSamples fresh prompts of G (drawn, with their
// request seeds, from a stream of the step: training draws are not
// disturbed and a rerun asks the same requests) and reports D's mean
// verdict on them (d_fake) and on the held-out references (d_real; the
// training references when none are held out), the mean reward log D of
// the generations, and the distinct-2/3 of generations and prompts. The
// best evaluation is the one with the highest d_fake.
func (sr *SteerRun) Evaluate(ctx context.Context) (Stats, error) {
	s, cfg := sr.Steer, sr.Cfg
	n, k, m := cfg.EvalSamples, cfg.PromptLen, cfg.GenLen
	step := sr.StepCount()
	rng := nn.NewRNG(cfg.Seed, streamEval+uint64(step))
	prompts := SampleBatched(s.Gen, n, k, cfg.Temperature, rng)
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rng.Uint64()
	}
	gens, err := targets.Continue(ctx, s.Target, prompts, k, m, seeds)
	if err != nil {
		return Stats{}, fmt.Errorf("evaluation at step %d: %w", step, err)
	}
	s.Calls += n
	fake := s.ScoreGenerations(gens)
	real := sr.data.HeldOut
	if len(real) == 0 {
		real = sr.data.Refs
	}
	real = real[:min(len(real), n*m)]
	reward := 0.0
	for _, p := range fake {
		reward += math.Log(max(p, 1e-12))
	}
	seqs := task.ToInts(gens, n, m)
	ps := task.ToInts(prompts, n, k)
	vals := map[string]float64{
		"d_fake":            mean(fake),
		"d_real":            mean(sr.Steer.ScoreGenerations(real)),
		"reward":            reward / float64(n),
		"distinct_2":        metrics.DistinctN(seqs, 2),
		"distinct_3":        metrics.DistinctN(seqs, 3),
		"prompt_distinct_1": metrics.DistinctN(ps, 1),
		"calls":             float64(s.Calls),
	}
	if m < 2 {
		delete(vals, "distinct_2")
	}
	if m < 3 {
		delete(vals, "distinct_3")
	}
	if score := -vals["d_fake"]; score < sr.best {
		sr.best, sr.bestStep = score, step
	}
	sr.lastEval, sr.lastEvalStep = vals, step
	return Stats{Step: step, Phase: cfg.PhaseOf(max(step, 1)), Values: vals}, nil
}

// Best returns −d_fake of the best evaluation (lower is better; +Inf
// before the first) and its step.
func (sr *SteerRun) Best() (float64, int) { return sr.best, sr.bestStep }

// ShouldStop is false: a steer run stops at its step budget.
func (sr *SteerRun) ShouldStop() bool { return false }

// ResumeWarnings returns the settings changes the restore recorded.
func (sr *SteerRun) ResumeWarnings() []string { return sr.Steer.ResumeWarnings() }

// Checkpoint captures the Steer and the run's state; Manifest.Step is the
// global step and Manifest.Config the SteerRunConfig.
func (sr *SteerRun) Checkpoint() (*checkpoints.Checkpoint, error) {
	st := steerRunState{BestStep: sr.bestStep, LastEval: finite(sr.lastEval)}
	if !math.IsInf(sr.best, 1) {
		b := sr.best
		st.Best = &b
	}
	if sr.lastEvalStep >= 0 {
		at := sr.lastEvalStep
		st.LastEvalStep = &at
	}
	if sr.ledger != nil {
		st.LedgerRecords = sr.ledger.Len()
	}
	runJSON, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode steer run state: %w", err)
	}
	ck, err := sr.Steer.checkpoint(runJSON)
	if err != nil {
		return nil, err
	}
	if ck.Manifest.Config, err = json.Marshal(sr.Cfg); err != nil {
		return nil, fmt.Errorf("encode steer run config: %w", err)
	}
	ck.Manifest.Step = sr.StepCount()
	ck.Manifest.Metrics = finite(sr.lastEval)
	ck.Manifest.Fingerprints["held_out"] = TokensHash(sr.data.HeldOut, sr.Cfg.GenLen)
	return ck, nil
}

func (sr *SteerRun) schedule() schedule {
	c := sr.Cfg
	return schedule{
		Steps: c.Steps, LogEvery: c.LogEvery, EvalEvery: c.EvalEvery, CheckpointEvery: c.CheckpointEvery,
		KeepCheckpoints: c.KeepCheckpoints, Ledger: c.Ledger, PhaseOf: c.PhaseOf,
		EvalKeys: []string{"d_real", "d_fake", "reward", "distinct_2", "prompt_distinct_1", "calls"},
	}
}

func (sr *SteerRun) useLedger(l *ledger.Ledger, noCache bool) {
	sr.ledger, sr.Steer.Target = l, sr.base
	if l != nil {
		sr.Steer.Target = ledger.Wrap(sr.base, l, ledger.WrapOptions{NoCache: noCache})
	}
}
func (sr *SteerRun) currentLedger() *ledger.Ledger  { return sr.ledger }
func (sr *SteerRun) ledgerRecordsAtCheckpoint() int { return sr.atCheck }
func (sr *SteerRun) lastEvaluated() int             { return sr.lastEvalStep }

// RunSteer runs sr until Cfg.Steps or cancellation of ctx, with Run's
// guarantees: atomic steps, metrics.jsonl truncated to the checkpoint on
// resume, checkpoints every checkpoint_every steps plus the best and the
// last keep_checkpoints, the call ledger in RUN/ledger (synced before each
// checkpoint, its record count stored), and ErrInterrupted after a final
// checkpoint when ctx is cancelled.
func RunSteer(ctx context.Context, sr *SteerRun, opt RunOptions) (Result, error) {
	return runLoop(ctx, sr, opt)
}

// FitGenerations returns a target that answers exactly n tokens per
// request: a longer generation is cut to its first n, a shorter one (ended
// by a stop token) is padded by repeating its last token — with
// target/onnx's IncludeStop that is the stop token that ended it, so the
// discriminator sees "ended here" as a run of end tokens. An empty
// generation is an error. The fingerprint adds ":fit=<n>".
func FitGenerations(m targets.Model, n int) targets.Model {
	return &fitTarget{m: m, n: n, fp: fmt.Sprintf("%s:fit=%d", m.Fingerprint(), n)}
}

type fitTarget struct {
	m  targets.Model
	n  int
	fp string
}

func (f *fitTarget) Fingerprint() string { return f.fp }

func (f *fitTarget) Generate(ctx context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	out, err := f.m.Generate(ctx, reqs)
	if err != nil {
		return nil, err
	}
	for i, g := range out {
		switch {
		case len(g.Tokens) == 0:
			return nil, fmt.Errorf("request %d: the target generated no tokens (gen_len %d): a stop token came first; include stop tokens in generations", i, f.n)
		case len(g.Tokens) > f.n:
			out[i].Tokens = slices.Clone(g.Tokens[:f.n])
		case len(g.Tokens) < f.n:
			t := slices.Clone(g.Tokens)
			for len(t) < f.n {
				t = append(t, g.Tokens[len(g.Tokens)-1])
			}
			out[i].Tokens = t
		}
	}
	return out, nil
}

// samePhases reports whether steps 1..step belong to the same phases under a and b.
func samePhases(a, b SteerRunConfig, step int) bool {
	for s := 1; s <= step; s++ {
		if a.PhaseOf(s) != b.PhaseOf(s) {
			return false
		}
	}
	return true
}

// LoadSteerYAML applies the YAML file at path on top of base. Unknown keys
// are errors that name the key and the line.
func LoadSteerYAML(path string, base SteerRunConfig) (SteerRunConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return SteerRunConfig{}, fmt.Errorf("load config: %w", err)
	}
	c := base
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return base, nil
		}
		return SteerRunConfig{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// IsSteerYAML reports whether the YAML config at path describes a steer
// run: it has mode: steer, or a target other than "identity".
func IsSteerYAML(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("load config: %w", err)
	}
	var top struct {
		Mode   string `yaml:"mode"`
		Target string `yaml:"target"`
	}
	if err := yaml.Unmarshal(b, &top); err != nil {
		return false, fmt.Errorf("load config %s: %w", path, err)
	}
	return top.Mode == ModeSteer || (top.Target != "" && top.Target != "identity"), nil
}
