// Package steeroracle is the steer-oracle benchmark (DESIGN.md): the whole
// promptgan loop against a frozen target with an exact answer.
//
// The target is the SeqGAN oracle LSTM (benchmarks/seqgan-oracle), served
// through ONNX Runtime (target/onnx, the oracle exported by
// internal/ort/export, stateful variant) or by the pure-Go OracleTarget. A
// prompt is a k-token prefix; the target continues it by m tokens at
// temperature 1. S secret prefixes are drawn uniformly from the vocabulary;
// the references are the target's continuations of them. The methods see
// only the references.
//
// The headline metric of a set of prompts is the symmetrised KL divergence,
// per token, between the target's continuation distributions after each
// prompt p and after its nearest secret s (lower is better; 0 at the
// secret). Each prompt is continued once by the target (evaluation seeds
// fixed per prompt index, the same for every method, not counted against
// the budget); every NLL below is exact, computed with the Go oracle:
// NLL_x(y) = −(1/m) Σ_t log P_oracle(y_t | x ⊕ y_<t).
//   - nearest secret: argmin_s NLL_s(y) for the prompt's evaluation
//     continuation y (lowest index on ties); the same s serves both
//     directions, the NLL metric and coverage.
//   - reverse KL(P(·|p) ‖ P(·|s)): NLL_s(y) − NLL_p(y) on that continuation
//     (y is drawn from P(·|p)).
//   - forward KL(P(·|s) ‖ P(·|p)): the mean of NLL_p(y′) − NLL_s(y′) over a
//     fixed set of ForwardN continuations y′ of s, drawn once per run with
//     fixed seeds, the same for every method and every evaluation; exactly 0
//     for p = s.
//   - symmetric KL: (forward + reverse)/2, averaged over the prompts.
//
// Beside it, the earlier NLL metric: the mean over prompts of min_s NLL_s(y),
// a cross-entropy that continuations of low entropy can push below the
// floor without resembling the secret's. The floor is the metric of fresh
// continuations of the secrets themselves; the random level is that of
// uniformly random prompts; gap closed = (random − metric)/(random − floor).
//
// Methods, at equal numbers of target calls (requests sent to the target):
// best-of-N and evolutionary search, both ranking by a discriminator
// trained once, and promptgan (search.Steer). All three start from the same
// generator, pre-trained by maximum likelihood on the k-token windows of the
// references, and the same discriminator pre-training, whose calls count
// against each of them.
package steeroracle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"promptgan/discriminator"
	"promptgan/generator"
	"promptgan/generator/onnxexport"
	"promptgan/internal/nn"
	"promptgan/internal/ort"
	"promptgan/internal/ort/export"
	"promptgan/search"
	"promptgan/search/rank"
	"promptgan/targets"
	"promptgan/targets/ledger"
	"promptgan/targets/lstm"
	"promptgan/targets/onnx"
	"promptgan/task"
)

// DefaultOracle is the oracle's path relative to the repository root.
const DefaultOracle = "benchmarks/seqgan-oracle/data/oracle.safetensors"

// Target backends.
const (
	TargetAuto = "auto" // onnx when ONNX Runtime is found, else go
	TargetGo   = "go"
	TargetONNX = "onnx"
)

// Method names, in table order.
const (
	MethodBestOfN   = "best-of-n"
	MethodEvolution = "evolution"
	MethodPromptgan = "promptgan"
	// With Options.Ceiling, two diagnostics rewarded by the exact metric of
	// each continuation (−min_s NLL_s) instead of D: promptgan's loop and the
	// evolutionary search. Not methods, since the exact metric needs the
	// secrets, but bounds of what the two optimisers reach with a perfect
	// evaluator at the same budget.
	MethodExactPromptgan = "exact-pg"
	MethodExactEvolution = "exact-evo"
)

// RNG streams of the benchmark (the Steer run uses its own).
const (
	streamSecrets = 1 + iota
	streamRefSeeds
	streamFloorSeeds
	streamRandomPrompts
	streamRandomSeeds
	streamEvalSeeds
	streamBestOfN
	streamBestOfNSeeds
	streamEvolution
	streamEvolutionSeeds
	streamForwardSeeds
	streamPromptganEval = 1 << 20 // + evaluation index
)

// Options configure Run. Zero fields take the defaults of DefaultOptions.
type Options struct {
	Oracle  string // SeqGAN oracle safetensors
	Secrets int    // S: 1 or 4
	Seed    uint64
	Budget  int // target calls per method, pre-training included

	RefsTotal   int // references in all, RefsTotal/S per secret
	FloorN      int // continuations of the secrets for the floor (FloorN/S each)
	ForwardN    int // continuations of each secret behind the forward KL (a fixed set)
	RandomN     int // random prompts for the random level
	EvalPrompts int // prompts a method outputs and is scored on (its top or its samples)

	PretrainGSteps int // MLE steps of G on the reference windows (no calls)
	PretrainDSteps int // D steps before any method (BatchSize calls each)
	Population     int // evolutionary search: population and children per generation
	Tournament     int // evolutionary search: tournament size
	CandidateBatch int // best-of-N: candidates per batch

	Steer search.Config // promptgan's settings (the steer preset); vocab, target, data and seed are set by Run

	Target  string // TargetAuto, TargetGo or TargetONNX
	ORTLib  string // ONNX Runtime library; "" = ort.FindLibrary's search
	OutDir  string // target export and ledgers
	Logger  *slog.Logger
	Threads int // ONNX Runtime intra-op threads; 0 = one per core

	Ceiling bool // also run MethodCeiling
}

