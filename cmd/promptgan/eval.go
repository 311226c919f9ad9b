package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/internal/plot"
	"promptgan/metrics"
	"promptgan/search"
)

// loadCheckpoint accepts a run directory or a checkpoint directory.
func loadCheckpoint(c *cli.Context) (*checkpoints.Checkpoint, string, error) {
	path, err := oneArg(c, "run or checkpoint directory")
	if err != nil {
		return nil, "", err
	}
	dir, _, err := search.ResolveCheckpoint(path)
	if err != nil {
		return nil, "", err
	}
	ck, err := checkpoints.Load(dir)
	if err != nil {
		return nil, "", err
	}
	return ck, dir, nil
}

func evalAction(c *cli.Context) error {
	ck, dir, err := loadCheckpoint(c)
	if err != nil {
		return err
	}
	temp, n := c.Float64("temperature"), c.Int("samples")
	if !(temp > 0) || temp > 10 {
		return usagef("--temperature %v: must be in (0, 10]", temp)
	}
	if n < 2 {
		return usagef("--samples %d: need at least 2", n)
	}
	res, err := search.EvaluateGenerator(ck, dir, search.EvalOptions{
		Data: c.String("data"), Temperature: temp, Samples: n, MLE: c.Bool("mle"), Seed: c.Uint64("seed"),
	})
	if errors.Is(err, search.ErrNotSequenceGAN) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, res)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, format(v)) }
	row("checkpoint", res.Checkpoint)
	row("step", res.Step)
	row("generator", res.Generator)
	row("temperature", res.Temperature)
	if res.NLLTest != nil {
		row("data", res.Data)
		row("sequences", res.Sequences)
		row("nll_test", *res.NLLTest)
	}
	row("samples", res.Samples)
	if res.NLLOracle != nil {
		row("nll_oracle", *res.NLLOracle)
	}
	row("distinct_2", res.Distinct2)
	row("self_bleu_3", res.SelfBLEU3)
	return tw.Flush()
}

func format(v any) any {
	if f, ok := v.(float64); ok {
		return fmt.Sprintf("%.4f", f)
	}
	return v
}

func inspectAction(c *cli.Context) error {
	ck, dir, err := loadCheckpoint(c)
	if err != nil {
		path, argErr := oneArg(c, "run or checkpoint directory")
		if argErr != nil {
			return err
		}
		return inspectDamaged(c.App.Writer, path, err)
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, struct {
			Dir      string               `json:"dir"`
			Manifest checkpoints.Manifest `json:"manifest"`
		}{dir, ck.Manifest})
	}
	cfg, err := search.ConfigOf(ck)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checkpoint  %s\nstep        %d of %d (%s)\nformat      %d\n", dir, ck.Manifest.Step, cfg.Steps, cfg.PhaseOf(max(ck.Manifest.Step, 1)), ck.Manifest.FormatVersion)
	fmt.Fprintf(w, "target      %s (%s)\n", cfg.Target, ck.Manifest.Fingerprints["target"])
	printUsage(w, dir, ck.Manifest.Step)
	fmt.Fprintf(w, "prompts     %d tokens; generations %d tokens\n", cfg.PromptLen, cfg.GenLen)
	fmt.Fprintf(w, "generator   vocab %d, emb %d, hidden %d\n", cfg.Generator.Vocab, cfg.Generator.Emb, cfg.Generator.Hidden)
	if cfg.IsText() {
		td := cfg.TextDiscriminator
		fmt.Fprintf(w, "discrim.    text: %d members, hidden %d, on %d-d %s embeddings\n", td.Members, td.Hidden, td.Dim, cfg.Encoder)
		fmt.Fprintf(w, "task        %s (sha256 %.12s…), split seed %d, validation %v, test %v\n", cfg.Task, ck.Manifest.Fingerprints["task"], cfg.SplitSeed, cfg.ValidationShare, cfg.TestShare)
		fmt.Fprintf(w, "prompts     vocabulary %s, template %q\n", cfg.PromptVocab, ck.Manifest.Fingerprints["template"])
	} else {
		fmt.Fprintf(w, "discrim.    %d members, emb %d, hidden %d\n", cfg.Discriminator.Members, cfg.Discriminator.Emb, cfg.Discriminator.Hidden)
		fmt.Fprintf(w, "data        train %s, test %s, prior %s, oracle %s\n", cfg.Train, orNone(cfg.Test), orNone(cfg.Prior), orNone(cfg.Oracle))
	}
	printManifestTail(w, ck, cfg)
	return nil
}

