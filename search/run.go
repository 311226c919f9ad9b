package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"promptgan/checkpoints"
	"promptgan/metrics"
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
	Dir      string       // run directory: metrics.jsonl and checkpoints/
	Logger   *slog.Logger // nil = slog.Default()
	Progress Progress     // nil = none
	NoCache  bool         // with Cfg.Ledger: send every call to the target, still recording new ones
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

// checkpointName is the directory name of the checkpoint at step.
func checkpointName(step int) string { return fmt.Sprintf("step-%07d", step) }

// schedule is the part of a run's config that the run loop reads.
type schedule struct {
	Steps, LogEvery, EvalEvery, CheckpointEvery, KeepCheckpoints, Patience int
	Ledger                                                                 bool
	PhaseOf                                                                func(step int) string
	EvalKeys                                                               []string // evaluation values logged, in order
}

// runner is what the run loop drives: the identity-target Trainer or a
// SteerRun. Both keep their whole state in their checkpoints.
type runner interface {
	StepCount() int
	Step(ctx context.Context) (Stats, error)
	Evaluate(ctx context.Context) (Stats, error)
	Best() (float64, int)
	ShouldStop() bool
	Checkpoint() (*checkpoints.Checkpoint, error)
	ResumeWarnings() []string
	schedule() schedule
	// useLedger routes target calls through l (nil: straight to the target).
	useLedger(l *ledger.Ledger, noCache bool)
	currentLedger() *ledger.Ledger
	// ledgerRecordsAtCheckpoint is the ledger's record count that the
	// restored checkpoint saw (0 for a fresh run).
	ledgerRecordsAtCheckpoint() int
	// lastEvaluated is the step of the last evaluation; -1 before the first.
	lastEvaluated() int
}

func (tr *Trainer) schedule() schedule {
	c := tr.Cfg
	return schedule{
		Steps: c.Steps, LogEvery: c.LogEvery, EvalEvery: c.EvalEvery, CheckpointEvery: c.CheckpointEvery,
		KeepCheckpoints: c.KeepCheckpoints, Patience: c.Patience, Ledger: c.Ledger, PhaseOf: c.PhaseOf,
		EvalKeys: []string{"nll_oracle", "nll_test", "d_real", "d_fake", "d_oracle_corr", "distinct_2", "self_bleu_3"},
	}
}
func (tr *Trainer) currentLedger() *ledger.Ledger  { return tr.ledger }
func (tr *Trainer) ledgerRecordsAtCheckpoint() int { return tr.ledgerAtCheckpoint }
func (tr *Trainer) lastEvaluated() int             { return tr.lastEvalStep }

// Run trains tr until Cfg.Steps, patience, or cancellation of ctx. Steps are
// atomic: a cancellation is seen between steps, and the state saved is that
// of the last completed step.
func Run(ctx context.Context, tr *Trainer, opt RunOptions) (Result, error) {
	return runLoop(ctx, tr, opt)
}

