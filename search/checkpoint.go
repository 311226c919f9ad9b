package search

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"promptgan/checkpoints"
	"promptgan/internal/filehash"
	"promptgan/internal/nn"
	"promptgan/targets"
	"promptgan/task"
)

// Checkpoint file names.
const (
	fileGen      = "generator.safetensors"
	fileDisc     = "discriminator.safetensors"
	fileOptGMLE  = "optim_g_mle.safetensors"
	fileOptGAdv  = "optim_g_adv.safetensors"
	fileOptD     = "optim_d.safetensors"
	fileMLEGen   = "mle_generator.safetensors"
	fileReplay   = "replay.safetensors"
	fileHallJSON = "halloffame.json"
	rngSample    = "sample"
	rngSeeds     = "seeds"
)

// trainerState is the loop state outside the tensors, stored in
// manifest.json as state.
type trainerState struct {
	DataCursor   int       `json:"data_cursor"`            // batches of train drawn
	PriorCursor  int       `json:"prior_cursor,omitempty"` // batches of a separate prior drawn
	Baseline     []float64 `json:"baseline"`
	BaselineInit bool      `json:"baseline_init"`
	Best         *float64  `json:"best,omitempty"` // nil before the first evaluation
	BestStep     int       `json:"best_step"`
	SinceBest    int       `json:"since_best"`
	Stabilised   bool      `json:"stabilised"`
	// every optimiser's step count and learning-rate scale
	GMLESteps    int                `json:"g_mle_steps"`
	GMLELRScale  float64            `json:"g_mle_lr_scale"`
	GAdvSteps    int                `json:"g_adv_steps"`
	GAdvLRScale  float64            `json:"g_adv_lr_scale"`
	DSteps       []int              `json:"d_steps"`     // one per D member
	DLRScales    []float64          `json:"d_lr_scales"` // one per D member
	ReplayHead   int                `json:"replay_head"`
	ReplayCount  int                `json:"replay_count"`
	Calls        int                `json:"calls"` // requests sent to the target (through a ledger or not)
	LastEval     map[string]float64 `json:"last_eval,omitempty"`
	LastEvalStep *int               `json:"last_eval_step,omitempty"` // nil before the first evaluation
	// LedgerRecords is the call ledger's record count when the checkpoint was
	// written (after a Sync): a resume finds at least these in the ledger.
	LedgerRecords int `json:"ledger_records,omitempty"`
	// Text is a text run's own state; nil in a token run.
	Text *textState `json:"text,omitempty"`
}

// textState is a text run's loop state outside the tensors.
type textState struct {
	GoodCursor  int              `json:"good_cursor"`            // batches of the train split's good items drawn
	BadCursor   int              `json:"bad_cursor,omitempty"`   // of its bad items
	InputCursor int              `json:"input_cursor,omitempty"` // of its inputs
	Temperature float64          `json:"temperature"`            // D's calibration: σ(z/T + b)
	Bias        float64          `json:"bias"`
	Split       task.SplitRecord `json:"split"`                  // the task's split, as made
	Vocab       []string         `json:"prompt_vocab,omitempty"` // the words or phrases G's ids stand for
}

func toTensors(ws map[string]nn.Array) map[string]checkpoints.Tensor {
	out := make(map[string]checkpoints.Tensor, len(ws))
	for k, a := range ws {
		out[k] = checkpoints.F32Tensor(a.Shape, a.Data)
	}
	return out
}

func toArrays(file string, ts map[string]checkpoints.Tensor) (map[string]nn.Array, error) {
	out := make(map[string]nn.Array, len(ts))
	for k, t := range ts {
		if t.F32 == nil {
			return nil, fmt.Errorf("%s: tensor %q is %s, want F32", file, k, t.DType())
		}
		out[k] = nn.Array{Shape: t.Shape, Data: t.F32}
	}
	return out, nil
}

