package search

import (
	"errors"
	"fmt"
	"math"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/task"
)

// GeneratorFrom rebuilds a generator from one of a checkpoint's weight files:
// "generator.safetensors" (the run's current G) or
// "mle_generator.safetensors" (G at the end of MLE pre-training).
func GeneratorFrom(ck *checkpoints.Checkpoint, file string) (*generator.Model, error) {
	cfg, err := ConfigOf(ck)
	if err != nil {
		return nil, err
	}
	if err := cfg.Generator.Validate(); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	ts, ok := ck.Tensors[file]
	if !ok {
		return nil, fmt.Errorf("checkpoint has no %s", file)
	}
	ws, err := toArrays(file, ts)
	if err != nil {
		return nil, err
	}
	g := generator.New(cfg.Generator, nn.NewRNG(0, 0))
	if err := g.Params().SetWeights(ws); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return g, nil
}

// CompareRow is one line of the MLE-vs-GAN table.
type CompareRow struct {
	Model       string  `json:"model"`
	Temperature float64 `json:"temperature"`
	NLLOracle   float64 `json:"nll_oracle"` // NaN without an oracle
	NLLTest     float64 `json:"nll_test"`   // NaN without test data
}

// Compare measures each named generator at each temperature: NLL-oracle of
// `samples` fresh sequences (quality) and NLL-test of the first testN test
// sequences (all if testN is 0) under the tempered model (coverage). Samples are drawn from the same
// seeded stream for every model and temperature.
func Compare(models []NamedGenerator, oracle *generator.Model, test *task.Sequences, testN, T int, temps []float64, samples int, seed uint64) []CompareRow {
	var rows []CompareRow
	for _, m := range models {
		for _, temp := range temps {
			row := CompareRow{Model: m.Name, Temperature: temp, NLLOracle: math.NaN(), NLLTest: math.NaN()}
			if oracle != nil {
				s := generator.SampleBatched(m.G, samples, T, temp, nn.NewRNG(seed, streamEval-1))
				row.NLLOracle = generator.MeanNLL(oracle, s, samples, T, 1)
			}
			if test != nil {
				n := test.N
				if testN > 0 && testN < n {
					n = testN
				}
				row.NLLTest = generator.MeanNLL(m.G, test.Tokens[:n*test.T], n, test.T, temp)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// NamedGenerator labels a generator in a comparison.
type NamedGenerator struct {
	Name string
	G    *generator.Model
}

// GeneratorEval is what EvaluateGenerator reports of one checkpoint's G.
type GeneratorEval struct {
	Checkpoint  string   `json:"checkpoint"`
	Step        int      `json:"step"`
	Generator   string   `json:"generator"` // the weight file scored
	Temperature float64  `json:"temperature"`
	Data        string   `json:"data,omitempty"`      // the file scored, when there is one
	Sequences   int      `json:"sequences,omitempty"` // its sequences
	NLLTest     *float64 `json:"nll_test,omitempty"`  // G's per-token NLL of them at Temperature
	Samples     int      `json:"samples"`             // fresh samples drawn at Temperature
	NLLOracle   *float64 `json:"nll_oracle,omitempty"`
	Distinct2   float64  `json:"distinct_2"`
	SelfBLEU3   float64  `json:"self_bleu_3"`
}

// EvalOptions choose what EvaluateGenerator scores.
type EvalOptions struct {
	Data        string  // sequences to score; "" = the run's test file
	Temperature float64 // sampling and scoring temperature, in (0, 10]
	Samples     int     // fresh samples for NLL-oracle and diversity, >= 2
	MLE         bool    // G at the end of MLE pre-training instead of the current G
	Seed        uint64  // seed of the samples
}

// EvaluateGenerator scores the generator of a sequence-GAN (identity
// target) checkpoint in directory dir: the NLL of a data file, and the
// NLL-oracle and diversity of fresh samples. A prompt-search checkpoint is
// refused: its evaluations are in the run's metrics.jsonl.
func EvaluateGenerator(ck *checkpoints.Checkpoint, dir string, opt EvalOptions) (GeneratorEval, error) {
	// The options are eval's flags: a bad one is a usage error.
	if !(opt.Temperature > 0) || opt.Temperature > 10 {
		return GeneratorEval{}, badConfig{fmt.Errorf("--temperature %v: must be in (0, 10]", opt.Temperature)}
	}
	if opt.Samples < 2 {
		return GeneratorEval{}, badConfig{fmt.Errorf("--samples %d: need at least 2", opt.Samples)}
	}
	cfg, err := ConfigOf(ck)
	if err != nil {
		return GeneratorEval{}, err
	}
	if !cfg.IsIdentity() {
		hint := ""
		if cfg.IsText() {
			hint = "; score prompts with `promptgan score`, find good ones with `promptgan search`"
		}
		return GeneratorEval{}, fmt.Errorf("%w: %s searched prompts for a model (%s); its evaluations are in the run's %s and `promptgan inspect`%s", ErrNotSequenceGAN, dir, cfg.Target, MetricsFile, hint)
	}
	file := fileGen
	if opt.MLE {
		file = fileMLEGen
	}
	g, err := GeneratorFrom(ck, file)
	if err != nil {
		return GeneratorEval{}, fmt.Errorf("%s: %w", dir, err)
	}
	T, n, temp := cfg.PromptLen, opt.Samples, opt.Temperature
	res := GeneratorEval{Checkpoint: dir, Step: ck.Manifest.Step, Generator: file, Temperature: temp, Samples: n}
	data := opt.Data
	if data == "" {
		data = cfg.Test
	}
	if data != "" {
		seqs, err := task.LoadSequences(data, cfg.Generator.Vocab, T)
		if err != nil {
			return GeneratorEval{}, err
		}
		nll := generator.MeanNLL(g, seqs.Tokens, seqs.N, T, temp)
		res.Data, res.Sequences, res.NLLTest = data, seqs.N, &nll
	}
	samples := generator.SampleBatched(g, n, T, temp, nn.NewRNG(opt.Seed, 7))
	ints := task.ToInts(samples, n, T)
	res.Distinct2 = metrics.DistinctN(ints, 2)
	res.SelfBLEU3 = metrics.SelfBLEU(ints, 3, 200)
	if cfg.Oracle != "" {
		oracle, err := generator.LoadOracle(cfg.Oracle)
		if err != nil {
			return GeneratorEval{}, err
		}
		nll := generator.MeanNLL(oracle, samples, n, T, 1)
		res.NLLOracle = &nll
	}
	return res, nil
}

// ErrNotSequenceGAN: an identity-target operation was asked of a prompt-search run.
var ErrNotSequenceGAN = errors.New("not a sequence-GAN run")

// CompareCheckpoint builds the MLE-vs-GAN table of a sequence-GAN checkpoint
// of tr's run: NLL-oracle of samples fresh samples and NLL-test of testN
// held-out sequences (0 = all) at each temperature.
func CompareCheckpoint(ck *checkpoints.Checkpoint, tr *Trainer, temps []float64, samples, testN int) ([]CompareRow, error) {
	mle, err := GeneratorFrom(ck, fileMLEGen)
	if err != nil {
		return nil, err
	}
	gan, err := GeneratorFrom(ck, fileGen)
	if err != nil {
		return nil, err
	}
	models := []NamedGenerator{{Name: "MLE", G: mle}, {Name: "GAN", G: gan}}
	return Compare(models, tr.Oracle, tr.Data.HeldOut, testN, tr.Cfg.PromptLen, temps, samples, tr.Cfg.Seed), nil
}
