package tui

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/fnet-tui/fnet-tui/plotfile"
	"github.com/fnet-tui/fnet-tui/rundir"
)

const liveRun = "pretrain-pretrain-small-20250601-113000"

// chartArea is the lines of the Run view's chart: the screen less the tab
// bar, the header, mode and legend lines, and the bottom panels.
func chartArea(m *Model) string {
	lines := strings.Split(screen(m), "\n")
	return strings.Join(lines[4:min(len(lines), 4+12)], "\n")
}

// A smoothing change redraws the curve on the next frame, not when the
// next metrics line arrives (19 presses from 0.99 to 0 left it unchanged).
func TestSmoothingRedrawsAtOnce(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter")
	before := chartArea(m)
	press(m, "+", "+", "+", "+", "+")
	after := chartArea(m)
	if before == after {
		t.Fatalf("the chart did not change with the smoothing:\n%s", after)
	}
	press(m, "-", "-", "-", "-", "-")
	if got := chartArea(m); got != before {
		t.Errorf("back at 0.60 the chart differs from the first 0.60 one:\n%s\n---\n%s", got, before)
	}
}

// The raw series is drawn faintly under the smoothed one; evaluations are
// drawn as measured, with markers; o shows raw alone.
func TestRawUnderSmoothedAndEvalMarkers(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter")
	v := runOf(m)
	r := m.store.get(liveRun)
	ss := v.series([]*runData{r}, "loss")
	// train raw (faint), system has no loss, then train smoothed and eval.
	if len(ss) != 3 {
		t.Fatalf("%d series, want raw train, smoothed train, eval", len(ss))
	}
	raw, sm, ev := ss[0], ss[1], ss[2]
	_, ys := r.column("train", "loss", xStep)
	if &raw.ys[0] != &ys[0] || !raw.style.GetFaint() {
		t.Error("the first series must be the raw train loss, faint")
	}
	if want := SmoothEMA(ys, 0.6); !slices.Equal(sm.ys, want) {
		t.Error("the second series must be the train loss smoothed at 0.6")
	}
	_, eys := r.column("eval", "loss", xStep)
	if !ev.markers || !slices.Equal(ev.ys, eys) {
		t.Error("eval loss must be drawn raw, with markers")
	}
	if !strings.ContainsRune(screen(m), evalMarker) {
		t.Error("no eval marker on the chart")
	}
	press(m, "o")
	if ss := v.series([]*runData{r}, "loss"); len(ss) != 2 || ss[0].style.GetFaint() {
		t.Errorf("raw only: %d series", len(ss))
	}
}

// The legend shows the latest raw value and the smoothed one the curve
// ends at.
func TestLegendShowsCurrentValues(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 120, 30)
	press(m, "enter")
	r := m.store.get(liveRun)
	_, ys := r.column("train", "loss", xStep)
	sm := SmoothEMA(ys, 0.6)
	_, eys := r.column("eval", "loss", xStep)
	legend := strings.Split(screen(m), "\n")[3]
	for _, want := range []string{"train " + fmtFloat(ys[len(ys)-1]), "~" + fmtFloat(sm[len(sm)-1]), "eval " + fmtFloat(eys[len(eys)-1])} {
		if !strings.Contains(legend, want) {
			t.Errorf("legend %q lacks %q", legend, want)
		}
	}
}

// m and M walk the metrics the run logs; the chart shows the one picked.
func TestMetricPicker(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter")
	r := m.store.get(liveRun)
	ms := r.metrics()
	if ms[0] != "loss" || !slices.Contains(ms, "lr") || !slices.Contains(ms, "grad_norm") || !slices.Contains(ms, "cpu_util") {
		t.Fatalf("metrics %v", ms)
	}
	press(m, "m")
	if got := runOf(m).metricName(); got != ms[1] {
		t.Fatalf("m picked %q, want %q", got, ms[1])
	}
	if mode := strings.Split(screen(m), "\n")[2]; !strings.HasPrefix(mode, ms[1]+"  │") {
		t.Errorf("mode line %q does not name %s", mode, ms[1])
	}
	press(m, "M", "M")
	if got := runOf(m).metricName(); got != ms[len(ms)-1] {
		t.Errorf("M M from %s picked %q, want the last, %q", ms[1], got, ms[len(ms)-1])
	}
	for range slices.Index(ms, "lr") + 1 {
		press(m, "m")
	}
	if got := runOf(m).metricName(); got != "lr" {
		t.Fatalf("picked %q", got)
	}
	_, lr := r.column("train", "lr", xStep)
	if !strings.Contains(screen(m), "train "+fmtFloat(lr[len(lr)-1])) {
		t.Errorf("the lr chart's legend lacks the last lr:\n%s", screen(m))
	}
}