func finite(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// Checkpoint captures everything a bit-exact resume needs: G, D, every
// optimiser's moments, step count and rate scale, the replay buffer, the
// RNG streams, the data cursors, the baseline, the best and last
// evaluations, the hall of fame and G at the end of MLE.
func (tr *Trainer) Checkpoint() (*checkpoints.Checkpoint, error) {
	cfgJSON, err := json.Marshal(tr.Cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	st := trainerState{
		Baseline: slices.Clone(tr.baseline), BaselineInit: tr.baselineInit,
		BestStep: tr.bestStep, SinceBest: tr.sinceBest, Stabilised: tr.stabilised,
		GMLESteps: tr.gMLE.Step, GMLELRScale: tr.gMLE.LRScale, GAdvSteps: tr.gAdv.Step, GAdvLRScale: tr.gAdv.LRScale,
		Calls: tr.Calls, LastEval: finite(tr.lastEval),
	}
	if tr.real != nil {
		st.DataCursor = tr.real.cursor
	}
	if tr.prior != nil && tr.prior != tr.real {
		st.PriorCursor = tr.prior.cursor
	}
	if tr.ledger != nil {
		st.LedgerRecords = tr.ledger.Len()
	}
	if tr.lastEvalStep >= 0 {
		at := tr.lastEvalStep
		st.LastEvalStep = &at
	}
	if !math.IsInf(tr.best, 1) {
		b := tr.best
		st.Best = &b
	}
	optD := map[string]nn.Array{}
	for k, ps := range tr.dMembers() {
		st.DSteps = append(st.DSteps, tr.dOpts[k].Step)
		st.DLRScales = append(st.DLRScales, tr.dOpts[k].LRScale)
		for name, a := range tr.dOpts[k].State(ps) {
			optD[name] = a
		}
	}
	tensors := map[string]map[string]checkpoints.Tensor{
		fileGen:     toTensors(tr.Gen.Params().Weights()),
		fileDisc:    toTensors(tr.dParams().Weights()),
		fileOptGMLE: toTensors(tr.gMLE.State(tr.Gen.Params())),
		fileOptGAdv: toTensors(tr.gAdv.State(tr.Gen.Params())),
		fileOptD:    toTensors(optD),
	}
	if tr.mleWeights != nil {
		tensors[fileMLEGen] = toTensors(tr.mleWeights)
	}
	tr.critic.save(&st, tensors)
	stJSON, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode trainer state: %w", err)
	}
	hall, err := json.Marshal(tr.hall)
	if err != nil {
		return nil, fmt.Errorf("encode hall of fame: %w", err)
	}
	return &checkpoints.Checkpoint{
		Manifest: checkpoints.Manifest{
			Step:         tr.step,
			Config:       cfgJSON,
			RNG:          map[string]string{rngSample: tr.sampleRNG.State(), rngSeeds: tr.seedRNG.State()},
			Metrics:      finite(tr.lastEval),
			Fingerprints: tr.fingerprints(),
			State:        stJSON,
			Warnings:     slices.Clone(tr.warnings),
		},
		Tensors: tensors,
		JSON:    map[string]json.RawMessage{fileHallJSON: hall},
	}, nil
}

// Fingerprint kinds: what the manifest's fingerprints.kind says of the run.
const (
	KindIdentity = "identity" // a sequence GAN
	KindModel    = "model"    // prompt search against a model
	KindText     = "text"     // prompt search on a text task
)

// fingerprints identify what the run was trained against: its kind, the
// target, and the data as the run reads it (token tables), so that a resume
// with other data is refused.
func (tr *Trainer) fingerprints() map[string]string {
	fp := tr.critic.fingerprints()
	if tr.baseTarget != nil {
		fp["target"] = tr.baseTarget.Fingerprint()
	}
	return fp
}

// TokensHash is the SHA-256 (hex) of a token table: T, then every id, as
// little-endian int32.
func TokensHash(s *task.Sequences) string {
	h := sha256.New()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(s.T))
	h.Write(b[:])
	buf := make([]byte, 4*len(s.Tokens))
	for i, id := range s.Tokens {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(id))
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// fileHash is the file's SHA-256, or "unreadable".
func fileHash(path string) string {
	h, err := filehash.SHA256(path)
	if err != nil {
		return "unreadable"
	}
	return h
}

// ConfigOf returns the config stored in a checkpoint.
func ConfigOf(ck *checkpoints.Checkpoint) (Config, error) {
	cfg := DefaultConfig()
	if err := json.Unmarshal(ck.Manifest.Config, &cfg); err != nil {
		return Config{}, fmt.Errorf("manifest.json: config: %w", err)
	}
	return cfg, nil
}

// ErrArchitectureChanged: a resume asked for network shapes (or a schedule
// of phases) other than the checkpoint's.
var ErrArchitectureChanged = errors.New("cannot resume with a different architecture")

// ErrDataChanged: a resume was given other data than the checkpoint was trained on.
var ErrDataChanged = errors.New("training data changed since the checkpoint")

// Restore builds a run in the exact state of ck with cfg (normally the
// checkpoint's own config, possibly with a new step budget or settings)
// against tg. Shape changes are refused naming the field, changed data is
// refused naming the file, every other change is recorded as a manifest
// warning, and so is a target whose fingerprint changed. tg may be nil
// for a text run loaded only to score (input, generation) pairs
// (ScorePairs): it then calls no target and cannot be trained.
func Restore(ck *checkpoints.Checkpoint, cfg Config, tg targets.Model) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return restoreValidated(ck, cfg, tg)
}

