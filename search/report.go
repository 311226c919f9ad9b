package search

import (
	"fmt"
	"math"

	"promptgan/checkpoints"
	"promptgan/generator"
	"promptgan/internal/nn"
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
				s := SampleBatched(m.G, samples, T, temp, nn.NewRNG(seed, streamEval-1))
				row.NLLOracle = MeanNLL(oracle, s, samples, T, 1)
			}
			if test != nil {
				n := test.N
				if testN > 0 && testN < n {
					n = testN
				}
				row.NLLTest = MeanNLL(m.G, test.Tokens[:n*test.T], n, test.T, temp)
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
