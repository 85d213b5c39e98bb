package tui

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fnet-tui/fnet-tui/plotfile"
)

// smoothingSteps are the EMA weights + and - walk through (TensorBoard's
// default is 0.6).
var smoothingSteps = []float64{0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99}

const defaultSmoothing = 2 // index of 0.6

// maxZoom is how far z zooms in: the last 1/2^maxZoom of the x range.
const maxZoom = 10

// runView is one run in detail: a chart of one metric (or a grid of
// every metric), throughput, system, evals, checkpoints and the log.
type runView struct {
	env           *env
	st            styles
	width, height int
	id            string   // the focused run
	marks         []string // runs marked in the runs view, in marking order: overlaid, coloured by it
	metric        string   // the charted metric ("" = loss)
	smoothIdx     int
	rawOnly       bool // o: the raw series alone, no smoothed line over it
	logY          bool
	axis          xAxis
	zoom, pan     int  // the x window: the last 1/2^zoom of the range, pan half-windows left of the end
	grid          bool // g: a grid of small charts, one per metric
}

func newRunView(e *env) *runView { return &runView{env: e, st: e.st, smoothIdx: defaultSmoothing} }

func (v *runView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *runView) KeyMap() keyMap { return keyMap(inRun) }

func (v *runView) smoothing() float64 { return smoothingSteps[v.smoothIdx] }

func (v *runView) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		if act := v.KeyMap().action(msg); act == actExport {
			return v, v.export()
		} else {
			v.key(act)
		}
	case focusMsg:
		if v.id == "" { // opened with tab: show the run selected in Runs
			v.env.send(wantRunMsg{})
		}
	case showRunMsg:
		if msg.id != v.id { // a new run: its own range
			v.zoom, v.pan = 0, 0
		}
		v.id = msg.id
	case overlayMsg:
		v.marks = msg.ids
	}
	return v, nil
}

// key applies a chart key or asks the dashboard for a run key's effect.
// Every chart key takes effect on the next frame: the chart is drawn from
// the view's settings at each View, never from a cache of the last ones.
func (v *runView) key(act action) {
	switch act {
	case actSmoothMore:
		v.smoothIdx = min(v.smoothIdx+1, len(smoothingSteps)-1)
	case actSmoothLess:
		v.smoothIdx = max(v.smoothIdx-1, 0)
	case actRaw:
		v.rawOnly = !v.rawOnly
	case actLogY:
		v.logY = !v.logY
	case actXAxis:
		v.axis = (v.axis + 1) % numXAxes
		v.zoom, v.pan = 0, 0
	case actNextMetric, actPrevMetric:
		v.metric = v.stepMetric(act == actNextMetric)
	case actGrid:
		v.grid = !v.grid
	case actZoomIn:
		v.zoom = min(v.zoom+1, maxZoom)
	case actZoomReset:
		v.zoom, v.pan = 0, 0
	case actPanLeft:
		if v.zoom > 0 {
			v.pan++
		}
	case actPanRight:
		v.pan = max(v.pan-1, 0)
	case actBack:
		v.env.send(showViewMsg{view: viewRuns})
	case actNew, actStop, actResume, actQuery:
		v.env.send(runActionMsg{act: act, id: v.id})
	}
}

// exportDir is where e writes the chart on screen, relative to the
// working folder: beside the runs, not inside one.
const exportDir = "plots"