// EvalFractions are the shares of the budget at which every method's output
// is evaluated; TableFractions are the ones the table prints.
var (
	EvalFractions  = []float64{0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1}
	TableFractions = []float64{0.1, 0.25, 0.5, 1}
)

// DefaultOptions returns the benchmark's defaults for S secrets.
func DefaultOptions(secrets int) Options {
	st, _ := search.Preset("steer")
	st.Generator.Vocab, st.Discriminator.Vocab = 5000, 5000
	return Options{
		Oracle: DefaultOracle, Secrets: secrets, Seed: 1, Budget: 20000,
		RefsTotal: 1024, FloorN: 1024, ForwardN: 16, RandomN: 1024, EvalPrompts: 128,
		PretrainGSteps: 300, PretrainDSteps: 20,
		Population: 128, Tournament: 4, CandidateBatch: 128,
		Steer:  st,
		Target: TargetAuto, OutDir: "runs/bench-steer-oracle",
	}
}

// Validate reports the first invalid option, by its flag name where it has one.
func (o Options) Validate() error {
	switch k := o.Steer.Discriminator.Kind; {
	case k != "" && k != discriminator.KindLinear:
		return fmt.Errorf("--d-kind %q: want lstm or linear", k)
	case o.Steer.ContinuationsPerPrompt < 1:
		return fmt.Errorf("--continuations %d: must be >= 1", o.Steer.ContinuationsPerPrompt)
	case o.Oracle == "":
		return errors.New("oracle: empty path")
	case o.Secrets != 1 && o.Secrets != 4:
		return fmt.Errorf("--secrets %d: must be 1 or 4", o.Secrets)
	case o.Steer.PromptLen < 1:
		return fmt.Errorf("--prompt-len %d: must be >= 1", o.Steer.PromptLen)
	case o.Steer.GenLen < 1:
		return fmt.Errorf("--gen-len %d: must be >= 1", o.Steer.GenLen)
	case o.RefsTotal < o.Secrets:
		return fmt.Errorf("refs_total %d: need at least one reference per secret (%d)", o.RefsTotal, o.Secrets)
	case o.FloorN < o.Secrets:
		return fmt.Errorf("floor_n %d: need at least one continuation per secret (%d)", o.FloorN, o.Secrets)
	case o.ForwardN < 1:
		return fmt.Errorf("--forward-samples %d: must be >= 1", o.ForwardN)
	case o.RandomN < 1:
		return fmt.Errorf("random_n %d: must be >= 1", o.RandomN)
	case o.EvalPrompts < 1:
		return fmt.Errorf("eval_prompts %d: must be >= 1", o.EvalPrompts)
	case o.PretrainGSteps < 0 || o.PretrainDSteps < 0:
		return fmt.Errorf("pretrain steps G %d, D %d: must be >= 0", o.PretrainGSteps, o.PretrainDSteps)
	case o.Population < 2:
		return fmt.Errorf("population %d: must be >= 2", o.Population)
	case o.Tournament < 1 || o.Tournament > o.Population:
		return fmt.Errorf("tournament %d: must be in [1, population %d]", o.Tournament, o.Population)
	case o.CandidateBatch < 1:
		return fmt.Errorf("candidate_batch %d: must be >= 1", o.CandidateBatch)
	case o.Target != TargetAuto && o.Target != TargetGo && o.Target != TargetONNX:
		return fmt.Errorf("--target %q: want auto, go or onnx", o.Target)
	case o.OutDir == "":
		return errors.New("--out: empty directory")
	}
	if least := o.PretrainDSteps*o.Steer.BatchSize + max(o.Population, o.CandidateBatch, o.Steer.CallsPerStep()); o.Budget < least {
		return fmt.Errorf("--budget %d: must be at least %d calls (D pre-training %d×%d plus one batch of each method)", o.Budget, least, o.PretrainDSteps, o.Steer.BatchSize)
	}
	return nil
}

// Float is a float64 that JSON writes as null when it is NaN or infinite.
type Float float64

// MarshalJSON writes f, or null when JSON cannot carry it.
func (f Float) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// Point is one evaluation of a method's output.
type Point struct {
	Calls int `json:"calls"` // target calls spent by the method when its output was taken
	// KLSym is the headline metric: (KLForward + KL)/2, per token, averaged
	// over the prompts; 0 when every prompt's continuations are distributed
	// as its nearest secret's.
	KLSym        float64 `json:"kl_sym"`
	KLSymRemoved float64 `json:"kl_sym_removed"` // (random − KLSym)/random: the share of the random prompts' level removed
	// KLForward is the mean over prompts p of NLL_p(y′) − NLL_s(y′) over the
	// fixed continuations y′ of p's nearest secret s: an estimate of
	// KL(P(·|s) ‖ P(·|p)) per token, exactly 0 for p = s.
	KLForward float64 `json:"kl_forward"`
	// KL is the reverse direction: the mean of NLL_s(y) − NLL_p(y) for the
	// nearest secret s of each continuation y of prompt p, an estimate of
	// KL(P(·|p) ‖ P(·|s)) per token. Unlike Metric (a cross-entropy, which
	// low-entropy continuations can push below the floor) both directions
	// have their minimum at the secret.
	KL          float64   `json:"kl"`
	KLGapClosed float64   `json:"kl_gap_closed"` // (random KL − KL)/random KL
	Metric      float64   `json:"metric"`        // the NLL metric: mean min_s NLL_s of the output's continuations
	GapClosed   float64   `json:"gap_closed"`    // (random − metric)/(random − floor)
	Covered     int       `json:"covered"`       // secrets covered (see Coverage)
	Share       []float64 `json:"share"`         // per secret: share of prompts whose continuation is nearest to it
	ClassNLL    []Float   `json:"class_nll"`     // per secret: mean NLL_s over those prompts; null when there are none
}

