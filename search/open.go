package search

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"promptgan/checkpoints"
	"promptgan/english"
	"promptgan/internal/ort"
	"promptgan/targets"
)

// Runs are built (NewRun) and reopened (ResumePoint, LoadSaved, Saved.Open,
// OpenRun) here, so that every command that starts, resumes, scores,
// searches, exports or serves a run opens its target, fits the config to
// it, validates the config once and checks memory the same way.

// ErrBadConfig marks what a caller asked for that cannot run: an unknown
// preset, a config that does not validate, a device name, a run too big for
// the machine (the CLI's usage errors, exit status 2), as against failures
// to read or run.
var ErrBadConfig = errors.New("bad config")

// badConfig marks err as ErrBadConfig; its message is err's.
type badConfig struct{ error }

func (e badConfig) Is(target error) bool { return target == ErrBadConfig }
func (e badConfig) Unwrap() error        { return e.error }

// PresetFor names the preset a new run starts from when none is named:
// "text" with a task, "steer" with a model target, else "quick". task and
// target are the values the caller sets ("" when it sets none).
func PresetFor(task, target string) string {
	switch {
	case task != "":
		return "text"
	case target != "" && target != targets.IdentityName:
		return "steer"
	}
	return "quick"
}

// NewConfig builds a new run's config: the preset, then the YAML file (""
// = none) on top of it. preset "" infers it (PresetFor(task, target)); when
// neither task nor target is set either, a file that names a model target
// starts from the steer preset instead (the text preset when it also names
// a task). An unknown preset is an ErrBadConfig.
func NewConfig(preset, file, task, target string) (Config, error) {
	infer := preset == ""
	if infer {
		preset = PresetFor(task, target)
	}
	cfg, err := Preset(preset)
	if err != nil {
		return cfg, badConfig{err}
	}
	if file == "" {
		return cfg, nil
	}
	if cfg, err = LoadYAML(file, cfg); err != nil {
		return cfg, err
	}
	if infer && task == "" && target == "" && !cfg.IsIdentity() && preset == "quick" {
		// the file names a model target (and maybe a task): its defaults
		// are the steer (or text) preset's
		base := "steer"
		if cfg.IsText() {
			base = "text"
		}
		def, _ := Preset(base)
		return LoadYAML(file, def)
	}
	return cfg, nil
}

// OpenOptions says how a run's target is opened.
type OpenOptions struct {
	// Library is the ONNX Runtime shared library; "" = found as internal/ort finds it.
	Library string
	// NoTarget loads a text run without its target (OpenRun): it can score
	// (input, generation) pairs and export its discriminator, not call the
	// target nor train.
	NoTarget bool
	// Logger logs the call ledger's events (OpenRun); nil = slog.Default.
	Logger *slog.Logger
}

// A Loaded is a run built or reopened with its target open.
type Loaded struct {
	Trainer *Trainer
	Target  targets.Opened // zero when opened with NoTarget
	// Dir is the run directory; Checkpoint the checkpoint it was reopened
	// from ("" for a new run).
	Dir, Checkpoint string
	closeLedger     func() error
}

// Close releases the call ledger (OpenRun) and the target.
func (l *Loaded) Close() error {
	var err error
	if l.closeLedger != nil {
		err = l.closeLedger()
	}
	if l.Target.Close != nil {
		l.Target.Close()
	}
	return err
}

// NewRun builds a new run of cfg in dir: a text run's settings and data are
// checked first, before a model loads; then the target opens, cfg is fitted
// to it (the networks' vocabulary), validated once and checked against the
// machine's memory, and the trainer is built. Errors in cfg are
// ErrBadConfig.
func NewRun(ctx context.Context, cfg Config, dir string, opt OpenOptions) (*Loaded, error) {
	if cfg.PromptExamples == english.ExamplesInstructions {
		// The English instructions by name: written into the run directory,
		// which then holds the examples its checkpoints name (and resume reads).
		if dir == "" {
			return nil, badConfig{fmt.Errorf("prompt_examples = %s: a run without a directory cannot hold the example prompts; give a file", english.ExamplesInstructions)}
		}
		var err error
		if cfg.PromptExamples, err = english.ExamplesFile(cfg.PromptExamples, dir); err != nil {
			return nil, err
		}
	}
	settings, err := applyModelDefaults(&cfg)
	if err != nil {
		return nil, err
	}
	if cfg.IsText() { // bad settings and data first, before a model loads
		if err := validate(cfg); err != nil {
			return nil, err
		}
		if err := CheckText(cfg); err != nil {
			return nil, err
		}
	}
	op, err := openTarget(ctx, &cfg, opt.Library)
	if err != nil {
		return nil, err
	}
	if err := checkOpened(cfg, !cfg.IsText()); err != nil {
		op.Close()
		return nil, err
	}
	tr, err := newValidated(cfg, op.Model)
	if err != nil {
		op.Close()
		return nil, err
	}
	if settings != "" {
		tr.notes = append([]string{settings}, tr.notes...)
	}
	return &Loaded{Trainer: tr, Target: op, Dir: dir}, nil
}

