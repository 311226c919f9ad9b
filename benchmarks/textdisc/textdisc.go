// Package textdisc measures the text discriminator as an evaluator: on a
// labelled text task (the built-in sentiment task by default) it encodes
// every text once per encoder, trains the MLP ensemble on the train split
// (early stopping on the validation split), calibrates its temperature on
// the validation split and reports held-out AUC, accuracy and ECE (before
// and after calibration) on the test split — beside a logistic regression
// on the same features, for each encoder, over several seeds (mean and
// spread). `promptgan bench text-disc` runs it.
package textdisc

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"promptgan/discriminator"
	"promptgan/embeddings"
	"promptgan/internal/nn"
	"promptgan/metrics"
	"promptgan/task"
)

// Options says what to measure.
type Options struct {
	Task       string            // task file or built-in name; "" = task.BuiltinSentiment
	Encoders   []embeddings.Spec // nil = GloVe-SIF and hashing
	SplitSeed  uint64            // 0 = task.DefaultSplitSeed
	Validation float64           // share of examples; 0 = 0.15
	Test       float64           // share of examples; 0 = 0.15
	Seeds      []uint64          // network seeds (init and batch order); nil = 1, 2, 3
	Hidden     int               // MLP width; -1 = the default (DefaultTextConfig)
	Members    int               // ensemble size; 0 = the default
	MaxEpochs  int               // 0 = 200
	Patience   int               // epochs without a better validation loss before stopping; 0 = 10
	BatchSize  int               // 0 = 64
	LR         float64           // Adam's rate; 0 = 0.001
	// LabelSmoothing is the one-sided smoothing of the good label (the
	// text discriminator's training setting); calibration undoes the
	// under-confidence it brings.
	LabelSmoothing float64
	Logger         *slog.Logger // nil = silent
}