// MethodResult is one method's curve.
type MethodResult struct {
	Name         string  `json:"name"`
	Points       []Point `json:"points"`
	Calls        int     `json:"calls"`         // requests sent to the target in all (pre-training included)
	LedgerMisses int64   `json:"ledger_misses"` // calls actually paid (the rest answered by the ledger)
	LedgerHits   int64   `json:"ledger_hits"`
	WallS        float64 `json:"wall_s"`     // the method's own wall time (evaluations excluded)
	GenerateS    float64 `json:"generate_s"` // of which inside target.Generate
}

// Result is everything Run measured.
type Result struct {
	Secrets       int       `json:"secrets"`
	Seed          uint64    `json:"seed"`
	Budget        int       `json:"budget"`
	PromptLen     int       `json:"prompt_len"`
	GenLen        int       `json:"gen_len"`
	RefsPerSecret int       `json:"refs_per_secret"`
	EvalPrompts   int       `json:"eval_prompts"`
	Target        string    `json:"target"`
	TargetNote    string    `json:"target_note,omitempty"`
	Fingerprint   string    `json:"fingerprint"`
	SecretTokens  [][]int32 `json:"secret_tokens"`
	Floor         float64   `json:"floor"`
	Random        float64   `json:"random"`
	FloorKL       float64   `json:"floor_kl"` // reverse KL of the secrets' own continuations (0 with one secret)
	RandomKL      float64   `json:"random_kl"`
	// the forward and symmetric KL of the floor's prompts (the secrets: 0
	// wherever a continuation's nearest secret is its own) and of the
	// random prompts
	FloorKLForward  float64            `json:"floor_kl_forward"`
	RandomKLForward float64            `json:"random_kl_forward"`
	FloorKLSym      float64            `json:"floor_kl_sym"`
	RandomKLSym     float64            `json:"random_kl_sym"`
	ForwardN        int                `json:"forward_per_secret"` // continuations of each secret behind the forward KL
	FloorClass      []Float            `json:"floor_class"`        // per secret: the floor's class NLL (coverage levels)
	RandomClass     []Float            `json:"random_class"`       // per secret: random prompts' class NLL
	PretrainCalls   int                `json:"pretrain_calls"`
	PretrainD       map[string]float64 `json:"pretrain_d"` // D's last pre-training step
	Methods         []MethodResult     `json:"methods"`

	// The best baseline is the one with the lowest final symmetric KL
	// (the headline metric); BestBaselineFinal is that KL.
	BestBaseline      string  `json:"best_baseline"`
	BestBaselineFinal float64 `json:"best_baseline_final"`
	BestBaselineCalls int     `json:"best_baseline_calls"`
	// ReachCalls is promptgan's call count at its first evaluation at or
	// below the best baseline's final symmetric KL; -1 if it never got there.
	ReachCalls int `json:"reach_calls"`
	// OutsideTargetShare is the share of promptgan's wall time spent outside
	// target.Generate (G and D work, ledger excluded from neither).
	OutsideTargetShare float64 `json:"outside_target_share"`

	Steer search.Config `json:"steer"`
	CPUs  int           `json:"cpus"`
	WallS float64       `json:"wall_s"`
}

// bench holds a run's shared state.
type bench struct {
	opt     Options
	res     *Result
	oracle  *generator.Model // the Go oracle: exact NLL
	base    targets.Model    // the target, unwrapped
	closers []func() error
	k, m, S int
	secrets []int32 // (S, k)
	log     *slog.Logger

	evalTarget targets.Model
	evalSeeds  []uint64

	// the forward KL's fixed set: ForwardN continuations of each secret,
	// (S·ForwardN, m), secret by secret, and fwdBase[s] = their mean NLL_s
	fwdGens  []int32
	fwdBase  []float64
	fwdCache map[string]float64 // "secret [prompt]" → mean NLL_prompt over the secret's set
}

