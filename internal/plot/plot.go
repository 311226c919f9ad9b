package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Record is one record of a run's metrics: the global step, the phase
// ("mle", "d_pretrain", "adversarial", "eval", ...) and named values
// (loss_g, d_real, nll_test, ...). Its fields are those of metrics.Record,
// which converts to it: plot.Record(r).
type Record struct {
	Step   int
	Phase  string
	Values map[string]float64
}

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

// Run draws recs and writes PNGs into dir (created if needed), returning the
// paths written, in this order:
//
//	losses.png        loss_g and loss_d of training steps
//	discriminator.png d_real and d_fake of training batches and of evaluations
//	heldout.png       nll_oracle and nll_test of evaluations
//	evaluator.png     a text run's auc, accuracy and ece of evaluations
//
// Each series holds the values of its key, sorted by step (records with
// equal steps keep their order); NaN is skipped, and a key never present (or
// only NaN) gives no series. Values far outside the rest (a diverging run's
// 1e30, or ±Inf) are drawn at the edge of a bounded y axis, marked, and
// counted in the title: an axis spanning ±1e308 would otherwise make the
// tick search loop for ever. Dashed vertical lines mark where the training
// phases begin (MLE → D pre-training → adversarial), and the legend sits
// below the plot, where it cannot cover a curve. A figure whose series are
// all absent is skipped and not written. Errors name the file concerned.
func Run(recs []Record, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plot: %w", err)
	}
	bounds := phaseBoundaries(recs)
	var written []string
	for _, f := range figures {
		path := filepath.Join(dir, f.file)
		ok, err := draw1(recs, bounds, f, path)
		if err != nil {
			return written, fmt.Errorf("plot: %s: %w", path, err)
		}
		if ok {
			written = append(written, path)
		}
	}
	return written, nil
}

// series collects the values of key against step in the records of phase
// ("" = every phase but "eval"). NaN is skipped; ±Inf is kept (drawn
// clipped at the edge).
func series(recs []Record, key, phase string) plotter.XYs {
	var xys plotter.XYs
	for _, r := range recs {
		if (phase == "" && r.Phase == "eval") || (phase != "" && r.Phase != phase) {
			continue
		}
		v, ok := r.Values[key]
		if !ok || math.IsNaN(v) {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(r.Step), Y: v})
	}
	sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
	return xys
}

// maxAbsY bounds the y axis. gonum's tick search squares the axis span, so a
// span near 1e308 overflows and the search never ends; no loss, probability
// or NLL worth reading is beyond 1e15.
const maxAbsY = 1e15

// displayRange returns the y range to draw: the values between the 2nd and
// 98th percentiles widened by ten times their spread (so that a normal
// curve, its steep start included, is never cut), within ±maxAbsY. Values
// outside are clipped. vals must be finite and non-empty.
func displayRange(vals []float64) (lo, hi float64) {
	s := slices.Clone(vals)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(math.Round(p*float64(len(s)-1)))] }
	a, b := q(0.02), q(0.98)
	// Halves keep the spread finite when a and b are near ∓1.8e308.
	spread := b/2 - a/2
	if spread == 0 {
		spread = max(math.Abs(a)/2, 0.5)
	}
	margin := 20 * min(spread, maxAbsY)
	lo = max(a-margin, s[0], -maxAbsY)
	hi = min(b+margin, s[len(s)-1], maxAbsY)
	return lo, hi
}

// boundary is the start of a training phase: the last logged step of the
// phase before it, and the phase's name.
type boundary struct {
	step  float64
	phase string
}

var phaseNames = map[string]string{"mle": "MLE", "d_pretrain": "D pre-training", "adversarial": "adversarial"}

// phaseBoundaries returns where the training phase changes in recs, in step
// order ("eval" records are not a phase).
func phaseBoundaries(recs []Record) []boundary {
	var train []Record
	for _, r := range recs {
		if r.Phase != "eval" {
			train = append(train, r)
		}
	}
	sort.SliceStable(train, func(i, j int) bool { return train[i].Step < train[j].Step })
	var out []boundary
	for i := 1; i < len(train); i++ {
		if train[i].Phase != train[i-1].Phase {
			name := phaseNames[train[i].Phase]
			if name == "" {
				name = train[i].Phase
			}
			out = append(out, boundary{step: float64(train[i-1].Step), phase: name})
		}
	}
	return out
}

// phaseLine draws a boundary as a dashed line across the whole height of
// the data area, labelled above it, in the band that draw1 reserves under
// the title, where no curve goes (row: which line of that band, so that the
// labels of close boundaries do not overprint); it is skipped outside the x
// range.
type phaseLine struct {
	boundary
	row int
}

