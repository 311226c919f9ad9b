package discriminator

import (
	"fmt"
	"math"
	"strconv"

	"promptgan/internal/ort"
)

// The names of the text discriminator's ONNX inputs and outputs.
const (
	ONNXFeatures = "features" // float32 [N, F]: TextFeatures rows
	ONNXScore    = "score"    // float32 [N]: calibrated probability of good, σ(mean logit / T)
	ONNXSpread   = "spread"   // float32 [N]: std over members of σ(z_k / T)
	ONNXLogits   = "logits"   // float32 [N, K]: raw member logits
)

// ExportONNX writes the ensemble, its temperature included, as an ONNX model
// (opset 17) computing TextScores in batches: input "features" float32
// [N, F] with N dynamic; outputs "score" [N], "spread" [N] and "logits"
// [N, K]. The members' layers are stacked as in MemberLogits: one
// (F, K·Hidden) product, then a block-diagonal (K·Hidden, K) one.
func (e *TextEnsemble) ExportONNX() ([]byte, error) {
	if err := e.Cfg.Validate(); err != nil {
		return nil, fmt.Errorf("export text discriminator: %w", err)
	}
	T := e.Temperature
	if math.IsNaN(e.Bias) || math.IsInf(e.Bias, 0) {
		return nil, fmt.Errorf("export text discriminator: bias %v: must be a finite number (0 = uncalibrated)", e.Bias)
	}
	if !(T > 0) || math.IsInf(T, 0) {
		return nil, fmt.Errorf("export text discriminator: temperature %v: must be a positive number (1 = uncalibrated)", T)
	}
	F, H, K := int64(e.Cfg.Features()), int64(e.Cfg.Hidden), int64(len(e.Members))
	if K != int64(e.Cfg.Members) {
		return nil, fmt.Errorf("export text discriminator: %d members, the config says %d", K, e.Cfg.Members)
	}
	w1, b1, w2, b2 := e.stacked()
	g := ort.NewGraph("promptgan-text-discriminator")
	g.Input(ONNXFeatures, ort.Float32, ort.Dynamic("batch"), ort.Fixed(F))
	if H == 0 {
		g.Float32Initializer("w", w1, F, K)
		g.Float32Initializer("b", b1, K)
		g.Node("MatMul", []string{ONNXFeatures, "w"}, []string{"xw"})
		g.Node("Add", []string{"xw", "b"}, []string{ONNXLogits})
	} else {
		KH := K * H
		blockDiag := blockDiagonal(w2, int(K), int(H))
		g.Float32Initializer("w1", w1, F, KH)
		g.Float32Initializer("b1", b1, KH)
		g.Float32Initializer("w2", blockDiag, KH, K)
		g.Float32Initializer("b2", b2, K)
		g.Node("MatMul", []string{ONNXFeatures, "w1"}, []string{"xw1"})
		g.Node("Add", []string{"xw1", "b1"}, []string{"pre"})
		g.Node("Relu", []string{"pre"}, []string{"hidden"})
		g.Node("MatMul", []string{"hidden", "w2"}, []string{"hw2"})
		g.Node("Add", []string{"hw2", "b2"}, []string{ONNXLogits})
	}
	g.Float32Initializer("inv_temperature", []float32{float32(1 / T)})
	g.Float32Initializer("bias", []float32{float32(e.Bias)})
	// score = σ(mean_k z_k / T + b)
	g.Node("ReduceMean", []string{ONNXLogits}, []string{"mean_logit"}, ort.AttrInts("axes", 1), ort.AttrInt("keepdims", 0))
	g.Node("Mul", []string{"mean_logit", "inv_temperature"}, []string{"scaled_mean"})
	g.Node("Add", []string{"scaled_mean", "bias"}, []string{"calibrated_mean"})
	g.Node("Sigmoid", []string{"calibrated_mean"}, []string{ONNXScore})
	// spread = sqrt(mean_k (p_k − p̄)²), p_k = σ(z_k / T + b)
	g.Node("Mul", []string{ONNXLogits, "inv_temperature"}, []string{"scaled"})
	g.Node("Add", []string{"scaled", "bias"}, []string{"calibrated"})
	g.Node("Sigmoid", []string{"calibrated"}, []string{"probs"})
	g.Node("ReduceMean", []string{"probs"}, []string{"mean_prob"}, ort.AttrInts("axes", 1), ort.AttrInt("keepdims", 1))
	g.Node("Sub", []string{"probs", "mean_prob"}, []string{"dev"})
	g.Node("Mul", []string{"dev", "dev"}, []string{"dev2"})
	g.Node("ReduceMean", []string{"dev2"}, []string{"variance"}, ort.AttrInts("axes", 1), ort.AttrInt("keepdims", 0))
	g.Node("Sqrt", []string{"variance"}, []string{ONNXSpread})
	g.Output(ONNXScore, ort.Float32, ort.Dynamic("batch"))
	g.Output(ONNXSpread, ort.Float32, ort.Dynamic("batch"))
	g.Output(ONNXLogits, ort.Float32, ort.Dynamic("batch"), ort.Fixed(K))
	g.Meta("promptgan.model", "text-discriminator")
	g.Meta("promptgan.dim", strconv.Itoa(e.Cfg.Dim))
	g.Meta("promptgan.input_free", strconv.FormatBool(e.Cfg.InputFree))
	g.Meta("promptgan.hidden", strconv.Itoa(e.Cfg.Hidden))
	g.Meta("promptgan.members", strconv.Itoa(e.Cfg.Members))
	g.Meta("promptgan.temperature", strconv.FormatFloat(T, 'g', -1, 64))
	g.Meta("promptgan.bias", strconv.FormatFloat(e.Bias, 'g', -1, 64))
	b, err := g.Marshal()
	if err != nil {
		return nil, fmt.Errorf("export text discriminator: %w", err)
	}
	return b, nil
}