func (o *Options) defaults() {
	if o.Task == "" {
		o.Task = task.BuiltinSentiment
	}
	if o.Encoders == nil {
		o.Encoders = []embeddings.Spec{{Name: "glove-sif"}, {Name: "hashing"}}
	}
	if o.SplitSeed == 0 {
		o.SplitSeed = task.DefaultSplitSeed
	}
	if o.Validation == 0 {
		o.Validation = 0.15
	}
	if o.Test == 0 {
		o.Test = 0.15
	}
	if o.Seeds == nil {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.MaxEpochs == 0 {
		o.MaxEpochs = 200
	}
	if o.Patience == 0 {
		o.Patience = 10
	}
	if o.BatchSize == 0 {
		o.BatchSize = 64
	}
	if o.LR == 0 {
		o.LR = 0.001
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports the first invalid option.
func (o Options) Validate() error {
	switch {
	case o.Validation < 0 || o.Test < 0 || o.Validation+o.Test >= 1:
		return fmt.Errorf("validation %v + test %v: each >= 0 and together < 1", o.Validation, o.Test)
	case o.MaxEpochs < 0 || o.Patience < 0 || o.BatchSize < 0:
		return fmt.Errorf("max epochs %d, patience %d, batch size %d: must be >= 0", o.MaxEpochs, o.Patience, o.BatchSize)
	case o.LR < 0 || math.IsInf(o.LR, 0) || math.IsNaN(o.LR):
		return fmt.Errorf("learning rate %v: must be > 0", o.LR)
	case o.LabelSmoothing < 0 || o.LabelSmoothing >= 0.5:
		return fmt.Errorf("label smoothing %v: must be in [0, 0.5)", o.LabelSmoothing)
	case o.Hidden < -1 || o.Members < 0:
		return fmt.Errorf("hidden %d, members %d: must be >= 0", o.Hidden, o.Members)
	}
	return nil
}

// Stat is a figure over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

func stat(xs []float64) Stat {
	s := Stat{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		s.Mean += x
		s.Min, s.Max = min(s.Min, x), max(s.Max, x)
	}
	s.Mean /= float64(len(xs))
	for _, x := range xs {
		s.Std += (x - s.Mean) * (x - s.Mean)
	}
	if len(xs) > 1 {
		s.Std = math.Sqrt(s.Std / float64(len(xs)-1))
	}
	return s
}

// Row is one (encoder, model) pair's held-out figures over the seeds.
type Row struct {
	Encoder  string `json:"encoder"`
	Model    string `json:"model"` // "mlp ensemble K×H" or "logistic regression"
	AUC      Stat   `json:"auc"`
	Accuracy Stat   `json:"accuracy"`
	ECERaw   Stat   `json:"ece_uncalibrated"`
	ECE      Stat   `json:"ece"`
	// ECEFloor is the ECE a perfectly calibrated predictor with the same
	// scores would show on a test split of this size: the mean ECE over
	// FloorDraws label sets drawn from the calibrated probabilities
	// themselves. An ECE near it is all the test split can resolve.
	ECEFloor    Stat `json:"ece_floor"`
	Brier       Stat `json:"brier"`
	Temperature Stat `json:"temperature"`
	Epochs      Stat `json:"epochs"`
	Spread      Stat `json:"spread"` // mean ensemble spread on the test split
}

// Result is a whole measurement.
type Result struct {
	Task        string             `json:"task"`
	TaskSHA256  string             `json:"task_sha256"`
	Split       task.SplitRecord   `json:"split"`
	Seeds       []uint64           `json:"seeds"`
	Rows        []Row              `json:"rows"`
	EncodeS     map[string]float64 `json:"encode_seconds"` // wall time to encode every text once, per encoder
	TestItems   int                `json:"test_items"`
	TrainItems  int                `json:"train_items"`
	ECEBins     int                `json:"ece_bins"`
	Calibration string             `json:"calibration"`
	Encoders    []string           `json:"-"` // the encoders' names, in the order measured
}

// ECEBins is the number of equal-width bins of the ECE figures.
const ECEBins = 15

// dataset is one split's features and labels.
type dataset struct {
	x    []float32
	n    int
	good []bool
}

// Run measures opt.
func Run(ctx context.Context, opt Options) (Result, error) {
	opt.defaults()
	if err := opt.Validate(); err != nil {
		return Result{}, err
	}
	path, err := task.Resolve(opt.Task)
	if err != nil {
		return Result{}, err
	}
	tk, err := task.LoadText(path)
	if err != nil {
		return Result{}, err
	}
	sp, err := tk.Split(opt.SplitSeed, opt.Validation, opt.Test)
	if err != nil {
		return Result{}, fmt.Errorf("split %s: %w", path, err)
	}
	res := Result{Task: path, TaskSHA256: tk.SHA256, Split: sp.Record(), Seeds: opt.Seeds, EncodeS: map[string]float64{}, ECEBins: ECEBins,
		Calibration: "temperature and bias on the ensemble's mean logit, σ(z/T + b), fitted on the validation split"}
	splits := [3][]task.Labeled{tk.Labeled(sp.Train), tk.Labeled(sp.Val), tk.Labeled(sp.TestIdx)}
	res.TrainItems, res.TestItems = len(splits[0]), len(splits[2])
	for _, spec := range opt.Encoders {
		start := time.Now()
		enc, err := embeddings.OpenFitted(ctx, spec, texts(splits[0]))
		if err != nil {
			return Result{}, err
		}
		var data [3]dataset
		for i, items := range splits {
			if data[i], err = features(ctx, enc, tk.InputFree, items); err != nil {
				return Result{}, fmt.Errorf("encode with %s: %w", spec.Name, err)
			}
		}
		res.EncodeS[spec.Name] = time.Since(start).Seconds()
		res.Encoders = append(res.Encoders, spec.Name)
		dim := enc.Dim()
		mlp := discriminator.DefaultTextConfig(dim, tk.InputFree)
		if opt.Hidden >= 0 {
			mlp.Hidden = opt.Hidden
		}
		if opt.Members > 0 {
			mlp.Members = opt.Members
		}
		logistic := discriminator.DefaultTextConfig(dim, tk.InputFree)
		logistic.Hidden, logistic.Members = 0, 1
		for _, m := range []struct {
			name string
			cfg  discriminator.TextConfig
		}{{fmt.Sprintf("mlp ensemble %d×%d", mlp.Members, mlp.Hidden), mlp}, {"logistic regression", logistic}} {
			row, err := measure(ctx, opt, m.cfg, data)
			if err != nil {
				return Result{}, fmt.Errorf("%s, %s: %w", spec.Name, m.name, err)
			}
			row.Encoder, row.Model = spec.Name, m.name
			opt.Logger.Info("measured", "encoder", row.Encoder, "model", row.Model, "auc", row.AUC.Mean, "ece", row.ECE.Mean)
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

func texts(items []task.Labeled) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Text
	}
	return out
}

// features encodes the items' inputs and texts and builds their feature rows.
func features(ctx context.Context, enc embeddings.Encoder, inputFree bool, items []task.Labeled) (dataset, error) {
	ey, err := enc.Encode(ctx, texts(items))
	if err != nil {
		return dataset{}, err
	}
	var ex [][]float32
	if !inputFree {
		inputs := make([]string, len(items))
		for i, it := range items {
			inputs[i] = it.Input
		}
		if ex, err = enc.Encode(ctx, inputs); err != nil {
			return dataset{}, err
		}
	}
	cfg := discriminator.DefaultTextConfig(enc.Dim(), inputFree)
	x, err := discriminator.TextFeatures(cfg, ex, ey, texts(items))
	if err != nil {
		return dataset{}, err
	}
	d := dataset{x: x, n: len(items), good: make([]bool, len(items))}
	for i, it := range items {
		d.good[i] = it.Good
	}
	return d, nil
}

// measure trains and evaluates cfg once per seed.
func measure(ctx context.Context, opt Options, cfg discriminator.TextConfig, data [3]dataset) (Row, error) {
	var auc, acc, eceRaw, ece, floor, brier, temp, epochs, spread []float64
	for _, seed := range opt.Seeds {
		if err := ctx.Err(); err != nil {
			return Row{}, err
		}
		d, ep, err := Fit(cfg, data[0], data[1], seed, opt)
		if err != nil {
			return Row{}, err
		}
		test := data[2]
		raw := d.Score(test.x, test.n)
		eRaw, err := metrics.ECE(raw.P, test.good, ECEBins)
		if err != nil {
			return Row{}, err
		}
		t, err := d.Calibrate(data[1].x, data[1].n, data[1].good)
		if err != nil {
			return Row{}, err
		}
		s := d.Score(test.x, test.n)
		a, err := metrics.AUC(s.P, test.good)
		if err != nil {
			return Row{}, err
		}
		e, err := metrics.ECE(s.P, test.good, ECEBins)
		if err != nil {
			return Row{}, err
		}
		ac, err := metrics.Accuracy(s.P, test.good, 0.5)
		if err != nil {
			return Row{}, err
		}
		b, err := metrics.BrierScore(s.P, test.good)
		if err != nil {
			return Row{}, err
		}
		f, err := eceFloor(s.P, seed)
		if err != nil {
			return Row{}, err
		}
		floor = append(floor, f)
		sp := 0.0
		for _, v := range s.Std {
			sp += v
		}
		auc, acc, eceRaw, ece, brier = append(auc, a), append(acc, ac), append(eceRaw, eRaw), append(ece, e), append(brier, b)
		temp, epochs, spread = append(temp, t), append(epochs, float64(ep)), append(spread, sp/float64(len(s.Std)))
	}
	return Row{AUC: stat(auc), Accuracy: stat(acc), ECERaw: stat(eceRaw), ECE: stat(ece), ECEFloor: stat(floor), Brier: stat(brier),
		Temperature: stat(temp), Epochs: stat(epochs), Spread: stat(spread)}, nil
}

// FloorDraws is the number of label sets behind ECEFloor.
const FloorDraws = 200

// eceFloor is the mean ECE of the probabilities p against labels drawn
// from p itself (a perfectly calibrated predictor), over FloorDraws draws.
func eceFloor(p []float64, seed uint64) (float64, error) {
	rng := nn.NewRNG(seed, 1<<30)
	good := make([]bool, len(p))
	sum := 0.0
	for range FloorDraws {
		for i, q := range p {
			good[i] = rng.Float64() < q
		}
		e, err := metrics.ECE(p, good, ECEBins)
		if err != nil {
			return 0, err
		}
		sum += e
	}
	return sum / FloorDraws, nil
}

// Fit trains a fresh text discriminator of cfg (seeded by seed) on the
// labelled train rows with discriminator.FitText and returns it,
// uncalibrated, with the epochs run.
func Fit(cfg discriminator.TextConfig, train, val dataset, seed uint64, opt Options) (*discriminator.TextEnsemble, int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, 0, err
	}
	d := discriminator.NewText(cfg, nn.NewRNG(seed, 1))
	opts := make([]*nn.Adam, len(d.Members))
	for k, m := range d.Members {
		opts[k] = nn.NewAdam(nn.DefaultAdam(opt.LR), m.Params())
	}
	epochs, _, err := discriminator.FitText(d, opts, train.x, train.n, train.good, val.x, val.n, val.good, discriminator.TextFitOptions{
		Seed: seed, MaxEpochs: opt.MaxEpochs, Patience: opt.Patience, BatchSize: opt.BatchSize, LabelSmoothing: opt.LabelSmoothing,
	})
	return d, epochs, err
}
