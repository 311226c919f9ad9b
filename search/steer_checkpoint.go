package search

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/targets"
)

// Names of a Steer checkpoint's RNG streams and fingerprints.
const (
	steerRNGSample = "sample"
	steerRNGData   = "data"
	steerRNGSeeds  = "seeds"

	// SteerKind is the manifest fingerprint "kind" of a Steer checkpoint,
	// which tells it apart from an identity-target Trainer's.
	SteerKind = "steer"
)

// steerState is a Steer's loop state outside the tensors, stored in
// manifest.json as state.steer.
type steerState struct {
	Steps        int       `json:"steps"`          // adversarial steps
	GPretrained  int       `json:"g_pretrained"`   // PretrainG steps
	DPretrained  int       `json:"d_pretrained"`   // PretrainD steps
	GMLESteps    int       `json:"g_mle_steps"`    // Adam step counts
	GAdvSteps    int       `json:"g_adv_steps"`    //
	GAdvLRScale  float64   `json:"g_adv_lr_scale"` //
	GMLELRScale  float64   `json:"g_mle_lr_scale"` //
	DSteps       []int     `json:"d_steps"`        // one per D member
	DLRScales    []float64 `json:"d_lr_scales"`    //
	Baseline     []float64 `json:"baseline"`
	BaselineInit bool      `json:"baseline_init"`
	ReplayHead   int       `json:"replay_head"`
	ReplayCount  int       `json:"replay_count"`
	Calls        int       `json:"calls"` // requests sent to the target so far (through a ledger or not)
}

// steerManifestState is manifest.json's state of a Steer checkpoint: the
// Steer's own, plus an opaque part owned by whoever drives it (SteerRun).
type steerManifestState struct {
	Steer steerState      `json:"steer"`
	Run   json.RawMessage `json:"run,omitempty"`
}

// TokensHash is the SHA-256 (hex) of an (n, T) token table: T, then every
// id, as little-endian int32. Steer checkpoints store it for the references
// and the prior so that a resume with other data is refused.
func TokensHash(tokens []int32, T int) string {
	h := sha256.New()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(T))
	h.Write(b[:])
	buf := make([]byte, 4*len(tokens))
	for i, id := range tokens {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(id))
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// steerFingerprints identify what a Steer was trained against.
func (s *Steer) steerFingerprints() map[string]string {
	return map[string]string{
		"kind":   SteerKind,
		"target": s.Target.Fingerprint(),
		"refs":   TokensHash(s.refs, s.Cfg.GenLen),
		"prior":  TokensHash(s.prior, s.Cfg.PromptLen),
	}
}

// Checkpoint captures everything a bit-exact resume of s needs: G, D, the
// three Adam optimisers' moments and step counts, the replay buffer, the
// states of the sample, data and seed RNG streams, the reward baseline and
// the step counters. Manifest.Step is the number of adversarial steps.
func (s *Steer) Checkpoint() (*checkpoints.Checkpoint, error) {
	return s.checkpoint(nil)
}

// checkpoint is Checkpoint with run state stored beside the Steer's.
func (s *Steer) checkpoint(run json.RawMessage) (*checkpoints.Checkpoint, error) {
	cfgJSON, err := json.Marshal(s.Cfg)
	if err != nil {
		return nil, fmt.Errorf("encode steer config: %w", err)
	}
	st := steerState{
		Steps: s.steps, GPretrained: s.gPretrained, DPretrained: s.dPretrained,
		GMLESteps: s.gMLE.Step, GMLELRScale: s.gMLE.LRScale, GAdvSteps: s.gAdv.Step, GAdvLRScale: s.gAdv.LRScale,
		Baseline: slices.Clone(s.baseline), BaselineInit: s.baselineInit,
		ReplayHead: s.replay.Head, ReplayCount: s.replay.Count, Calls: s.Calls,
	}
	optD := map[string]nn.Array{}
	for k, m := range s.Disc.Members {
		st.DSteps = append(st.DSteps, s.dOpts[k].Step)
		st.DLRScales = append(st.DLRScales, s.dOpts[k].LRScale)
		for name, a := range s.dOpts[k].State(m.Params()) {
			optD[name] = a
		}
	}
	stJSON, err := json.Marshal(steerManifestState{Steer: st, Run: run})
	if err != nil {
		return nil, fmt.Errorf("encode steer state: %w", err)
	}
	tensors := map[string]map[string]checkpoints.Tensor{
		fileGen:     toTensors(s.Gen.Params().Weights()),
		fileDisc:    toTensors(s.Disc.Params().Weights()),
		fileOptGMLE: toTensors(s.gMLE.State(s.Gen.Params())),
		fileOptGAdv: toTensors(s.gAdv.State(s.Gen.Params())),
		fileOptD:    toTensors(optD),
	}
	if s.replay.Count > 0 {
		tensors[fileReplay] = map[string]checkpoints.Tensor{
			"tokens": checkpoints.I32Tensor([]int{s.replay.Count, s.replay.T}, slices.Clone(s.replay.Tokens)),
		}
	}
	return &checkpoints.Checkpoint{
		Manifest: checkpoints.Manifest{
			Step:   s.steps,
			Config: cfgJSON,
			RNG: map[string]string{
				steerRNGSample: s.sampleRNG.State(),
				steerRNGData:   s.dataRNG.State(),
				steerRNGSeeds:  s.seedRNG.State(),
			},
			Fingerprints: s.steerFingerprints(),
			State:        stJSON,
			Warnings:     slices.Clone(s.warnings),
		},
		Tensors: tensors,
	}, nil
}