// TextScorerOptions configure a TextScorerORT.
type TextScorerOptions struct {
	Library string // ONNX Runtime library (the --ort-lib value); "" = $PROMPTGAN_ORT_LIB or the setup cache
	ort.Options
	// Batch is the most rows handed to ONNX Runtime in one run; 0 = 65,536.
	// Bigger inputs run in batches, which bounds the hidden layer's memory.
	Batch int
}

// TextScorerORT scores feature rows with an exported text discriminator
// through ONNX Runtime. Score may be called from several goroutines; Close
// must not race with it.
type TextScorerORT struct {
	sess     *ort.Session
	features int // F
	members  int // K
	batch    int
}

// NewTextScorerORT opens an ONNX model written by ExportONNX and checks that
// it has the text discriminator's inputs and outputs.
func NewTextScorerORT(model []byte, opt TextScorerOptions) (*TextScorerORT, error) {
	if opt.Batch < 0 {
		return nil, fmt.Errorf("text scorer: batch %d: must be >= 0 (0 = 65536)", opt.Batch)
	}
	rt, err := ort.Load(opt.Library)
	if err != nil {
		return nil, fmt.Errorf("text scorer: %w", err)
	}
	sess, err := rt.NewSessionFromBytes(model, opt.Options)
	if err != nil {
		return nil, fmt.Errorf("text scorer: %w", err)
	}
	s := &TextScorerORT{sess: sess, batch: opt.Batch}
	if s.batch == 0 {
		s.batch = 1 << 16
	}
	if err := s.check(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("text scorer: %w", err)
	}
	return s, nil
}

// check reads F and K from the declared inputs and outputs.
func (s *TextScorerORT) check() error {
	ins, outs := s.sess.Inputs(), s.sess.Outputs()
	in, ok := s.sess.Input(ONNXFeatures)
	if !ok || len(ins) != 1 || in.Type != ort.Float32 || len(in.Shape) != 2 || in.Shape[1] < 1 {
		return fmt.Errorf("the model's inputs are %v; a text discriminator has one, %s float32 [N, F] with F fixed (export it with promptgan)", ins, ONNXFeatures)
	}
	lg, ok := s.sess.Output(ONNXLogits)
	if !ok || lg.Type != ort.Float32 || len(lg.Shape) != 2 || lg.Shape[1] < 1 {
		return fmt.Errorf("the model's outputs are %v; a text discriminator has %s float32 [N, K] with K fixed", outs, ONNXLogits)
	}
	for _, name := range []string{ONNXScore, ONNXSpread} {
		if o, ok := s.sess.Output(name); !ok || o.Type != ort.Float32 || len(o.Shape) != 1 {
			return fmt.Errorf("the model's outputs are %v; a text discriminator has %s float32 [N]", outs, name)
		}
	}
	s.features, s.members = int(in.Shape[1]), int(lg.Shape[1])
	return nil
}

// Features returns F, the feature count the model reads.
func (s *TextScorerORT) Features() int { return s.features }

// Score judges the n pairs whose (n, F) row-major features are x.
func (s *TextScorerORT) Score(x []float32, n int) (TextScores, error) {
	F, K := s.features, s.members
	if n < 0 || len(x) != n*F {
		return TextScores{}, fmt.Errorf("text scorer: %d feature values for %d rows of %d features", len(x), n, F)
	}
	out := TextScores{P: make([]float64, n), Std: make([]float64, n), Logit: make([]float64, n)}
	for r0 := 0; r0 < n; r0 += s.batch {
		r1 := min(r0+s.batch, n)
		rows := int64(r1 - r0)
		score, spread, logits := make([]float32, rows), make([]float32, rows), make([]float32, rows*int64(K))
		_, err := s.sess.RunInto(
			map[string]ort.Tensor{ONNXFeatures: ort.F32(x[r0*F:r1*F], rows, int64(F))},
			map[string]ort.Tensor{
				ONNXScore: ort.F32(score, rows), ONNXSpread: ort.F32(spread, rows), ONNXLogits: ort.F32(logits, rows, int64(K)),
			})
		if err != nil {
			return TextScores{}, fmt.Errorf("text scorer: rows %d to %d: %w", r0, r1-1, err)
		}
		for i := range score {
			var zs float64
			for _, z := range logits[i*K : (i+1)*K] {
				zs += float64(z)
			}
			out.P[r0+i], out.Std[r0+i], out.Logit[r0+i] = float64(score[i]), float64(spread[i]), zs/float64(K)
		}
	}
	return out, nil
}

// Close frees the session.
func (s *TextScorerORT) Close() error { return s.sess.Close() }