// export writes the chart on screen (its runs, metric, x axis, smoothing
// and zoom) as an SVG and a CSV under exportDir, with plotfile, the
// library behind `fnet-tui plot`; the flash line names the files.
func (v *runView) export() tea.Cmd {
	r := v.env.store.get(v.id)
	if r == nil {
		return nil
	}
	metric := v.metricName()
	runs, _ := v.chartRuns(r, metric)
	fig := plotfile.Figure{Title: metric + " · " + displayID(r, 48), XLabel: xAxisNames[v.axis], YLabel: metric}
	for _, o := range runs {
		name := displayID(o, 40)
		for _, split := range chartSplits {
			xs, ys := o.column(split, metric, v.axis)
			if len(xs) == 0 {
				continue
			}
			fig.Series = append(fig.Series, finiteSeries(name+" "+split, xs, ys))
			if v.smoothed(split) {
				sm := o.curveOf(split, metric).smoothed(ys, v.smoothing())
				fig.Series = append(fig.Series, finiteSeries(fmt.Sprintf("%s %s (smoothed %.2f)", name, split, v.smoothing()), xs, sm))
			}
		}
	}
	if lo, hi := v.window(v.series(runs, metric)); finite(lo) { // the chart's own window
		fig = fig.Window(lo, hi)
	}
	stamp := v.env.now().Format("20060102-150405")
	base := filepath.Join(exportDir, fmt.Sprintf("%s-%s-%s", shortID(r), strings.ReplaceAll(metric, "/", "_"), stamp))
	return func() tea.Msg {
		if len(fig.Series) == 0 {
			return flashMsg{text: "nothing to export: no run on screen logs " + metric, err: true}
		}
		if err := os.MkdirAll(exportDir, 0o755); err != nil {
			return flashMsg{text: "export: " + err.Error(), err: true}
		}
		for _, ext := range []string{".svg", ".csv"} {
			if err := plotfile.Write(base+ext, fig); err != nil {
				return flashMsg{text: "export: " + err.Error(), err: true}
			}
		}
		return flashMsg{text: "wrote " + base + ".svg and .csv (what the chart shows)"}
	}
}

// finiteSeries is the points of (xs, ys) with both finite: a column holds
// NaN for the lines that did not carry its key.
func finiteSeries(name string, xs, ys []float64) plotfile.Series {
	s := plotfile.Series{Name: name}
	for i := range min(len(xs), len(ys)) {
		if finite(xs[i]) && finite(ys[i]) {
			s.X = append(s.X, xs[i])
			s.Y = append(s.Y, ys[i])
		}
	}
	return s
}

// metricName is the charted metric.
func (v *runView) metricName() string {
	if v.metric == "" {
		return "loss"
	}
	return v.metric
}

// stepMetric is the next (or previous) metric the focused run logs.
func (v *runView) stepMetric(next bool) string {
	r := v.env.store.get(v.id)
	if r == nil {
		return v.metric
	}
	ms := r.metrics()
	if len(ms) == 0 {
		return v.metric
	}
	i := slices.Index(ms, v.metricName())
	switch {
	case i < 0:
		i = 0
	case next:
		i = (i + 1) % len(ms)
	default:
		i = (i + len(ms) - 1) % len(ms)
	}
	return ms[i]
}

// slot is a run's palette slot: its place in the marking order, and the
// next free one for the focused run when it is not marked, so every run on
// a chart has its own colour.
func (v *runView) slot(id string) int {
	if i := slices.Index(v.marks, id); i >= 0 {
		return i
	}
	return len(v.marks)
}

// chartRuns are the focused run and the marked runs that log metric and
// are of the focused run's kind (and task): a pretraining loss drawn on
// a finetune's would flatten it. hidden counts the marked runs left out.
func (v *runView) chartRuns(r *runData, metric string) (runs []*runData, hidden int) {
	runs = []*runData{r}
	for _, id := range v.marks {
		o := v.env.store.get(id)
		if o == nil || id == r.ID {
			continue
		}
		if !o.logs(metric) || o.kind() != r.kind() {
			hidden++
			continue
		}
		runs = append(runs, o)
	}
	return runs, hidden
}

// sideWidth is the right-hand panel's width (throughput, system, lr).
const sideWidth = 26

func (v *runView) View() string {
	s := v.env.store
	r := s.get(v.id)
	if r == nil {
		return "\n  No run selected: pick one in the Runs view (" + keyName(actNextView, inRun) + ") and press " + keyName(actOpen, inRuns) + "."
	}
	w, h := max(v.width, 40), max(v.height, 12)
	header := v.header(r, w)
	bottomH := min(max((h-2)/3, 5), 9)
	if v.grid {
		return strings.Join([]string{header, v.modeLine(r, w, 0), v.gridView(r, w, h-2)}, "\n")
	}
	metric := v.metricName()
	runs, hidden := v.chartRuns(r, metric)
	legend := v.legend(runs, metric, w)
	chartH := h - 2 - strings.Count(legend, "\n") - 1 - bottomH
	sideW := sideWidth
	if w < 70 {
		sideW = 0
	}
	chartW := w - sideW
	if sideW > 0 {
		chartW-- // a column between the chart and the panel
	}
	chart := fitBlock(v.chart(runs, metric, chartW, chartH), chartW, chartH)
	top := chart
	if sideW > 0 {
		side := fitBlock(v.side(r, sideW, chartH), sideW, chartH)
		top = lipgloss.JoinHorizontal(lipgloss.Top, chart, " ", side)
	}
	bottom := v.bottom(r, w, bottomH)
	return strings.Join([]string{header, v.modeLine(r, w, hidden), legend, top, bottom}, "\n")
}