// printManifestTail prints a checkpoint's metrics, warnings and files.
func printManifestTail(w io.Writer, ck *checkpoints.Checkpoint, cfg search.Config) {
	printEvalLegend(w, ck.Manifest.Metrics, cfg)
	if len(ck.Manifest.Warnings) > 0 {
		fmt.Fprintln(w, "warnings:")
		for _, x := range ck.Manifest.Warnings {
			fmt.Fprintf(w, "  %s\n", x)
		}
	}
	fmt.Fprintln(w, "files:")
	names := make([]string, 0, len(ck.Manifest.Files))
	for n := range ck.Manifest.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s sha256 %s\n", n, ck.Manifest.Files[n])
	}
}

// inspectDamaged shows what it can of a checkpoint that does not load: its
// files with the faulty ones marked or, when the run's latest pointer is
// lost, every checkpoint of the run and whether it loads. It returns the
// load error with what to do (exit status 1).
func inspectDamaged(w io.Writer, path string, loadErr error) error {
	root := filepath.Join(path, search.CheckpointsDir)
	dir, _, rerr := search.ResolveCheckpoint(path)
	if rerr != nil {
		names, err := checkpoints.List(root)
		if err != nil {
			return loadErr // neither a checkpoint nor a run with checkpoints
		}
		fmt.Fprintf(w, "run         %s: %s/latest is missing or unreadable\ncheckpoints:\n", path, root)
		for _, n := range names {
			state := "loads"
			if _, err := checkpoints.Load(filepath.Join(root, n)); err != nil {
				state = "DAMAGED: " + err.Error()
				if _, files, verr := checkpoints.Verify(filepath.Join(root, n)); verr == nil && faulty(files) != "" {
					state = "DAMAGED: " + faulty(files)
				}
			}
			fmt.Fprintf(w, "  %-16s %s\n", n, state)
		}
		return fmt.Errorf("%w\n`promptgan resume %s --fallback` continues from the newest checkpoint that loads", loadErr, path)
	}
	m, files, err := checkpoints.Verify(dir)
	fmt.Fprintf(w, "checkpoint  %s: DAMAGED\n", dir)
	if err != nil {
		fmt.Fprintf(w, "files:\n  %-28s ✗ %v\n", "manifest.json", err)
	} else {
		fmt.Fprintf(w, "step        %d\nfiles:\n", m.Step)
		for _, f := range files {
			mark := "ok"
			if f.Fault != "" {
				mark = "✗ " + f.Fault
			}
			fmt.Fprintf(w, "  %-28s %s\n", f.Name, mark)
		}
	}
	return fmt.Errorf("%w\nthe files marked ✗ are damaged; `promptgan resume %s --fallback` continues from the newest checkpoint that loads", loadErr, path)
}

