package search

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"promptgan/checkpoints"
	"promptgan/internal/nn"
)

// DivergedError reports a run that produced a NaN or an infinity: a loss, a
// gradient norm, an evaluation value, or a weight after an update. The step
// that produced it is not counted and nothing is saved after it, so the
// last checkpoint on disk holds the last good state. Run fills in where
// that checkpoint is, and the message says how to resume from it.
type DivergedError struct {
	Step  int    // the global step (or evaluation) at which it appeared
	Phase string // its phase; "eval" for an evaluation
	What  string // what is not finite: `loss_d is NaN`, `the generator's weights hold NaN after the update (…)`

	// LRKey is the config key of the learning rate to lower (g_adam.lr,
	// g_adv_lr or d_adam.lr) and LR its value in the run.
	LRKey string
	LR    float64

	// Filled by Run for a run on disk: its directory and its last
	// checkpoint ("" when none had been written).
	RunDir     string
	Checkpoint string
	// Keep lists the settings this process resumed with when no checkpoint
	// has recorded them yet: resuming again from that checkpoint needs them
	// in the new --config file too.
	Keep []string
	// Err is the error that found it, when it was not a check of Step or
	// Run (a checkpoint save refusing a non-finite tensor); nil otherwise.
	Err error
}

func (e *DivergedError) Unwrap() error { return e.Err }

func (e *DivergedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d (%s): the run diverged: %s", e.Step, e.Phase, e.What)
	fix := e.Suggestion()
	switch {
	case e.RunDir == "":
		fmt.Fprintf(&b, "\ntry a lower learning rate, e.g. `%s`", fix)
	case e.Checkpoint == "":
		fmt.Fprintf(&b, "\nno checkpoint had been written: train again with a lower learning rate, e.g. `%s` in the --config file", fix)
	default:
		fmt.Fprintf(&b, "\nnothing was saved after the last good checkpoint, %s: resume from it with a lower learning rate, "+
			"e.g. a file lower-lr.yaml holding `%s`, then `promptgan resume %s --config lower-lr.yaml`", e.Checkpoint, fix, e.RunDir)
		if len(e.Keep) > 0 {
			fmt.Fprintf(&b, "\nthat checkpoint does not hold the changes this resume made; put them in lower-lr.yaml too: %s", strings.Join(e.Keep, "; "))
		}
	}
	return b.String()
}

// Suggestion is the YAML line that sets LRKey to a tenth of LR, or to the
// default when that is lower (a tenth of an absurd 1e30 helps nobody), as
// `resume --config` takes it: `g_adv_lr: 0.0001` or `d_adam: {lr: 0.0005}`.
func (e *DivergedError) Suggestion() string {
	def := DefaultConfig()
	lr := e.LR / 10
	switch e.LRKey {
	case "g_adam.lr":
		lr = min(lr, def.GAdam.LR)
	case "g_adv_lr":
		lr = min(lr, def.GAdvLR)
	case "d_adam.lr":
		lr = min(lr, def.DAdam.LR)
	}
	return yamlKV(e.LRKey, lr)
}

// yamlKV writes key (a.b for a nested one) and v as one line of YAML.
func yamlKV(key string, v float64) string {
	lr := strconv.FormatFloat(v, 'g', 3, 64)
	if !strings.ContainsAny(lr, ".e") {
		lr += ".0" // YAML 1.1 reads 1e+29 as a float only with a dot: 1.0e+29
	} else if i := strings.IndexByte(lr, 'e'); i >= 0 && !strings.Contains(lr[:i], ".") {
		lr = lr[:i] + ".0" + lr[i:]
	}
	if parent, sub, ok := strings.Cut(key, "."); ok {
		return fmt.Sprintf("%s: {%s: %s}", parent, sub, lr)
	}
	return fmt.Sprintf("%s: %s", key, lr)
}

// Which network a logged quantity belongs to: whose learning rate to lower
// when it is not finite.
const (
	netG = "generator"
	netD = "discriminator"
)

