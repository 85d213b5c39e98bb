// Package plotfile writes line charts of training metrics to SVG, PNG or
// CSV files with gonum.org/v1/plot: `fnet-tui plot` draws runs' metrics
// with it, and the dashboard can hand it what is on screen.
//
// A Figure is raw series (no smoothing), each drawn in its own colour from
// Palette in the given order, with a legend naming them. Write picks the
// format from the file's extension and replaces the file atomically, so a
// failed write never leaves a half-written or emptied file behind.
//
// CSV is long format, one row per point: a header "series,X,Y" whose last
// two names are the figure's axis labels, then name,x,y rows in series
// order (values in Go's shortest round-tripping form). ReadCSV reads it
// back.
package plotfile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// Series is one line of a figure: the points (X[i], Y[i]) in drawing order.
type Series struct {
	Name string
	X, Y []float64
}

// Figure is what one file shows.
type Figure struct {
	Title, XLabel, YLabel string
	Series                []Series
	// Width and Height are the image's size in pixels (an SVG's in CSS
	// pixels, 96 per inch); 0 means DefaultWidth or DefaultHeight.
	Width, Height int
	// Notes say what a loader left out (runs without the metric,
	// non-finite values). They are not drawn.
	Notes []string
}

// The default image size in pixels, and the largest accepted.
const (
	DefaultWidth  = 960
	DefaultHeight = 540
	MaxSide       = 10000
)

// Palette is the colours of the series in order (the Okabe-Ito palette,
// distinguishable with the common colour-vision deficiencies, then four
// more). A figure with more series than colours starts the palette again
// with dashed lines.
var Palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0x00, 0x00, 0x00, 0xFF}, // black
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
	{0x7F, 0x3C, 0x8D, 0xFF}, // purple
	{0x7F, 0x7F, 0x7F, 0xFF}, // grey
	{0x8C, 0x56, 0x4B, 0xFF}, // brown
	{0x2E, 0x5E, 0x2E, 0xFF}, // dark green
}

// dashes are the line patterns of the second, third ... round of Palette.
var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}}

// Formats are the file extensions Write accepts.
var Formats = []string{".svg", ".png", ".csv"}

// FormatOf is the format Write would choose for path: "svg", "png" or
// "csv", or an error naming the path and the accepted extensions.
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	for _, f := range Formats {
		if ext == f {
			return ext[1:], nil
		}
	}
	if ext == "" {
		return "", fmt.Errorf("%s: no file extension: want %s", path, strings.Join(Formats, ", "))
	}
	return "", fmt.Errorf("%s: unknown extension %s: want %s", path, ext, strings.Join(Formats, ", "))
}

// Write renders f into path in the format of its extension (.svg, .png or
// .csv) and replaces path atomically.
func Write(path string, f Figure) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Render(&buf, format, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes(), 0o644)
}

// Render writes f in format ("svg", "png" or "csv") to w.
func Render(w io.Writer, format string, f Figure) error {
	if err := f.check(); err != nil {
		return err
	}
	switch format {
	case "csv":
		return writeCSV(w, f)
	case "svg", "png":
	default:
		return fmt.Errorf("unknown format %q: want svg, png or csv", format)
	}
	p, err := f.plot()
	if err != nil {
		return err
	}
	wpx, hpx := f.size()
	var c vg.CanvasWriterTo
	if format == "svg" {
		// 96 CSS pixels per inch, 72 points per inch
		c = vgsvg.New(vg.Length(wpx)*0.75, vg.Length(hpx)*0.75)
	} else {
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseImage(image.NewRGBA(image.Rect(0, 0, wpx, hpx))), vgimg.UseDPI(96))}
	}
	p.Draw(draw.New(c))
	_, err = c.WriteTo(w)
	return err
}

func (f Figure) size() (w, h int) {
	w, h = f.Width, f.Height
	if w == 0 {
		w = DefaultWidth
	}
	if h == 0 {
		h = DefaultHeight
	}
	return w, h
}

// Points is the number of points in all series.
func (f Figure) Points() int {
	n := 0
	for _, s := range f.Series {
		n += len(s.X)
	}
	return n
}

var errEmpty = errors.New("nothing to draw: the figure has no points")

func (f Figure) check() error {
	if f.Width < 0 || f.Height < 0 || f.Width > MaxSide || f.Height > MaxSide {
		return fmt.Errorf("image size %dx%d: want 1..%d pixels a side", f.Width, f.Height, MaxSide)
	}
	for _, s := range f.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
	}
	if f.Points() == 0 {
		return errEmpty
	}
	return nil
}

// plot builds the gonum plot: a grid, one line per series (with point
// marks when a series is too short to show as a line), the legend.
func (f Figure) plot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = f.Title
	p.X.Label.Text = f.XLabel
	p.Y.Label.Text = f.YLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for i, s := range f.Series {
		xys := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if finite(s.X[j]) && finite(s.Y[j]) {
				xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", s.Name, err)
		}
		l.Color = Palette[i%len(Palette)]
		l.Width = vg.Points(1.5)
		l.Dashes = dashes[(i/len(Palette))%len(dashes)]
		p.Add(l)
		if len(xys) < 3 {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("series %q: %w", s.Name, err)
			}
			sc.Color = l.Color
			sc.Shape = draw.CircleGlyph{}
			p.Add(sc)
		}
		p.Legend.Add(s.Name, l)
	}
	return p, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