// g shows a small chart of every metric the run logs.
func TestGridOfEveryMetric(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 160, 48)
	press(m, "enter", "g")
	s := screen(m)
	r := m.store.get(liveRun)
	ms := r.metrics()
	shown := 0
	for _, k := range ms {
		if strings.Contains(s, k+" ") {
			shown++
		}
	}
	if !strings.Contains(s, fmt.Sprintf("every metric (%d)", len(ms))) || shown < min(len(ms), 8) {
		t.Errorf("grid shows %d of %d metrics:\n%s", shown, len(ms), s)
	}
	if !strings.Contains(s, "more metrics") && shown < len(ms) {
		t.Errorf("the grid hides metrics without saying so:\n%s", s)
	}
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for i, l := range strings.Split(screen(m), "\n") {
			if w := lipgloss.Width(l); w > size[0] {
				t.Errorf("%dx%d line %d is %d wide", size[0], size[1], i, w)
			}
		}
	}
}

// z zooms on the latest half (again: quarter …), [ pans back, Z resets;
// the x labels follow.
func TestZoomAndPan(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter")
	v := runOf(m)
	r := m.store.get(liveRun)
	ss := v.series([]*runData{r}, "loss")
	if lo, _ := v.window(ss); !math.IsNaN(lo) {
		t.Fatal("unzoomed window should be the whole range")
	}
	press(m, "z")
	lo, hi := v.window(ss)
	if lo != 450.5 || hi != 900 { // steps 1..900: the latest half
		t.Errorf("zoom 1: [%v, %v], want [450.5, 900]", lo, hi)
	}
	if !strings.Contains(screen(m), "zoom 1/2") {
		t.Error("the mode line does not say zoomed")
	}
	press(m, "z", "[")
	lo, hi = v.window(ss)
	if want := 900 - (899.0/4)/2; hi != want || hi-lo != 899.0/4 {
		t.Errorf("zoom 2 panned: [%v, %v], want a quarter ending at %v", lo, hi, want)
	}
	press(m, "[", "[", "[", "[", "[", "[", "[", "[")
	if lo, _ = v.window(ss); lo != 1 {
		t.Errorf("panning stops at the start: lo %v", lo)
	}
	press(m, "Z")
	if lo, _ = v.window(ss); !math.IsNaN(lo) || strings.Contains(screen(m), "zoom 1/") {
		t.Error("Z did not reset")
	}
}

// x cycles step → tokens → time; by tokens, x is step × tokens per step.
func TestXByTokens(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter", "x")
	r := m.store.get(liveRun)
	tps, ms := metricValue(r.lastTrain, "tokens_per_s"), metricValue(r.lastTrain, "step_ms")
	per := math.Round(tps * ms / 1e3)
	xs, _ := r.column("train", "loss", xTokens)
	if len(xs) != 900 || xs[899] != 900*per {
		t.Fatalf("tokens x ends at %v, want %v", xs[len(xs)-1], 900*per)
	}
	if s := screen(m); !strings.Contains(s, "x: tokens") || !strings.Contains(s, fmtSI(math.Round(900 * per))[:2]) {
		t.Errorf("tokens axis not shown:\n%s", s)
	}
}