// applyModelDefaults takes what an ONNX model directory recommends
// (targets.ReadModelDefaults) for the settings cfg leaves unset — the
// template of a text run, target_temperature, target_top_p, and a token
// run's max_new_tokens — and returns the settings in force with where each
// comes from, for the log at the start of the run ("" for a target that
// recommends nothing: identity, openai:). A user's value always wins.
func applyModelDefaults(cfg *Config) (string, error) {
	if cfg.IsIdentity() || targets.IsOpenAI(cfg.Target) {
		return "", nil
	}
	d, err := targets.ReadModelDefaults(cfg.Target)
	if err != nil {
		return "", badConfig{err}
	}
	model := func(key string) string { return "the model's " + d.From[key] }
	var in []string
	say := func(name, value, from string) { in = append(in, fmt.Sprintf("%s %s (%s)", name, value, from)) }
	if cfg.IsText() {
		switch {
		case cfg.Template != "":
			say("template", strconv.Quote(cfg.Template), "set")
		case d.Template != "":
			cfg.Template = d.Template
			say("template", strconv.Quote(cfg.Template), model("template"))
		default:
			say("template", "the default", "neither set nor recommended by the model")
		}
	}
	switch {
	case cfg.TargetTemperature != 0:
		say("target_temperature", fmt.Sprint(cfg.TargetTemperature), "set")
	case d.Temperature > 0:
		cfg.TargetTemperature = d.Temperature
		say("target_temperature", fmt.Sprint(cfg.TargetTemperature), model("temperature"))
	default:
		say("target_temperature", "1", "the default")
	}
	switch {
	case cfg.TargetTopP != 0:
		say("target_top_p", fmt.Sprint(cfg.TargetTopP), "set")
	case d.TopP > 0 && d.TopP < 1:
		cfg.TargetTopP = d.TopP
		say("target_top_p", fmt.Sprint(cfg.TargetTopP), model("top_p"))
	default:
		say("target_top_p", "none", "the default")
	}
	switch {
	case cfg.IsText():
		say("gen_len", fmt.Sprint(cfg.GenLen), "tokens a generation at most")
	case cfg.MaxNewTokens != 0:
		say("max_new_tokens", fmt.Sprint(cfg.MaxNewTokens), "set")
	case d.MaxNewTokens >= cfg.GenLen:
		cfg.MaxNewTokens = d.MaxNewTokens
		say("max_new_tokens", fmt.Sprint(cfg.MaxNewTokens), model("max_new_tokens"))
	default:
		say("max_new_tokens", fmt.Sprint(cfg.GenLen), "gen_len")
	}
	return "settings in force for target " + cfg.Target + ": " + strings.Join(in, ", "), nil
}

// validate is Config.Validate as an ErrBadConfig.
func validate(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return badConfig{fmt.Errorf("invalid config: %w", err)}
	}
	return nil
}

// checkOpened checks cfg once its target is open: validated (full, or, for
// a text run validated before the model loaded, the generator's vocabulary
// when the target set it; 0 is set when the run starts) and fitting in memory, before any network is built:
// a run that cannot fit is refused with the fields that size it, not
// killed by the kernel hours later.
func checkOpened(cfg Config, full bool) error {
	if full {
		if err := validate(cfg); err != nil {
			return err
		}
	} else if err := cfg.Generator.Validate(); cfg.Generator.Vocab != 0 && err != nil {
		return badConfig{fmt.Errorf("invalid config: %w", err)}
	}
	if err := CheckMemory(cfg); err != nil {
		return badConfig{fmt.Errorf("invalid config: %w", err)}
	}
	return nil
}

