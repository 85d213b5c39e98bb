package tui

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// windowSize is how many recent train lines feed throughput and ETA.
const windowSize = 20

// logKeep is how many train.log lines a run keeps for its log panel.
const logKeep = 200

// runData is what the dashboard knows of one run directory, built
// incrementally from polls.
type runData struct {
	ID, Dir   string
	Status    rundir.Status
	StatusErr error
	Live      bool

	tracks        map[string]*track // by split: every value every line carried
	curves        map[curveKey]*curve
	tokensPerStep float64 // from the latest train line (tokens_per_s × step_ms), for x by tokens

	recent    []rundir.Metric // last train lines, for throughput
	progress  []progressPoint // last (step, t) pairs, for the ETA
	lastTrain rundir.Metric   // latest train line
	evals     []rundir.Metric // every eval line
	system    rundir.Metric   // latest system line
	hasSystem bool
	firstT    time.Time // of the first metric: wall-clock x origin

	Checkpoints []rundir.Checkpoint
	Log         []string
	BadLines    int
	LastError   error
	Lines       int // metrics applied, for the loading indicator

	// failedLaunch marks a row for a launch whose process exited before
	// it wrote a run folder: Dir is its output log, Status.Error its
	// last line. It stays until the dashboard quits.
	failedLaunch bool

	// Best is the finetuning run's best dev checkpoint (checkpoints/best).
	Best    rundir.Best
	HasBest bool
}

func newRunData(id, dir string) *runData {
	return &runData{ID: id, Dir: dir, lastTrain: rundir.Metric{Values: map[string]float64{}},
		tracks: map[string]*track{}, curves: map[curveKey]*curve{}, tokensPerStep: math.NaN()}
}

// reset drops everything built from metrics.jsonl (the file was replaced).
func (r *runData) reset() {
	id, dir, st, serr, live, ck, log, best := r.ID, r.Dir, r.Status, r.StatusErr, r.Live, r.Checkpoints, r.Log, r.Best
	*r = *newRunData(id, dir)
	r.Status, r.StatusErr, r.Live, r.Checkpoints, r.Log, r.Best = st, serr, live, ck, log, best
}

// track is the run's lines of a split, nil before the first.
func (r *runData) track(split string) *track { return r.tracks[split] }

// column is a split's values of key with its x column, nil when the run
// has logged none.
func (r *runData) column(split, key string, axis xAxis) (xs, ys []float64) {
	t := r.tracks[split]
	if t == nil || t.cols[key] == nil {
		return nil, nil
	}
	return t.xs(axis, r.tokensPerStep), t.cols[key]
}

// curveOf is the smoothed copy and caches of a column.
func (r *runData) curveOf(split, key string) *curve {
	k := curveKey{split, key}
	c := r.curves[k]
	if c == nil {
		c = &curve{}
		r.curves[k] = c
	}
	return c
}

// lastOf is key's latest value, from train, system or eval lines in that
// order of preference; NaN when none.
func (r *runData) lastOf(key string) float64 {
	for _, split := range chartSplits {
		if t := r.tracks[split]; t != nil {
			if v, _, ok := t.last(key); ok {
				return v
			}
		}
	}
	return math.NaN()
}

// logsOnlyEval says key comes from eval lines alone (a dev metric).
func (r *runData) logsOnlyEval(key string) bool {
	for split, t := range r.tracks {
		if _, ok := t.cols[key]; ok && split != "eval" {
			return false
		}
	}
	return true
}

// logs says the run has logged key in any split.
func (r *runData) logs(key string) bool {
	for _, t := range r.tracks {
		if _, ok := t.cols[key]; ok {
			return true
		}
	}
	return false
}

