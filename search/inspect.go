package search

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"promptgan/checkpoints"
	"promptgan/metrics"
)

// Inspect writes what the checkpoint at path (a run or checkpoint
// directory) holds: step, config, metrics, warnings and file hashes, or
// with asJSON its directory and manifest. A checkpoint that does not load
// is shown as far as it can be (inspectDamaged) and the load error returned.
func Inspect(w io.Writer, path string, asJSON bool) error {
	dir, _, err := ResolveCheckpoint(path)
	if err != nil {
		return inspectDamaged(w, path, err)
	}
	ck, err := checkpoints.Load(dir)
	if err != nil {
		return inspectDamaged(w, path, err)
	}
	if asJSON {
		return WriteJSON(w, struct {
			Dir      string               `json:"dir"`
			Manifest checkpoints.Manifest `json:"manifest"`
		}{dir, ck.Manifest})
	}
	cfg, err := ConfigOf(ck)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "checkpoint  %s\nstep        %d of %d (%s)\nformat      %d\n", dir, ck.Manifest.Step, cfg.Steps, cfg.PhaseOf(max(ck.Manifest.Step, 1)), ck.Manifest.FormatVersion)
	fmt.Fprintf(w, "target      %s (%s)\n", cfg.Target, ck.Manifest.Fingerprints["target"])
	writeUsage(w, dir, ck.Manifest.Step)
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
	WriteEvalLegend(w, ck.Manifest.Metrics, cfg)
	if raw, ok := ck.JSON[fileHallJSON]; ok {
		var hall []HallEntry
		if err := json.Unmarshal(raw, &hall); err != nil {
			return fmt.Errorf("%s: %s: %w", dir, fileHallJSON, err)
		}
		WriteHall(w, hall, 5)
	}
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
	return nil
}

// inspectDamaged shows what it can of a checkpoint that does not load: its
// files with the faulty ones marked or, when the run's latest pointer is
// lost, every checkpoint of the run and whether it loads. It returns the
// load error with what to do (exit status 1).
func inspectDamaged(w io.Writer, path string, loadErr error) error {
	root := filepath.Join(path, CheckpointsDir)
	dir, _, rerr := ResolveCheckpoint(path)
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

// writeUsage writes the token usage a remote target billed the run, as
// metrics.jsonl (beside the checkpoints directory) last recorded it up to
// step; nothing when the run has none.
func writeUsage(w io.Writer, ckDir string, step int) {
	recs, err := metrics.ReadRecords(filepath.Join(filepath.Dir(filepath.Dir(ckDir)), MetricsFile))
	if err != nil {
		return
	}
	for i := len(recs) - 1; i >= 0; i-- {
		v := recs[i].Values
		if _, ok := v[UsagePromptKey]; !ok || recs[i].Step > step {
			continue
		}
		fmt.Fprintf(w, "usage       %.0f prompt + %.0f completion tokens paid (the call ledger's records, at step %d); %.0f tokens answered from the ledger, not paid again\n",
			v[UsagePromptKey], v[UsageCompletionKey], recs[i].Step, v[UsageSavedKey])
		return
	}
}
