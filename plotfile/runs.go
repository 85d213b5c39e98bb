package plotfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// XAxis is what a run's metric is drawn against.
type XAxis string

const (
	// Step is the optimizer step of each metrics line.
	Step XAxis = "step"
	// Tokens is step × the run's tokens per step (tokens_per_s × step_ms
	// of its train lines, which is the batch's tokens times grad_accum).
	Tokens XAxis = "tokens"
	// Time is the training time in seconds: train lines' elapsed_s, and
	// for other splits the elapsed_s interpolated by step between them.
	Time XAxis = "time"
)

// XAxes lists the accepted axes.
var XAxes = []XAxis{Step, Tokens, Time}

// ParseXAxis accepts step, tokens or time.
func ParseXAxis(s string) (XAxis, error) {
	for _, x := range XAxes {
		if string(x) == s {
			return x, nil
		}
	}
	return "", fmt.Errorf("x axis %q: want step, tokens or time", s)
}

// Label is the axis title.
func (x XAxis) Label() string {
	switch x {
	case Tokens:
		return "tokens"
	case Time:
		return "training time (s)"
	}
	return "step"
}

// splitOrder is which split a metric name without one means: the first
// split that logs it.
var splitOrder = []string{"train", "eval", "test", "system"}

// runMetrics is one run's metrics.jsonl, by split, in file order with the
// lines a resume replaced dropped.
type runMetrics struct {
	dir, name string
	bySplit   map[string][]rundir.Metric
}

