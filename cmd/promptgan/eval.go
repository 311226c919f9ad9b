package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/internal/plot"
	"promptgan/metrics"
	"promptgan/search"
	"promptgan/task"
)

// loadCheckpoint accepts a run directory or a checkpoint directory.
func loadCheckpoint(c *cli.Context) (*checkpoints.Checkpoint, string, error) {
	path, err := oneArg(c, "run or checkpoint directory")
	if err != nil {
		return nil, "", err
	}
	dir, _, err := resolveCheckpoint(path)
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
	temp := c.Float64("temperature")
	if !(temp > 0) || temp > 10 {
		return usagef("--temperature %v: must be in (0, 10]", temp)
	}
	n := c.Int("samples")
	if n < 2 {
		return usagef("--samples %d: need at least 2", n)
	}
	if search.IsSteerCheckpoint(ck) {
		return usagef("%s is a steer run (target model): eval scores identity-target runs; its evaluations are in the run's %s and `promptgan inspect`", dir, search.MetricsFile)
	}
	cfg, err := search.ConfigOf(ck)
	if err != nil {
		return err
	}
	file := "generator.safetensors"
	if c.Bool("mle") {
		file = "mle_generator.safetensors"
	}
	g, err := search.GeneratorFrom(ck, file)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	res := map[string]any{"checkpoint": dir, "step": ck.Manifest.Step, "generator": file, "temperature": temp}
	data := c.String("data")
	if data == "" {
		data = cfg.Test
	}
	T := cfg.SeqLen
	if data != "" {
		seqs, err := task.LoadSequences(data, cfg.Generator.Vocab, T)
		if err != nil {
			return err
		}
		res["data"] = data
		res["sequences"] = seqs.N
		res["nll_data"] = search.MeanNLL(g, seqs.Tokens, seqs.N, T, temp)
	}
	samples := search.SampleBatched(g, n, T, temp, nn.NewRNG(c.Uint64("seed"), 7))
	ints := task.ToInts(samples, n, T)
	res["distinct_2"] = metrics.DistinctN(ints, 2)
	res["self_bleu_3"] = metrics.SelfBLEU(ints, 3, 200)
	if cfg.Oracle != "" {
		oracle, err := generator.LoadOracle(cfg.Oracle)
		if err != nil {
			return err
		}
		res["nll_oracle"] = search.MeanNLL(oracle, samples, n, T, 1)
		res["samples"] = n
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, res)
	}
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%v\n", k, format(res[k]))
	}
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
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, struct {
			Dir      string               `json:"dir"`
			Manifest checkpoints.Manifest `json:"manifest"`
		}{dir, ck.Manifest})
	}
	if search.IsSteerCheckpoint(ck) {
		return inspectSteer(w, dir, ck)
	}
	cfg, err := search.ConfigOf(ck)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checkpoint  %s\nstep        %d of %d (%s)\nformat      %d\n", dir, ck.Manifest.Step, cfg.Steps, cfg.PhaseOf(max(ck.Manifest.Step, 1)), ck.Manifest.FormatVersion)
	fmt.Fprintf(w, "generator   vocab %d, emb %d, hidden %d\n", cfg.Generator.Vocab, cfg.Generator.Emb, cfg.Generator.Hidden)
	fmt.Fprintf(w, "discrim.    %d members, emb %d, hidden %d\n", cfg.Discriminator.Members, cfg.Discriminator.Emb, cfg.Discriminator.Hidden)
	fmt.Fprintf(w, "data        train %s, test %s, oracle %s\n", cfg.Train, orNone(cfg.Test), orNone(cfg.Oracle))
	printManifestTail(w, ck)
	return nil
}

// inspectSteer prints a steer run's checkpoint.
func inspectSteer(w io.Writer, dir string, ck *checkpoints.Checkpoint) error {
	cfg, err := search.SteerRunConfigOf(ck)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checkpoint  %s\nstep        %d of %d (%s)\nformat      %d\n", dir, ck.Manifest.Step, cfg.Steps, cfg.PhaseOf(max(ck.Manifest.Step, 1)), ck.Manifest.FormatVersion)
	fmt.Fprintf(w, "target      %s (%s)\n", cfg.Target, ck.Manifest.Fingerprints["target"])
	fmt.Fprintf(w, "prompts     %d tokens; generations %d tokens\n", cfg.PromptLen, cfg.GenLen)
	fmt.Fprintf(w, "generator   vocab %d, emb %d, hidden %d\n", cfg.Generator.Vocab, cfg.Generator.Emb, cfg.Generator.Hidden)
	fmt.Fprintf(w, "discrim.    %d members, emb %d, hidden %d\n", cfg.Discriminator.Members, cfg.Discriminator.Emb, cfg.Discriminator.Hidden)
	fmt.Fprintf(w, "data        train %s, prior %s\n", cfg.Train, orNone(cfg.Prior))
	printManifestTail(w, ck)
	return nil
}

// printManifestTail prints a checkpoint's metrics, warnings and files.
func printManifestTail(w io.Writer, ck *checkpoints.Checkpoint) {
	printEval(w, ck.Manifest.Metrics)
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

// compareCheckpoint builds the MLE-vs-GAN table of a checkpoint.
func compareCheckpoint(ck *checkpoints.Checkpoint, tr *search.Trainer, temps []float64, samples, testN int) ([]search.CompareRow, error) {
	mle, err := search.GeneratorFrom(ck, "mle_generator.safetensors")
	if err != nil {
		return nil, err
	}
	gan, err := search.GeneratorFrom(ck, "generator.safetensors")
	if err != nil {
		return nil, err
	}
	models := []search.NamedGenerator{{Name: "MLE", G: mle}, {Name: "GAN", G: gan}}
	return search.Compare(models, tr.Oracle, tr.Test, testN, tr.Cfg.SeqLen, temps, samples, tr.Cfg.Seed), nil
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
