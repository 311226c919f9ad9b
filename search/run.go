package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"promptgan/checkpoints"
	"promptgan/metrics"
	"promptgan/targets/backend"
	"promptgan/targets/ledger"
)

// ErrInterrupted is returned by Run when its context was cancelled: the run
// saved a checkpoint at the last completed step and can be resumed.
var ErrInterrupted = errors.New("search: interrupted")

// Progress receives every completed step (e.g. to draw a progress bar).
type Progress interface {
	Update(s Stats, total int)
}

// RunOptions are the I/O settings of Run.
type RunOptions struct {
	// Dir is the run directory: metrics.jsonl, checkpoints/ and ledger/.
	// "" keeps nothing on disk (no metrics file, checkpoints or ledger):
	// for benchmarks and tests that drive a run in memory.
	Dir      string
	Logger   *slog.Logger // nil = slog.Default()
	Progress Progress     // nil = none
	NoCache  bool         // with Cfg.Ledger: send every call to the target, still recording new ones
	// NoEvaluation skips the run's evaluations (eval_every and the final
	// one), which cost target calls: for benchmarks that judge a run by
	// their own metric.
	NoEvaluation bool
	// AfterStep, when set, is called after every step; an error ends the
	// run with that error (after no checkpoint).
	AfterStep func(Stats) error
	// Until, when > 0, ends this call of Run after that global step instead
	// of Cfg.Steps (a later Run continues): for benchmarks that share a
	// run's pre-training between methods.
	Until int
}

// Result describes how a run ended.
type Result struct {
	Step       int
	Checkpoint string             // directory of the last checkpoint written
	Eval       map[string]float64 // the last evaluation
	Stopped    string             // "steps", "patience" or "interrupted"
	Ledger     *ledger.Stats      // the call ledger's counts for this process, with Cfg.Ledger
}

// Paths inside a run directory.
const (
	MetricsFile    = "metrics.jsonl"
	CheckpointsDir = "checkpoints"
	LedgerDir      = "ledger"
)

// Usage keys of metrics.jsonl, present when the target reports token usage
// (a remote server): the tokens the run's ledger records as paid, over
// every process that wrote it, and those answered from it by this process
// (not paid again).
const (
	UsagePromptKey     = "usage_prompt_tokens"
	UsageCompletionKey = "usage_completion_tokens"
	UsageSavedKey      = "usage_saved_tokens"
)

// withUsage returns vals plus the usage keys, when the ledger has any usage.
func (tr *Trainer) withUsage(vals map[string]float64) map[string]float64 {
	if tr.ledger == nil {
		return vals
	}
	st := tr.ledger.Stats()
	if st.Paid == (backend.Usage{}) && st.Saved == (backend.Usage{}) {
		return vals
	}
	out := make(map[string]float64, len(vals)+3)
	for k, v := range vals {
		out[k] = v
	}
	out[UsagePromptKey] = float64(st.Paid.PromptTokens)
	out[UsageCompletionKey] = float64(st.Paid.CompletionTokens)
	out[UsageSavedKey] = float64(st.Saved.PromptTokens + st.Saved.CompletionTokens)
	return out
}

// checkpointName is the directory name of the checkpoint at step.
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// evalKeys are the evaluation values logged, in order (those present).
var evalKeys = []string{"nll_oracle", "nll_test", "auc", "ece", "accuracy", "d_real", "d_fake", "d_oracle_corr", "reward", "distinct_2", "self_bleu_3", "prompt_distinct_1", "calls"}

