package tui

import (
	"math"
	"os"
	"strings"

	"charm.land/lipgloss/v2"
)

// BenchPoint is one cell of an architecture-by-length benchmark
// (fnet-tui bench --arch … --seq …).
type BenchPoint struct {
	Arch         string
	Seq          int
	TokensPerS   float64
	PeakMemBytes int64
	OOM          bool // out of memory or failed: drawn as a gap
}

// BenchChart draws tokens/s and peak memory against sequence length, one
// line per architecture (log-log axes: the paper's plot), with a legend. It
// is what `fnet-tui bench` prints after its table and what the dashboard
// shows for a saved bench.json.
func BenchChart(points []BenchPoint, width, height int) string {
	return benchChart(points, width, height, newStyles(os.Getenv("NO_COLOR") != ""))
}

// benchChart is BenchChart in the given looks (the dashboard's: its
// NoColor option rather than the environment).
func benchChart(points []BenchPoint, width, height int, st styles) string {
	archs, speed, mem := benchSeries(points, st)
	if len(archs) == 0 {
		return st.dim.Render("no benchmark results")
	}
	o := chartOpts{logY: true, log2X: true} // a label per doubling of the length
	var legend []string
	for i, a := range archs {
		legend = append(legend, speed[i].style.Render("━━ "+a))
	}
	return lipgloss.JoinVertical(lipgloss.Left,
		st.title.Render("tokens/s by sequence length"),
		renderChart(width, height, speed, o, st),
		st.title.Render("peak memory (bytes) by sequence length"),
		renderChart(width, height, mem, o, st),
		strings.Join(legend, "   "))
}

// benchSeries groups the points by architecture, in first-seen order, as
// (log2 length, value) series; failed cells are left out.
func benchSeries(points []BenchPoint, st styles) ([]string, []chartSeries, []chartSeries) {
	var archs []string
	index := map[string]int{}
	var speed, mem []chartSeries
	for _, p := range points {
		i, ok := index[p.Arch]
		if !ok {
			i = len(archs)
			index[p.Arch] = i
			archs = append(archs, p.Arch)
			style := lipgloss.NewStyle()
			if !st.noColor {
				style = style.Foreground(lipgloss.Color(palette[i%len(palette)][0]))
			}
			speed = append(speed, chartSeries{style: style})
			mem = append(mem, chartSeries{style: style})
		}
		if p.OOM || p.Seq <= 0 {
			continue
		}
		x := math.Log2(float64(p.Seq))
		if p.TokensPerS > 0 {
			speed[i].xs, speed[i].ys = append(speed[i].xs, x), append(speed[i].ys, p.TokensPerS)
		}
		if p.PeakMemBytes > 0 {
			mem[i].xs, mem[i].ys = append(mem[i].xs, x), append(mem[i].ys, float64(p.PeakMemBytes))
		}
	}
	return archs, speed, mem
}