// restoreValidated is Restore for a cfg already validated (OpenRun, Saved.Open).
func restoreValidated(ck *checkpoints.Checkpoint, cfg Config, tg targets.Model) (*Trainer, error) {
	saved, err := ConfigOf(ck)
	if err != nil {
		return nil, err
	}
	if cfg, err = cfg.Resolved(); err != nil {
		return nil, err
	}
	if tg == nil && !cfg.IsText() {
		return nil, fmt.Errorf("no target model")
	}
	if ck.Manifest.Step > cfg.Steps {
		return nil, fmt.Errorf("checkpoint is at step %d, past the requested total of %d steps", ck.Manifest.Step, cfg.Steps)
	}
	d := ArchitectureDiff(saved, cfg)
	if saved.IsIdentity() != cfg.IsIdentity() {
		d = append(d, fmt.Sprintf("target: %s → %s (a sequence GAN and a prompt search are different runs)", saved.Target, cfg.Target))
	}
	if saved.Credit != cfg.Credit && (saved.Credit == "sequence" || cfg.Credit == "sequence") {
		d = append(d, fmt.Sprintf("credit: %s → %s (the baseline's shape)", saved.Credit, cfg.Credit))
	}
	if len(d) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrArchitectureChanged, d)
	}
	for s := 1; s <= ck.Manifest.Step; s++ {
		if saved.PhaseOf(s) != cfg.PhaseOf(s) {
			return nil, fmt.Errorf("%w: mle_steps %d → %d, d_pretrain_steps %d → %d would change the phase of steps the checkpoint (step %d) has already taken", ErrArchitectureChanged, saved.MLESteps, cfg.MLESteps, saved.DPretrainSteps, cfg.DPretrainSteps, ck.Manifest.Step)
		}
	}
	var warnings []string
	for _, d := range ConfigDiff(saved, cfg) {
		warnings = append(warnings, fmt.Sprintf("step %d: resumed with %s", ck.Manifest.Step, d))
	}
	data, err := loadRunData(cfg)
	if err != nil {
		return nil, err
	}
	tr, err := newTrainer(cfg, tg, data)
	if err != nil {
		return nil, err
	}
	fp := tr.fingerprints()
	if got, want := fp["kind"], ck.Manifest.Fingerprints["kind"]; got != want {
		return nil, fmt.Errorf("%w: the checkpoint is of a %s run, the config makes a %s run", ErrArchitectureChanged, want, got)
	}
	if err := tr.critic.sameData(fp, ck.Manifest.Fingerprints); err != nil {
		return nil, err
	}
	if got, want := fp["target"], ck.Manifest.Fingerprints["target"]; got != want && tg != nil {
		warnings = append(warnings, fmt.Sprintf("step %d: resumed against target %s (was %s)", ck.Manifest.Step, got, want))
	}
	if err := tr.restoreState(ck); err != nil {
		return nil, err
	}
	tr.warnings = append(slices.Clip(ck.Manifest.Warnings), warnings...)
	tr.newWarnings = warnings
	return tr, nil
}

func short(h string) string { return h[:min(12, len(h))] }

