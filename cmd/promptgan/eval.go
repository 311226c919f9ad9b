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
	search.WriteEvalLegend(w, ck.Manifest.Metrics, cfg)
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
	pts := make([]plot.Record, len(recs))
	for i, r := range recs {
		pts[i] = plot.Record(r)
	}
	return plot.Run(pts, out)
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