// openTarget opens cfg's target (targets.OpenContext) and, for a model
// target, sets the networks' vocabulary to the model's.
func openTarget(ctx context.Context, cfg *Config, library string) (targets.Opened, error) {
	if _, err := ort.ParseDevice(cfg.Device); err != nil {
		return targets.Opened{}, badConfig{fmt.Errorf("device: %w", err)}
	}
	tc := targets.Config{
		Name: cfg.Target, GenLen: cfg.GenLen, MaxNewTokens: cfg.MaxNewTokens, Temperature: cfg.TargetTemperature, TopP: cfg.TargetTopP,
		Device: cfg.Device, Library: library,
		OpenAI: cfg.OpenAI.Options(),
	}
	if cfg.IsText() {
		// generations are text: up to gen_len tokens, not fitted to it
		tc.GenLen, tc.MaxNewTokens = 0, cfg.GenLen
	}
	op, err := targets.OpenContext(ctx, tc)
	if err != nil {
		return op, err
	}
	switch {
	case cfg.IsText():
		if op.Text == nil {
			op.Close()
			return targets.Opened{}, fmt.Errorf("target %s has no usable tokenizer.json: a text run needs a model that reads and writes text", cfg.Target)
		}
		op.Model = op.Text // the text run takes the model with its tokenizer
		if kind, _, _ := strings.Cut(cfg.PromptVocab, ":"); kind == "target" {
			cfg.Generator.Vocab = op.Vocab
		}
	case !cfg.IsIdentity():
		cfg.Generator.Vocab, cfg.Discriminator.Vocab = op.Vocab, op.Vocab
	}
	return op, nil
}

// A Saved is a checkpoint a run is reopened from.
type Saved struct {
	Checkpoint *checkpoints.Checkpoint
	Dir        string // the checkpoint's directory
	RunDir     string // the run's directory
	// Config is the checkpoint's config; a caller may change it before
	// Open (a new step budget, device or server): Restore says what it
	// accepts.
	Config Config
	// Warning is set when ResumePoint fell back from a damaged latest
	// checkpoint: what was damaged and which steps are trained again.
	Warning string
}

// ResolveCheckpoint accepts a run directory (its latest checkpoint) or a
// checkpoint directory, and returns the checkpoint and its run directory.
func ResolveCheckpoint(path string) (ckDir, runDir string, err error) {
	ckDir, err = checkpoints.Resolve(filepath.Join(path, CheckpointsDir))
	if err == nil {
		return ckDir, path, nil
	}
	if !errors.Is(err, checkpoints.ErrNoCheckpoint) { // a run directory whose checkpoints are damaged
		return "", "", err
	}
	if ckDir, err = checkpoints.Resolve(path); err != nil {
		return "", "", err // its message names path
	}
	return ckDir, filepath.Dir(filepath.Dir(ckDir)), nil // RUN/checkpoints/step-N
}

// LoadSaved loads the checkpoint at path (ResolveCheckpoint) and its config.
func LoadSaved(path string) (*Saved, error) {
	ckDir, runDir, err := ResolveCheckpoint(path)
	if err != nil {
		return nil, err
	}
	ck, err := checkpoints.Load(ckDir)
	if err != nil {
		return nil, err
	}
	return saved(ck, ckDir, runDir)
}

func saved(ck *checkpoints.Checkpoint, ckDir, runDir string) (*Saved, error) {
	cfg, err := ConfigOf(ck)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ckDir, err)
	}
	return &Saved{Checkpoint: ck, Dir: ckDir, RunDir: runDir, Config: cfg}, nil
}