// metrics are the keys the run has logged, in display order.
func (r *runData) metrics() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range r.tracks {
		for k := range t.cols {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return sortMetrics(out)
}

// addMetrics applies newly read metrics lines in file order.
func (r *runData) addMetrics(ms []rundir.Metric) {
	for _, m := range ms {
		r.Lines++
		if r.firstT.IsZero() && !m.T.IsZero() {
			r.firstT = m.T
		}
		wall := math.NaN()
		if !m.T.IsZero() && !r.firstT.IsZero() {
			wall = m.T.Sub(r.firstT).Seconds()
		} else if v, ok := m.Values["elapsed_s"]; ok {
			wall = v
		}
		if m.Split != "" {
			t := r.tracks[m.Split]
			if t == nil {
				t = newTrack()
				r.tracks[m.Split] = t
			}
			t.add(float64(m.Step), wall, m.Values)
		}
		switch m.Split {
		case "train":
			if tps, ms := metricValue(m, "tokens_per_s"), metricValue(m, "step_ms"); finite(tps) && finite(ms) && tps > 0 && ms > 0 {
				r.tokensPerStep = math.Round(tps * ms / 1e3) // a whole number of tokens per optimizer step
			}
			r.lastTrain = m
			r.recent = appendWindow(r.recent, m, windowSize)
			if !m.T.IsZero() {
				r.progress = appendWindow(r.progress, progressPoint{m.Step, m.T}, windowSize)
			}
		case "eval":
			r.evals = append(r.evals, m)
		case "system":
			r.system, r.hasSystem = m, true
		}
	}
}

func appendWindow[T any](w []T, v T, n int) []T {
	if len(w) >= n {
		copy(w, w[1:])
		w = w[:n-1]
	}
	return append(w, v)
}

// lastLoss is the latest train loss, NaN before the first.
func (r *runData) lastLoss() float64 {
	if t := r.tracks["train"]; t != nil {
		v, _, _ := t.last("loss")
		return v
	}
	return math.NaN()
}

// step is the run's current step: status.json when it is ahead of the
// metrics (it is rewritten more often), else the last metric's.
func (r *runData) step() int {
	s := r.Status.Step
	if r.lastTrain.Step > s {
		s = r.lastTrain.Step
	}
	return s
}

// eta is the estimated time to finish, for running runs only.
func (r *runData) eta() (time.Duration, bool) {
	if !r.Live {
		return 0, false
	}
	return ETA(r.progress, r.step(), r.Status.TotalSteps)
}

// state is what the runs table shows: the status's state, except that a
// running state whose process is gone reads "lost".
func (r *runData) state() string {
	st := r.Status.State
	if st == "" {
		if r.StatusErr != nil {
			return "unknown"
		}
		return rundir.StateStarting
	}
	if !r.Live && (st == rundir.StateRunning || st == rundir.StateStarting || st == rundir.StateStopping) {
		return "lost"
	}
	return st
}

// kind is "pretrain" or "finetune/<task>".
func (r *runData) kind() string {
	k := r.Status.Kind
	if k == "" {
		k = "?"
	}
	if r.Status.Task != "" {
		k += "/" + r.Status.Task
	}
	return k
}

// age is the time since the run last changed.
func (r *runData) age(now time.Time) time.Duration {
	t := r.Status.UpdatedAt
	if r.Status.EndedAt != nil {
		t = *r.Status.EndedAt
	}
	if t.IsZero() {
		return 0
	}
	return now.Sub(t)
}

// hasMLMHead says the run's checkpoints can answer masked-word queries:
// pretraining saves the masked-LM head; finetuning (GLUE, LRA) replaces it
// with a classifier.
func (r *runData) hasMLMHead() bool { return r.Status.Kind == "pretrain" }

// latestCheckpoint is the newest complete checkpoint, if any.
func (r *runData) latestCheckpoint() (rundir.Checkpoint, bool) {
	for i := len(r.Checkpoints) - 1; i >= 0; i-- {
		if r.Checkpoints[i].Latest {
			return r.Checkpoints[i], true
		}
	}
	if n := len(r.Checkpoints); n > 0 {
		return r.Checkpoints[n-1], true
	}
	return rundir.Checkpoint{}, false
}

// store holds every known run, newest first.
type store struct {
	runs  map[string]*runData
	order []string
}

func newStore() *store { return &store{runs: map[string]*runData{}} }

func (s *store) get(id string) *runData { return s.runs[id] }

func (s *store) list() []*runData {
	out := make([]*runData, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.runs[id])
	}
	return out
}

// addFailedLaunch records a launch whose process (pid) exited before it
// wrote its run folder, as a failed row of the runs table.
func (s *store) addFailedLaunch(spec LaunchSpec, pid int, exit error, last, logPath string, now time.Time) *runData {
	name := strings.TrimSuffix(filepath.Base(spec.Config), filepath.Ext(spec.Config))
	id := fmt.Sprintf("launch-%s-pid%d", name, pid)
	why := "exited before writing its run folder"
	if exit != nil {
		why += " (" + exit.Error() + ")"
	}
	text := fmt.Sprintf("launch of %s failed: pid %d %s", spec.Config, pid, why)
	if last != "" {
		text += ": " + last
	}
	r := newRunData(id, logPath)
	r.failedLaunch = true
	ended := now
	r.Status = rundir.Status{State: rundir.StateFailed, Kind: spec.Kind, Config: spec.Config, PID: pid,
		StartedAt: now, UpdatedAt: now, EndedAt: &ended, Error: text}
	r.Log = []string{"output: " + logPath}
	if last != "" {
		r.Log = append(r.Log, last)
	}
	s.runs[id] = r
	s.sortRuns()
	return r
}

// sortRuns orders runs newest first by start time, then by ID.
func (s *store) sortRuns() {
	s.order = s.order[:0]
	for id := range s.runs {
		s.order = append(s.order, id)
	}
	sort.Slice(s.order, func(i, j int) bool {
		a, b := s.runs[s.order[i]], s.runs[s.order[j]]
		if !a.Status.StartedAt.Equal(b.Status.StartedAt) {
			return a.Status.StartedAt.After(b.Status.StartedAt)
		}
		return a.ID > b.ID
	})
}

// metricValue is m's value for key, NaN when the line did not carry it.
func metricValue(m rundir.Metric, key string) float64 {
	if v, ok := m.Values[key]; ok {
		return v
	}
	return math.NaN()
}