// chart draws metric for runs in w×h with the view's settings.
func (v *runView) chart(runs []*runData, metric string, w, h int) string {
	ss := v.series(runs, metric)
	if len(ss) == 0 {
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, v.st.dim.Render(metric+": nothing logged yet"))
	}
	lo, hi := v.window(ss)
	return renderChart(w, h, ss, chartOpts{logY: v.logY, timeX: v.axis == xTime, xMin: lo, xMax: hi}, v.st)
}

// window is the x range the zoom and pan show, NaN for the whole range.
func (v *runView) window(ss []chartSeries) (lo, hi float64) {
	if v.zoom == 0 {
		return math.NaN(), math.NaN()
	}
	a, b := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		if x0, x1, ok := finiteRange(s.xs); ok {
			a, b = min(a, x0), max(b, x1)
		}
	}
	if math.IsInf(a, 0) || b <= a {
		return math.NaN(), math.NaN()
	}
	span := (b - a) / math.Exp2(float64(v.zoom))
	hi = b - float64(v.pan)*span/2
	if hi-span < a { // panned past the start: stop there
		v.pan = int(math.Ceil(2 * (b - a - span) / span))
		hi = a + span
	}
	return hi - span, hi
}

func (v *runView) header(r *runData, w int) string {
	step, total := r.step(), r.Status.TotalSteps
	prog, short := fmt.Sprintf("step %d", step), fmt.Sprintf("step %d", step)
	if total > 0 {
		pct := 100 * float64(step) / float64(total)
		prog = fmt.Sprintf("step %d/%d %s %3.0f%%", step, total, v.st.bar.Render(progressBar(float64(step)/float64(total), 10)), pct)
		short = fmt.Sprintf("step %d/%d %.0f%%", step, total, pct)
	}
	device := withWorld(r.Status.Device, worldSize(r.Status, r.system)) // cuda:0 ×8 (NVIDIA H100 …) of a data-parallel run
	short2 := shortDevice(device)                                       // → cuda:0 ×8
	eta := ""
	if d, ok := r.eta(); ok {
		eta = "ETA " + fmtDuration(d)
	}
	build := func(prog, device string) []string {
		parts := []string{v.st.title.Render(displayID(r, max(w/3, 16))), v.st.state(r.state()).Render(r.state()), r.kind(), prog}
		for _, p := range []string{eta, device} {
			if p != "" {
				parts = append(parts, p)
			}
		}
		return parts
	}
	// Narrower screens lose the progress bar, then the device's name (not
	// which device), then whole parts from the end, never half a word.
	parts := build(prog, device)
	for _, try := range [][]string{build(short, device), build(short, short2)} {
		if lipgloss.Width(strings.Join(parts, "  ")) <= w {
			break
		}
		parts = try
	}
	line := ""
	for i, p := range parts {
		next := line + "  " + p
		if i == 0 {
			next = p
		}
		if lipgloss.Width(next) > w && i > 0 {
			break
		}
		line = next
	}
	if r.Status.Error != "" {
		line += "  " + v.st.err.Render(r.Status.Error)
	}
	return lipgloss.NewStyle().MaxWidth(w).Render(line)
}

// modeLine says what the chart shows: the metric, smoothing, scale, x and
// zoom, and marked runs left out.
func (v *runView) modeLine(r *runData, w, hidden int) string {
	metric := v.st.title.Render(v.metricName())
	if v.grid {
		metric = v.st.title.Render(fmt.Sprintf("every metric (%d)", len(r.metrics())))
	}
	mode := fmt.Sprintf("smooth %.2f", v.smoothing())
	switch {
	case v.rawOnly:
		mode = "raw only"
	case v.smoothing() == 0:
		mode += " = raw"
	}
	scale := "linear"
	if v.logY {
		scale = "log"
	}
	parts := []string{mode, scale, "x: " + xAxisNames[v.axis]}
	if v.zoom > 0 {
		parts = append(parts, fmt.Sprintf("zoom 1/%d (%s resets)", 1<<v.zoom, keyName(actZoomReset, inRun)))
	}
	if v.axis == xTokens && !finite(r.tokensPerStep) {
		parts = append(parts, "no tokens/s logged: x by tokens is empty")
	}
	if hidden > 0 {
		parts = append(parts, fmt.Sprintf("%d marked run(s) of another kind or without %s not drawn", hidden, v.metricName()))
	}
	line := metric + v.st.dim.Render("  │ "+strings.Join(parts, " │ "))
	return lipgloss.NewStyle().MaxWidth(w).Render(line)
}

