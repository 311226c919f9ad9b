package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"promptgan/internal/interrupt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/internal/ort"
	"promptgan/search"
	"promptgan/targets/ledger"
)

// targetFlags are shared by score and search: how the target runs, and the output.
func targetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ort-lib", Usage: ortLibUsage},
		&cli.StringFlag{Name: "device", Usage: "execution provider cpu, cuda or auto (default: the run's)"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON"},
	}
}

func scoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "score",
		Usage: "score prompts (arguments, --file, or stdin one a line) with a text run's calibrated discriminator on what the target writes for them, or (input, generation) pairs with --pairs (no target call)",
		Description: "Each prompt is filled into the run's template with the test split's inputs (or, for an input-free task, continued --samples times)\n" +
			"and sent to the target through the run's call ledger; the report is D's mean calibrated score, the members' spread,\n" +
			"the score's spread over the generations and, for tasks with inputs, BLEU-2 against the inputs' good references.",
		ArgsUsage: "RUN_DIR|CHECKPOINT [PROMPT...]",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "file", Usage: "prompts, one a line (- = stdin)"},
			&cli.StringFlag{Name: "pairs", Usage: "JSONL of {\"input\": ..., \"generation\": ...} to score without the target (- = stdin)"},
			&cli.BoolFlag{Name: "onnx", Usage: "with --pairs: score through ONNX Runtime with the exported discriminator instead of the Go forward pass"},
			&cli.IntFlag{Name: "samples", Value: 16, Usage: "generations per prompt"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the target requests (the same seed asks the same requests, answered from the ledger)"},
			&cli.BoolFlag{Name: "show", Usage: "print every generation with its score"},
		}, targetFlags()...),
		Action: scoreAction,
	}
}

func searchCommand() *cli.Command {
	return &cli.Command{
		Name:      "search",
		Usage:     "draw prompts from a text run's generator, rank the distinct ones by the discriminator on a few generations each, verify the best on the target, print the ranked list",
		ArgsUsage: "RUN_DIR|CHECKPOINT",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "n", Value: 256, Usage: "prompts drawn from the generator (before deduplication)"},
			&cli.Float64Flag{Name: "temperature", Value: 1, Usage: "the generator's sampling temperature"},
			&cli.IntFlag{Name: "screen", Value: 1, Usage: "generations per distinct prompt in the cheap ranking stage"},
			&cli.IntFlag{Name: "top", Value: 10, Usage: "prompts verified"},
			&cli.IntFlag{Name: "verify", Value: 16, Usage: "generations per verified prompt"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the draws and of the target requests"},
			&cli.BoolFlag{Name: "show", Usage: "print the verified prompts' generations"},
		}, targetFlags()...),
		Action: searchAction,
	}
}

// loadTextRun reopens a text run (search.OpenRun) for scoring: with its
// target (withTarget) or without (pairs only). close releases the target and
// the ledger.
func loadTextRun(c *cli.Context, path string, withTarget bool) (tr *search.Trainer, close func(), err error) {
	device := ""
	if c.IsSet("device") {
		device = c.String("device")
	}
	run, err := search.OpenRun(c.Context, path, device, search.OpenOptions{
		Library: c.String("ort-lib"), NoTarget: !withTarget, Logger: slog.New(slog.NewTextHandler(c.App.ErrWriter, nil)),
	})
	switch {
	case errors.Is(err, search.ErrNotText):
		return nil, nil, usageError{err}
	case errors.Is(err, ledger.ErrLocked):
		// Most often the holder is `promptgan serve --run` on this run,
		// which keeps the ledger for as long as it serves.
		return nil, nil, fmt.Errorf("%w: if it is `promptgan serve --run %s`, score through its API (POST /v1/score/prompts, POST /v1/search) or stop the server; otherwise stop it or wait for it to finish", err, path)
	case err != nil:
		return nil, nil, err
	}
	return run.Trainer, func() {
		if err := run.Close(); err != nil {
			fmt.Fprintf(c.App.ErrWriter, "promptgan: warning: call ledger: %v\n", err)
		}
	}, nil
}

