package tui

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/NimbleMarkets/ntcharts/v2/canvas"
	"github.com/NimbleMarkets/ntcharts/v2/canvas/graph"
	"github.com/NimbleMarkets/ntcharts/v2/linechart"
)

// chartSeries is one curve to draw: full-resolution data, downsampled at
// draw time to the chart's width.
type chartSeries struct {
	xs, ys  []float64
	style   lipgloss.Style
	cache   *sampleCache // reuses the last downsampling when nothing changed
	gen     uint64       // the ys' generation (a re-smoothing makes a new one): part of the cache key
	markers bool         // mark every point (evaluations) with evalMarker, when they are few enough to read
}

// sampleCache holds one series' last downsampled points and what they were
// computed from; a redraw with the same data and range reuses them.
type sampleCache struct {
	n        int
	gen      uint64
	xs0, ys0 *float64 // identity of the slices (raw vs smoothed, step vs time)
	x0, x1   float64
	buckets  int
	pts      []point
}

func (c *sampleCache) get(xs, ys []float64, gen uint64, x0, x1 float64, buckets int) []point {
	if c == nil || len(xs) == 0 || len(ys) == 0 {
		return Downsample(xs, ys, x0, x1, buckets)
	}
	if c.n == len(ys) && c.gen == gen && c.xs0 == &xs[0] && c.ys0 == &ys[0] && c.x0 == x0 && c.x1 == x1 && c.buckets == buckets {
		return c.pts
	}
	c.pts = Downsample(xs, ys, x0, x1, buckets)
	c.n, c.gen, c.xs0, c.ys0, c.x0, c.x1, c.buckets = len(ys), gen, &xs[0], &ys[0], x0, x1, buckets
	return c.pts
}

// chartOpts are the chart's toggles.
type chartOpts struct {
	// xMin, xMax are the x window (zoom); NaN: the data's whole range.
	xMin, xMax float64
	logY       bool
	timeX      bool // x is wall-clock seconds, else steps
	log2X      bool // x holds log2 of the value (sequence lengths): labels show 2^x, one per octave when the range is whole octaves
}

// octaveColumns is the columns per octave that puts a label under every
// one of octaves+1 powers of two on a graph gw columns wide, each label
// labelW wide at most (a label starts at its tick; the last must fit):
// false when the range is not a whole number of octaves (1 to 12) or the
// labels would not fit apart.
func octaveColumns(octaves float64, gw, labelW int) (int, bool) {
	k := math.Round(octaves)
	if k < 1 || k > 12 || math.Abs(octaves-k) > 1e-9 {
		return 0, false
	}
	n := gw / int(k)
	for n > 0 && int(k)*n+labelW > gw+1 {
		n--
	}
	return n, n > labelW
}

// linearColumns picks the columns per x label, n near target, and the
// number of labels after the first, k, so that the last label (at column
// k·n, labelW wide) fits on a graph gw columns wide and as few columns as
// possible are left after it; false when fewer than two labels fit.
func linearColumns(gw, labelW, target int) (n, k int, ok bool) {
	best := -1
	// Labels need a space between them, or the chart drops every other.
	for c := max(target*3/4, labelW+2, 3); c <= max(target*5/4, labelW+2, 4); c++ {
		kk := gw / c
		for kk > 0 && kk*c+labelW > gw {
			kk--
		}
		if kk < 2 {
			continue
		}
		if left := gw - kk*c; best < 0 || left < best {
			best, n, k = left, c, kk
		}
	}
	return n, k, best >= 0
}

