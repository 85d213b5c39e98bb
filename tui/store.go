package tui

import (
	"fmt"
	"hash/fnv"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// series is one curve of a run, x by step and by wall-clock seconds since
// the run's first metric, with its smoothed copy kept up to date as points
// arrive (so a redraw never re-smooths 100k points).
type series struct {
	step, wall, y []float64
	smooth        []float64
	ema           ema
	cache         sampleCache
}

func (s *series) add(step, wall, y float64) {
	s.step = append(s.step, step)
	s.wall = append(s.wall, wall)
	s.y = append(s.y, y)
	s.smooth = append(s.smooth, s.ema.push(y))
}

// resmooth recomputes the smoothed copy for a new EMA weight.
func (s *series) resmooth(weight float64) {
	s.ema = ema{weight: weight}
	s.smooth = s.smooth[:0]
	for _, y := range s.y {
		s.smooth = append(s.smooth, s.ema.push(y))
	}
}

func (s *series) len() int { return len(s.y) }

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

	train, eval series
	lr          []float64 // one per train point that reported lr

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
}

func newRunData(id, dir string, smoothing float64) *runData {
	r := &runData{ID: id, Dir: dir, lastTrain: rundir.Metric{Values: map[string]float64{}}}
	r.train.ema.weight = smoothing
	r.eval.ema.weight = smoothing
	return r
}

// reset drops everything built from metrics.jsonl (the file was replaced).
func (r *runData) reset() {
	id, dir, st, serr, live, ck, log := r.ID, r.Dir, r.Status, r.StatusErr, r.Live, r.Checkpoints, r.Log
	*r = *newRunData(id, dir, r.train.ema.weight)
	r.Status, r.StatusErr, r.Live, r.Checkpoints, r.Log = st, serr, live, ck, log
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
		switch m.Split {
		case "train":
			if v, ok := m.Values["loss"]; ok {
				r.train.add(float64(m.Step), wall, v)
			}
			if v, ok := m.Values["lr"]; ok {
				r.lr = append(r.lr, v)
			}
			r.lastTrain = m
			r.recent = appendWindow(r.recent, m, windowSize)
			if !m.T.IsZero() {
				r.progress = appendWindow(r.progress, progressPoint{m.Step, m.T}, windowSize)
			}
		case "eval":
			if v, ok := m.Values["loss"]; ok {
				r.eval.add(float64(m.Step), wall, v)
			}
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

// setSmoothing re-smooths the curves for a new EMA weight.
func (r *runData) setSmoothing(w float64) {
	r.train.resmooth(w)
	r.eval.resmooth(w)
}

// lastLoss is the latest train loss, NaN before the first.
func (r *runData) lastLoss() float64 {
	if n := r.train.len(); n > 0 {
		return r.train.y[n-1]
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
	r := newRunData(id, logPath, 0)
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

// colorIndex gives a run a palette slot from its ID, so its colour stays
// the same as runs come and go.
func colorIndex(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// metricValue is m's value for key, NaN when the line did not carry it.
func metricValue(m rundir.Metric, key string) float64 {
	if v, ok := m.Values[key]; ok {
		return v
	}
	return math.NaN()
}