// Overlays: marked runs take palette slots in marking order, the focused
// one the next; only runs of the focused run's kind that log the metric
// are drawn, and the mode line counts the others.
func TestOverlayColoursAndKinds(t *testing.T) {
	root := standardFixtures(t)
	m := newTestModel(t, root, 140, 30)
	rv := runsOf(m)
	for _, id := range []string{"finetune-glue-sst2-20250601-101500", "pretrain-pretrain-mini-20250601-100000", "pretrain-pretrain-base-20250601-110000"} {
		rv.cursor = indexOf(rv.visible(), id)
		press(m, "space")
	}
	rv.cursor = indexOf(rv.visible(), liveRun)
	press(m, "enter")
	v := runOf(m)
	if !slices.Equal(v.marks, []string{"finetune-glue-sst2-20250601-101500", "pretrain-pretrain-mini-20250601-100000", "pretrain-pretrain-base-20250601-110000"}) {
		t.Fatalf("marks %v", v.marks)
	}
	runs, hidden := v.chartRuns(m.store.get(liveRun), "loss")
	var ids []string
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{liveRun, "pretrain-pretrain-mini-20250601-100000", "pretrain-pretrain-base-20250601-110000"}) || hidden != 1 {
		t.Errorf("drawn %v, %d hidden: want the live run and the two marked pretraining runs, the finetune hidden", ids, hidden)
	}
	slots := map[int]bool{}
	for _, id := range ids {
		slots[v.slot(id)] = true
	}
	if len(slots) != 3 || v.slot(liveRun) != 3 || v.slot("pretrain-pretrain-mini-20250601-100000") != 1 {
		t.Errorf("slots: live %d mini %d base %d", v.slot(liveRun), v.slot("pretrain-pretrain-mini-20250601-100000"), v.slot("pretrain-pretrain-base-20250601-110000"))
	}
	if s := screen(m); !strings.Contains(s, "1 marked run(s) of another kind") {
		t.Errorf("the hidden finetune is not mentioned:\n%s", s)
	}
	if _, hidden := v.chartRuns(m.store.get(liveRun), "accuracy"); hidden != 3 {
		t.Errorf("accuracy: %d hidden, want all 3 (no pretraining run logs it)", hidden)
	}
}

// Marks persist across restarts, outside every run folder.
func TestMarksPersist(t *testing.T) {
	root := standardFixtures(t)
	m := newTestModel(t, root, 100, 30)
	press(m, "down", "space", "down", "space")
	want := slices.Clone(runsOf(m).marks)
	if len(want) != 2 {
		t.Fatalf("marks %v", want)
	}
	if _, err := os.Stat(filepath.Join(root, stateDir, marksFile)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := rundir.ScanRuns(root); len(ents) != 4 {
		t.Errorf("the state folder shows up as a run: %d runs", len(ents))
	}
	m2 := newTestModel(t, root, 100, 30)
	if got := runsOf(m2).marks; !slices.Equal(got, want) {
		t.Errorf("after a restart marks %v, want %v", got, want)
	}
	if got := runOf(m2).marks; !slices.Equal(got, want) {
		t.Errorf("the Run view did not get the restored marks: %v", got)
	}
	os.WriteFile(filepath.Join(root, stateDir, marksFile), []byte("{not json"), 0o644)
	m3 := newTestModel(t, root, 100, 30)
	if s := screen(m3); !strings.Contains(s, "marks.json") {
		t.Errorf("a broken marks file is not reported:\n%s", s)
	}
}

// , sorts by the next column, . reverses; the selection stays on its run.
func TestSortRunsTable(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 160, 30)
	rv := runsOf(m)
	press(m, "down")
	sel := rv.selectedID()
	press(m, ",") // by RUN
	ids := func() []string {
		var out []string
		for _, r := range rv.visible() {
			out = append(out, r.ID)
		}
		return out
	}
	got := ids()
	if !slices.IsSorted(got) {
		t.Errorf("by RUN: %v", got)
	}
	if rv.selectedID() != sel {
		t.Errorf("selection moved to %s", rv.selectedID())
	}
	if !strings.Contains(screen(m), "RUN▲") {
		t.Error("the header does not mark the sort column")
	}
	press(m, ".")
	rev := ids()
	slices.Reverse(rev)
	if !slices.Equal(rev, got) || !strings.Contains(screen(m), "RUN▼") {
		t.Errorf("reversed: %v", ids())
	}
	for rv.sortCol != colLoss {
		press(m, ",")
	}
	var losses []float64
	for _, r := range rv.visible() {
		losses = append(losses, r.lastLoss())
	}
	if !slices.IsSorted(slices.Clone(losses)) == true {
		slices.Reverse(losses)
	}
	if !slices.IsSorted(losses) {
		t.Errorf("by LOSS: %v", losses)
	}
}