// Run trains tr until Cfg.Steps, patience, or cancellation of ctx, with
// these guarantees: steps are atomic (a cancellation is seen between steps,
// and the state saved is that of the last completed step); metrics.jsonl is
// cut back to the checkpoint on resume, so its records match an
// uninterrupted run's; a checkpoint is written every checkpoint_every
// steps, at each new best evaluation (kept by pruning) and at the end; with
// ledger, every target call goes through the call ledger in RUN/ledger,
// synced before each checkpoint, whose record count the checkpoint stores;
// a cancelled run saves and returns ErrInterrupted.
func Run(ctx context.Context, tr *Trainer, opt RunOptions) (Result, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := tr.Cfg
	if opt.Until > 0 {
		cfg.Steps = min(cfg.Steps, opt.Until)
	}
	onDisk := opt.Dir != ""
	ckRoot := filepath.Join(opt.Dir, CheckpointsDir)
	if onDisk {
		if err := os.MkdirAll(ckRoot, 0o755); err != nil {
			return Result{}, fmt.Errorf("create run directory: %w", err)
		}
		// A crash (kill, power loss) during a save leaves a temporary directory.
		if removed, err := checkpoints.Sweep(ckRoot); err != nil {
			return Result{}, err
		} else if len(removed) > 0 {
			log.Info("removed the leftovers of an interrupted checkpoint save", "dir", ckRoot, "removed", removed)
		}
	}
	if onDisk && cfg.Ledger {
		l, err := ledger.Open(filepath.Join(opt.Dir, LedgerDir), ledger.Options{Logger: log})
		if err != nil {
			return Result{}, err
		}
		defer l.Close()
		if n := l.Len(); n < tr.ledgerAtCheckpoint {
			log.Warn("the call ledger holds fewer records than when the checkpoint was written; the missing calls will be sent to the target again",
				"ledger", l.Path(), "records", n, "at_checkpoint", tr.ledgerAtCheckpoint)
		}
		tr.useLedger(l, opt.NoCache)
		defer tr.useLedger(nil, false)
	}
	for _, n := range tr.Notes() {
		log.Info(n)
	}
	for _, w := range tr.ResumeWarnings() {
		log.Warn("setting changed on resume (recorded in the manifest)", "change", w)
	}
	metricsPath := filepath.Join(opt.Dir, MetricsFile)
	// A resumed run drops records written after its checkpoint, so its log
	// matches an uninterrupted run's.
	if onDisk {
		if err := metrics.TruncateAfter(metricsPath, tr.StepCount()); err != nil {
			return Result{}, err
		}
	}
	var pending []metrics.Record
	flush := func() error {
		if !onDisk {
			pending = pending[:0]
			return nil
		}
		if len(pending) == 0 {
			return nil
		}
		err := metrics.AppendRecords(metricsPath, pending...)
		pending = pending[:0]
		return err
	}
	res := Result{Stopped: "steps"}
	savedAt := -1
	// save writes a checkpoint of the current step (unless this step has
	// one) and, when best, points best at it, then prunes: best moves before
	// pruning, so the checkpoint it leaves is not spared (keep_checkpoints).
	save := func(best bool) error {
		step := tr.StepCount()
		if !onDisk {
			return nil
		}
		if savedAt != step {
			if err := flush(); err != nil {
				return err
			}
			// Every call recorded so far becomes durable before the checkpoint
			// that follows those calls does.
			if l := tr.ledger; l != nil {
				if err := l.Sync(); err != nil {
					return err
				}
			}
			ck, err := tr.Checkpoint()
			if _, ok := errors.AsType[*json.UnsupportedValueError](err); ok {
				return tr.saveDiverged(step, err) // a NaN in the trainer's scalars (the baseline, say)
			}
			if err != nil {
				return err
			}
			dir, err := checkpoints.Save(ckRoot, checkpointName(step), ck)
			if errors.Is(err, checkpoints.ErrNonFinite) {
				return tr.saveDiverged(step, err)
			}
			if err != nil {
				return err
			}
			res.Checkpoint, savedAt = dir, step
			log.Info("checkpoint", "step", step, "dir", dir)
		}
		removed, err := keepCheckpoints(ckRoot, checkpointName(step), best, cfg.KeepCheckpoints)
		if len(removed) > 0 {
			log.Debug("pruned old checkpoints", "removed", removed)
		}
		return err
	}
	evaluate := func() error {
		st, err := tr.Evaluate(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		if err := tr.checkValues(st.Step, st.Phase, st.Values); err != nil {
			return err
		}
		pending = append(pending, metrics.Record{Step: st.Step, Phase: st.Phase, Values: tr.withUsage(st.Values)})
		args := []any{"step", st.Step, "phase", cfg.PhaseOf(max(st.Step, 1))}
		for _, k := range evalKeys {
			if v, ok := st.Values[k]; ok {
				f := "%.4f"
				if k == "calls" {
					f = "%.0f" // a count
				}
				args = append(args, k, fmt.Sprintf(f, v))
			}
		}
		log.Info("eval", args...)
		res.Eval = st.Values
		if err := flush(); err != nil {
			return err
		}
		// A new best held-out score is kept as a checkpoint that pruning spares.
		if _, at := tr.Best(); at == tr.StepCount() {
			return save(true)
		}
		return nil
	}
	// stepFailed ends the run on err. A divergence keeps the records logged
	// before it (all finite: they show the way there) and says which
	// checkpoint to resume from; nothing after that checkpoint was saved.
	stepFailed := func(err error) error {
		var de *DivergedError
		if !errors.As(err, &de) || !onDisk {
			return err
		}
		if ferr := flush(); ferr != nil {
			log.Warn("could not write the metrics logged before the divergence", "err", ferr)
		}
		de.RunDir, de.Checkpoint = opt.Dir, lastCheckpoint(ckRoot)
		if savedAt < 0 { // the checkpoint is the one this process resumed from
			de.Keep = tr.ResumeWarnings()
		}
		return err
	}
	// A run resumed from its final checkpoint (killed while plotting, say)
	// must not evaluate that step a second time.
	evaluatedAt := tr.lastEvalStep

	for tr.StepCount() < cfg.Steps {
		if ctx.Err() != nil {
			res.Stopped = "interrupted"
			break
		}
		// step: sample → target → D step → G step (or a pre-training step)
		st, err := tr.Step(context.WithoutCancel(ctx))
		if err != nil {
			return res, stepFailed(err)
		}
		if opt.Progress != nil {
			opt.Progress.Update(st, cfg.Steps)
		}
		// log
		if st.Step%cfg.LogEvery == 0 {
			pending = append(pending, metrics.Record{Step: st.Step, Phase: st.Phase, Values: tr.withUsage(st.Values)}) // finite: Step checks
			if len(pending) >= 64 {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		// evaluate on held-out data; feedback rule
		if opt.AfterStep != nil {
			if err := opt.AfterStep(st); err != nil {
				return res, err
			}
		}
		if !opt.NoEvaluation && cfg.EvalEvery > 0 && st.Step%cfg.EvalEvery == 0 {
			if err := evaluate(); err != nil {
				return res, stepFailed(err)
			}
			evaluatedAt = st.Step
		}
		// checkpoint
		if cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 && st.Step < cfg.Steps {
			if err := save(false); err != nil {
				return res, stepFailed(err)
			}
		}
		// stop check
		if tr.ShouldStop() {
			res.Stopped = "patience"
			best, bestStep := tr.Best()
			log.Info("early stop: no improvement", "patience", cfg.Patience, "best", best, "best_step", bestStep)
			break
		}
	}
	if !opt.NoEvaluation && res.Stopped != "interrupted" && evaluatedAt != tr.StepCount() {
		if err := evaluate(); err != nil {
			return res, stepFailed(err)
		}
	}
	if err := save(false); err != nil {
		return res, stepFailed(err)
	}
	res.Step = tr.StepCount()
	if l := tr.ledger; l != nil {
		st := l.Stats()
		res.Ledger = &st
		log.Info("call ledger", "answered_from_ledger", st.Hits, "sent_to_target", st.Misses, "records", st.Records)
		if st.Paid != (backend.Usage{}) || st.Saved != (backend.Usage{}) {
			log.Info("token usage", "paid_prompt_tokens", st.Paid.PromptTokens, "paid_completion_tokens", st.Paid.CompletionTokens,
				"saved_prompt_tokens", st.Saved.PromptTokens, "saved_completion_tokens", st.Saved.CompletionTokens)
		}
	}
	if res.Stopped == "interrupted" {
		return res, ErrInterrupted
	}
	return res, nil
}

// keepCheckpoints points best at the checkpoint name (when best), then
// prunes root to the keep newest checkpoints and the ones best and latest
// name (checkpoints.Prune); it returns the pruned ones.
func keepCheckpoints(root, name string, best bool, keep int) ([]string, error) {
	if best {
		if err := checkpoints.SetBest(root, name); err != nil {
			return nil, err
		}
	}
	return checkpoints.Prune(root, keep)
}