// legend names each drawn run's curves with their latest values: the raw
// value and, when smoothing, the smoothed one (what the curve shows).
func (v *runView) legend(runs []*runData, metric string, w int) string {
	var parts []string
	for _, r := range runs {
		st := v.st.slotStyle(v.slot(r.ID))
		name := ""
		if len(runs) > 1 {
			name = displayID(r, 18) + " "
		}
		var vals []string
		for _, split := range chartSplits {
			t := r.track(split)
			if t == nil {
				continue
			}
			last, _, ok := t.last(metric)
			if !ok {
				continue
			}
			text := split + " " + fmtFloat(last)
			if v.smoothed(split) {
				sm := r.curveOf(split, metric).smoothed(t.cols[metric], v.smoothing())
				if n := len(sm); n > 0 && finite(sm[n-1]) {
					text += " ~" + fmtFloat(sm[n-1])
				}
			}
			vals = append(vals, text)
		}
		if len(vals) == 0 {
			continue
		}
		glyph := "━ "
		if r.logsOnlyEval(metric) {
			glyph = string(evalMarker) + " "
		}
		parts = append(parts, st.Render(glyph+name)+strings.Join(vals, "  "))
	}
	smoothedDrawn := false
	for _, r := range runs {
		smoothedDrawn = smoothedDrawn || !r.logsOnlyEval(metric)
	}
	if smoothedDrawn && v.smoothing() > 0 && !v.rawOnly {
		parts = append(parts, v.st.dim.Render("(~ smoothed; faint: raw; "+string(evalMarker)+" eval)"))
	}
	// Runs go on a second line when one does not hold them all (an overlay
	// at 80 columns), never cut in the middle of a run's values.
	var lines []string
	line := ""
	for _, p := range parts {
		switch {
		case line == "":
			line = p
		case lipgloss.Width(line+"   "+p) <= w:
			line += "   " + p
		case len(lines) < maxLegendLines-1:
			lines = append(lines, line)
			line = p
		default:
			line += "   " + p // the last line is cut at the edge
		}
	}
	lines = append(lines, line)
	for i := range lines {
		lines[i] = lipgloss.NewStyle().MaxWidth(w).Render(lines[i])
	}
	return strings.Join(lines, "\n")
}

// maxLegendLines is how many lines the legend may take from the chart.
const maxLegendLines = 2

// chartSplits are the splits a metric is drawn from, in drawing order.
var chartSplits = []string{"train", "system", "eval"}

// evalMarker marks each evaluation on a chart, so eval points read apart
// from the train curve without colour (NO_COLOR).
const evalMarker = '◆'

// smoothed says a split's curves are drawn smoothed: train and system
// values are noisy samples; an evaluation is a full pass over held-out
// data, drawn as measured.
func (v *runView) smoothed(split string) bool {
	return split != "eval" && !v.rawOnly && v.smoothing() > 0
}

// series are the curves of metric for runs: per run and split, the raw
// line (faint when a smoothed one is drawn over it) and the smoothed line;
// eval points with markers.
func (v *runView) series(runs []*runData, metric string) []chartSeries {
	var raws, mains []chartSeries
	for _, r := range runs {
		slot := v.slot(r.ID)
		for _, split := range chartSplits {
			xs, ys := r.column(split, metric, v.axis)
			if len(xs) == 0 || len(ys) == 0 {
				continue
			}
			c := r.curveOf(split, metric)
			if !v.smoothed(split) {
				mains = append(mains, chartSeries{xs: xs, ys: ys, style: v.st.slotStyle(slot), cache: &c.cache[v.axis][0],
					markers: split == "eval"})
				continue
			}
			sm := c.smoothed(ys, v.smoothing())
			raws = append(raws, chartSeries{xs: xs, ys: ys, style: v.st.slotFaint(slot), cache: &c.cache[v.axis][0]})
			mains = append(mains, chartSeries{xs: xs, ys: sm, style: v.st.slotStyle(slot), cache: &c.cache[v.axis][1], gen: c.gen})
		}
	}
	return append(raws, mains...) // raw lines under every smoothed one
}