// IsSteerCheckpoint reports whether ck was written by a Steer (or a
// SteerRun) rather than by an identity-target Trainer.
func IsSteerCheckpoint(ck *checkpoints.Checkpoint) bool {
	return ck != nil && ck.Manifest.Fingerprints["kind"] == SteerKind
}

// SteerConfigOf returns the SteerConfig stored in a Steer checkpoint.
func SteerConfigOf(ck *checkpoints.Checkpoint) (SteerConfig, error) {
	var cfg SteerConfig
	if !IsSteerCheckpoint(ck) {
		return cfg, fmt.Errorf("manifest.json: not a steer checkpoint (fingerprints.kind = %q)", ck.Manifest.Fingerprints["kind"])
	}
	if err := json.Unmarshal(ck.Manifest.Config, &cfg); err != nil {
		return cfg, fmt.Errorf("manifest.json: config: %w", err)
	}
	return cfg, nil
}

// SteerArchitectureDiff returns the fields of a and b that a Steer
// checkpoint cannot be resumed across ("generator.hidden: 32 → 64"),
// sorted; empty if a checkpoint of a can be resumed with b.
func SteerArchitectureDiff(a, b SteerConfig) []string {
	var d fieldDiff
	d.networks(a.Generator, b.Generator, a.Discriminator, b.Discriminator)
	d.add("prompt_len", a.PromptLen, b.PromptLen)
	d.add("gen_len", a.GenLen, b.GenLen)
	d.add("batch_size", a.BatchSize, b.BatchSize)
	d.add("replay_size", a.ReplaySize, b.ReplaySize)
	return d.sorted()
}

// steerConfigDiff returns every field that differs between a and b by its
// YAML path, sorted.
func steerConfigDiff(a, b SteerConfig) []string { return leafDiff(a, b) }

// RestoreSteer builds a Steer in the exact state of ck (written by
// Checkpoint), with cfg (normally the checkpoint's own config), target tg
// and the same references and prior the checkpoint was trained on.
// Architecture fields that differ are refused (ErrArchitectureChanged,
// naming the field); other changed settings are recorded as manifest
// warnings. References or a prior other than the checkpoint's are refused;
// another target fingerprint is recorded as a warning.
func RestoreSteer(ck *checkpoints.Checkpoint, cfg SteerConfig, tg targets.Model, refs, prior []int32) (*Steer, error) {
	s, _, err := restoreSteer(ck, cfg, tg, refs, prior, nil)
	return s, err
}