// Run runs the benchmark. Calls go through ledgers in OutDir/ledger/<part>.
func Run(ctx context.Context, opt Options) (res *Result, err error) {
	start := time.Now()
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	oracle, err := generator.LoadOracle(opt.Oracle)
	if err != nil {
		return nil, err
	}
	V := oracle.Cfg.Vocab
	b := &bench{opt: opt, oracle: oracle, k: opt.Steer.PromptLen, m: opt.Steer.GenLen, S: opt.Secrets, log: opt.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		for i := len(b.closers) - 1; i >= 0; i-- {
			err = errors.Join(err, b.closers[i]())
		}
	}()
	st := opt.Steer
	st.Generator.Vocab, st.Discriminator.Vocab, st.Seed = V, V, opt.Seed
	st.Target, st.Train, st.Test, st.Prior, st.HeldOut, st.Ledger = "steer-oracle", "", "", "", 0, false
	if st.Discriminator.IsLinear() && st.Discriminator.Positions == 0 {
		st.Discriminator.Positions = b.m // one weight row per generated position
	}
	// every method's budget: D pre-training, then whole adversarial steps
	pretrainEnd := opt.PretrainGSteps + opt.PretrainDSteps
	st.MLESteps, st.DPretrainSteps = opt.PretrainGSteps, opt.PretrainDSteps
	st.Steps = pretrainEnd + (opt.Budget-opt.PretrainDSteps*st.BatchSize)/st.CallsPerStep()
	check := st
	check.Train, check.Prior = "(in memory)", "(in memory)"
	if err := check.Validate(); err != nil {
		return nil, fmt.Errorf("steer config: %w", err)
	}
	b.res = &Result{
		Secrets: b.S, Seed: opt.Seed, Budget: opt.Budget, PromptLen: b.k, GenLen: b.m,
		RefsPerSecret: opt.RefsTotal / b.S, EvalPrompts: opt.EvalPrompts, Steer: st, CPUs: runtime.NumCPU(), ReachCalls: -1,
	}
	if err := b.openTarget(); err != nil {
		return nil, err
	}
	if b.evalTarget, err = b.ledgered("eval"); err != nil {
		return nil, err
	}

	// secrets, references, floor, random level
	rng := nn.NewRNG(opt.Seed, streamSecrets)
	b.secrets = make([]int32, b.S*b.k)
	for i := range b.secrets {
		b.secrets[i] = int32(rng.IntN(V))
	}
	for s := 0; s < b.S; s++ {
		b.res.SecretTokens = append(b.res.SecretTokens, slices.Clone(b.secrets[s*b.k:(s+1)*b.k]))
	}
	setup, err := b.ledgered("setup")
	if err != nil {
		return nil, err
	}
	R := opt.RefsTotal / b.S
	refs, err := b.continueSecrets(ctx, setup, R, streamRefSeeds)
	if err != nil {
		return nil, fmt.Errorf("references: %w", err)
	}
	floorGens, err := b.continueSecrets(ctx, setup, opt.FloorN/b.S, streamFloorSeeds)
	if err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	if err := b.drawForwardSet(ctx, setup); err != nil { // before any score
		return nil, err
	}
	b.res.ForwardN = opt.ForwardN
	floor := b.score(b.secretPrompts(opt.FloorN/b.S), floorGens)
	b.res.Floor, b.res.FloorClass, b.res.FloorKL = floor.Metric, floor.ClassNLL, floor.KL
	b.res.FloorKLForward, b.res.FloorKLSym = floor.KLForward, floor.KLSym
	rp := nn.NewRNG(opt.Seed, streamRandomPrompts)
	randomPrompts := make([]int32, opt.RandomN*b.k)
	for i := range randomPrompts {
		randomPrompts[i] = int32(rp.IntN(V))
	}
	randomGens, err := targets.Continue(ctx, setup, randomPrompts, b.k, b.m, seedList(nn.NewRNG(opt.Seed, streamRandomSeeds), opt.RandomN))
	if err != nil {
		return nil, fmt.Errorf("random prompts: %w", err)
	}
	random := b.score(randomPrompts, randomGens)
	b.res.Random, b.res.RandomClass, b.res.RandomKL = random.Metric, random.ClassNLL, random.KL
	b.res.RandomKLForward, b.res.RandomKLSym = random.KLForward, random.KLSym
	b.log.Info("steer-oracle levels", "random_kl_sym", b.res.RandomKLSym, "floor", b.res.Floor, "random", b.res.Random, "target", b.res.Target)
	b.evalSeeds = seedList(nn.NewRNG(opt.Seed, streamEvalSeeds), opt.EvalPrompts)

	// shared pre-training: G on reference windows, D on refs vs continuations of G's prompts
	pre, err := b.ledgered("pretrain")
	if err != nil {
		return nil, err
	}
	train, err := task.FromTokens(refs, b.m)
	if err != nil {
		return nil, fmt.Errorf("references: %w", err)
	}
	prior, err := task.FromTokens(search.PromptWindows(refs, b.m, b.k), b.k)
	if err != nil {
		return nil, fmt.Errorf("reference windows: %w", err)
	}
	data := search.Data{Train: train, Prior: prior}
	tr, err := search.NewFromData(st, pre, data)
	if err != nil {
		return nil, err
	}
	if pretrainEnd > 0 {
		_, err := search.Run(ctx, tr, search.RunOptions{NoEvaluation: true, Until: pretrainEnd, AfterStep: func(s search.Stats) error {
			if s.Phase == search.PhaseDPretrain {
				b.res.PretrainD = s.Values
			}
			return nil
		}})
		if err != nil {
			return nil, fmt.Errorf("pre-training: %w", err)
		}
	}
	b.res.PretrainCalls = tr.Calls
	gWeights, dWeights := tr.Gen.Params().Weights(), tr.Disc.Params().Weights()
	b.log.Info("pre-training done", "calls", tr.Calls, "d_real", b.res.PretrainD["d_real"], "d_fake", b.res.PretrainD["d_fake"])

	frozen := func() (*generator.Model, *discriminator.Ensemble, error) {
		g := generator.New(st.Generator, nn.NewRNG(0, 0))
		d := discriminator.New(st.Discriminator, nn.NewRNG(0, 0))
		if err := g.Params().SetWeights(gWeights); err != nil {
			return nil, nil, err
		}
		return g, d, d.Params().SetWeights(dWeights)
	}
	for _, name := range []string{MethodBestOfN, MethodEvolution} {
		g, d, err := frozen()
		if err != nil {
			return nil, err
		}
		var mr MethodResult
		if name == MethodBestOfN {
			mr, err = b.bestOfN(ctx, g, d)
		} else {
			mr, err = b.evolution(ctx, g, MethodEvolution, func(gens []int32) []float64 { return dScores(d, gens, b.m) })
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.res.Methods = append(b.res.Methods, mr)
	}
	mr, err := b.promptgan(ctx, tr, MethodPromptgan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MethodPromptgan, err)
	}
	b.res.Methods = append(b.res.Methods, mr)
	if opt.Ceiling {
		exact := func(gens []int32) []float64 {
			nll := b.nearestNLL(gens)
			for i := range nll {
				nll[i] = -nll[i]
			}
			return nll
		}
		g, _, err := frozen()
		if err != nil {
			return nil, err
		}
		mr, err := b.evolution(ctx, g, MethodExactEvolution, exact)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", MethodExactEvolution, err)
		}
		b.res.Methods = append(b.res.Methods, mr)
		// a second copy of the pre-trained G and D, fresh optimisers, for promptgan's loop
		exactCfg := st
		exactCfg.MLESteps, exactCfg.DPretrainSteps, exactCfg.Steps = 0, 0, st.Steps-pretrainEnd
		s, err := search.NewFromData(exactCfg, pre, data)
		if err != nil {
			return nil, err
		}
		if err := s.Gen.Params().SetWeights(gWeights); err != nil {
			return nil, err
		}
		if err := s.Disc.Params().SetWeights(dWeights); err != nil {
			return nil, err
		}
		s.Reward = exact
		if mr, err = b.promptgan(ctx, s, MethodExactPromptgan); err != nil {
			return nil, fmt.Errorf("%s: %w", MethodExactPromptgan, err)
		}
		b.res.Methods = append(b.res.Methods, mr)
	}
	b.summarise()
	b.res.WallS = time.Since(start).Seconds()
	return b.res, nil
}

