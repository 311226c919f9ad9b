package discriminator

import (
	"math"
	"strings"
	"testing"

	"promptgan/internal/nn"
	"promptgan/metrics"
)

func TestTextConfigValidate(t *testing.T) {
	ok := DefaultTextConfig(100, false)
	for _, tc := range []struct {
		name string
		edit func(*TextConfig)
		want string // "" = valid
	}{
		{"default", func(*TextConfig) {}, ""},
		{"linear members", func(c *TextConfig) { c.Hidden = 0 }, ""},
		{"no dim", func(c *TextConfig) { c.Dim = 0 }, "discriminator.dim = 0"},
		{"negative hidden", func(c *TextConfig) { c.Hidden = -1 }, "discriminator.hidden = -1"},
		{"no members", func(c *TextConfig) { c.Members = 0 }, "discriminator.members = 0"},
		{"too many members", func(c *TextConfig) { c.Members = 33 }, "1 to 32"},
		{"zero init", func(c *TextConfig) { c.InitScale = 0 }, "discriminator.init_scale = 0"},
		{"NaN init", func(c *TextConfig) { c.InitScale = math.NaN() }, "discriminator.init_scale = NaN"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if f := ok.Features(); f != 4*100+SurfaceFeatures {
		t.Errorf("Features() = %d, want %d", f, 4*100+SurfaceFeatures)
	}
	if f := DefaultTextConfig(100, true).Features(); f != 100+SurfaceFeatures {
		t.Errorf("input-free Features() = %d, want %d", f, 100+SurfaceFeatures)
	}
}

func TestTextFeatures(t *testing.T) {
	cfg := TextConfig{Dim: 2, Hidden: 0, Members: 1, InitScale: 1}
	ex := [][]float32{{1, -2}, {0, 0.5}}
	ey := [][]float32{{3, 0.5}, {0, 0}}
	gens := []string{"The cat the CAT", "Hi, 42!"}
	got, err := TextFeatures(cfg, ex, ey, gens)
	if err != nil {
		t.Fatal(err)
	}
	l := func(x float64, d float64) float32 { return float32(math.Log1p(x) / d) }
	want := []float32{
		// e(x), e(y), e(x)⊙e(y), |e(x)−e(y)|
		1, -2, 3, 0.5, 3, -1, 2, 2.5,
		// 4 words, 15 characters; 2 distinct of 4; (the cat) repeats once in 3 bigrams;
		// "the" is 2 of 4 words; no character is neither letter nor space.
		l(4, 4), l(15, 6), 0.5, float32(1.0 / 3), 0.5, 0,
		0, 0.5, 0, 0, 0, 0, 0, 0.5,
		// 2 words (hi, 42), 7 characters of which ",", "4", "2", "!" are not letters.
		l(2, 4), l(7, 6), 1, 0, 0.5, float32(4.0 / 7),
	}
	if len(got) != len(want) {
		t.Fatalf("%d features, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Errorf("feature %d (row %d, column %d) = %v, want %v", i, i/cfg.Features(), i%cfg.Features(), got[i], want[i])
		}
	}

	free := cfg
	free.InputFree = true
	got, err = TextFeatures(free, nil, ey[:1], []string{""})
	if err != nil {
		t.Fatal(err)
	}
	// The empty text: no words, no characters, nothing repeated.
	wantFree := []float32{3, 0.5, 0, 0, 1, 0, 0, 0}
	for i := range wantFree {
		if got[i] != wantFree[i] {
			t.Errorf("input-free feature %d = %v, want %v", i, got[i], wantFree[i])
		}
	}
}

func TestTextFeaturesErrors(t *testing.T) {
	cfg := TextConfig{Dim: 2, Hidden: 4, Members: 1, InitScale: 1}
	free := cfg
	free.InputFree = true
	v := []float32{1, 2}
	for _, tc := range []struct {
		name   string
		cfg    TextConfig
		ex, ey [][]float32
		gens   []string
		want   string
	}{
		{"bad config", TextConfig{Dim: 0, Members: 1, InitScale: 1}, nil, nil, nil, "discriminator.dim"},
		{"missing generation embedding", cfg, [][]float32{v, v}, [][]float32{v}, []string{"a", "b"}, "1 generation embeddings for 2 generations"},
		{"missing input embedding", cfg, [][]float32{v}, [][]float32{v, v}, []string{"a", "b"}, "1 input embeddings for 2 generations"},
		{"inputs for an input-free task", free, [][]float32{v}, [][]float32{v}, []string{"a"}, "input-free"},
		{"wrong dimension", cfg, [][]float32{v, v}, [][]float32{v, {1, 2, 3}}, []string{"a", "b"}, "generation 1: embedding has 3 values, the discriminator's dim is 2"},
		{"NaN input", cfg, [][]float32{{float32(math.NaN()), 0}}, [][]float32{v}, []string{"a"}, "input of generation 0: embedding value 0 is NaN"},
	} {
		_, err := TextFeatures(tc.cfg, tc.ex, tc.ey, tc.gens)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
}

// randomFeatures returns n rows of F standard-normal features.
func randomFeatures(n, F int, rng *nn.RNG) []float32 {
	x := make([]float32, n*F)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestTextMemberGradCheck(t *testing.T) {
	for _, hidden := range []int{0, 5} {
		cfg := TextConfig{Dim: 3, Hidden: hidden, Members: 1, InitScale: 1}
		rng := nn.NewRNG(21, uint64(hidden))
		m := NewText(cfg, rng).Members[0]
		for _, p := range m.Params() { // non-zero biases, so their gradients are tested where they matter
			if strings.HasSuffix(p.Name, ".b") {
				nn.InitUniform(p, 0.3, rng)
			}
		}
		n := 7
		x := randomFeatures(n, cfg.Features(), rng)
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		ps := m.Params()
		// A non-linear loss of the logits, Σ w·tanh(z), so that dlogits vary by row.
		loss := func() float64 {
			z, _ := m.Forward(x, n)
			s := 0.0
			for i := range z {
				s += float64(w[i]) * math.Tanh(float64(z[i]))
			}
			return s
		}
		backward := func() {
			ps.ZeroGrad()
			z, c := m.Forward(x, n)
			d := make([]float32, n)
			for i := range z {
				th := math.Tanh(float64(z[i]))
				d[i] = w[i] * float32(1-th*th)
			}
			m.Backward(c, d)
		}
		worst, where := nn.GradCheck(ps, backward, loss, 1e-2, 1e-3, 20, rng)
		t.Logf("hidden %d: worst gradient error %.2g at %s", hidden, worst, where)
		if worst > 2e-2 {
			t.Errorf("hidden %d: gradient check error %.3g at %s", hidden, worst, where)
		}
	}
}

func TestTextScoreMatchesMembers(t *testing.T) {
	for _, tc := range []struct{ hidden, members int }{{0, 1}, {0, 3}, {6, 1}, {6, 3}} {
		cfg := TextConfig{Dim: 4, Hidden: tc.hidden, Members: tc.members, InitScale: 2}
		rng := nn.NewRNG(5, 0)
		e := NewText(cfg, rng)
		for _, p := range e.Params() {
			if strings.HasSuffix(p.Name, ".b") {
				nn.InitUniform(p, 0.5, rng)
			}
		}
		e.Temperature, e.Bias = 1.7, 0.3
		n := 4100 // more than one scoring block
		x := randomFeatures(n, cfg.Features(), rng)
		s := e.Score(x, n)
		per := make([][]float32, tc.members)
		for k, m := range e.Members {
			per[k], _ = m.Forward(x, n)
		}
		var spreadSeen bool
		for i := range n {
			var zs, ps, pp float64
			for k := range per {
				z := float64(per[k][i])
				zs += z
				p := sigmoid(z/e.Temperature + e.Bias)
				ps += p
				pp += p * p
			}
			K := float64(tc.members)
			mz, mp := zs/K, ps/K
			std := math.Sqrt(math.Max(pp/K-mp*mp, 0))
			if math.Abs(s.Logit[i]-mz) > 1e-4*math.Max(1, math.Abs(mz)) ||
				math.Abs(s.P[i]-sigmoid(mz/e.Temperature+e.Bias)) > 1e-5 || math.Abs(s.Std[i]-std) > 1e-5 {
				t.Fatalf("hidden %d, K %d, row %d: score %v/%v/%v, members give %v/%v/%v",
					tc.hidden, tc.members, i, s.Logit[i], s.P[i], s.Std[i], mz, sigmoid(mz/e.Temperature+e.Bias), std)
			}
			spreadSeen = spreadSeen || std > 1e-3
		}
		if (tc.members > 1) != spreadSeen {
			t.Errorf("hidden %d, K %d: members' spread seen = %v", tc.hidden, tc.members, spreadSeen)
		}
	}
}

func TestNewTextSeeded(t *testing.T) {
	cfg := TextConfig{Dim: 3, Hidden: 4, Members: 2, InitScale: 1}
	a, b := NewText(cfg, nn.NewRNG(9, 0)), NewText(cfg, nn.NewRNG(9, 0))
	pa, pb := a.Params(), b.Params()
	names := map[string]bool{}
	for i := range pa {
		names[pa[i].Name] = true
		for j := range pa[i].W {
			if pa[i].W[j] != pb[i].W[j] {
				t.Fatalf("same seed, different %s", pa[i].Name)
			}
		}
	}
	if len(names) != len(pa) || !names["m0.fc1.w"] || !names["m1.out.b"] {
		t.Errorf("parameter names %v: want distinct per-member names such as m0.fc1.w", names)
	}
	if a.Members[0].W1.W[0] == a.Members[1].W1.W[0] {
		t.Error("members start with the same weights")
	}
}

// noisyProblem draws n rows of F features labelled by a noisy linear rule:
// good when w·x + noise > 0, the noise as large as the signal, so that no
// classifier is sure and a network fitted hard to few rows is over-confident.
func noisyProblem(n, F int, w []float64, rng *nn.RNG) ([]float32, []bool) {
	x := randomFeatures(n, F, rng)
	good := make([]bool, n)
	for i := range n {
		var s float64
		for j, wj := range w {
			s += wj * float64(x[i*F+j])
		}
		good[i] = s+rng.NormFloat64() > 0
	}
	return x, good
}

func TestTextTrainAndCalibrate(t *testing.T) {
	cfg := TextConfig{Dim: 6, Hidden: 32, Members: 3, InitScale: 1}
	F := cfg.Features()
	rng := nn.NewRNG(13, 0)
	w := make([]float64, F)
	for j := range w {
		w[j] = rng.NormFloat64() / math.Sqrt(float64(F))
	}
	trainX, trainGood := noisyProblem(300, F, w, rng)
	valX, valGood := noisyProblem(1000, F, w, rng)
	testX, testGood := noisyProblem(2000, F, w, rng)

	e := NewText(cfg, rng)
	opts := make([]*nn.Adam, len(e.Members))
	for k, m := range e.Members {
		opts[k] = nn.NewAdam(nn.DefaultAdam(0.01), m.Params())
	}
	sets := make([]Set, len(trainGood))
	for i, g := range trainGood {
		sets[i] = Set{N: 1, Weight: 1 / float64(len(trainGood))}
		if g {
			sets[i].Label = 1
		}
	}
	first := e.TrainStep(opts, trainX, sets)
	var last float64
	for range 300 {
		last = e.TrainStep(opts, trainX, sets)
	}
	if !(last < first/4) {
		t.Fatalf("training loss %v → %v: the members did not fit the training rows", first, last)
	}

	eval := func() (auc, ece float64) {
		s := e.Score(testX, len(testGood))
		auc, err := metrics.AUC(s.P, testGood)
		if err != nil {
			t.Fatal(err)
		}
		ece, err = metrics.ECE(s.P, testGood, 15)
		if err != nil {
			t.Fatal(err)
		}
		return auc, ece
	}
	aucBefore, eceBefore := eval()
	T, err := e.Calibrate(valX, len(valGood), valGood)
	if err != nil {
		t.Fatal(err)
	}
	aucAfter, eceAfter := eval()
	t.Logf("held-out AUC %.4f → %.4f, ECE %.4f → %.4f at T = %.3f", aucBefore, aucAfter, eceBefore, eceAfter, T)
	if !(T > 1.5) {
		t.Errorf("T = %v: over-confident members need a temperature well above 1", T)
	}
	if !(eceAfter < eceBefore/2) || eceAfter > 0.08 {
		t.Errorf("ECE %v → %v after calibration: want it at least halved and under 0.08", eceBefore, eceAfter)
	}
	if math.Abs(aucAfter-aucBefore) > 1e-9 {
		t.Errorf("AUC %v → %v: a temperature must not change the ranking", aucBefore, aucAfter)
	}
	if aucAfter < 0.7 {
		t.Errorf("held-out AUC %v: the ensemble learnt nothing", aucAfter)
	}
}

func TestCalibrateErrors(t *testing.T) {
	cfg := TextConfig{Dim: 2, Hidden: 0, Members: 2, InitScale: 1}
	e := NewText(cfg, nn.NewRNG(1, 0))
	F := cfg.Features()
	x := make([]float32, 3*F)
	for _, tc := range []struct {
		name string
		x    []float32
		n    int
		good []bool
		want string
	}{
		{"all good", x, 3, []bool{true, true, true}, "all 3 validation rows are labelled good"},
		{"all bad", x, 3, []bool{false, false, false}, "labelled bad"},
		{"no rows", nil, 0, nil, "no validation rows"},
		{"labels", x, 3, []bool{true}, "1 labels for 3 rows"},
		{"features", x[:F], 3, []bool{true, false, true}, "feature values for 3 rows"},
	} {
		_, err := e.Calibrate(tc.x, tc.n, tc.good)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.want)
		}
	}
	if e.Temperature != 1 || e.Bias != 0 {
		t.Errorf("a failed calibration changed the temperature to %v, the bias to %v", e.Temperature, e.Bias)
	}
}