func scoreAction(c *cli.Context) error {
	if c.NArg() < 1 {
		return usagef("score needs a run directory or checkpoint, then prompts (or --file, --pairs, or prompts on stdin)")
	}
	path, args := c.Args().First(), c.Args().Tail()
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usagef("%q after the run directory: flags go first (promptgan score --samples 4 RUN_DIR \"a prompt\"); a prompt that starts with - goes in --file", a)
		}
	}
	pairsFile := c.String("pairs")
	if pairsFile != "" && (len(args) > 0 || c.IsSet("file")) {
		return usagef("--pairs scores (input, generation) pairs: give no prompts with it")
	}
	if c.Int("samples") < 1 {
		return usagef("--samples %d: each prompt needs at least one generation", c.Int("samples"))
	}
	ctx, stop, _ := interrupt.Context(c.Context, c.App.ErrWriter, onSignalScore)
	defer stop()
	w := c.App.Writer
	if pairsFile != "" {
		pairs, err := readInput(c, pairsFile, search.ReadPairs)
		if err != nil {
			return err
		}
		if len(pairs) == 0 {
			if pairsFile == "-" {
				pairsFile = "stdin"
			}
			return usagef("%s: no pairs", pairsFile)
		}
		tr, closeRun, err := loadTextRun(c, path, false)
		if err != nil {
			return err
		}
		defer closeRun()
		var scorer search.PairScorer
		if c.Bool("onnx") {
			device, err := ort.ParseDevice(cmp.Or(c.String("device"), "cpu"))
			if err != nil {
				return usageError{fmt.Errorf("--device: %w", err)}
			}
			s, closeScorer, err := tr.ONNXPairScorer(c.String("ort-lib"), ort.Options{Device: device})
			if err != nil {
				return err
			}
			defer closeScorer()
			scorer = s
		}
		scores, err := tr.ScorePairs(ctx, pairs, scorer)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return search.WriteJSON(w, scores)
		}
		search.WritePairScores(w, scores)
		return nil
	}
	prompts := args
	if file := c.String("file"); file != "" || len(prompts) == 0 {
		more, err := readInput(c, cmp.Or(file, "-"), search.ReadLines)
		if err != nil {
			return err
		}
		prompts = append(prompts, more...)
	}
	if len(prompts) == 0 {
		return usagef("no prompts: give them as arguments, with --file, or on stdin one a line")
	}
	tr, closeRun, err := loadTextRun(c, path, true)
	if err != nil {
		return err
	}
	defer closeRun()
	scores, err := tr.ScorePrompts(ctx, prompts, search.ScoreOptions{Samples: c.Int("samples"), Seed: c.Uint64("seed"), Keep: c.Bool("show")})
	if err != nil {
		return err
	}
	slices.SortStableFunc(scores, func(a, b search.PromptScore) int { return cmp.Compare(b.Score, a.Score) }) // best first
	if c.Bool("json") {
		return search.WriteJSON(w, scores)
	}
	fmt.Fprintf(w, "D's calibrated score (probability that a generation is good) over %d generations per prompt; spread = the members' disagreement\n", c.Int("samples"))
	search.WritePromptScores(w, scores, c.Bool("show"))
	return nil
}

func searchAction(c *cli.Context) error {
	path, err := oneArg(c, "run directory or checkpoint")
	if err != nil {
		return err
	}
	opt := search.SearchOptions{
		Draws: c.Int("n"), Temperature: c.Float64("temperature"), Screen: c.Int("screen"),
		Top: c.Int("top"), Verify: c.Int("verify"), Seed: c.Uint64("seed"),
	}
	if opt.Draws < 1 || opt.Screen < 1 || opt.Top < 1 || opt.Verify < 1 || !(opt.Temperature > 0) {
		return usagef("--n, --screen, --top and --verify must be >= 1 and --temperature > 0")
	}
	ctx, stop, _ := interrupt.Context(c.Context, c.App.ErrWriter, onSignalScore)
	defer stop()
	tr, closeRun, err := loadTextRun(c, path, true)
	if err != nil {
		return err
	}
	defer closeRun()
	res, err := tr.SearchPrompts(ctx, opt)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return search.WriteJSON(w, res)
	}
	fmt.Fprintf(w, "drew %d prompts (%d distinct), ranked them by D on %d generation(s) each, verified the top %d on %d generations each; %d target requests\n\n",
		res.Drawn, res.Distinct, opt.Screen, len(res.Verified), opt.Verify, res.Calls)
	search.WritePromptScores(w, res.Verified, c.Bool("show"))
	return nil
}

// readInput reads the file name, or stdin for "-", with read
// (search.ReadLines, search.ReadPairs).
func readInput[T any](c *cli.Context, name string, read func(io.Reader, string) ([]T, error)) ([]T, error) {
	if name == "-" {
		return read(c.App.Reader, "stdin")
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f, name)
}

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a text run's discriminator as ONNX (opset 17) for ONNX Runtime serving, with a JSON description of its features",
		ArgsUsage: "RUN_DIR|CHECKPOINT",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "directory for discriminator.onnx and discriminator.json (default: the run's directory, export/)"},
		},
		Action: exportAction,
	}
}

func exportAction(c *cli.Context) error {
	path, err := oneArg(c, "run directory or checkpoint")
	if err != nil {
		return err
	}
	tr, closeRun, err := loadTextRun(c, path, false)
	if err != nil {
		return err
	}
	defer closeRun()
	out, err := search.ExportDir(path, c.String("out"))
	if err != nil {
		return err
	}
	desc, size, err := tr.WriteDiscriminator(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "wrote %s (%d bytes; input \"features\" [N, %d], outputs \"score\", \"spread\", \"logits\") and discriminator.json to %s\n", search.DiscriminatorFile, size, desc.Features, out)
	return nil
}
