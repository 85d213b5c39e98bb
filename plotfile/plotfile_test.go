package plotfile

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func twoSeries() Figure {
	return Figure{Title: "train/loss", XLabel: "step", YLabel: "train/loss", Series: []Series{
		{Name: "run-alpha", X: []float64{0, 10, 20, 30}, Y: []float64{5, 4.25, 3.5, 3.125}},
		{Name: "run-beta", X: []float64{0, 10, 20}, Y: []float64{6, 1e-7, 0.1 + 0.2}},
	}}
}

func hex(i int) string {
	c := Palette[i]
	return fmt.Sprintf("#%02X%02X%02X", c.R, c.G, c.B)
}

func TestSVGHasOnePathPerSeriesAndTheLegend(t *testing.T) {
	f := twoSeries()
	path := filepath.Join(t.TempDir(), "out.svg")
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(b)
	if !strings.Contains(svg, "<svg") {
		t.Fatalf("not an SVG: %.200s", svg)
	}
	for _, name := range []string{"run-alpha", "run-beta", "train/loss", "step"} {
		if !strings.Contains(svg, ">"+name+"<") {
			t.Errorf("no text %q in the SVG", name)
		}
	}
	// Each series is one stroked path through all its points, in its own
	// palette colour; the legend's sample is a second, two-point path.
	paths := regexp.MustCompile(`<path d="([^"]*)"[^>]*stroke:(#[0-9A-Fa-f]{6})`).FindAllStringSubmatch(svg, -1)
	for i, s := range f.Series {
		var data, samples int
		for _, p := range paths {
			if !strings.EqualFold(p[2], hex(i)) {
				continue
			}
			switch strings.Count(p[1], "L") + 1 {
			case len(s.X):
				data++
			case 2:
				samples++
			}
		}
		if data != 1 || samples != 1 {
			t.Errorf("series %q (%s): %d data paths of %d points and %d legend samples, want 1 and 1", s.Name, hex(i), data, len(s.X), samples)
		}
	}
	if hex(0) == hex(1) {
		t.Fatal("the palette's first two colours are the same")
	}
}

func TestPNGHasTheRequestedSize(t *testing.T) {
	f := twoSeries()
	f.Width, f.Height = 640, 360
	path := filepath.Join(t.TempDir(), "out.png")
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Errorf("PNG is %dx%d, want 640x360", b.Dx(), b.Dy())
	}
	// the first series' colour is drawn
	want := Palette[0]
	found := false
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y && !found; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == want.R && uint8(g>>8) == want.G && uint8(b>>8) == want.B {
				found = true
				break
			}
		}
	}
	if !found {
		t.Error("no pixel of the first series' colour")
	}
}

func TestCSVRoundTrips(t *testing.T) {
	f := twoSeries()
	f.Series[0].Name = `a run, "quoted"`
	path := filepath.Join(t.TempDir(), "out.csv")
	if err := Write(path, f); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "series,step,train/loss\n") {
		t.Errorf("header: %q", b)
	}
	got, err := ReadCSV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.XLabel != f.XLabel || got.YLabel != f.YLabel || len(got.Series) != len(f.Series) {
		t.Fatalf("read back %+v", got)
	}
	for i, s := range f.Series {
		g := got.Series[i]
		if g.Name != s.Name || len(g.X) != len(s.X) {
			t.Fatalf("series %d: %+v, want %+v", i, g, s)
		}
		for j := range s.X {
			if g.X[j] != s.X[j] || g.Y[j] != s.Y[j] {
				t.Errorf("series %q point %d: (%v, %v), want (%v, %v)", s.Name, j, g.X[j], g.Y[j], s.X[j], s.Y[j])
			}
		}
	}
}

func TestWriteRefusesBadExtensionAndKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"out.jpg", "out", "out.svg.bak"} {
		err := Write(filepath.Join(dir, name), twoSeries())
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), ".svg, .png, .csv") {
			t.Errorf("%s: err = %v, want one naming the file and the extensions", name, err)
		}
		if _, serr := os.Stat(filepath.Join(dir, name)); serr == nil {
			t.Errorf("%s was written", name)
		}
	}
	// an empty figure is an error and leaves an existing file alone
	old := filepath.Join(dir, "keep.svg")
	os.WriteFile(old, []byte("old"), 0o644)
	empty := twoSeries().Window(100, 200)
	if err := Write(old, empty); err == nil || !strings.Contains(err.Error(), "no points") {
		t.Errorf("empty figure: %v", err)
	}
	if b, _ := os.ReadFile(old); string(b) != "old" {
		t.Errorf("keep.svg was replaced: %q", b)
	}
	bad := twoSeries()
	bad.Series[1].Y = bad.Series[1].Y[:1]
	if err := Write(filepath.Join(dir, "x.csv"), bad); err == nil || !strings.Contains(err.Error(), "run-beta") {
		t.Errorf("ragged series: %v", err)
	}
	big := twoSeries()
	big.Width = MaxSide + 1
	if err := Write(filepath.Join(dir, "x.png"), big); err == nil {
		t.Error("a 10001-pixel image was accepted")
	}
}

func TestWindowAndLast(t *testing.T) {
	f := twoSeries()
	w := f.Window(10, 20)
	if len(w.Series) != 2 || len(w.Series[0].X) != 2 || w.Series[1].X[0] != 10 {
		t.Errorf("Window(10, 20) = %+v", w.Series)
	}
	l := f.Last(10) // the largest x is 30: [20, 30]
	if got := l.Series[0].X; len(got) != 2 || got[0] != 20 || got[1] != 30 {
		t.Errorf("Last(10) alpha = %v", got)
	}
	if got := l.Series[1].X; len(got) != 1 || got[0] != 20 {
		t.Errorf("Last(10) beta = %v", got)
	}
	if lo, hi := f.XRange(); lo != 0 || hi != 30 {
		t.Errorf("XRange = %v, %v", lo, hi)
	}
	if lo, hi := (Figure{}).XRange(); !math.IsInf(lo, 1) || !math.IsInf(hi, -1) {
		t.Errorf("empty XRange = %v, %v", lo, hi)
	}
}
