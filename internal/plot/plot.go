package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"promptgan/metrics"
)

// figure describes one PNG: which values to draw, from which records.
type figure struct {
	file   string
	title  string
	ylabel string
	series []seriesSpec
}

// seriesSpec selects one line: the values of key in the records whose phase
// is phase ("" = any training phase, i.e. every phase but "eval").
type seriesSpec struct {
	label, key, phase string
}

var figures = []figure{
	{file: "losses.png", title: "Training losses", ylabel: "loss", series: []seriesSpec{
		{"loss_g", "loss_g", ""}, {"loss_d", "loss_d", ""}}},
	{file: "discriminator.png", title: "Discriminator outputs", ylabel: "D(x)", series: []seriesSpec{
		{"D(real), training batch", "d_real", ""}, {"D(fake), training batch", "d_fake", ""},
		{"D(real), held-out", "d_real", "eval"}, {"D(fake), evaluation samples", "d_fake", "eval"}}},
	{file: "heldout.png", title: "Held-out NLL", ylabel: "NLL (nats/token)", series: []seriesSpec{
		{"nll_oracle", "nll_oracle", "eval"}, {"nll_test", "nll_test", "eval"}}},
	{file: "evaluator.png", title: "The text discriminator on the test split", ylabel: "value", series: []seriesSpec{
		{"AUC (higher is better)", "auc", "eval"}, {"accuracy", "accuracy", "eval"}, {"ECE (lower is better)", "ece", "eval"}}},
}

// Figure size.
const (
	width  = 8 * vg.Inch
	height = 5 * vg.Inch
)

// palette colours series in order (colour-blind friendly).
var palette = []color.Color{
	color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xFF},
	color.RGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0xFF},
	color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xFF},
	color.RGBA{R: 0xCC, G: 0x79, B: 0xA7, A: 0xFF},
}

// Run reads recs and writes PNGs into dir (created if needed), returning the
// paths written, in this order:
//
//	losses.png        loss_g and loss_d of training steps
//	discriminator.png d_real and d_fake of training batches and of evaluations
//	heldout.png       nll_oracle and nll_test of evaluations
//	evaluator.png     a text run's auc, accuracy and ece of evaluations
//
// Each series holds the finite values of its key, sorted by step (records
// with equal steps keep their order); a key never present (or only
// non-finite) gives no series. A figure whose series are all absent is
// skipped and not written. Errors name the file concerned.
func Run(recs []metrics.Record, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	var written []string
	for _, f := range figures {
		path := filepath.Join(dir, f.file)
		ok, err := draw1(recs, f, path)
		if err != nil {
			return written, fmt.Errorf("plot: %s: %w", path, err)
		}
		if ok {
			written = append(written, path)
		}
	}
	return written, nil
}

// series collects the finite values of key against step in the records of
// phase ("" = every phase but "eval").
func series(recs []metrics.Record, key, phase string) plotter.XYs {
	var xys plotter.XYs
	for _, r := range recs {
		if (phase == "" && r.Phase == "eval") || (phase != "" && r.Phase != phase) {
			continue
		}
		v, ok := r.Values[key]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(r.Step), Y: v})
	}
	sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
	return xys
}

// draw1 draws figure f to path; it reports false (and writes nothing) if
// every series is absent.
func draw1(recs []metrics.Record, f figure, path string) (bool, error) {
	p := gplot.New()
	p.Title.Text = f.title
	p.X.Label.Text = "step"
	p.Y.Label.Text = f.ylabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	n := 0
	for i, sp := range f.series {
		key := sp.key
		xys := series(recs, key, sp.phase)
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return false, fmt.Errorf("series %s: %w", key, err)
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		if len(xys) == 1 {
			// A single point draws no line segment; mark it.
			pts, err := plotter.NewScatter(xys)
			if err != nil {
				return false, fmt.Errorf("series %s: %w", key, err)
			}
			pts.Color = line.Color
			pts.Shape = draw.CircleGlyph{}
			p.Add(pts)
		}
		p.Legend.Add(sp.label, line)
		n++
	}
	if n == 0 {
		return false, nil
	}
	if err := p.Save(width, height, path); err != nil {
		return false, err
	}
	return true, nil
}
