package search

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
	"promptgan/internal/plot"
	"promptgan/metrics"
	"promptgan/targets/backend"
)

// WriteFinished writes the report of tr's run, which Run ended with res
// after took in run directory dir: how it stopped, its last evaluation with
// what each figure means, the checkpoint, the call ledger's counts, a
// memorising discriminator's warning and, when the run has an oracle and an
// MLE generator, the MLE-vs-GAN table with one sentence about it.
func WriteFinished(w io.Writer, tr *Trainer, res Result, dir string, took time.Duration) error {
	cfg := tr.Cfg
	calls := ""
	if !cfg.IsIdentity() {
		calls = fmt.Sprintf("; %d target calls", tr.Calls)
	}
	fmt.Fprintf(w, "finished at step %d (%s) in %s using %s%s\n", res.Step, res.Stopped, took.Round(time.Second), nn.BLAS, calls)
	WriteEvalLegend(w, res.Eval, cfg)
	fmt.Fprintf(w, "checkpoint: %s\n", res.Checkpoint)
	if l := res.Ledger; l != nil {
		fmt.Fprintf(w, "call ledger: %d calls answered from it, %d sent to the target, %d records in %s\n", l.Hits, l.Misses, l.Records, filepath.Join(dir, LedgerDir))
		if l.Paid != (backend.Usage{}) || l.Saved != (backend.Usage{}) {
			fmt.Fprintf(w, "token usage: %d prompt + %d completion tokens paid (every call in the ledger); %d prompt + %d completion tokens answered from the ledger, not paid again\n",
				l.Paid.PromptTokens, l.Paid.CompletionTokens, l.Saved.PromptTokens, l.Saved.CompletionTokens)
		}
	}
	WriteHall(w, tr.HallOfFame(), 5)
	if tr.Data.HeldOut != nil {
		if s := MemorisingWarning(dir, res.Eval); s != "" {
			fmt.Fprintln(w, s)
		}
	}
	if tr.Oracle == nil || tr.MLEWeights() == nil {
		return nil
	}
	if adv := cfg.MLESteps + cfg.DPretrainSteps + 1; res.Step < adv {
		fmt.Fprintf(w, "\nno MLE-vs-GAN table: the run stopped at step %d, before the adversarial phase (from step %d), so its generator is still the MLE one\n", res.Step, adv)
		return nil
	}
	ck, err := checkpoints.Load(res.Checkpoint)
	if err != nil {
		return err
	}
	rows, err := CompareCheckpoint(ck, tr, []float64{0.8, 0.9, 1.0, 1.1}, cfg.EvalSamples, cfg.EvalTest)
	if err != nil {
		return err
	}
	testN := "all"
	if cfg.EvalTest != 0 {
		testN = fmt.Sprint(cfg.EvalTest)
	}
	fmt.Fprintf(w, "\nMLE (end of pre-training) vs GAN (now): NLL-oracle of %d samples, NLL-test of %s test sequences (per token, lower is better)\n", cfg.EvalSamples, testN)
	WriteCompare(w, rows)
	if s := CompareSentence(rows, 1.0); s != "" {
		fmt.Fprintln(w, s)
	}
	return nil
}

// Plot draws run's metrics.jsonl as PNG files in out (default run/plots)
// and returns their paths.
func Plot(run, out string) ([]string, error) {
	recs, err := metrics.ReadRecords(filepath.Join(run, MetricsFile))
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = filepath.Join(run, "plots")
	}
	pts := make([]plot.Record, len(recs))
	for i, r := range recs {
		pts[i] = plot.Record(r)
	}
	return plot.Run(pts, out)
}

// WriteHall writes the best n prompts of a text run's hall of fame (the
// learned prompts whose generation D rated highest at evaluations) with
// D's calibrated score and its members' spread; nothing for a token run.
// One generation backs each score: `promptgan search` or `score` verifies
// them on many, with standard errors.
func WriteHall(w io.Writer, hall []HallEntry, n int) {
	if len(hall) == 0 || hall[0].PromptText == "" {
		return
	}
	fmt.Fprintf(w, "learned prompts (the hall of fame's best %d, each scored on one generation; `promptgan search` verifies them on many):\n", min(n, len(hall)))
	fmt.Fprintf(w, "  %-7s %-7s %-5s %s\n", "d", "spread", "step", "prompt")
	for _, h := range hall[:min(n, len(hall))] {
		fmt.Fprintf(w, "  %-7.3f %-7.3f %-5d %q\n", h.DScore, h.DStd, h.Step, h.PromptText)
	}
}