func (l phaseLine) Plot(c draw.Canvas, p *gplot.Plot) {
	if l.step < p.X.Min || l.step > p.X.Max {
		return
	}
	trX, _ := p.Transforms(&c)
	x := trX(l.step)
	c.StrokeLine2(draw.LineStyle{Color: boundaryColor, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}},
		x, c.Min.Y, x, c.Max.Y)
	sty := text.Style{Font: font.From(gplot.DefaultFont, 9), Color: boundaryColor, Handler: gplot.DefaultTextHandler, XAlign: draw.XLeft, YAlign: draw.YBottom}
	y := c.Max.Y + vg.Points(3) + vg.Length(l.row)*labelRow
	c.StrokeLine2(draw.LineStyle{Color: boundaryColor, Width: vg.Points(0.5)}, x, c.Max.Y, x, y+labelRow/2)
	c.FillText(sty, vg.Point{X: x + vg.Points(3), Y: y}, "→ "+l.phase)
}

// labelRow is the height of one line of phase labels.
const labelRow = 11 * vg.Length(1)

// labelRows is how many lines of phase labels bounds needs.
func labelRows(bounds []boundary) int { return min(len(bounds), 3) }

var boundaryColor = color.Gray{Y: 0x60}

// draw1 draws figure f to path; it reports false (and writes nothing) if
// every series is absent.
func draw1(recs []Record, bounds []boundary, f figure, path string) (bool, error) {
	type line struct {
		spec seriesSpec
		col  color.Color
		xys  plotter.XYs
	}
	var lines []line
	var finite []float64
	for i, sp := range f.series {
		xys := series(recs, sp.key, sp.phase)
		if len(xys) == 0 {
			continue
		}
		lines = append(lines, line{sp, palette[i%len(palette)], xys})
		for _, xy := range xys {
			if !math.IsInf(xy.Y, 0) {
				finite = append(finite, xy.Y)
			}
		}
	}
	if len(lines) == 0 {
		return false, nil
	}
	lo, hi := -maxAbsY, maxAbsY
	if len(finite) > 0 {
		lo, hi = displayRange(finite)
	}

	p := gplot.New()
	p.Title.Text = f.title
	p.X.Label.Text = "step"
	p.Y.Label.Text = f.ylabel
	p.Add(plotter.NewGrid())
	leg := gplot.NewLegend()
	leg.Left, leg.Top = true, true
	leg.Padding = vg.Points(3)
	clipped := 0
	for _, l := range lines {
		var edge plotter.XYs // clipped points, marked
		for k, xy := range l.xys {
			if y := min(max(xy.Y, lo), hi); y != xy.Y {
				l.xys[k].Y = y
				edge = append(edge, l.xys[k])
			}
		}
		clipped += len(edge)
		ln, err := plotter.NewLine(l.xys)
		if err != nil {
			return false, fmt.Errorf("series %s: %w", l.spec.key, err)
		}
		ln.Color = l.col
		ln.Width = vg.Points(1.5)
		p.Add(ln)
		marks := edge
		if len(l.xys) == 1 {
			marks = l.xys // a single point draws no line segment; mark it
		}
		if len(marks) > 0 {
			pts, err := plotter.NewScatter(marks)
			if err != nil {
				return false, fmt.Errorf("series %s: %w", l.spec.key, err)
			}
			pts.Color = l.col
			pts.Shape = draw.CircleGlyph{}
			if len(edge) > 0 {
				pts.Shape = draw.TriangleGlyph{}
			}
			p.Add(pts)
		}
		leg.Add(l.spec.label, ln)
	}
	if clipped > 0 {
		p.Y.Min, p.Y.Max = lo, hi
		p.Title.Text += fmt.Sprintf("\n%d %s outside [%.3g, %.3g] drawn at the edge (triangles)", clipped, plural(clipped, "value", "values"), lo, hi)
	}
	if n := labelRows(bounds); n > 0 {
		p.Title.Padding = vg.Length(n)*labelRow + vg.Points(6)
	}
	for i, b := range bounds {
		p.Add(phaseLine{b, i % 3})
	}
	return true, save(p, &leg, path)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// save writes p as a PNG with leg in a strip below it, aligned with the
// data area.
func save(p *gplot.Plot, leg *gplot.Legend, path string) error {
	legH := leg.Rectangle(draw.Canvas{}).Size().Y + 2*legendPad
	img := vgimg.New(width, height+legH)
	dc := draw.New(img)
	plotC := dc
	plotC.Min.Y += legH
	plotC.Max.Y -= vg.Points(4) // the title's ascenders clear the top edge
	p.Draw(plotC)
	legC := dc
	legC.Max.Y = dc.Min.Y + legH - legendPad
	legC.Min.X = p.DataCanvas(plotC).Min.X
	leg.Draw(legC)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

const legendPad = 6 * vg.Millimeter / 2
