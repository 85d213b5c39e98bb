package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// smoothingSteps are the EMA weights + and - walk through (TensorBoard's
// default is 0.6).
var smoothingSteps = []float64{0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99}

const defaultSmoothing = 2 // index of 0.6

// runView is one run in detail: loss chart, throughput, lr, system, evals,
// checkpoints and the log.
type runView struct {
	env           *env
	st            styles
	width, height int
	id            string          // the focused run
	overlay       map[string]bool // runs marked in the runs view, drawn with it
	smoothIdx     int
	raw           bool
	logY          bool
	timeX         bool
}

func newRunView(e *env) *runView { return &runView{env: e, st: e.st, smoothIdx: defaultSmoothing} }

func (v *runView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *runView) KeyMap() keyMap { return keyMap(inRun) }

func (v *runView) smoothing() float64 { return smoothingSteps[v.smoothIdx] }

func (v *runView) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		v.key(v.KeyMap().action(msg))
	case focusMsg:
		if v.id == "" { // opened with tab: show the run selected in Runs
			v.env.send(wantRunMsg{})
		}
	case showRunMsg:
		v.id = msg.id
	case overlayMsg:
		v.overlay = msg.ids
	}
	return v, nil
}

// key applies a chart key or asks the dashboard for a run key's effect.
func (v *runView) key(act action) {
	switch act {
	case actSmoothMore:
		if v.smoothIdx < len(smoothingSteps)-1 {
			v.smoothIdx++
			v.env.send(smoothingMsg{weight: v.smoothing()})
		}
	case actSmoothLess:
		if v.smoothIdx > 0 {
			v.smoothIdx--
			v.env.send(smoothingMsg{weight: v.smoothing()})
		}
	case actRaw:
		v.raw = !v.raw
	case actLogY:
		v.logY = !v.logY
	case actXAxis:
		v.timeX = !v.timeX
	case actBack:
		v.env.send(showViewMsg{view: viewRuns})
	case actNew, actStop, actResume, actQuery:
		v.env.send(runActionMsg{act: act, id: v.id})
	}
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

	runs := []*runData{r}
	for _, id := range s.order { // the marked runs, newest first
		if o := s.get(id); v.overlay[id] && id != r.ID {
			runs = append(runs, o)
		}
	}
	legend := v.legend(runs, w)

	bottomH := min(max((h-2)/3, 5), 9)
	chartH := h - 2 - bottomH
	sideW := sideWidth
	if w < 70 {
		sideW = 0
	}
	chart := renderChart(w-sideW-1, chartH, v.series(runs), chartOpts{logY: v.logY, timeX: v.timeX}, v.st)
	top := chart
	if sideW > 0 {
		side := fitBlock(v.side(r, sideW, chartH), sideW, chartH)
		top = lipgloss.JoinHorizontal(lipgloss.Top, fitBlock(chart, w-sideW-1, chartH), " ", side)
	}
	bottom := v.bottom(r, w, bottomH)
	return strings.Join([]string{header, legend, top, bottom}, "\n")
}

func (v *runView) header(r *runData, w int) string {
	step, total := r.step(), r.Status.TotalSteps
	prog := fmt.Sprintf("step %d", step)
	if total > 0 {
		prog = fmt.Sprintf("step %d/%d %s %3.0f%%", step, total, v.st.bar.Render(progressBar(float64(step)/float64(total), 10)), 100*float64(step)/float64(total))
	}
	parts := []string{v.st.title.Render(displayID(r, max(w/3, 16))), v.st.state(r.state()).Render(r.state()), r.kind(), prog}
	if d, ok := r.eta(); ok {
		parts = append(parts, "ETA "+fmtDuration(d))
	}
	if r.Status.Device != "" {
		parts = append(parts, r.Status.Device)
	}
	line := strings.Join(parts, "  ")
	if r.Status.Error != "" {
		line += "  " + v.st.err.Render(r.Status.Error)
	}
	return lipgloss.NewStyle().MaxWidth(w).Render(line)
}

func (v *runView) legend(runs []*runData, w int) string {
	var parts []string
	for _, r := range runs {
		name := r.ID
		if len(runs) > 1 {
			name = displayID(r, 18)
		} else {
			name = "loss"
		}
		parts = append(parts, v.st.runStyle(r.ID, false).Render("━ "+name+" train")+" "+v.st.runStyle(r.ID, true).Render("━ eval"))
	}
	mode := fmt.Sprintf("smooth %.2f", v.smoothing())
	if v.raw {
		mode = "raw"
	}
	scale := "linear"
	if v.logY {
		scale = "log"
	}
	x := "x: step"
	if v.timeX {
		x = "x: time"
	}
	line := strings.Join(parts, "  ") + v.st.dim.Render("  │ "+mode+" │ "+scale+" │ "+x)
	return lipgloss.NewStyle().MaxWidth(w).Render(line)
}

// series picks each run's train and eval curves, raw or smoothed, by step
// or by wall time.
func (v *runView) series(runs []*runData) []chartSeries {
	var out []chartSeries
	for _, r := range runs {
		for _, ev := range []bool{false, true} {
			s := &r.train
			if ev {
				s = &r.eval
			}
			if s.len() == 0 {
				continue
			}
			xs, ys := s.step, s.smooth
			if v.timeX {
				xs = s.wall
			}
			if v.raw {
				ys = s.y
			}
			out = append(out, chartSeries{xs: xs, ys: ys, style: v.st.runStyle(r.ID, ev), cache: &s.cache})
		}
	}
	return out
}

// side is the throughput, system and lr panel.
func (v *runView) side(r *runData, w, h int) string {
	tp := ThroughputOf(r.recent)
	kv := func(k, val string) string { return " " + pad(k, 11) + padLeft(val, w-12) }
	lines := []string{
		v.st.header.Render("Throughput"),
		kv("tokens/s", fmtSI(tp.TokensPerS)),
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
		lines = append(lines,
			kv("GPU util", fmtPercent(metricValue(sys, "gpu_util"))),
			kv("GPU mem", fmtAxis(metricValue(sys, "gpu_mem_gib"))+" GiB"))
	default:
		lines = append(lines,
			kv("CPU", fmtAxis(metricValue(sys, "cpu_util"))+" cores"),
			kv("RSS", fmtAxis(metricValue(sys, "rss_gib"))+" GiB"))
	}
	lr := math.NaN()
	if n := len(r.lr); n > 0 {
		lr = r.lr[n-1]
	}
	lines = append(lines, v.st.header.Render("lr")+" "+fmtFloat(lr))
	if left := h - len(lines); left > 0 && len(r.lr) > 0 {
		lines = append(lines, sparkLine(r.lr, w-1, min(left, 3), v.st.runStyle(r.ID, false)))
	}
	return strings.Join(lines, "\n")
}

// bottom holds the eval table, the checkpoint list and the log tail.
func (v *runView) bottom(r *runData, w, h int) string {
	evalW := min(max(w*2/5, 28), 44)
	ckW := 18
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
		line := padLeft(fmt.Sprint(m.Step), 7)
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
