package plotfile

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadCSV: ReadCSV never panics, and whatever it accepts writes back
// (Render csv) to a file that reads as the same figure: labels, series
// names in first-appearance order, every point.
func FuzzReadCSV(f *testing.F) {
	for _, seed := range []string{
		"series,step,loss\nrun train,1,9.5\nrun train,2,9.1\nrun eval,2,9.3\n",
		"series,x,y\n",
		"series,tokens,accuracy\n\"a,b\",1e3,0.5\n\"a,b\",2e3,NaN\n",
		"series,step\nbad,1\n",
		"",
		"series,x,y\nr,one,2\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		fig, err := ReadCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range fig.Series {
			if len(s.X) != len(s.Y) {
				t.Fatalf("series %q: %d x, %d y", s.Name, len(s.X), len(s.Y))
			}
		}
		var buf bytes.Buffer
		if err := writeCSV(&buf, fig); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCSV(&buf)
		if err != nil {
			t.Fatalf("re-reading what was written: %v\n%s", err, buf.String())
		}
		// Write names unnamed axes "x" and "y".
		if fig.XLabel == "" {
			fig.XLabel = "x"
		}
		if fig.YLabel == "" {
			fig.YLabel = "y"
		}
		if !sameFigure(fig, back) {
			t.Fatalf("round trip changed the figure:\n%+v\n%+v", fig, back)
		}
	})
}

// sameFigure compares figures, NaN equal to NaN.
func sameFigure(a, b Figure) bool {
	if a.XLabel != b.XLabel || a.YLabel != b.YLabel || len(a.Series) != len(b.Series) {
		return false
	}
	eq := func(x, y []float64) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] && !(math.IsNaN(x[i]) && math.IsNaN(y[i])) {
				return false
			}
		}
		return true
	}
	for i := range a.Series {
		if a.Series[i].Name != b.Series[i].Name || !eq(a.Series[i].X, b.Series[i].X) || !eq(a.Series[i].Y, b.Series[i].Y) {
			return false
		}
	}
	return reflect.DeepEqual(a.Notes, b.Notes) || (len(a.Notes) == 0 && len(b.Notes) == 0)
}