// netOf returns the network a step or evaluation value comes from; "" for
// one that belongs to neither (then the phase decides).
func netOf(key string) string {
	switch key {
	case "loss_g", "entropy", "g_grad_norm", "nll_test", "nll_oracle", "prompt_distinct_1":
		return netG
	case "loss_d", "d_real", "d_fake", "d_std", "reward", "baseline", "d_fit_val_loss", "d_oracle_corr",
		"auc", "ece", "accuracy", "temperature", "calibration_bias":
		return netD
	}
	return ""
}

// diverged builds the DivergedError of step s: What, and the learning rate
// of net (or of the network the phase trains when net is "").
func (tr *Trainer) diverged(s int, phase, net, what string) *DivergedError {
	trains := tr.Cfg.PhaseOf(max(s, 1))
	if net == "" {
		net = netG
		if trains == PhaseDPretrain {
			net = netD
		}
	}
	e := &DivergedError{Step: s, Phase: phase, What: what, LRKey: "d_adam.lr", LR: tr.Cfg.DAdam.LR}
	if net == netG {
		e.LRKey, e.LR = "g_adv_lr", tr.Cfg.GAdvLR
		if trains == PhaseMLE {
			e.LRKey, e.LR = "g_adam.lr", tr.Cfg.GAdam.LR
		}
	}
	return e
}

// checkValues returns a DivergedError when a value of step s (or of the
// evaluation at s, phase "eval") is NaN or infinite. Losses are named
// first, then gradient norms, then the rest in name order; the others that
// are not finite are listed after the first.
func (tr *Trainer) checkValues(s int, phase string, vals map[string]float64) error {
	var bad []string
	for k, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	rank := func(k string) int {
		switch {
		case strings.HasPrefix(k, "loss"):
			return 0
		case strings.HasSuffix(k, "grad_norm"):
			return 1
		}
		return 2
	}
	slices.SortFunc(bad, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b)) })
	what := fmt.Sprintf("%s is %v", bad[0], vals[bad[0]])
	if len(bad) > 1 {
		what += fmt.Sprintf(" (so are %s)", strings.Join(bad[1:], ", "))
	}
	if phase == "eval" {
		what = "evaluation: " + what
	}
	return tr.diverged(s, phase, netOf(bad[0]), what)
}

// checkWeights returns a DivergedError when a weight of the networks that
// step s of phase updated is NaN or infinite: G in MLE, D in pre-training,
// both in the adversarial phase. A scan costs about one multiply-add per
// weight (checkpoints.FirstNonFinite), far less than the Adam update that
// just touched every weight, so it runs after every step.
func (tr *Trainer) checkWeights(s int, phase string) error {
	if phase != PhaseDPretrain {
		if name, at, v, ok := firstNonFinite(tr.Gen.Params()); ok {
			return tr.diverged(s, phase, netG, fmt.Sprintf("the generator's weights hold %v after the update (tensor %q, element %d)", v, name, at))
		}
	}
	if phase != PhaseMLE {
		for k, ps := range tr.dMembers() {
			if name, at, v, ok := firstNonFinite(ps); ok {
				return tr.diverged(s, phase, netD, fmt.Sprintf("the discriminator's weights hold %v after the update (member %d, tensor %q, element %d)", v, k, name, at))
			}
		}
	}
	return nil
}

// firstNonFinite finds the first NaN or ±Inf among ps's weights.
func firstNonFinite(ps nn.Params) (name string, at int, v float32, ok bool) {
	for _, p := range ps {
		if i := checkpoints.FirstNonFinite(p.W); i >= 0 {
			return p.Name, i, p.W[i], true
		}
	}
	return "", 0, 0, false
}

// saveDiverged turns a checkpoint save that failed on a non-finite tensor
// into a DivergedError at step s (the discriminator's files name its
// learning rate, the others the generator's).
func (tr *Trainer) saveDiverged(s int, err error) *DivergedError {
	net, msg := netG, err.Error()
	if strings.Contains(msg, fileDisc) || strings.Contains(msg, fileOptD) {
		net = netD
	}
	e := tr.diverged(s, tr.Cfg.PhaseOf(max(s, 1)), net, "the state to checkpoint is not finite: "+msg)
	e.Err = err
	return e
}

// lastCheckpoint is the checkpoint root/latest names, "" when there is none.
func lastCheckpoint(root string) string {
	dir, err := checkpoints.Latest(root)
	if err != nil {
		return ""
	}
	return filepath.Clean(dir)
}