// restoreState loads ck's tensors, optimiser states, RNG streams and loop
// state into the freshly built tr.
func (tr *Trainer) restoreState(ck *checkpoints.Checkpoint) error {
	var st trainerState
	if err := json.Unmarshal(ck.Manifest.State, &st); err != nil {
		return fmt.Errorf("manifest.json: state: %w", err)
	}
	load := func(file string, required bool) (map[string]nn.Array, error) {
		ts, ok := ck.Tensors[file]
		if !ok {
			if required {
				return nil, fmt.Errorf("checkpoint lacks %s", file)
			}
			return nil, nil
		}
		return toArrays(file, ts)
	}
	restoreInto := func(file string, set func(map[string]nn.Array) error) error {
		a, err := load(file, true)
		if err != nil {
			return err
		}
		if err := set(a); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		return nil
	}
	gps := tr.Gen.Params()
	for _, err := range []error{
		restoreInto(fileGen, gps.SetWeights),
		restoreInto(fileDisc, tr.dParams().SetWeights),
		restoreInto(fileOptGMLE, func(a map[string]nn.Array) error { return tr.gMLE.Restore(gps, a) }),
		restoreInto(fileOptGAdv, func(a map[string]nn.Array) error { return tr.gAdv.Restore(gps, a) }),
		restoreInto(fileOptD, func(a map[string]nn.Array) error {
			members := tr.dMembers()
			K := len(members)
			if len(st.DSteps) != K || len(st.DLRScales) != K {
				return fmt.Errorf("manifest.json state has %d D step counts and %d rate scales for %d members", len(st.DSteps), len(st.DLRScales), K)
			}
			for k, ps := range members {
				sub := map[string]nn.Array{}
				for _, p := range ps {
					sub["m."+p.Name], sub["v."+p.Name] = a["m."+p.Name], a["v."+p.Name]
				}
				if err := tr.dOpts[k].Restore(ps, sub); err != nil {
					return err
				}
				tr.dOpts[k].Step, tr.dOpts[k].LRScale = st.DSteps[k], st.DLRScales[k]
			}
			return nil
		}),
	} {
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	var err error
	if tr.mleWeights, err = load(fileMLEGen, false); err != nil {
		return err
	}
	if tr.mleWeights != nil {
		if err := gps.CheckWeights(tr.mleWeights); err != nil {
			return fmt.Errorf("%s: %w", fileMLEGen, err)
		}
	}
	switch {
	case st.DataCursor < 0 || st.PriorCursor < 0:
		return fmt.Errorf("manifest.json: state.data_cursor = %d, prior_cursor = %d: must not be negative", st.DataCursor, st.PriorCursor)
	case st.Calls < 0:
		return fmt.Errorf("manifest.json: state.calls = %d is negative", st.Calls)
	case len(st.Baseline) != tr.baselineLen():
		return fmt.Errorf("manifest.json: state.baseline has %d entries, want %d", len(st.Baseline), tr.baselineLen())
	}
	tr.gMLE.Step, tr.gMLE.LRScale = st.GMLESteps, st.GMLELRScale
	tr.gAdv.Step, tr.gAdv.LRScale = st.GAdvSteps, st.GAdvLRScale
	if err := tr.critic.restore(ck, st); err != nil {
		return err
	}
	for name, rng := range map[string]*nn.RNG{rngSample: tr.sampleRNG, rngSeeds: tr.seedRNG} {
		state, ok := ck.Manifest.RNG[name]
		if !ok {
			return fmt.Errorf("manifest.json: rng.%s is missing", name)
		}
		if err := rng.Restore(state); err != nil {
			return fmt.Errorf("manifest.json: rng.%s: %w", name, err)
		}
	}
	tr.baseline, tr.baselineInit = slices.Clone(st.Baseline), st.BaselineInit
	if tr.real != nil {
		tr.real.cursor = st.DataCursor
	}
	if tr.prior != nil && tr.prior != tr.real {
		tr.prior.cursor = st.PriorCursor
	}
	tr.bestStep, tr.sinceBest, tr.stabilised = st.BestStep, st.SinceBest, st.Stabilised
	if st.Best != nil {
		tr.best = *st.Best
	}
	tr.lastEval, tr.Calls = st.LastEval, st.Calls
	tr.ledgerAtCheckpoint = st.LedgerRecords
	if st.LastEvalStep != nil {
		tr.lastEvalStep = *st.LastEvalStep
	}
	if raw, ok := ck.JSON[fileHallJSON]; ok {
		if err := json.Unmarshal(raw, &tr.hall); err != nil {
			return fmt.Errorf("%s: %w", fileHallJSON, err)
		}
	}
	tr.step = ck.Manifest.Step
	return nil
}
