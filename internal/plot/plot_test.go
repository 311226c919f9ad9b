package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"promptgan/metrics"
)

func synthetic(withD, withHeldout bool) []metrics.Record {
	var recs []metrics.Record
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
		recs = append(recs, metrics.Record{Step: s, Phase: "adversarial", Values: v})
		if withHeldout {
			// nll_test is +Inf everywhere, so heldout.png shows only nll_oracle.
			recs = append(recs, metrics.Record{Step: s, Phase: "eval", Values: map[string]float64{
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
		recs  []metrics.Record
		files []string
	}{
		{"all", synthetic(true, true), []string{"losses.png", "discriminator.png", "heldout.png"}},
		{"no discriminator", synthetic(false, true), []string{"losses.png", "heldout.png"}},
		{"no heldout", synthetic(true, false), []string{"losses.png", "discriminator.png"}},
		{"single point", []metrics.Record{{Step: 3, Phase: "mle", Values: map[string]float64{"loss_g": 1}}}, []string{"losses.png"}},
		{"text run", []metrics.Record{
			{Step: 10, Phase: "adversarial", Values: map[string]float64{"loss_g": 1}},
			{Step: 10, Phase: "eval", Values: map[string]float64{"auc": 0.8, "accuracy": 0.7, "ece": 0.05}},
			{Step: 20, Phase: "eval", Values: map[string]float64{"auc": 0.85, "accuracy": 0.75, "ece": 0.04}},
		}, []string{"losses.png", "evaluator.png"}},
		{"heldout only outside eval", []metrics.Record{{Step: 3, Phase: "mle", Values: map[string]float64{"nll_test": 1}}}, nil},
		{"only non-finite", []metrics.Record{{Step: 3, Phase: "mle", Values: map[string]float64{"loss_d": math.NaN()}}}, nil},
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