// renderChart draws the series as braille lines on one pair of axes,
// w×h cells including the axis labels. Each series is downsampled to
// min/max per braille column first, so the cost does not depend on how
// many points a run has logged.
func renderChart(w, h int, ss []chartSeries, o chartOpts, st styles) string {
	if w < 10 || h < 4 {
		return ""
	}
	x0, x1 := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		if a, b, ok := finiteRange(s.xs); ok {
			x0, x1 = min(x0, a), max(x1, b)
		}
	}
	if math.IsInf(x0, 0) {
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, st.dim.Render("waiting for metrics…"))
	}
	if finite(o.xMin) && finite(o.xMax) && o.xMax > o.xMin {
		x0, x1 = o.xMin, o.xMax
	}
	if x1 <= x0 {
		x1 = x0 + 1
	}
	// The y labels take a few columns; 2 braille dots per remaining column.
	buckets := 2 * max(w-8, 1)
	sampled := make([][]point, len(ss))
	y0, y1 := math.Inf(1), math.Inf(-1)
	for i, s := range ss {
		pts := s.cache.get(s.xs, s.ys, s.gen, x0, x1, buckets)
		if o.logY { // log is monotonic: min/max per bucket survive it
			logPts := make([]point, 0, len(pts)) // a copy: pts may be cached
			for _, p := range pts {
				if p.Y > 0 {
					logPts = append(logPts, point{p.X, math.Log10(p.Y)})
				}
			}
			pts = logPts
		}
		for _, p := range pts {
			y0, y1 = min(y0, p.Y), max(y1, p.Y)
		}
		sampled[i] = pts
	}
	if math.IsInf(y0, 0) {
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, st.dim.Render("no positive values for a log scale"))
	}
	padY := (y1 - y0) * 0.05
	if padY == 0 {
		padY = math.Max(math.Abs(y0)*0.05, 0.05)
	}
	y0, y1 = y0-padY, y1+padY

	yfmt := func(_ int, v float64) string {
		if o.logY {
			v = math.Pow(10, v)
		}
		if o.log2X { // one width for every label: charts drawn one above the other line up
			return fmt.Sprintf("%8s", fmtAxis(v))
		}
		return fmtAxis(v)
	}
	xfmt := func(_ int, v float64) string {
		if o.timeX {
			return fmtDuration(secondsDuration(v))
		}
		if o.log2X { // a label a column off a power of two names it
			if e := math.Round(v); math.Abs(v-e) < 0.1 {
				v = e
			}
			return fmtSI(math.Round(math.Exp2(v)))
		}
		return fmtSI(math.Round(v))
	}
	newChart := func(x1 float64, xSteps int, xfmt linechart.LabelFormatter) *linechart.Model {
		lc := linechart.New(w, h, x0, x1, y0, y1,
			linechart.WithXYSteps(xSteps, max(h/4, 2)),
			linechart.WithXLabelFormatter(xfmt),
			linechart.WithYLabelFormatter(yfmt),
			linechart.WithStyles(st.axis, st.axis, lipgloss.NewStyle()),
		)
		return &lc
	}
	lc := newChart(x1, max(w/6, 4), xfmt)
	if !o.log2X {
		// The last label names the data's last x: with n columns per label
		// and k labels after the first, the x range is stretched so that
		// column k·n is x1 (a few empty columns may follow it). Otherwise
		// the last label falls short of the end and the data look shorter
		// than they are (a run to step 900 labelled up to 750).
		gw := lc.GraphWidth()
		labelW := len(xfmt(0, x1))
		if n, k, ok := linearColumns(gw, labelW, max(w/6, 4)); ok {
			x1 = x0 + (x1-x0)*float64(gw)/float64(k*n)
			lc = newChart(x1, n, xfmt)
		}
	}
	if o.log2X {
		// Whole octaves (lengths 128…8192): n columns per octave and the
		// x range stretched to gw/n octaves put a tick on every power of
		// two, each labelled with its exact length, the last one too.
		gw := lc.GraphWidth()
		labelW := len(fmtSI(math.Round(math.Exp2(x1))))
		if n, ok := octaveColumns(x1-x0, gw, labelW); ok {
			x1 = x0 + float64(gw)/float64(n)
			lc = newChart(x1, n, func(i int, v float64) string {
				if i%n != 0 {
					return "" // the axis' last column: no tick
				}
				return fmtSI(math.Round(math.Exp2(x0 + float64(i/n))))
			})
		}
	}
	lc.DrawXYAxisAndLabel()
	gw, gh := lc.GraphWidth(), lc.GraphHeight()
	if gw <= 0 || gh <= 0 {
		return canvasView(&lc.Canvas)
	}
	origin := canvas.Point{X: lc.Origin().X + 1, Y: 0}
	for i, pts := range sampled {
		if len(pts) == 0 {
			continue
		}
		grid := graph.NewBrailleGrid(gw, gh, x0, x1, y0, y1)
		prev := grid.GridPoint(canvas.Float64Point{X: pts[0].X, Y: pts[0].Y})
		grid.Set(prev)
		for _, p := range pts[1:] {
			cur := grid.GridPoint(canvas.Float64Point{X: p.X, Y: p.Y})
			for _, q := range graph.GetLinePointsWithLimit(prev, cur, 4*(gw+gh)) {
				grid.Set(q)
			}
			prev = cur
		}
		graph.DrawBraillePatterns(&lc.Canvas, origin, grid.BraillePatterns(), ss[i].style)
		if ss[i].markers && len(pts) <= gw/2 { // a marker per point, while they stay apart
			for _, p := range pts {
				g := grid.GridPoint(canvas.Float64Point{X: p.X, Y: p.Y})
				lc.Canvas.SetCell(canvas.Point{X: origin.X + g.X/2, Y: origin.Y + g.Y/4}, canvas.NewCellWithStyle(evalMarker, ss[i].style))
			}
		}
	}
	return canvasView(&lc.Canvas)
}

// canvasView renders a canvas like its View, but styles each run of cells
// sharing a foreground colour once instead of every cell: the chart's cells
// differ only in colour, and per-cell rendering dominated the redraw.
func canvasView(c *canvas.Model) string {
	var b strings.Builder
	w, h := c.Width(), c.Height()
	b.Grow(w * h * 3)
	var run []rune
	var runFg color.Color
	flush := func() {
		if len(run) == 0 {
			return
		}
		if runFg == nil {
			b.WriteString(string(run))
		} else {
			b.WriteString(lipgloss.NewStyle().Foreground(runFg).Render(string(run)))
		}
		run = run[:0]
	}
	for y := range h {
		for x := range w {
			cell := c.Cell(canvas.Point{X: x, Y: y})
			r := cell.Rune
			if r == 0 {
				r = ' '
			}
			fg := cell.Style.GetForeground()
			if _, none := fg.(lipgloss.NoColor); none {
				fg = nil
			}
			if r != ' ' && !sameColor(fg, runFg) {
				flush()
				runFg = fg
			}
			run = append(run, r)
		}
		flush()
		runFg = nil
		if y < h-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// sameColor compares two colours by value (nil is the terminal default).
func sameColor(a, b color.Color) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// finiteRange is the smallest and largest finite value of a non-decreasing
// series, found from its ends.
func finiteRange(xs []float64) (lo, hi float64, ok bool) {
	i, j := 0, len(xs)-1
	for i <= j && !finite(xs[i]) {
		i++
	}
	for j >= i && !finite(xs[j]) {
		j--
	}
	if i > j {
		return 0, 0, false
	}
	return xs[i], xs[j], true
}