// openTarget exports the oracle and opens it through ONNX Runtime, or uses
// the Go oracle, as Options.Target says.
func (b *bench) openTarget() error {
	choice := b.opt.Target
	if choice == TargetAuto {
		if _, err := ort.FindLibrary(b.opt.ORTLib); err != nil {
			b.res.TargetNote = fmt.Sprintf("ONNX Runtime not found, so the Go oracle serves the target (%v)", err)
			choice = TargetGo
		} else {
			choice = TargetONNX
		}
	}
	b.res.Target = choice
	if choice == TargetGo {
		tg, err := lstm.NewOracle(b.opt.Oracle, b.m)
		if err != nil {
			return err
		}
		b.base = tg
		b.res.Fingerprint = tg.Fingerprint()
		return nil
	}
	lm, err := onnxexport.LSTM(b.oracle)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.opt.OutDir, "target")
	if err := lm.Write(dir, export.Options{Stateful: true}); err != nil {
		return err
	}
	tg, err := onnx.Open(dir, onnx.Options{
		Library: b.opt.ORTLib, Threads: b.opt.Threads,
		Decode: onnx.Decode{MaxNewTokens: b.m, Temperature: 1, Order: onnx.PromptInput},
	})
	if err != nil {
		return fmt.Errorf("open the exported oracle: %w", err)
	}
	b.closers = append(b.closers, tg.Close)
	b.base = tg
	b.res.Fingerprint = tg.Fingerprint()
	return nil
}

// ledgered returns the target wrapped by the ledger in OutDir/ledger/name.
func (b *bench) ledgered(name string) (targets.Model, error) {
	l, err := ledger.Open(filepath.Join(b.opt.OutDir, "ledger", name), ledger.Options{Logger: b.log})
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, l.Close)
	return &counted{Model: ledger.Wrap(b.base, l, ledger.WrapOptions{}), ledger: l}, nil
}

// counted is a ledgered target that also reports its ledger's traffic.
type counted struct {
	targets.Model
	ledger *ledger.Ledger
}

func ledgerStats(tg targets.Model) (hits, misses int64) {
	if c, ok := tg.(*counted); ok {
		st := c.ledger.Stats()
		return st.Hits, st.Misses
	}
	return 0, 0
}

// continueSecrets returns n continuations of each secret, (S·n, m), secret
// by secret, with seeds from stream.
func (b *bench) continueSecrets(ctx context.Context, tg targets.Model, n int, stream uint64) ([]int32, error) {
	return targets.Continue(ctx, tg, b.secretPrompts(n), b.k, b.m, seedList(nn.NewRNG(b.opt.Seed, stream), b.S*n))
}

// secretPrompts returns each secret n times, (S·n, k), secret by secret.
func (b *bench) secretPrompts(n int) []int32 {
	prompts := make([]int32, 0, b.S*n*b.k)
	for s := 0; s < b.S; s++ {
		for range n {
			prompts = append(prompts, b.secrets[s*b.k:(s+1)*b.k]...)
		}
	}
	return prompts
}

func seedList(rng *nn.RNG, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = rng.Uint64()
	}
	return out
}