// Columns fit the screen at every width, sized to their content, and the
// selected row is highlighted to the edge.
func TestRunsTableFitsEveryWidth(t *testing.T) {
	root := standardFixtures(t)
	for _, w := range []int{60, 80, 100, 120, 160, 200} {
		m := newTestModel(t, root, w, 24)
		m.st = newStyles(false)
		for i, l := range strings.Split(m.views[viewRuns].View(), "\n") {
			if lw := lipgloss.Width(l); lw > w {
				t.Errorf("width %d: line %d is %d wide: %q", w, i, lw, ansi.Strip(l))
			}
		}
		widths := layoutRuns(m.store.list(), w, fixtureNow)
		if widths[colRun] == 0 || widths[colState] == 0 || widths[colStep] == 0 {
			t.Errorf("width %d dropped a core column: %v", w, widths)
		}
		if w >= 160 && (widths[colDevice] == 0 || widths[colKind] < len("finetune/sst2")) {
			t.Errorf("width %d cuts KIND or DEVICE: %v", w, widths)
		}
	}
	m := newTestModel(t, root, 120, 24)
	rv := runsOf(m)
	rv.st = newStyles(false)
	rv.st.selected = rv.st.selected.Foreground(lipgloss.Color("#123456"))
	lines := strings.Split(rv.View(), "\n")
	if w := lipgloss.Width(lines[1]); w != 120 {
		t.Errorf("the selected row is highlighted over %d cells, want 120", w)
	}
}

// The best checkpoint of a finetune is marked in Run and its dev score is
// a column of Runs.
func TestBestCheckpointShown(t *testing.T) {
	root := standardFixtures(t)
	dir := writeFixtureRun(t, root, fixtureSpec{id: "finetune-glue-rte-20250601-115000", kind: "finetune", task: "rte",
		state: rundir.StateDone, steps: 60, total: 60, evalEvery: 20, ckptEvery: 20, start: fixtureNow.Add(-10 * time.Minute), stepTime: time.Second, seed: 4})
	best := filepath.Join(dir, rundir.CheckpointsDir, "step-000000040")
	os.WriteFile(filepath.Join(best, rundir.TrainerFile), []byte(`{"step":40,"metric":"accuracy","score":0.7167}`), 0o644)
	os.Symlink("step-000000040", filepath.Join(dir, rundir.CheckpointsDir, rundir.BestLink))
	m := newTestModel(t, root, 160, 40)
	if s := screen(m); !strings.Contains(s, "BEST DEV") || !strings.Contains(s, "accuracy 0.7167") {
		t.Errorf("no best dev column:\n%s", s)
	}
	rv := runsOf(m)
	rv.cursor = indexOf(rv.visible(), "finetune-glue-rte-20250601-115000")
	press(m, "enter")
	s := screen(m)
	if !strings.Contains(s, "step-000000040 ★best") || !strings.Contains(s, "★40") || !strings.Contains(s, "best accuracy 0.7167") {
		t.Errorf("the best checkpoint is not marked:\n%s", s)
	}
}

// / starts a new filter, esc clears a kept one, and the filter line says
// how many runs match.
func TestFilterCountsAndClears(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 24)
	press(m, "/", "s", "s", "t", "enter")
	if s := screen(m); !strings.Contains(s, "1 of 4 runs") {
		t.Errorf("no count:\n%s", s)
	}
	press(m, "/")
	if v := runsOf(m).filter.Value(); v != "" {
		t.Errorf("/ appends to the old filter %q", v)
	}
	press(m, "m", "i", "enter", "esc")
	if v := runsOf(m).filter.Value(); v != "" || len(runsOf(m).visible()) != 4 {
		t.Errorf("esc did not clear the filter %q", v)
	}
}

// e writes what the chart shows: its runs' raw and smoothed series of the
// metric, inside the zoom window, as SVG and CSV (via plotfile).
func TestExportWritesWhatIsOnScreen(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "enter", "z")
	cmd := press(m, "e")
	if cmd == nil {
		t.Fatal("e returned no command")
	}
	m.Update(cmd())
	s := screen(m)
	if !strings.Contains(s, "wrote plots/") {
		t.Fatalf("no export message:\n%s", s)
	}
	csvs, _ := filepath.Glob(filepath.Join("plots", "*-loss-*.csv"))
	svgs, _ := filepath.Glob(filepath.Join("plots", "*-loss-*.svg"))
	if len(csvs) != 1 || len(svgs) != 1 {
		t.Fatalf("exported %v %v", csvs, svgs)
	}
	f, err := os.Open(csvs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fig, err := plotfile.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, sr := range fig.Series {
		names[sr.Name] = len(sr.X)
		for _, x := range sr.X {
			if x < 450.5 {
				t.Fatalf("%s has x %v outside the zoom window", sr.Name, x)
			}
		}
	}
	if names[liveRun+" train"] != 450 || names[liveRun+" train (smoothed 0.60)"] != 450 || names[liveRun+" eval"] != 3 {
		t.Errorf("exported series %v", names)
	}
	svg, _ := os.ReadFile(svgs[0])
	if !strings.Contains(string(svg), "<svg") {
		t.Error("not an SVG")
	}
}