// names lists split/name for every value the run logs, sorted.
func (r runMetrics) names() []string {
	set := map[string]bool{}
	for split, ms := range r.bySplit {
		for _, m := range ms {
			for k := range m.Values {
				set[split+"/"+k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r runMetrics) logs(split, name string) bool {
	for _, m := range r.bySplit[split] {
		if _, ok := m.Values[name]; ok {
			return true
		}
	}
	return false
}

// readRun reads dir/metrics.jsonl whole. After a resume from an older
// checkpoint the same steps appear again: a line whose step is not past
// the previous one of its split drops the earlier lines from that step on
// (readers keep the later line, docs/RUNS.md).
func readRun(dir string) (runMetrics, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return runMetrics{}, fmt.Errorf("run %s: no such folder", dir)
	}
	if err != nil {
		return runMetrics{}, fmt.Errorf("run %s: %w", dir, err)
	}
	if !st.IsDir() {
		return runMetrics{}, fmt.Errorf("run %s: not a folder (want a run folder holding %s)", dir, rundir.MetricsFile)
	}
	path := filepath.Join(dir, rundir.MetricsFile)
	if _, err := os.Stat(path); err != nil {
		return runMetrics{}, fmt.Errorf("run %s: no %s (is it a run folder?)", dir, rundir.MetricsFile)
	}
	r := runMetrics{dir: dir, name: filepath.Base(filepath.Clean(dir)), bySplit: map[string][]rundir.Metric{}}
	mr := rundir.NewMetricsReader(dir)
	for {
		p, err := mr.Poll()
		if err != nil {
			return runMetrics{}, fmt.Errorf("run %s: %w", dir, err)
		}
		if p.Reset {
			r.bySplit = map[string][]rundir.Metric{}
		}
		for _, m := range p.Metrics {
			ms := r.bySplit[m.Split]
			if n := len(ms); n > 0 && m.Step <= ms[n-1].Step {
				k := sort.Search(n, func(i int) bool { return ms[i].Step >= m.Step })
				ms = ms[:k]
			}
			r.bySplit[m.Split] = append(ms, m)
		}
		if !p.More {
			break
		}
	}
	return r, nil
}

// resolve turns a metric spec (name or split/name) into split and name,
// choosing for a bare name the first split of splitOrder that any run logs
// it in.
func resolve(runs []runMetrics, metric string) (split, name string, err error) {
	if metric == "" {
		return "", "", errors.New("no metric given")
	}
	if s, n, ok := strings.Cut(metric, "/"); ok {
		if s == "" || n == "" {
			return "", "", fmt.Errorf("metric %q: want NAME or SPLIT/NAME (e.g. loss, eval/accuracy)", metric)
		}
		return s, n, nil
	}
	for _, s := range splitOrder {
		for _, r := range runs {
			if r.logs(s, metric) {
				return s, metric, nil
			}
		}
	}
	return "", metric, nil
}

// FromRuns reads the runs' metrics.jsonl and makes one series per run that
// logs metric: "loss" (the first of the train, eval, test and system splits
// that logs it) or "eval/loss". Runs without it are left out with a note;
// when no run logs it the error lists what each run does log. Non-finite
// values (null in the file) are left out with a note.
func FromRuns(dirs []string, metric string, x XAxis) (Figure, error) {
	if len(dirs) == 0 {
		return Figure{}, errors.New("no runs given")
	}
	if _, err := ParseXAxis(string(x)); err != nil {
		return Figure{}, err
	}
	runs := make([]runMetrics, 0, len(dirs))
	for _, d := range dirs {
		r, err := readRun(d)
		if err != nil {
			return Figure{}, err
		}
		runs = append(runs, r)
	}
	uniqueNames(runs)
	split, name, err := resolve(runs, metric)
	if err != nil {
		return Figure{}, err
	}
	spec := split + "/" + name
	f := Figure{Title: spec, XLabel: x.Label(), YLabel: spec}
	var missing []string
	for _, r := range runs {
		if split == "" || !r.logs(split, name) {
			logged := r.names()
			if len(logged) == 0 {
				missing = append(missing, fmt.Sprintf("%s logs no metrics yet", r.dir))
			} else {
				missing = append(missing, fmt.Sprintf("%s logs %s", r.dir, strings.Join(logged, ", ")))
			}
			continue
		}
		s, notes, err := series(r, split, name, x)
		if err != nil {
			return Figure{}, err
		}
		f.Series = append(f.Series, s)
		f.Notes = append(f.Notes, notes...)
	}
	want := metric
	if split != "" {
		want = spec
	}
	if len(f.Series) == 0 {
		return Figure{}, fmt.Errorf("no run logs %s:\n  %s", want, strings.Join(missing, "\n  "))
	}
	for _, m := range missing {
		f.Notes = append(f.Notes, fmt.Sprintf("left out: no %s: %s", want, m))
	}
	return f, nil
}

// uniqueNames names each series by its run folder's name, or by the whole
// path where two runs share a name.
func uniqueNames(runs []runMetrics) {
	count := map[string]int{}
	for _, r := range runs {
		count[r.name]++
	}
	for i := range runs {
		if count[runs[i].name] > 1 {
			runs[i].name = filepath.Clean(runs[i].dir)
		}
	}
}

func series(r runMetrics, split, name string, x XAxis) (Series, []string, error) {
	s := Series{Name: r.name}
	var xOf func(m rundir.Metric) (float64, bool)
	switch x {
	case Step:
		xOf = func(m rundir.Metric) (float64, bool) { return float64(m.Step), true }
	case Tokens:
		per, ok := tokensPerStep(r.bySplit["train"])
		if !ok {
			return Series{}, nil, fmt.Errorf("run %s: --x tokens needs train lines with tokens_per_s and step_ms", r.dir)
		}
		xOf = func(m rundir.Metric) (float64, bool) { return float64(m.Step) * per, true }
	case Time:
		steps, secs := elapsed(r.bySplit["train"])
		if len(steps) == 0 {
			return Series{}, nil, fmt.Errorf("run %s: --x time needs train lines with elapsed_s", r.dir)
		}
		xOf = func(m rundir.Metric) (float64, bool) {
			if split == "train" {
				v, ok := m.Values["elapsed_s"]
				return v, ok && finite(v)
			}
			return interpolate(steps, secs, float64(m.Step)), true
		}
	}
	dropped := 0
	for _, m := range r.bySplit[split] {
		y, ok := m.Values[name]
		if !ok {
			continue
		}
		xv, ok := xOf(m)
		if !ok || !finite(y) || !finite(xv) {
			dropped++
			continue
		}
		s.X = append(s.X, xv)
		s.Y = append(s.Y, y)
	}
	var notes []string
	if dropped > 0 {
		notes = append(notes, fmt.Sprintf("%s: left out %d lines whose %s/%s or x is not a finite number", r.dir, dropped, split, name))
	}
	return s, notes, nil
}

// tokensPerStep is tokens_per_s × step_ms / 1000 of the first train line
// that has both (the logger's tokens per step, a constant of the run),
// rounded to a whole number of tokens.
func tokensPerStep(train []rundir.Metric) (float64, bool) {
	for _, m := range train {
		tps, ok1 := m.Values["tokens_per_s"]
		ms, ok2 := m.Values["step_ms"]
		if ok1 && ok2 && finite(tps) && finite(ms) && tps > 0 && ms > 0 {
			return math.Round(tps * ms / 1e3), true
		}
	}
	return 0, false
}

// elapsed is the train lines' (step, elapsed_s) in step order.
func elapsed(train []rundir.Metric) (steps, secs []float64) {
	for _, m := range train {
		if v, ok := m.Values["elapsed_s"]; ok && finite(v) {
			steps = append(steps, float64(m.Step))
			secs = append(secs, v)
		}
	}
	return steps, secs
}

// interpolate is y at x on the polyline (xs, ys), xs increasing; before the
// first point it scales the first point's y by x/xs[0] (time starts at
// step 0), past the last it extends the last segment's rate.
func interpolate(xs, ys []float64, x float64) float64 {
	n := len(xs)
	i := sort.SearchFloat64s(xs, x)
	switch {
	case i < n && xs[i] == x:
		return ys[i]
	case i == 0:
		if xs[0] <= 0 {
			return ys[0]
		}
		return ys[0] * x / xs[0]
	case i == n:
		if n == 1 {
			if xs[0] <= 0 {
				return ys[0]
			}
			return ys[0] * x / xs[0]
		}
		i = n - 1
	}
	x0, x1, y0, y1 := xs[i-1], xs[i], ys[i-1], ys[i]
	return y0 + (y1-y0)*(x-x0)/(x1-x0)
}

// Window keeps the points whose x is in [lo, hi] (either may be an
// infinity). A series left empty stays, so the others keep their colours.
func (f Figure) Window(lo, hi float64) Figure {
	out := f
	out.Series = nil
	for _, s := range f.Series {
		w := Series{Name: s.Name}
		for i := range s.X {
			if s.X[i] >= lo && s.X[i] <= hi {
				w.X = append(w.X, s.X[i])
				w.Y = append(w.Y, s.Y[i])
			}
		}
		out.Series = append(out.Series, w)
	}
	return out
}

// Last keeps the points within n of the largest x of all series, so the
// runs share one window: the last n steps, tokens or seconds.
func (f Figure) Last(n float64) Figure {
	lo, hi := f.XRange()
	if hi < lo {
		return f
	}
	return f.Window(hi-n, hi)
}

// XRange is the smallest and largest x of all series (+Inf, -Inf when
// there are no points).
func (f Figure) XRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range f.Series {
		for _, x := range s.X {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	return lo, hi
}