// score computes the exact metrics of the (n, m) generations of the (n, k)
// prompts: per generation the NLL under each secret and the nearest secret;
// per secret the share of generations nearest to it and their mean NLL under
// it (NaN if none); the NLL metric; and the reverse, forward and symmetric
// KL against each prompt's nearest secret.
func (b *bench) score(prompts, gens []int32) Point {
	nll := b.secretNLL(gens)
	own := b.nllAfter(func(i int) []int32 { return prompts[i*b.k : (i+1)*b.k] }, gens)
	n := len(gens) / b.m
	p := Point{Share: make([]float64, b.S), ClassNLL: make([]Float, b.S)}
	count := make([]int, b.S)
	nearest := make([]int, n)
	for i := 0; i < n; i++ {
		best := 0
		for s := 1; s < b.S; s++ {
			if nll[s][i] < nll[best][i] {
				best = s
			}
		}
		nearest[i] = best
		p.Metric += nll[best][i]
		p.KL += nll[best][i] - own[i]
		count[best]++
		p.ClassNLL[best] += Float(nll[best][i])
	}
	for _, v := range b.forwardKL(prompts, nearest) {
		p.KLForward += v
	}
	p.Metric /= float64(n)
	p.KL /= float64(n)
	p.KLForward /= float64(n)
	p.KLSym = (p.KLForward + p.KL) / 2
	for s := range count {
		p.Share[s] = float64(count[s]) / float64(n)
		if count[s] > 0 {
			p.ClassNLL[s] /= Float(count[s])
		} else {
			p.ClassNLL[s] = Float(math.NaN())
		}
	}
	return p
}

// drawForwardSet draws the forward KL's fixed set from tg, ForwardN
// continuations of each secret with seeds from their own stream, and
// computes each secret's base, the mean NLL_s of its own set.
func (b *bench) drawForwardSet(ctx context.Context, tg targets.Model) error {
	var err error
	if b.fwdGens, err = b.continueSecrets(ctx, tg, b.opt.ForwardN, streamForwardSeeds); err != nil {
		return fmt.Errorf("forward KL's continuations: %w", err)
	}
	b.fwdBase = b.meanNLLOnSecrets(func(s int) ([]int32, int) { return b.secrets[s*b.k : (s+1)*b.k], s }, b.S)
	return nil
}

// forwardKL returns, for each (k-token) prompt p_i and its nearest secret
// s = nearest[i], the mean of NLL_p(y′) − NLL_s(y′) over the fixed
// continuations y′ of s: an estimate of KL(P(·|p) ‖ P(·|s)) per token.
// A (prompt, secret) pair is computed once per run: the mean NLL is a
// function of the pair alone, and the baselines' outputs repeat from one
// evaluation to the next.
func (b *bench) forwardKL(prompts []int32, nearest []int) []float64 {
	type pair struct {
		prompt []int32
		secret int
		key    string
	}
	if b.fwdCache == nil {
		b.fwdCache = make(map[string]float64)
	}
	var todo []pair
	keys := make([]string, len(nearest))
	for i, s := range nearest {
		p := prompts[i*b.k : (i+1)*b.k]
		keys[i] = fmt.Sprint(s, p)
		if _, ok := b.fwdCache[keys[i]]; !ok {
			b.fwdCache[keys[i]] = math.NaN() // queued
			todo = append(todo, pair{p, s, keys[i]})
		}
	}
	mean := b.meanNLLOnSecrets(func(j int) ([]int32, int) { return todo[j].prompt, todo[j].secret }, len(todo))
	for j, q := range todo {
		b.fwdCache[q.key] = mean[j]
	}
	out := make([]float64, len(nearest))
	for i, s := range nearest {
		out[i] = b.fwdCache[keys[i]] - b.fwdBase[s]
	}
	return out
}

// meanNLLOnSecrets returns, for each of n (prompt p, secret s) pairs, the
// mean of NLL_p(y′) over the fixed continuations y′ of s, all pairs in one
// batch. The secrets' bases (p = s) go through this very function, and the
// oracle's NLL of a sequence does not depend on the other rows of its batch,
// so the forward KL of p = s is exactly 0 (TestForwardKL checks it).
func (b *bench) meanNLLOnSecrets(pair func(j int) (prompt []int32, secret int), n int) []float64 {
	N, L := b.opt.ForwardN, b.m
	prefixes := make([][]int32, n)
	gens := make([]int32, 0, n*N*L)
	for j := range n {
		p, s := pair(j)
		prefixes[j] = p
		gens = append(gens, b.fwdGens[s*N*L:(s+1)*N*L]...)
	}
	nll := b.nllAfter(func(i int) []int32 { return prefixes[i/N] }, gens)
	out := make([]float64, n)
	for j := range out {
		v := 0.0
		for _, x := range nll[j*N : (j+1)*N] {
			v += x
		}
		out[j] = v / float64(N)
	}
	return out
}

// secretNLL returns, for each secret s and each (n, m) generation y,
// NLL_s(y) = −(1/m) Σ log P_oracle(y_t | s ⊕ y_<t), computed exactly.
func (b *bench) secretNLL(gens []int32) [][]float64 {
	nll := make([][]float64, b.S) // [secret][generation]
	for s := 0; s < b.S; s++ {
		secret := b.secrets[s*b.k : (s+1)*b.k]
		nll[s] = b.nllAfter(func(int) []int32 { return secret }, gens)
	}
	return nll
}