// The Run view and its grid at 160x48: every panel in place, no line
// past the edge, exactly the screen's height.
func TestRunViewWideGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 160, 48)
	press(m, "enter")
	s := screen(m)
	checkScreen(t, s, 160, 48)
	for _, want := range []string{"Throughput", "Optimizer", "Eval", "Checkpoints", "train.log", "x: step"} {
		if !strings.Contains(s, want) {
			t.Errorf("wide run view lacks %q", want)
		}
	}
	press(m, "g")
	checkScreen(t, screen(m), 160, 48)
	press(m, "g")
	requireGolden(t, s)
}

// The x axis's last label is the data's last x, at any width: a run to
// step 900 is not labelled as if it ended at 750.
func TestXAxisEndsAtTheData(t *testing.T) {
	xs := make([]float64, 900)
	ys := make([]float64, 900)
	for i := range xs {
		xs[i], ys[i] = float64(i+1), 10-float64(i)/100
	}
	st := newStyles(true)
	for _, w := range []int{40, 60, 80, 100, 134, 160} {
		out := ansi.Strip(renderChart(w, 12, []chartSeries{{xs: xs, ys: ys}}, chartOpts{xMin: math.NaN(), xMax: math.NaN()}, st))
		lines := strings.Split(out, "\n")
		labels := strings.Fields(lines[len(lines)-1])
		if len(labels) < 3 || labels[len(labels)-1] != "900" || labels[0] != "1" {
			t.Errorf("width %d: x labels %v, want 1 … 900", w, labels)
		}
	}
}

func TestLinearColumns(t *testing.T) {
	cases := []struct{ gw, labelW, target, n, k int }{
		{72, 3, 13, 12, 5},  // 5 labels after the first, the last at column 60: 12 left
		{60, 3, 10, 10, 5},  // 50 + 3 fits in 61
		{100, 4, 16, 16, 6}, // 96 + 4 fits in 101
	}
	for _, tc := range cases {
		n, k, ok := linearColumns(tc.gw, tc.labelW, tc.target)
		if !ok || k*n+tc.labelW > tc.gw+1 || k < 2 {
			t.Errorf("linearColumns(%d, %d, %d) = %d, %d, %v: the last label does not fit", tc.gw, tc.labelW, tc.target, n, k, ok)
		}
		if left := tc.gw - k*n; left > tc.gw-tc.k*tc.n {
			t.Errorf("linearColumns(%d, %d, %d) leaves %d columns, a hand choice leaves %d", tc.gw, tc.labelW, tc.target, left, tc.gw-tc.k*tc.n)
		}
	}
	if _, _, ok := linearColumns(8, 6, 4); ok {
		t.Error("no room for two labels should be refused")
	}
}

// At 80 columns an overlay's legend takes a second line rather than
// cutting off a run, and the screen still fits.
func TestOverlayLegendWrapsAt80(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	rv := runsOf(m)
	for _, id := range []string{"pretrain-pretrain-mini-20250601-100000", "pretrain-pretrain-base-20250601-110000"} {
		rv.cursor = indexOf(rv.visible(), id)
		press(m, "space")
	}
	rv.cursor = indexOf(rv.visible(), liveRun)
	press(m, "enter")
	s := screen(m)
	checkScreen(t, s, 80, 24)
	legend := strings.Join(strings.Split(s, "\n")[3:5], "\n")
	for _, name := range []string{"small 0601-1130", "mini 0601-1000", "base 0601-1100"} {
		if !strings.Contains(legend, name) {
			t.Errorf("the legend lacks %s:\n%s", name, legend)
		}
	}
}
