package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestOctaveColumns(t *testing.T) {
	cases := []struct {
		octaves   float64
		gw, label int
		want      int
		ok        bool
	}{
		{1, 71, 3, 69, true},    // the last label (3 wide) must fit: 69+3 <= 72
		{2, 71, 3, 34, true},    // 2·35+3 > 72
		{2, 72, 3, 35, true},    // 2·35+3 = 73
		{6, 94, 4, 15, true},    // 6·15+4 = 94
		{6, 30, 4, 4, false},    // labels 4 apart, 4 wide: they would touch
		{1.58, 90, 3, 0, false}, // not whole octaves
		{0, 90, 3, 0, false},
		{13, 500, 4, 0, false},
	}
	for _, tc := range cases {
		n, ok := octaveColumns(tc.octaves, tc.gw, tc.label)
		if ok != tc.ok || (ok && n != tc.want) {
			t.Errorf("octaveColumns(%g, %d, %d) = %d, %v; want %d, %v", tc.octaves, tc.gw, tc.label, n, ok, tc.want, tc.ok)
		}
	}
}

// Every length of a sweep over whole octaves is labelled, the last one
// too, under both panels, at every width; failed cells are gaps.
func TestBenchChartLabelsEveryLength(t *testing.T) {
	var pts []BenchPoint
	var lengths []string
	for s := 128; s <= 8192; s *= 2 {
		lengths = append(lengths, fmtSI(float64(s)))
		pts = append(pts, BenchPoint{Arch: "fnet", Seq: s, TokensPerS: 4e5 / float64(s/128+1), PeakMemBytes: int64(s) << 20})
		pts = append(pts, BenchPoint{Arch: "bert", Seq: s, TokensPerS: 3e5 / float64(s/64), PeakMemBytes: int64(s) << 21, OOM: s > 2048})
	}
	for _, w := range []int{60, 72, 80, 103, 160} {
		out := ansi.Strip(benchChart(pts, w, 8, newStyles(true)))
		lines := strings.Split(out, "\n")
		if len(lines) != 2*8+3 {
			t.Errorf("width %d: %d lines", w, len(lines))
		}
		var axes []string
		for _, l := range lines {
			if n := ansi.StringWidth(l); n > w {
				t.Errorf("width %d: a line is %d wide", w, n)
			}
			if strings.HasPrefix(strings.TrimSpace(l), "128 ") {
				axes = append(axes, strings.Join(strings.Fields(l), " "))
			}
		}
		want := strings.Join(lengths, " ")
		if len(axes) != 2 || axes[0] != want || axes[1] != want {
			t.Errorf("width %d: x labels %q, want %q twice:\n%s", w, axes, want, out)
		}
		// The panels line up: their axes start in the same column.
		if a, b := strings.Index(out, "└"), strings.LastIndex(out, "└"); a < 0 || colOf(out, a) != colOf(out, b) {
			t.Errorf("width %d: the two panels' axes are not aligned:\n%s", w, out)
		}
		if !strings.Contains(out, "━━ fnet   ━━ bert") {
			t.Errorf("width %d: legend:\n%s", w, out)
		}
	}
}

// colOf is the column of byte offset i in its line.
func colOf(s string, i int) int {
	start := strings.LastIndex(s[:i], "\n") + 1
	return ansi.StringWidth(s[start:i])
}
