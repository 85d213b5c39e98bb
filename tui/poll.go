package tui

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// runReaders are the incremental readers of one run directory.
type runReaders struct {
	metrics *rundir.MetricsReader
	status  *rundir.StatusWatcher
	log     *rundir.Tailer
	started bool // log positioned at its end after the first read
	ckptAt  time.Time
	ckpts   []rundir.Checkpoint
}

// runUpdate is what one poll learned about one run.
type runUpdate struct {
	ID, Dir     string
	Status      *rundir.Status // non-nil when status.json changed
	StatusErr   error
	Live        bool
	Metrics     []rundir.Metric
	Reset       bool
	LogLines    []string
	Checkpoints []rundir.Checkpoint // non-nil when the list changed
	Best        rundir.Best         // with Checkpoints: the best dev checkpoint, if the run has one
	HasBest     bool
	BadLines    int
	LastError   error
}

// pollMsg carries one poll's findings to Update.
type pollMsg struct {
	Runs    []runUpdate
	Removed []string // run directories that disappeared
	Err     error    // the runs folder could not be read
	More    bool     // a metrics file has more to read: poll again at once
	At      time.Time
	Bench   *benchUpdate // non-nil when the runs folder's bench.json changed
}

// poller owns the readers of every run under root. It is used from one
// goroutine at a time: the next poll is scheduled only once the previous
// pollMsg has been applied.
type poller struct {
	root    string
	readers map[string]*runReaders
	bench   benchWatcher
	now     func() time.Time
}

func newPoller(root string, now func() time.Time) *poller {
	return &poller{root: root, readers: map[string]*runReaders{}, now: now,
		bench: benchWatcher{path: filepath.Join(root, BenchFile)}}
}

// checkpointEvery is how often a run's checkpoint folder is listed.
const checkpointEvery = 2 * time.Second

// poll scans the runs folder and reads what changed in each run.
func (p *poller) poll() pollMsg {
	now := p.now()
	msg := pollMsg{At: now}
	if u, changed := p.bench.poll(); changed {
		msg.Bench = &u
	}
	entries, err := rundir.ScanRuns(p.root)
	if err != nil {
		msg.Err = err
		return msg
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.ID] = true
		rr := p.readers[e.ID]
		if rr == nil {
			rr = &runReaders{
				metrics: rundir.NewMetricsReader(e.Dir),
				status:  rundir.NewStatusWatcher(e.Dir),
				log:     rundir.NewTailer(filepath.Join(e.Dir, rundir.LogFile)),
			}
			p.readers[e.ID] = rr
		}
		u := runUpdate{ID: e.ID, Dir: e.Dir}
		st, changed, serr := rr.status.Poll()
		if changed {
			u.Status = &st
		}
		u.StatusErr = serr
		u.Live = st.Live()

		mp, err := rr.metrics.Poll()
		if err != nil {
			u.LastError = err
		} else {
			u.Metrics, u.Reset = mp.Metrics, mp.Reset
			msg.More = msg.More || mp.More
		}
		u.BadLines = rr.metrics.BadLines
		if u.LastError == nil {
			u.LastError = rr.metrics.LastError
		}

		if !rr.started {
			// Show the end of an existing log without reading it all.
			lines, _ := rundir.LastLines(rr.log.Path, logKeep)
			for _, l := range lines {
				u.LogLines = append(u.LogLines, string(l))
			}
			_ = rr.log.SeekEnd()
			rr.started = true
		} else if lp, err := rr.log.Poll(); err == nil {
			for _, l := range lp.Lines {
				u.LogLines = append(u.LogLines, string(l))
			}
		}

		if now.Sub(rr.ckptAt) >= checkpointEvery || u.Status != nil {
			rr.ckptAt = now
			if cks, err := rundir.Checkpoints(e.Dir); err == nil && !slices.Equal(cks, rr.ckpts) {
				rr.ckpts = cks
				u.Checkpoints = append([]rundir.Checkpoint{}, cks...)
				if u.Checkpoints == nil {
					u.Checkpoints = []rundir.Checkpoint{}
				}
				u.Best, u.HasBest = rundir.BestCheckpoint(e.Dir)
			}
		}
		msg.Runs = append(msg.Runs, u)
	}
	for id := range p.readers {
		if !seen[id] {
			delete(p.readers, id)
			msg.Removed = append(msg.Removed, id)
		}
	}
	return msg
}

// apply merges a poll into the store.
func (s *store) apply(msg pollMsg) {
	for _, id := range msg.Removed {
		delete(s.runs, id)
	}
	for _, u := range msg.Runs {
		r := s.runs[u.ID]
		if r == nil {
			r = newRunData(u.ID, u.Dir)
			s.runs[u.ID] = r
		}
		if u.Status != nil {
			r.Status = *u.Status
		}
		r.StatusErr, r.Live = u.StatusErr, u.Live
		if u.Reset {
			r.reset()
		}
		r.addMetrics(u.Metrics)
		r.BadLines, r.LastError = u.BadLines, u.LastError
		if len(u.LogLines) > 0 {
			r.Log = append(r.Log, u.LogLines...)
			if len(r.Log) > logKeep {
				r.Log = append([]string(nil), r.Log[len(r.Log)-logKeep:]...)
			}
		}
		if u.Checkpoints != nil {
			r.Checkpoints = u.Checkpoints
			r.Best, r.HasBest = u.Best, u.HasBest
		}
	}
	s.sortRuns()
}
