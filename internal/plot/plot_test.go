package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func synthetic(withD, withHeldout bool) []Record {
	var recs []Record
	for s := 0; s <= 50; s += 10 {
		v := map[string]float64{"loss_g": 3 - 0.04*float64(s)}
		if withD {
			v["loss_d"] = 0.7
			v["d_real"] = 0.6
			v["d_fake"] = 0.4
		}
		if s == 20 {
			v["loss_g"] = math.NaN() // skipped
		}
		recs = append(recs, Record{Step: s, Phase: "adversarial", Values: v})
		if withHeldout {
			// nll_test is +Inf everywhere, so heldout.png shows only nll_oracle.
			recs = append(recs, Record{Step: s, Phase: "eval", Values: map[string]float64{
				"nll_oracle": 9 - 0.1*float64(s), "nll_test": math.Inf(1),
			}})
		}
	}
	return recs
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("%s is empty", path)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", path, err)
	}
	if cfg.Width < 100 || cfg.Height < 100 {
		t.Errorf("%s: %dx%d too small", path, cfg.Width, cfg.Height)
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		recs  []Record
		files []string
	}{
		{"all", synthetic(true, true), []string{"losses.png", "discriminator.png", "heldout.png"}},
		{"no discriminator", synthetic(false, true), []string{"losses.png", "heldout.png"}},
		{"no heldout", synthetic(true, false), []string{"losses.png", "discriminator.png"}},
		{"single point", []Record{{Step: 3, Phase: "mle", Values: map[string]float64{"loss_g": 1}}}, []string{"losses.png"}},
		{"text run", []Record{
			{Step: 10, Phase: "adversarial", Values: map[string]float64{"loss_g": 1}},
			{Step: 10, Phase: "eval", Values: map[string]float64{"auc": 0.8, "accuracy": 0.7, "ece": 0.05}},
			{Step: 20, Phase: "eval", Values: map[string]float64{"auc": 0.85, "accuracy": 0.75, "ece": 0.04}},
		}, []string{"losses.png", "evaluator.png"}},
		{"heldout only outside eval", []Record{{Step: 3, Phase: "mle", Values: map[string]float64{"nll_test": 1}}}, nil},
		{"only non-finite", []Record{{Step: 3, Phase: "mle", Values: map[string]float64{"loss_d": math.NaN()}}}, nil},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "plots")
			got, err := Run(tc.recs, dir)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range tc.files {
				want = append(want, filepath.Join(dir, f))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Run wrote %v, want %v", got, want)
			}
			for _, p := range got {
				checkPNG(t, p)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(ents) != len(want) {
				t.Errorf("dir has %d files, want %d", len(ents), len(want))
			}
		})
	}
}

func TestRunErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	// A directory where the PNG should go makes the save fail.
	if err := os.Mkdir(filepath.Join(dir, "losses.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Run(synthetic(true, true), dir)
	if err == nil || !strings.Contains(err.Error(), "losses.png") {
		t.Fatalf("err = %v, want naming losses.png", err)
	}
}

// Values that span float64's range once made gonum's tick search loop for
// ever (the axis span overflowed to +Inf); they are now clipped and noted.
func TestRunExtremeValuesFinish(t *testing.T) {
	tests := []struct {
		name string
		vals []float64
	}{
		{"±1e308", []float64{1e308, -1e308}},
		{"max float", []float64{math.MaxFloat64, -math.MaxFloat64, 0}},
		{"infinities", []float64{math.Inf(1), math.Inf(-1)}},
		{"one infinity", []float64{1, 2, math.Inf(1), 3}},
		{"tiny", []float64{1e-308, -1e-308, 5e-324}},
		{"diverging", []float64{3, 2.5, 2, 1e10, 1e30, 1e300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var recs []Record
			for i, v := range tc.vals {
				recs = append(recs, Record{Step: i + 1, Phase: "adversarial", Values: map[string]float64{"loss_g": v, "loss_d": -v}})
			}
			dir := t.TempDir()
			done := make(chan error, 1)
			go func() { _, err := Run(recs, dir); done <- err }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("plot.Run did not finish in 20 s")
			}
			checkPNG(t, filepath.Join(dir, "losses.png"))
		})
	}
}

func TestDisplayRange(t *testing.T) {
	decay := make([]float64, 200) // an MLE curve: a steep start, then flat
	for i := range decay {
		decay[i] = 3 + 5.5*math.Exp(-float64(i)/5)
	}
	spike := append(slices.Clone(decay), 1e30)
	tests := []struct {
		name   string
		vals   []float64
		lo, hi float64 // want; NaN = only check bounds
	}{
		{"normal curve is not cut", decay, slices.Min(decay), slices.Max(decay)},
		{"one spike is clipped", spike, slices.Min(decay), math.NaN()},
		{"±1e308 bounded", []float64{1e308, -1e308}, -maxAbsY, maxAbsY},
		{"constant", []float64{2, 2, 2}, 2, 2},
		{"single", []float64{-7}, -7, -7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := displayRange(tc.vals)
			if math.IsInf(hi-lo, 0) || hi < lo || hi > maxAbsY || lo < -maxAbsY {
				t.Fatalf("range [%g, %g] is not a drawable axis", lo, hi)
			}
			if lo != tc.lo || (!math.IsNaN(tc.hi) && hi != tc.hi) {
				t.Fatalf("range [%g, %g], want [%g, %g]", lo, hi, tc.lo, tc.hi)
			}
			if tc.name == "one spike is clipped" && hi > 1e3 {
				t.Fatalf("hi %g: the spike was not clipped", hi)
			}
		})
	}
}

func TestPhaseBoundaries(t *testing.T) {
	rec := func(step int, phase string) Record { return Record{Step: step, Phase: phase} }
	tests := []struct {
		name string
		recs []Record
		want []boundary
	}{
		{"full run", []Record{rec(10, "mle"), rec(20, "mle"), rec(20, "eval"), rec(25, "d_pretrain"), rec(30, "adversarial"), rec(40, "adversarial")},
			[]boundary{{20, "D pre-training"}, {25, "adversarial"}}},
		{"out of order, eval between", []Record{rec(30, "adversarial"), rec(5, "mle"), rec(10, "eval")},
			[]boundary{{5, "adversarial"}}},
		{"one phase", []Record{rec(1, "mle"), rec(2, "mle")}, nil},
		{"no records", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := phaseBoundaries(tc.recs); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The legend is drawn below the plot, never over the curves: the top right
// of the data area, where gonum puts a legend, holds no text.
func TestLegendOutsideData(t *testing.T) {
	var recs []Record
	for s := 1; s <= 50; s++ {
		recs = append(recs, Record{Step: s, Phase: "adversarial", Values: map[string]float64{"loss_g": float64(s % 7), "loss_d": float64(s % 5)}})
	}
	dir := t.TempDir()
	if _, err := Run(recs, dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "losses.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	dark := func(x0, x1, y0, y1 int) int {
		n := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if r < 100<<8 && g < 100<<8 && bl < 100<<8 {
					n++
				}
			}
		}
		return n
	}
	// Top right of the data area (below the title, right of it).
	if n := dark(b.Dx()*7/10, b.Dx()*97/100, 24, 70); n > 0 {
		t.Errorf("%d dark (text) pixels in the top right of the data area: the legend covers the curves", n)
	}
	// The legend's text is in the strip below the x axis label.
	if n := dark(0, b.Dx(), b.Dy()-40, b.Dy()); n == 0 {
		t.Error("no legend text below the plot")
	}
}