// faulty names the first faulty file of files and its fault, or "".
func faulty(files []checkpoints.FileStatus) string {
	for _, f := range files {
		if f.Fault != "" {
			return f.Name + ": " + f.Fault
		}
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func plotAction(c *cli.Context) error {
	run, err := oneArg(c, "run directory")
	if err != nil {
		return err
	}
	paths, err := plotRun(run, c.String("out"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(c.App.Writer, p)
	}
	return nil
}

// plotRun draws RUN/metrics.jsonl into out (default RUN/plots).
func plotRun(run, out string) ([]string, error) {
	recs, err := metrics.ReadRecords(filepath.Join(run, search.MetricsFile))
	if err != nil {
		return nil, err
	}
	if out == "" {
		out = filepath.Join(run, "plots")
	}
	return plot.Run(recs, out)
}

func printCompare(w io.Writer, rows []search.CompareRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "model\ttemperature\tNLL-oracle\tNLL-test")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\n", r.Model, r.Temperature, num(r.NLLOracle), num(r.NLLTest))
	}
	tw.Flush()
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func printEval(w io.Writer, vals map[string]float64) {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-12s %.4f\n", k, vals[k])
	}
}

// evalMeaning says what an evaluation figure is and which way is better
// ("" = neither: a diagnostic).
var evalMeaning = map[string]struct{ better, what string }{
	"nll_oracle":        {"lower", "per-token NLL of the generator's samples under the oracle: how real they are"},
	"nll_test":          {"lower", "the generator's per-token NLL of held-out real sequences: how well it covers them"},
	"d_real":            {"", "D's mean P(real) on held-out real data; far below its training batches' = D memorises"},
	"d_fake":            {"higher", "D's mean P(real) on the generations: how well they fool D"},
	"d_std":             {"", "spread of the D ensemble's verdicts on the generations (its uncertainty)"},
	"d_oracle_corr":     {"higher", "correlation of D's verdict with the oracle's (is D's reward the true one?)"},
	"reward":            {"higher", "mean log D of the generations, the generator's reward"},
	"distinct_2":        {"higher", "share of distinct bigrams in the generations (diversity)"},
	"distinct_3":        {"higher", "share of distinct trigrams in the generations (diversity)"},
	"self_bleu_3":       {"lower", "how much the generations repeat each other (0 = all different)"},
	"prompt_distinct_1": {"higher", "share of distinct tokens in the prompts"},
	"auc":               {"higher", "D's AUC of good vs bad held-out task items (0.5 = chance)"},
	"accuracy":          {"higher", "D's accuracy on held-out task items at P = 0.5"},
	"ece":               {"lower", "D's calibration error on held-out task items"},
	"brier":             {"lower", "D's Brier score on held-out task items"},
	"temperature":       {"", "D's calibration temperature, fitted on the validation split"},
	"calibration_bias":  {"", "D's calibration bias, fitted on the validation split"},
	"calls":             {"", "target calls so far"},
	"stabilised":        {"", "1: the threshold was passed and G's learning rate lowered"},
}

// printEvalLegend prints an evaluation with what each figure means and
// which direction is better; "best" names the metric it is the best of.
func printEvalLegend(w io.Writer, vals map[string]float64, cfg search.Config) {
	if len(vals) == 0 {
		return
	}
	rc, err := cfg.Resolved()
	if err == nil {
		cfg = rc
	}
	fmt.Fprintln(w, "last evaluation:")
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		m, ok := evalMeaning[k]
		note := m.what
		switch {
		case k == "best":
			better := "lower"
			if cfg.Metric == "d_fake" {
				better = "higher"
			}
			note = fmt.Sprintf("the run's best %s at an evaluation (%s is better): its checkpoint is checkpoints/best", cfg.Metric, better)
		case ok && m.better != "":
			note = m.better + " is better: " + note
		case !ok:
			note = ""
		}
		fmt.Fprintf(tw, "  %s\t%.4f\t%s\n", k, vals[k], note)
	}
	tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sanitize(v))
}

// sanitize replaces NaN and ±Inf (not valid JSON) by nil.
func sanitize(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sanitize(e)
		}
		return out
	}
	return v
}

// printUsage prints the token usage a remote target billed the run, as
// metrics.jsonl (beside the checkpoints directory) last recorded it up to
// step; nothing when the run has none.
func printUsage(w io.Writer, ckDir string, step int) {
	recs, err := metrics.ReadRecords(filepath.Join(filepath.Dir(filepath.Dir(ckDir)), search.MetricsFile))
	if err != nil {
		return
	}
	for i := len(recs) - 1; i >= 0; i-- {
		v := recs[i].Values
		if _, ok := v[search.UsagePromptKey]; !ok || recs[i].Step > step {
			continue
		}
		fmt.Fprintf(w, "usage       %.0f prompt + %.0f completion tokens paid (the call ledger's records, at step %d); %.0f tokens answered from the ledger, not paid again\n",
			v[search.UsagePromptKey], v[search.UsageCompletionKey], recs[i].Step, v[search.UsageSavedKey])
		return
	}
}