// ResumePoint loads the checkpoint a resume of path starts from (a run or
// checkpoint directory). When the run's latest checkpoint is damaged it
// names the newest one that loads and, with fallback, takes it (saying so
// in Warning).
func ResumePoint(path string, fallback bool) (*Saved, error) {
	ckDir, dir, err := ResolveCheckpoint(path)
	var ck *checkpoints.Checkpoint
	if err == nil {
		ck, err = checkpoints.Load(ckDir)
	}
	if err == nil {
		s, err := saved(ck, ckDir, dir)
		if err != nil {
			return nil, fmt.Errorf("resume %w", err)
		}
		return s, nil
	}
	root := filepath.Join(path, CheckpointsDir)
	if _, statErr := os.Stat(root); statErr != nil {
		return nil, fmt.Errorf("resume %w", err)
	}
	good, skipped, gerr := checkpoints.NewestGood(root)
	if gerr != nil {
		return nil, fmt.Errorf("resume %s: the latest checkpoint is damaged (%w) and no other checkpoint loads", path, err)
	}
	what := "the latest checkpoint is damaged"
	if _, lerr := os.Lstat(filepath.Join(root, "latest")); errors.Is(lerr, fs.ErrNotExist) {
		what = fmt.Sprintf("%s, which names the newest checkpoint, is missing", filepath.Join(root, "latest"))
	}
	if !fallback {
		return nil, fmt.Errorf("resume %s: %s: %w\nthe newest good checkpoint is %s: rerun with --fallback to resume from it (%s)", path, what, err, good, lostSteps(good, skipped))
	}
	warning := fmt.Sprintf("%s (%v); falling back to %s (%s)", what, err, good, lostSteps(good, skipped))
	ck, err = checkpoints.Load(good)
	if err != nil {
		return nil, fmt.Errorf("resume %w", err)
	}
	s, err := saved(ck, good, path)
	if err != nil {
		return nil, fmt.Errorf("resume %w", err)
	}
	s.Warning = warning
	return s, nil
}

// lostSteps says which steps a fallback to checkpoint good trains again:
// those of the damaged checkpoints newer than it, or none when only the
// latest pointer was lost.
func lostSteps(good string, skipped []checkpoints.Damaged) string {
	goodStep := stepOf(filepath.Base(good))
	newest := goodStep
	for _, d := range skipped {
		newest = max(newest, stepOf(d.Name))
	}
	if newest <= goodStep {
		return fmt.Sprintf("it is the newest checkpoint, step %d: no step is trained again", goodStep)
	}
	return fmt.Sprintf("steps %d to %d are trained again", goodStep+1, newest)
}

// stepOf reads the step of a checkpoint directory named step-NNNNNNN (-1 otherwise).
func stepOf(name string) int {
	var n int
	if _, err := fmt.Sscanf(name, "step-%d", &n); err != nil {
		return -1
	}
	return n
}

// Open restores s's run with s.Config: its target opens (none with
// opt.NoTarget, for a text run), the config is fitted to it, validated once
// and checked against memory, and the trainer restored (Restore). A target
// whose vocabulary is no longer the run's is refused.
func (s *Saved) Open(ctx context.Context, opt OpenOptions) (*Loaded, error) {
	cfg := s.Config
	if opt.NoTarget {
		if err := validate(cfg); err != nil {
			return nil, err
		}
		tr, err := restoreValidated(s.Checkpoint, cfg, nil)
		if err != nil {
			return nil, err
		}
		return &Loaded{Trainer: tr, Dir: s.RunDir, Checkpoint: s.Dir}, nil
	}
	vocab := cfg.Generator.Vocab
	op, err := openTarget(ctx, &cfg, opt.Library)
	if err != nil {
		return nil, err
	}
	if cfg.Generator.Vocab != vocab {
		op.Close()
		return nil, fmt.Errorf("the target %s now has a vocabulary of %d tokens, the run was trained on %d", cfg.Target, cfg.Generator.Vocab, vocab)
	}
	if err := checkOpened(cfg, true); err != nil {
		op.Close()
		return nil, err
	}
	tr, err := restoreValidated(s.Checkpoint, cfg, op.Model)
	if err != nil {
		op.Close()
		return nil, err
	}
	return &Loaded{Trainer: tr, Target: op, Dir: s.RunDir, Checkpoint: s.Dir}, nil
}

// OpenRun reopens the text run at path (a run or checkpoint directory) to
// use it — score, search, export, serve — with device ("" = the run's),
// its target and its call ledger (none with opt.NoTarget). A run that is
// not a text run is an ErrNotText.
func OpenRun(ctx context.Context, path, device string, opt OpenOptions) (*Loaded, error) {
	s, err := LoadSaved(path)
	if err != nil {
		return nil, err // a missing or damaged run is a failure, as for eval, inspect and resume
	}
	if !s.Config.IsText() {
		return nil, fmt.Errorf("%s: %w", s.Dir, ErrNotText)
	}
	if device != "" {
		s.Config.Device = device
	}
	l, err := s.Open(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", s.Dir, err)
	}
	if opt.NoTarget {
		return l, nil
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if l.closeLedger, err = l.Trainer.UseLedger(s.RunDir, log); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