// nllAfter returns −(1/m) Σ log P_oracle(y_t | prefix(i) ⊕ y_<t) for each
// (n, m) generation y_i, computed exactly.
func (b *bench) nllAfter(prefix func(i int) []int32, gens []int32) []float64 {
	n := len(gens) / b.m
	L := b.k + b.m
	seqs := make([]int32, 0, n*L)
	for i := 0; i < n; i++ {
		seqs = append(append(seqs, prefix(i)...), gens[i*b.m:(i+1)*b.m]...)
	}
	out := make([]float64, n)
	const chunk = 256
	for lo := 0; lo < n; lo += chunk {
		c := min(chunk, n-lo)
		lp := b.oracle.LogProbs(seqs[lo*L:(lo+c)*L], c, L, 1, nil)
		for i := 0; i < c; i++ {
			v := 0.0
			for _, x := range lp[i*L+b.k : (i+1)*L] {
				v -= float64(x)
			}
			out[lo+i] = v / float64(b.m)
		}
	}
	return out
}

// nearestNLL returns min_s NLL_s(y) for each (n, m) generation y: the exact
// metric of one continuation.
func (b *bench) nearestNLL(gens []int32) []float64 {
	nll := b.secretNLL(gens)
	out := slices.Clone(nll[0])
	for _, row := range nll[1:] {
		for i, v := range row {
			out[i] = min(out[i], v)
		}
	}
	return out
}

// evaluate continues the (EvalPrompts, k) prompts with the evaluation seeds
// (uncounted) and scores them against the floor and the random level.
//
// Coverage: a secret is covered when at least 5% of the continuations are
// nearest to it and their mean NLL under it is below the midpoint of the
// same statistic for the floor's and the random prompts' continuations.
// (Comparing like with like matters: the minimum over S secrets pulls every
// class mean down, random prompts' too.)
func (b *bench) evaluate(ctx context.Context, prompts []int32, calls int) (Point, error) {
	gens, err := targets.Continue(ctx, b.evalTarget, prompts, b.k, b.m, b.evalSeeds[:len(prompts)/b.k])
	if err != nil {
		return Point{}, fmt.Errorf("evaluation at %d calls: %w", calls, err)
	}
	p := b.score(prompts, gens)
	p.Calls = calls
	p.GapClosed = (b.res.Random - p.Metric) / (b.res.Random - b.res.Floor)
	p.KLGapClosed = (b.res.RandomKL - p.KL) / b.res.RandomKL
	p.KLSymRemoved = (b.res.RandomKLSym - p.KLSym) / b.res.RandomKLSym
	for s := 0; s < b.S; s++ {
		mid := (b.res.FloorClass[s] + b.res.RandomClass[s]) / 2
		if p.Share[s] >= 0.05 && p.ClassNLL[s] < mid { // false for NaN
			p.Covered++
		}
	}
	return p, nil
}

// schedule tracks which evaluation points a method has passed.
type schedule struct {
	budget int
	next   int // index into EvalFractions
}

// due reports whether calls has reached the next evaluation point (and
// moves past every point it has reached).
func (s *schedule) due(calls int) bool {
	hit := false
	for s.next < len(EvalFractions) && float64(calls) >= EvalFractions[s.next]*float64(s.budget)-1e-9 {
		s.next++
		hit = true
	}
	return hit
}

// timedTarget measures the wall time spent in Generate.
type timedTarget struct {
	targets.Model
	seconds float64
}

func (t *timedTarget) Generate(ctx context.Context, reqs []targets.Request) ([]targets.Generation, error) {
	start := time.Now()
	out, err := t.Model.Generate(ctx, reqs)
	t.seconds += time.Since(start).Seconds()
	return out, err
}

// dScores returns D's probability of being a reference for each (n, m) generation.
func dScores(d *discriminator.Ensemble, gens []int32, m int) []float64 {
	return rank.DiscriminatorScorer(d, m)(gens)
}

// bestOfN samples candidates from the pre-trained G in batches, continues
// them, ranks them by D and outputs the best EvalPrompts so far (rank.BestOfN).
func (b *bench) bestOfN(ctx context.Context, g *generator.Model, d *discriminator.Ensemble) (MethodResult, error) {
	s := rank.BestOfN{Batch: b.opt.CandidateBatch, Budget: b.opt.Budget - b.res.PretrainCalls, Keep: b.opt.EvalPrompts}
	return b.ranked(ctx, MethodBestOfN, s, g, rank.DiscriminatorScorer(d, b.m), streamBestOfN, streamBestOfNSeeds)
}

// evolution is a (μ+λ) genetic search (rank.Evolution): the population
// starts as samples of the pre-trained G; each generation breeds Population
// children by tournament selection, one-point crossover and token mutation
// from fresh samples of G; fitness is D's score of the child's continuation
// (fitness; the exact metric for MethodExactEvolution); the best Population
// of parents and children survive. The output is the population's best
// EvalPrompts.
func (b *bench) evolution(ctx context.Context, g *generator.Model, name string, fitness rank.Scorer) (MethodResult, error) {
	s := rank.Evolution{Population: b.opt.Population, Tournament: b.opt.Tournament, Budget: b.opt.Budget - b.res.PretrainCalls, Keep: b.opt.EvalPrompts}
	return b.ranked(ctx, name, s, g, fitness, streamEvolution, streamEvolutionSeeds)
}