// runLoop is Run for any runner.
func runLoop(ctx context.Context, tr runner, opt RunOptions) (Result, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	cfg := tr.schedule()
	ckRoot := filepath.Join(opt.Dir, CheckpointsDir)
	if err := os.MkdirAll(ckRoot, 0o755); err != nil {
		return Result{}, fmt.Errorf("create run directory: %w", err)
	}
	// A crash (kill, power loss) during a save leaves a temporary directory.
	if removed, err := checkpoints.Sweep(ckRoot); err != nil {
		return Result{}, err
	} else if len(removed) > 0 {
		log.Info("removed the leftovers of an interrupted checkpoint save", "dir", ckRoot, "removed", removed)
	}
	if cfg.Ledger {
		l, err := ledger.Open(filepath.Join(opt.Dir, LedgerDir), ledger.Options{Logger: log})
		if err != nil {
			return Result{}, err
		}
		defer l.Close()
		if n := l.Len(); n < tr.ledgerRecordsAtCheckpoint() {
			log.Warn("the call ledger holds fewer records than when the checkpoint was written; the missing calls will be sent to the target again",
				"ledger", l.Path(), "records", n, "at_checkpoint", tr.ledgerRecordsAtCheckpoint())
		}
		tr.useLedger(l, opt.NoCache)
		defer tr.useLedger(nil, false)
	}
	for _, w := range tr.ResumeWarnings() {
		log.Warn("setting changed on resume (recorded in the manifest)", "change", w)
	}
	metricsPath := filepath.Join(opt.Dir, MetricsFile)
	// A resumed run drops records written after its checkpoint, so its log
	// matches an uninterrupted run's.
	if err := metrics.TruncateAfter(metricsPath, tr.StepCount()); err != nil {
		return Result{}, err
	}
	var pending []metrics.Record
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := metrics.AppendRecords(metricsPath, pending...)
		pending = pending[:0]
		return err
	}
	res := Result{Stopped: "steps"}
	savedAt := -1
	save := func() error {
		step := tr.StepCount()
		if savedAt == step {
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		// Every call recorded so far becomes durable before the checkpoint
		// that follows those calls does.
		if l := tr.currentLedger(); l != nil {
			if err := l.Sync(); err != nil {
				return err
			}
		}
		ck, err := tr.Checkpoint()
		if err != nil {
			return err
		}
		dir, err := checkpoints.Save(ckRoot, checkpointName(step), ck)
		if err != nil {
			return err
		}
		res.Checkpoint, savedAt = dir, step
		log.Info("checkpoint", "step", step, "dir", dir)
		removed, err := checkpoints.Prune(ckRoot, cfg.KeepCheckpoints)
		if err != nil {
			return err
		}
		if len(removed) > 0 {
			log.Debug("pruned old checkpoints", "removed", removed)
		}
		return nil
	}
	evaluate := func() error {
		st, err := tr.Evaluate(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
		pending = append(pending, metrics.Record{Step: st.Step, Phase: st.Phase, Values: st.Values})
		args := []any{"step", st.Step, "phase", cfg.PhaseOf(max(st.Step, 1))}
		for _, k := range cfg.EvalKeys {
			if v, ok := st.Values[k]; ok {
				args = append(args, k, fmt.Sprintf("%.4f", v))
			}
		}
		log.Info("eval", args...)
		res.Eval = st.Values
		if err := flush(); err != nil {
			return err
		}
		// A new best held-out score is kept as a checkpoint that pruning spares.
		if _, at := tr.Best(); at == tr.StepCount() {
			if err := save(); err != nil {
				return err
			}
			return checkpoints.SetBest(ckRoot, checkpointName(tr.StepCount()))
		}
		return nil
	}
	// A run resumed from its final checkpoint (killed while plotting, say)
	// must not evaluate that step a second time.
	evaluatedAt := tr.lastEvaluated()

	for tr.StepCount() < cfg.Steps {
		if ctx.Err() != nil {
			res.Stopped = "interrupted"
			break
		}
		// step: sample → target → D step → G step (or a pre-training step)
		st, err := tr.Step(context.WithoutCancel(ctx))
		if err != nil {
			return res, err
		}
		if opt.Progress != nil {
			opt.Progress.Update(st, cfg.Steps)
		}
		// log
		if st.Step%cfg.LogEvery == 0 {
			pending = append(pending, metrics.Record{Step: st.Step, Phase: st.Phase, Values: finite(st.Values)})
			if len(pending) >= 64 {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		// evaluate on held-out data; feedback rule
		if cfg.EvalEvery > 0 && st.Step%cfg.EvalEvery == 0 {
			if err := evaluate(); err != nil {
				return res, err
			}
			evaluatedAt = st.Step
		}
		// checkpoint
		if cfg.CheckpointEvery > 0 && st.Step%cfg.CheckpointEvery == 0 && st.Step < cfg.Steps {
			if err := save(); err != nil {
				return res, err
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
	if res.Stopped != "interrupted" && evaluatedAt != tr.StepCount() {
		if err := evaluate(); err != nil {
			return res, err
		}
	}
	if err := save(); err != nil {
		return res, err
	}
	res.Step = tr.StepCount()
	if l := tr.currentLedger(); l != nil {
		st := l.Stats()
		res.Ledger = &st
		log.Info("call ledger", "answered_from_ledger", st.Hits, "sent_to_target", st.Misses, "records", st.Records)
	}
	if res.Stopped == "interrupted" {
		return res, ErrInterrupted
	}
	return res, nil
}
