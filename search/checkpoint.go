package search

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
)

// Checkpoint file names.
const (
	fileGen       = "generator.safetensors"
	fileDisc      = "discriminator.safetensors"
	fileOptGMLE   = "optim_g_mle.safetensors"
	fileOptGAdv   = "optim_g_adv.safetensors"
	fileOptD      = "optim_d.safetensors"
	fileMLEGen    = "mle_generator.safetensors"
	fileReplay    = "replay.safetensors"
	fileHallJSON  = "halloffame.json"
	rngSampleName = "sample"
)

// trainerState is the loop state outside the tensors, stored in manifest.json.
type trainerState struct {
	DataCursor   int                `json:"data_cursor"`
	Baseline     []float64          `json:"baseline"`
	BaselineInit bool               `json:"baseline_init"`
	Best         *float64           `json:"best,omitempty"` // nil before the first evaluation
	BestStep     int                `json:"best_step"`
	SinceBest    int                `json:"since_best"`
	Stabilised   bool               `json:"stabilised"`
	GMLESteps    int                `json:"g_mle_steps"`
	GAdvSteps    int                `json:"g_adv_steps"`
	GAdvLRScale  float64            `json:"g_adv_lr_scale"`
	DSteps       []int              `json:"d_steps"`
	ReplayHead   int                `json:"replay_head"`
	ReplayCount  int                `json:"replay_count"`
	LastEval     map[string]float64 `json:"last_eval,omitempty"`
	LastEvalStep *int               `json:"last_eval_step,omitempty"` // nil before the first evaluation
	// LedgerRecords is the call ledger's record count when the checkpoint was
	// written (after a Sync): a resume finds at least these in the ledger.
	LedgerRecords int `json:"ledger_records,omitempty"`
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

// Checkpoint captures everything a resume needs.
func (tr *Trainer) Checkpoint() (*checkpoints.Checkpoint, error) {
	cfgJSON, err := json.Marshal(tr.Cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	st := trainerState{
		DataCursor: tr.dataCursor, Baseline: tr.baseline, BaselineInit: tr.baselineInit,
		BestStep: tr.bestStep, SinceBest: tr.sinceBest, Stabilised: tr.stabilised,
		GMLESteps: tr.gMLE.Step, GAdvSteps: tr.gAdv.Step, GAdvLRScale: tr.gAdv.LRScale,
		ReplayHead: tr.replay.Head, ReplayCount: tr.replay.Count, LastEval: finite(tr.lastEval),
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
	for _, o := range tr.dOpts {
		st.DSteps = append(st.DSteps, o.Step)
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode trainer state: %w", err)
	}
	optD := map[string]nn.Array{}
	for k, m := range tr.Disc.Members {
		for name, a := range tr.dOpts[k].State(m.Params()) {
			optD[name] = a
		}
	}
	tensors := map[string]map[string]checkpoints.Tensor{
		fileGen:     toTensors(tr.Gen.Params().Weights()),
		fileDisc:    toTensors(tr.Disc.Params().Weights()),
		fileOptGMLE: toTensors(tr.gMLE.State(tr.Gen.Params())),
		fileOptGAdv: toTensors(tr.gAdv.State(tr.Gen.Params())),
		fileOptD:    toTensors(optD),
	}
	if tr.mleWeights != nil {
		tensors[fileMLEGen] = toTensors(tr.mleWeights)
	}
	if tr.replay.Count > 0 {
		tensors[fileReplay] = map[string]checkpoints.Tensor{
			"tokens": checkpoints.I32Tensor([]int{tr.replay.Count, tr.replay.T}, append([]int32(nil), tr.replay.Tokens...)),
		}
	}
	hall, err := json.Marshal(tr.hall)
	if err != nil {
		return nil, fmt.Errorf("encode hall of fame: %w", err)
	}
	return &checkpoints.Checkpoint{
		Manifest: checkpoints.Manifest{
			Step:         tr.step,
			Config:       cfgJSON,
			RNG:          map[string]string{rngSampleName: tr.sampleRNG.State()},
			Metrics:      finite(tr.lastEval),
			Fingerprints: tr.fingerprints(),
			State:        stJSON,
			Warnings:     tr.warnings,
		},
		Tensors: tensors,
		JSON:    map[string]json.RawMessage{fileHallJSON: hall},
	}, nil
}

// fingerprints identify what the run was trained against.
func (tr *Trainer) fingerprints() map[string]string {
	fp := map[string]string{"target": tr.Target.Fingerprint(), "train": fileHash(tr.Cfg.Train)}
	if tr.Cfg.Oracle != "" {
		fp["oracle"] = fileHash(tr.Cfg.Oracle)
	}
	return fp
}

func fileHash(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unreadable"
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ConfigOf returns the config stored in a checkpoint. Fields the
// checkpoint predates keep their defaults.
func ConfigOf(ck *checkpoints.Checkpoint) (Config, error) {
	cfg := DefaultConfig()
	if err := json.Unmarshal(ck.Manifest.Config, &cfg); err != nil {
		return Config{}, fmt.Errorf("manifest.json: config: %w", err)
	}
	return cfg, nil
}

// ErrArchitectureChanged: a resume asked for network shapes other than the
// checkpoint's.
var ErrArchitectureChanged = errors.New("cannot resume with a different architecture")

// Restore builds a trainer in the exact state of ck, with cfg (normally the
// checkpoint's own config, possibly with a new step budget). Architecture
// fields must match the checkpoint's; the first that differs is named.
func Restore(ck *checkpoints.Checkpoint, cfg Config) (*Trainer, error) {
	saved, err := ConfigOf(ck)
	if err != nil {
		return nil, err
	}
	if d := ArchitectureDiff(saved, cfg); len(d) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrArchitectureChanged, d)
	}
	var warnings []string
	for _, d := range ConfigDiff(saved, cfg) {
		warnings = append(warnings, fmt.Sprintf("step %d: resumed with %s", ck.Manifest.Step, d))
	}
	if ck.Manifest.Step > cfg.Steps {
		return nil, fmt.Errorf("checkpoint is at step %d, past the requested total of %d steps", ck.Manifest.Step, cfg.Steps)
	}
	tr, err := NewTrainer(cfg)
	if err != nil {
		return nil, err
	}
	if got, want := tr.fingerprints()["train"], ck.Manifest.Fingerprints["train"]; want != "" && got != want {
		return nil, fmt.Errorf("train data %s has changed since the checkpoint was written (sha256 %s…, was %s…): resume with the original file", cfg.Train, got[:min(12, len(got))], want[:min(12, len(want))])
	}
	var st trainerState
	if err := json.Unmarshal(ck.Manifest.State, &st); err != nil {
		return nil, fmt.Errorf("manifest.json: state: %w", err)
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
	steps := []error{
		restoreInto(fileGen, gps.SetWeights),
		restoreInto(fileDisc, tr.Disc.Params().SetWeights),
		restoreInto(fileOptGMLE, func(a map[string]nn.Array) error { return tr.gMLE.Restore(gps, a) }),
		restoreInto(fileOptGAdv, func(a map[string]nn.Array) error { return tr.gAdv.Restore(gps, a) }),
		restoreInto(fileOptD, func(a map[string]nn.Array) error {
			if len(st.DSteps) != len(tr.Disc.Members) {
				return fmt.Errorf("state has %d D optimiser step counts for %d members", len(st.DSteps), len(tr.Disc.Members))
			}
			for k, m := range tr.Disc.Members {
				sub := map[string]nn.Array{}
				for _, p := range m.Params() {
					sub["m."+p.Name], sub["v."+p.Name] = a["m."+p.Name], a["v."+p.Name]
				}
				if err := tr.dOpts[k].Restore(m.Params(), sub); err != nil {
					return err
				}
				tr.dOpts[k].Step = st.DSteps[k]
			}
			return nil
		}),
	}
	for _, err := range steps {
		if err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if tr.mleWeights, err = load(fileMLEGen, false); err != nil {
		return nil, err
	}
	if tr.mleWeights != nil {
		if err := gps.CheckWeights(tr.mleWeights); err != nil {
			return nil, fmt.Errorf("%s: %w", fileMLEGen, err)
		}
	}
	tr.gMLE.Step, tr.gAdv.Step, tr.gAdv.LRScale = st.GMLESteps, st.GAdvSteps, st.GAdvLRScale
	if rs, ok := ck.Tensors[fileReplay]; ok {
		t, ok := rs["tokens"]
		if !ok || t.I32 == nil {
			return nil, fmt.Errorf("%s: want an I32 tensor \"tokens\"", fileReplay)
		}
		tr.replay.Tokens = append(tr.replay.Tokens[:0], t.I32...)
	}
	tr.replay.Head, tr.replay.Count = st.ReplayHead, st.ReplayCount
	if err := tr.replay.validate(cfg.Generator.Vocab); err != nil {
		return nil, fmt.Errorf("%s: %w", fileReplay, err)
	}
	if len(st.Baseline) != cfg.SeqLen {
		return nil, fmt.Errorf("manifest.json: state.baseline has %d entries for seq_len %d", len(st.Baseline), cfg.SeqLen)
	}
	tr.baseline, tr.baselineInit = st.Baseline, st.BaselineInit
	tr.dataCursor, tr.bestStep, tr.sinceBest, tr.stabilised = st.DataCursor, st.BestStep, st.SinceBest, st.Stabilised
	if st.DataCursor < 0 {
		return nil, fmt.Errorf("manifest.json: state.data_cursor = %d is negative", st.DataCursor)
	}
	if st.Best != nil {
		tr.best = *st.Best
	}
	tr.lastEval = st.LastEval
	tr.ledgerAtCheckpoint = st.LedgerRecords
	if st.LastEvalStep != nil {
		tr.lastEvalStep = *st.LastEvalStep
	}
	state, ok := ck.Manifest.RNG[rngSampleName]
	if !ok {
		return nil, fmt.Errorf("manifest.json: rng.%s is missing", rngSampleName)
	}
	if err := tr.sampleRNG.Restore(state); err != nil {
		return nil, fmt.Errorf("manifest.json: rng.%s: %w", rngSampleName, err)
	}
	if raw, ok := ck.JSON[fileHallJSON]; ok {
		if err := json.Unmarshal(raw, &tr.hall); err != nil {
			return nil, fmt.Errorf("%s: %w", fileHallJSON, err)
		}
	}
	tr.step = ck.Manifest.Step
	tr.warnings = append(slices.Clip(ck.Manifest.Warnings), warnings...)
	tr.newWarnings = warnings
	return tr, nil
}