// gridView is a small chart of every metric the run logs, with the marked
// runs of its kind, in as many columns as fit 36 cells each.
func (v *runView) gridView(r *runData, w, h int) string {
	ms := r.metrics()
	if len(ms) == 0 {
		return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, v.st.dim.Render("waiting for metrics…"))
	}
	cols := max(w/36, 1)
	cellW := w / cols
	rows := max(h/9, 1)
	cellH := h / rows
	shown := min(len(ms), rows*cols)
	var lines []string
	for row := 0; row*cols < shown; row++ {
		var cells []string
		for col := range cols {
			i := row*cols + col
			if i >= shown {
				cells = append(cells, fitBlock("", cellW, cellH))
				continue
			}
			runs, _ := v.chartRuns(r, ms[i])
			title := v.st.header.Render(ms[i])
			if t := r.lastOf(ms[i]); finite(t) {
				title += " " + fmtFloat(t)
			}
			body := v.chart(runs, ms[i], cellW-1, cellH-1)
			cells = append(cells, fitBlock(title+"\n"+body, cellW, cellH))
		}
		lines = append(lines, lipgloss.JoinHorizontal(lipgloss.Top, cells...))
	}
	out := strings.Join(lines, "\n")
	if shown < len(ms) {
		out += "\n" + v.st.dim.Render(fmt.Sprintf("%d more metrics: a bigger terminal shows them, or %s picks one", len(ms)-shown, keyName(actNextMetric, inRun)))
	}
	return out
}

// side is the throughput, system and lr panel.
func (v *runView) side(r *runData, w, h int) string {
	tp := ThroughputOf(r.recent)
	kv := func(k, val string) string { return " " + pad(k, 11) + padLeft(val, w-12) }
	lines := []string{
		v.st.header.Render("Throughput"),
		kv("tokens/s", fmtSI(tp.TokensPerS)), // of every rank: the header shows the world size
		kv("examples/s", fmtSI(tp.ExamplesPerS)),
		kv("ms/step", fmtSI(tp.StepMs)),
		kv("data wait", fmtPercent(tp.DataWait)),
		v.st.header.Render("System"),
	}
	sys := r.system
	switch {
	case !r.hasSystem:
		lines = append(lines, v.st.dim.Render(" no system metrics yet"))
	case finite(metricValue(sys, "gpu_util")) || finite(metricValue(sys, "gpu_mem_gib")):
		ranks := ranksOf(sys)
		if len(ranks) <= 1 {
			lines = append(lines,
				kv("GPU util", fmtPercent(metricValue(sys, "gpu_util"))),
				kv("GPU mem", fmtAxis(metricValue(sys, "gpu_mem_gib"))+" GiB"))
			break
		}
		// A data-parallel run: the mean and the largest, then each rank
		// while the panel has room (the optimizer's three lines follow),
		// else the spread, whose low end is the rank to worry about.
		lines = append(lines,
			kv("GPU util", fmtPercent(metricValue(sys, "gpu_util"))+" mean"),
			kv("GPU mem", fmtAxis(metricValue(sys, "gpu_mem_gib"))+" GiB max"))
		if len(lines)+len(ranks)+3 <= h {
			for _, rk := range ranks {
				lines = append(lines, kv(fmt.Sprintf("  rank %d", rk.Rank), fmtPercent(rk.Util)+" "+padLeft(fmtAxis(rk.MemGiB), 5)+" GiB"))
			}
		} else if len(lines)+1+3 <= h {
			lines = append(lines, kv("rank util", utilSpread(ranks)))
		}
	default:
		lines = append(lines,
			kv("CPU", fmtAxis(metricValue(sys, "cpu_util"))+" cores"),
			kv("RSS", fmtAxis(metricValue(sys, "rss_gib"))+" GiB"))
	}
	lr := math.NaN()
	grad := math.NaN()
	if t := r.track("train"); t != nil {
		lr, _, _ = t.last("lr")
		grad, _, _ = t.last("grad_norm")
	}
	lines = append(lines, v.st.header.Render("Optimizer"), kv("lr", fmtFloat(lr)), kv("grad norm", fmtFloat(grad)))
	return strings.Join(lines, "\n")
}