// restoreSteer is RestoreSteer, also returning the run part of the state.
// runDiffs, when not nil, are the config changes to record instead of
// cfg's own differences from the checkpoint's SteerConfig.
func restoreSteer(ck *checkpoints.Checkpoint, cfg SteerConfig, tg targets.Model, refs, prior []int32, runDiffs []string) (*Steer, json.RawMessage, error) {
	saved, err := SteerConfigOf(ck)
	if err != nil {
		return nil, nil, err
	}
	if d := SteerArchitectureDiff(saved, cfg); len(d) > 0 {
		return nil, nil, fmt.Errorf("%w: %v", ErrArchitectureChanged, d)
	}
	warnings := runDiffs
	if runDiffs == nil {
		for _, d := range steerConfigDiff(saved, cfg) {
			warnings = append(warnings, fmt.Sprintf("step %d: resumed with %s", ck.Manifest.Step, d))
		}
	}
	s, err := NewSteer(cfg, tg, refs, prior)
	if err != nil {
		return nil, nil, err
	}
	fp := s.steerFingerprints()
	for _, f := range []struct{ key, what string }{{"refs", "references"}, {"prior", "prior prompts"}} {
		if got, want := fp[f.key], ck.Manifest.Fingerprints[f.key]; got != want {
			return nil, nil, fmt.Errorf("%w: the %s differ from the checkpoint's (sha256 %s…, was %s…): resume with the original data", ErrDataChanged, f.what, short(got), short(want))
		}
	}
	if got, want := fp["target"], ck.Manifest.Fingerprints["target"]; got != want {
		warnings = append(warnings, fmt.Sprintf("step %d: resumed against target %s (was %s)", ck.Manifest.Step, got, want))
	}
	var ms steerManifestState
	if err := json.Unmarshal(ck.Manifest.State, &ms); err != nil {
		return nil, nil, fmt.Errorf("manifest.json: state: %w", err)
	}
	st := ms.Steer
	load := func(file string) (map[string]nn.Array, error) {
		ts, ok := ck.Tensors[file]
		if !ok {
			return nil, fmt.Errorf("checkpoint lacks %s", file)
		}
		return toArrays(file, ts)
	}
	restoreInto := func(file string, set func(map[string]nn.Array) error) error {
		a, err := load(file)
		if err != nil {
			return err
		}
		if err := set(a); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		return nil
	}
	gps := s.Gen.Params()
	for _, err := range []error{
		restoreInto(fileGen, gps.SetWeights),
		restoreInto(fileDisc, s.Disc.Params().SetWeights),
		restoreInto(fileOptGMLE, func(a map[string]nn.Array) error { return s.gMLE.Restore(gps, a) }),
		restoreInto(fileOptGAdv, func(a map[string]nn.Array) error { return s.gAdv.Restore(gps, a) }),
		restoreInto(fileOptD, func(a map[string]nn.Array) error {
			K := len(s.Disc.Members)
			if len(st.DSteps) != K || len(st.DLRScales) != K {
				return fmt.Errorf("manifest.json state.steer has %d D step counts and %d rate scales for %d members", len(st.DSteps), len(st.DLRScales), K)
			}
			for k, m := range s.Disc.Members {
				sub := map[string]nn.Array{}
				for _, p := range m.Params() {
					sub["m."+p.Name], sub["v."+p.Name] = a["m."+p.Name], a["v."+p.Name]
				}
				if err := s.dOpts[k].Restore(m.Params(), sub); err != nil {
					return err
				}
				s.dOpts[k].Step, s.dOpts[k].LRScale = st.DSteps[k], st.DLRScales[k]
			}
			return nil
		}),
	} {
		if err != nil {
			return nil, nil, fmt.Errorf("restore: %w", err)
		}
	}
	switch {
	case st.Steps < 0 || st.GPretrained < 0 || st.DPretrained < 0 || st.Calls < 0:
		return nil, nil, fmt.Errorf("manifest.json: state.steer: negative step or call count")
	case len(ms.Run) == 0 && st.Steps != ck.Manifest.Step:
		return nil, nil, fmt.Errorf("manifest.json: state.steer.steps = %d but step = %d", st.Steps, ck.Manifest.Step)
	case len(st.Baseline) != 1:
		return nil, nil, fmt.Errorf("manifest.json: state.steer.baseline has %d entries, want 1", len(st.Baseline))
	}
	s.gMLE.Step, s.gMLE.LRScale = st.GMLESteps, st.GMLELRScale
	s.gAdv.Step, s.gAdv.LRScale = st.GAdvSteps, st.GAdvLRScale
	if rs, ok := ck.Tensors[fileReplay]; ok {
		t, ok := rs["tokens"]
		if !ok || t.I32 == nil {
			return nil, nil, fmt.Errorf("%s: want an I32 tensor \"tokens\"", fileReplay)
		}
		s.replay.Tokens = append(s.replay.Tokens[:0], t.I32...)
	}
	s.replay.Head, s.replay.Count = st.ReplayHead, st.ReplayCount
	if err := s.replay.validate(cfg.Generator.Vocab); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fileReplay, err)
	}
	for name, rng := range map[string]*nn.RNG{steerRNGSample: s.sampleRNG, steerRNGData: s.dataRNG, steerRNGSeeds: s.seedRNG} {
		state, ok := ck.Manifest.RNG[name]
		if !ok {
			return nil, nil, fmt.Errorf("manifest.json: rng.%s is missing", name)
		}
		if err := rng.Restore(state); err != nil {
			return nil, nil, fmt.Errorf("manifest.json: rng.%s: %w", name, err)
		}
	}
	s.baseline, s.baselineInit = slices.Clone(st.Baseline), st.BaselineInit
	s.steps, s.gPretrained, s.dPretrained, s.Calls = st.Steps, st.GPretrained, st.DPretrained, st.Calls
	s.warnings = append(slices.Clip(ck.Manifest.Warnings), warnings...)
	s.newWarnings = warnings
	return s, ms.Run, nil
}

// ErrDataChanged: a resume was given other references or prior prompts
// than the checkpoint was trained on.
var ErrDataChanged = fmt.Errorf("training data changed since the checkpoint")

func short(h string) string { return h[:min(12, len(h))] }

// ResumeWarnings returns the settings changes the restore that built s
// recorded (nil for a fresh Steer).
func (s *Steer) ResumeWarnings() []string { return slices.Clone(s.newWarnings) }
