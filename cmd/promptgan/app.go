package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"promptgan/search"
)

// newApp builds the CLI with every way of failing routed to an error
// (routeExits), so that tests and main see the same exit statuses.
func newApp() *cli.App {
	app := &cli.App{
		Name:         "promptgan",
		Usage:        "GAN-style adversarial prompt search: train a generator against a discriminator",
		OnUsageError: onUsage,
		Commands: []*cli.Command{
			{
				Name:      "train",
				Usage:     "train a generator and discriminator from a preset and/or a YAML config",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "preset", Value: "quick", Usage: "built-in config to start from: " + strings.Join(search.PresetNames(), ", ")},
					&cli.StringFlag{Name: "config", Usage: "YAML file applied on top of the preset (unknown keys are errors)"},
					&cli.StringFlag{Name: "out", Value: "runs/train", Usage: "run directory (metrics.jsonl, checkpoints/, plots/)"},
					&cli.IntFlag{Name: "steps", Usage: "total training steps of the run (MLE + D pre-training + adversarial)", DefaultText: "the preset's: " + presetValues(func(c search.Config) int { return c.Steps })},
					&cli.Uint64Flag{Name: "seed", Usage: "seed of every random stream", DefaultText: "the config's seed, 1 in every preset"},
					&cli.StringFlag{Name: "train", Usage: "file of real sequences (overrides the config's train)"},
					&cli.StringFlag{Name: "test", Usage: "held-out sequences (overrides the config's test)"},
					&cli.StringFlag{Name: "oracle", Usage: "SeqGAN oracle safetensors (overrides the config's oracle)"},
					&cli.BoolFlag{Name: "quiet", Usage: "no progress bar or log lines, only the result"},
					&cli.BoolFlag{Name: "no-cache", Usage: "with ledger: true, send every call to the target (new results are still recorded)"},
					&cli.StringFlag{Name: "target", Usage: "identity, or the Optimum-layout directory of a model (model.onnx, config.json[, tokenizer.json]) to search prompts for: --train is then the references and the run starts from the steer preset"},
					&cli.StringFlag{Name: "ort-lib", Usage: "model target: " + ortLibUsage},
					&cli.StringFlag{Name: "device", Value: "cpu", Usage: "model target: execution provider cpu, cuda or auto"},
					&cli.StringFlag{Name: "prior", Usage: "prompts (prompt_len token ids a line) to pre-train the generator on (the identity target uses --train)"},
					&cli.IntFlag{Name: "prompt-len", Usage: "tokens per prompt (overrides the config's prompt_len)", DefaultText: "the preset's: " + presetValues(func(c search.Config) int { return c.PromptLen })},
					&cli.IntFlag{Name: "gen-len", Usage: "tokens of each generation the discriminator reads, the references' length (overrides gen_len; 0 = prompt-len, the identity target's)", DefaultText: "the preset's: " + presetValues(func(c search.Config) int { return c.GenLen })},
					&cli.IntFlag{Name: "max-new-tokens", Usage: "model target: tokens decoded per prompt, >= gen-len (overrides max_new_tokens)", DefaultText: "0 = gen-len"},
					&cli.Float64Flag{Name: "target-temperature", Usage: "ONNX target: its sampling temperature (overrides target_temperature)", DefaultText: "the model's generation_config.json, else 1"},
					&cli.Float64Flag{Name: "target-top-p", Usage: "ONNX target: its nucleus cut in (0, 1] (overrides target_top_p)", DefaultText: "the model's generation_config.json, else none"},
					&cli.StringFlag{Name: "task", Usage: "text run: a text task (JSONL {\"input\",\"good\",\"bad\"} or {\"text\",\"label\"}) or a built-in name (sentiment); needs --target DIR with tokenizer.json; starts from the text preset"},
					&cli.StringFlag{Name: "template", Usage: "text run: how prompt and input are joined for the target, with {prompt} and {input} (overrides template; default: the model's promptgan.json, else {prompt})"},
					&cli.StringFlag{Name: "encoder", Usage: "text run: sentence encoder glove-sif, hashing[:DIM] or onnx:DIR (overrides encoder)"},
					&cli.StringFlag{Name: "prompt-vocab", Usage: "text run: what the generator's tokens are: words, phrases:FILE or target (overrides prompt_vocab)"},
					&cli.StringFlag{Name: "prompt-examples", Usage: "text run: example prompts, one a line, that G pre-trains on by MLE (and whose words make a words vocabulary; overrides prompt_examples), or instructions: the English LM's"},
					&cli.IntFlag{Name: "mle-steps", Usage: "generator MLE pre-training steps on the prior (overrides mle_steps; a text run with --prompt-examples needs some, e.g. 200)", DefaultText: "the preset's: " + presetValues(func(c search.Config) int { return c.MLESteps })},
					&cli.BoolFlag{Name: "labelled-as-target", Usage: "text run: D reads the task's texts as the target writes them, through its tokenizer (overrides labelled_as_target)", DefaultText: "true in a text run"},
					&cli.StringFlag{Name: "base-url", Usage: "--target openai:MODEL: the OpenAI-compatible server's API root, e.g. http://127.0.0.1:8000/v1 (overrides openai.base_url)"},
					&cli.StringFlag{Name: "api-key-env", Usage: "--target openai:MODEL: environment variable holding the API key (overrides openai.api_key_env)", DefaultText: "OPENAI_API_KEY"},
					&cli.StringFlag{Name: "endpoint", Usage: "--target openai:MODEL: completions (continue the prompt) or chat (the context as one user message) (overrides openai.endpoint)", DefaultText: "completions"},
				},
				Action: trainAction,
			},
			{
				Name:      "resume",
				Usage:     "continue a run from its latest checkpoint, bit-exactly",
				ArgsUsage: "RUN_DIR",
				Flags: []cli.Flag{
					&cli.IntFlag{Name: "steps", Usage: "continue until this many total steps", DefaultText: "the run's own budget"},
					&cli.StringFlag{Name: "config", Usage: "YAML applied on top of the run's config (e.g. a new learning rate); shape changes are refused, others are recorded in the manifest"},
					&cli.BoolFlag{Name: "fallback", Usage: "if the latest checkpoint is damaged, resume from the newest one that loads"},
					&cli.BoolFlag{Name: "no-cache", Usage: "with ledger: true, send every call to the target (new results are still recorded)"},
					&cli.StringFlag{Name: "ort-lib", Usage: "model target: " + ortLibUsage},
					&cli.StringFlag{Name: "device", Usage: "model target: execution provider cpu, cuda or auto", DefaultText: "the run's"},
					&cli.StringFlag{Name: "base-url", Usage: "openai target: the server's new API root", DefaultText: "the run's"},
					&cli.BoolFlag{Name: "quiet", Usage: "no progress bar or log lines, only the result"},
				},
				Action: resumeAction,
			},
			{
				Name:      "eval",
				Usage:     "score a checkpoint's generator: NLL of a data file, NLL-oracle of fresh samples",
				ArgsUsage: "RUN_OR_CHECKPOINT_DIR",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "data", Usage: "sequences to score (default: the run's test file)"},
					&cli.Float64Flag{Name: "temperature", Value: 1, Usage: "sampling and scoring temperature"},
					&cli.IntFlag{Name: "samples", Value: 2000, Usage: "fresh samples for NLL-oracle and diversity"},
					&cli.BoolFlag{Name: "mle", Usage: "evaluate the generator saved at the end of MLE pre-training instead"},
					&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the evaluation samples"},
					&cli.BoolFlag{Name: "json", Usage: "print JSON"},
				},
				Action: evalAction,
			},
			{
				Name:      "inspect",
				Usage:     "show a checkpoint: step, config, metrics, file hashes",
				ArgsUsage: "RUN_OR_CHECKPOINT_DIR",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the manifest as JSON"}},
				Action:    inspectAction,
			},
			{
				Name:      "plot",
				Usage:     "draw a run's losses, D(real)/D(fake) and held-out metrics as PNG files",
				ArgsUsage: "RUN_DIR",
				Flags:     []cli.Flag{&cli.StringFlag{Name: "out", Usage: "directory for the PNGs (default RUN_DIR/plots)"}},
				Action:    plotAction,
			},
			{
				Name:  "bench",
				Usage: "run a benchmark",
				Subcommands: []*cli.Command{
					{
						Name:  "seqgan-oracle",
						Usage: "MLE vs GAN on the SeqGAN synthetic-oracle benchmark: NLL-oracle and NLL-test across temperatures",
						Flags: []cli.Flag{
							&cli.BoolFlag{Name: "quick", Usage: "the demo budget instead of the full one"},
							&cli.StringFlag{Name: "config", Usage: "YAML file applied on top of the preset (e.g. another credit scheme)"},
							&cli.BoolFlag{Name: "json", Usage: "print JSON"},
							&cli.StringFlag{Name: "out", Value: "runs/bench-seqgan-oracle", Usage: "run directory"},
							&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the run"},
							&cli.IntFlag{Name: "samples", Value: 10000, Usage: "samples per NLL-oracle figure"},
						},
						Action: benchSeqGANAction,
					},
					steerOracleCommand(),
					benchDecodeCommand(),
					textDiscCommand(),
					steerabilityCommand(),
					englishSearchCommand(),
					benchServeCommand(),
				},
			},
			scoreCommand(),
			demoCommand(),
			searchCommand(),
			exportCommand(),
			doctorCommand(),
			serveCommand(),
		},
	}
	routeExits(app)
	return app
}

// onUsage makes a bad flag a usage error (exit status 2); routeExits gives
// it to every command without its own.
func onUsage(_ *cli.Context, err error, _ bool) error { return usageError{err} }

// presetValues lists a field's value in each preset ("quick 3200,
// seqgan-oracle 10200, …"), the defaults a flag that overrides it has.
func presetValues(field func(search.Config) int) string {
	var parts []string
	for _, name := range search.PresetNames() {
		if c, err := search.Preset(name); err == nil {
			parts = append(parts, fmt.Sprintf("%s %d", name, field(c)))
		}
	}
	return strings.Join(parts, ", ")
}