// bottom holds the eval table, the checkpoint list and the log tail.
func (v *runView) bottom(r *runData, w, h int) string {
	evalW := min(max(w*2/5, 28), 44)
	ckW := 18
	if r.HasBest {
		ckW = 24 // room for the best mark
	}
	logW := w - evalW - ckW - 2
	if logW < 16 {
		logW, ckW = 0, w-evalW-1
	}
	cols := []string{
		fitBlock(v.evalTable(r, evalW, h), evalW, h),
		fitBlock(v.checkpoints(r, ckW, h), ckW, h),
	}
	if logW > 0 {
		cols = append(cols, fitBlock(v.logTail(r, logW, h), logW, h))
	}
	parts := []string{cols[0]}
	for _, c := range cols[1:] {
		parts = append(parts, " ", c)
	}
	return lipgloss.JoinHorizontal(lipgloss.Top, parts...)
}

// evalKeyOrder puts the usual metrics first in the eval table.
var evalKeyOrder = []string{"loss", "mlm_acc", "nsp_acc", "accuracy", "f1", "mcc", "spearman", "pearson", "acc_and_f1", "mlm_loss", "nsp_loss"}

func (v *runView) evalTable(r *runData, w, h int) string {
	title := v.st.header.Render("Eval")
	if r.HasBest {
		title += v.st.dim.Render(fmt.Sprintf(" ★ best %s %s", r.Best.Metric, fmtFloat(r.Best.Score)))
	}
	if len(r.evals) == 0 {
		return title + "\n" + v.st.dim.Render(" no evaluations yet")
	}
	last := r.evals[len(r.evals)-1]
	var keys []string
	for _, k := range evalKeyOrder {
		if _, ok := last.Values[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range last.Values {
		if !slices.Contains(keys, k) && k != "elapsed_s" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	colW := 8
	keys = keys[:min(len(keys), max((w-8)/(colW+1), 1))]
	task := ""
	if last.Task != "" {
		task = " " + last.Task
	}
	lines := []string{title + v.st.dim.Render(task)}
	head := padLeft("step", 7)
	for _, k := range keys {
		head += " " + padLeft(k, colW)
	}
	lines = append(lines, v.st.dim.Render(head))
	rows := h - 2
	for _, m := range r.evals[max(0, len(r.evals)-rows):] {
		step := fmt.Sprint(m.Step)
		if r.HasBest && m.Step == r.Best.Step {
			step = "★" + step // the best checkpoint's evaluation
		}
		line := padLeft(step, 7)
		for _, k := range keys {
			line += " " + padLeft(fmtFloat(metricValue(m, k)), colW)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (v *runView) checkpoints(r *runData, w, h int) string {
	lines := []string{v.st.header.Render("Checkpoints")}
	if len(r.Checkpoints) == 0 {
		return lines[0] + "\n" + v.st.dim.Render(" none yet")
	}
	cks := r.Checkpoints[max(0, len(r.Checkpoints)-(h-1)):]
	for i := len(cks) - 1; i >= 0; i-- {
		c := cks[i]
		name := " " + filepath.Base(c.Dir)
		if c.Latest {
			name = v.st.ok.Render("▸" + filepath.Base(c.Dir))
		}
		if c.Best {
			name += v.st.ok.Render(" ★best")
		}
		lines = append(lines, name)
	}
	return strings.Join(lines, "\n")
}

func (v *runView) logTail(r *runData, w, h int) string {
	lines := []string{v.st.header.Render("train.log")}
	if r.BadLines > 0 && r.LastError != nil {
		lines = append(lines, v.st.err.Render(truncate(fmt.Sprintf("%d bad metrics lines; last: %v", r.BadLines, r.LastError), w)))
	}
	n := h - len(lines)
	tail := r.Log[max(0, len(r.Log)-n):]
	for _, l := range tail {
		lines = append(lines, truncate(strings.ReplaceAll(l, "\t", " "), w))
	}
	if len(r.Log) == 0 {
		lines = append(lines, v.st.dim.Render(" empty"))
	}
	return strings.Join(lines, "\n")
}

// fitBlock pads or cuts a block of text to exactly w×h cells, so panels
// line up however much they hold.
func fitBlock(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	st := lipgloss.NewStyle().Width(w).MaxWidth(w)
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			l = ansi.Truncate(l, w, "")
		}
		lines[i] = st.Render(l)
	}
	return strings.Join(lines, "\n")
}