// ranked runs method with the budget left after the shared pre-training,
// prior g and scorer score, on the target ledgered as name, drawing from
// the RNG streams sample and seeds; it evaluates its best at the
// schedule's points (calls counted from the budget's start). The method's
// wall time excludes the evaluations.
func (b *bench) ranked(ctx context.Context, name string, method rank.Search, g *generator.Model, score rank.Scorer, sample, seeds uint64) (MethodResult, error) {
	mr := MethodResult{Name: name}
	tg, err := b.ledgered(name)
	if err != nil {
		return mr, err
	}
	timed := &timedTarget{Model: tg}
	prob := rank.Problem{Prior: g, Target: timed, Score: score, PromptLen: b.k, GenLen: b.m}
	rngs := rank.RNGs{Sample: nn.NewRNG(b.opt.Seed, sample), Seeds: nn.NewRNG(b.opt.Seed, seeds)}
	pre := b.res.PretrainCalls
	sched := schedule{budget: b.opt.Budget}
	var wall float64
	start := time.Now()
	_, calls, err := method.Run(ctx, prob, rngs, func(calls int, best []rank.Candidate) error {
		wall += time.Since(start).Seconds()
		defer func() { start = time.Now() }()
		if !sched.due(pre + calls) {
			return nil
		}
		p, err := b.evaluate(ctx, rank.Prompts(best), pre+calls)
		if err != nil {
			return err
		}
		mr.Points = append(mr.Points, p)
		b.log.Info(name, "calls", pre+calls, "kl_sym", p.KLSym, "metric", p.Metric, "gap_closed", p.GapClosed, "covered", p.Covered)
		return nil
	})
	if err != nil {
		return mr, err
	}
	mr.Calls, mr.WallS, mr.GenerateS = pre+calls, wall, timed.seconds
	mr.LedgerHits, mr.LedgerMisses = ledgerStats(tg)
	return mr, nil
}

// promptgan continues the pre-trained run adversarially, through
// search.Run, until the budget is spent; its output at an evaluation is
// EvalPrompts prompts sampled from G at temperature 1. name is
// MethodPromptgan or MethodExactPromptgan.
func (b *bench) promptgan(ctx context.Context, tr *search.Trainer, name string) (MethodResult, error) {
	mr := MethodResult{Name: name}
	tg, err := b.ledgered(name)
	if err != nil {
		return mr, err
	}
	timed := &timedTarget{Model: tg}
	tr.SetTarget(timed)
	calls := b.res.PretrainCalls
	sched := schedule{budget: b.opt.Budget}
	perStep := tr.Cfg.CallsPerStep()
	var wall float64
	evalIndex := 0
	evalNow := func(step int) error {
		prompts, err := tr.SamplePrompts(b.opt.EvalPrompts, 1, nn.NewRNG(b.opt.Seed, streamPromptganEval+uint64(evalIndex)))
		if err != nil {
			return err
		}
		evalIndex++
		p, err := b.evaluate(ctx, prompts, calls)
		if err != nil {
			return err
		}
		mr.Points = append(mr.Points, p)
		b.log.Info(name, "calls", calls, "step", step, "kl_sym", p.KLSym, "metric", p.Metric, "gap_closed", p.GapClosed, "covered", p.Covered)
		return nil
	}
	if sched.due(calls) { // pre-training alone may pass the first points
		if err := evalNow(tr.StepCount()); err != nil {
			return mr, err
		}
	}
	start := time.Now()
	_, err = search.Run(ctx, tr, search.RunOptions{NoEvaluation: true, AfterStep: func(st search.Stats) error {
		calls += perStep
		wall += time.Since(start).Seconds()
		if sched.due(calls) || calls+perStep > b.opt.Budget {
			if err := evalNow(st.Step); err != nil {
				return err
			}
		}
		start = time.Now()
		return nil
	}})
	if err != nil {
		return mr, err
	}
	mr.Calls, mr.WallS, mr.GenerateS = calls, wall, timed.seconds
	mr.LedgerHits, mr.LedgerMisses = ledgerStats(tg)
	if wall > 0 && name == MethodPromptgan {
		b.res.OutsideTargetShare = 1 - timed.seconds/wall
	}
	return mr, nil
}

// summarise finds the best baseline's final symmetric KL and the calls
// promptgan needed to reach it.
func (b *bench) summarise() {
	r := b.res
	r.BestBaselineFinal = math.Inf(1)
	var pg *MethodResult
	for i := range r.Methods {
		mr := &r.Methods[i]
		if mr.Name == MethodPromptgan {
			pg = mr
			continue
		}
		if mr.Name == MethodExactPromptgan || mr.Name == MethodExactEvolution {
			continue
		}
		if len(mr.Points) > 0 {
			if last := mr.Points[len(mr.Points)-1]; last.KLSym < r.BestBaselineFinal {
				r.BestBaseline, r.BestBaselineFinal, r.BestBaselineCalls = mr.Name, last.KLSym, last.Calls
			}
		}
	}
	if pg == nil || math.IsInf(r.BestBaselineFinal, 1) {
		return
	}
	for _, p := range pg.Points {
		if p.KLSym <= r.BestBaselineFinal {
			r.ReachCalls = p.Calls
			break
		}
	}
}
