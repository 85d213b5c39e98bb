package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// Run is the trainer's side of a run directory (docs/RUNS.md): it owns
// status.json, appends to metrics.jsonl and train.log, and writes
// checkpoints. Only the run's own process writes here.
type Run struct {
	Dir string

	mu      sync.Mutex
	status  rundir.Status
	metrics *os.File
	log     *os.File
	out     io.Writer // the terminal (or nil)
	lastW   time.Time
}

// ErrLiveRun is returned when a directory belongs to a running process.
var ErrLiveRun = errors.New("run directory is owned by a live run")

// OpenRun creates (or, when resuming, reopens) a run directory and takes
// ownership of it. It refuses a directory whose status says a live process
// is running in it.
func OpenRun(dir string, st rundir.Status, out io.Writer, resume bool) (*Run, error) {
	if err := os.MkdirAll(filepath.Join(dir, rundir.CheckpointsDir), 0o755); err != nil {
		return nil, err
	}
	if prev, err := rundir.ReadStatus(dir); err == nil {
		if Live(prev) {
			return nil, fmt.Errorf("%s: %w (pid %d on %s, state %s)", dir, ErrLiveRun, prev.PID, prev.Host, prev.State)
		}
		if !resume {
			return nil, fmt.Errorf("%s already holds a run (state %s); use --resume to continue it or pick another run.name", dir, prev.State)
		}
		st.StartedAt = prev.StartedAt
	} else if resume {
		return nil, fmt.Errorf("%s: cannot resume: %v", dir, err)
	}
	r := &Run{Dir: dir, status: st, out: out}
	var err error
	if r.metrics, err = os.OpenFile(filepath.Join(dir, rundir.MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	if r.log, err = os.OpenFile(filepath.Join(dir, rundir.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		r.metrics.Close()
		return nil, err
	}
	if err := r.SetStatus(func(s *rundir.Status) {}); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Live reports whether a status belongs to a process that is still
// running on this host.
func Live(s rundir.Status) bool {
	switch s.State {
	case rundir.StateStarting, rundir.StateRunning, rundir.StateStopping:
	default:
		return false
	}
	host, _ := os.Hostname()
	if s.Host != "" && s.Host != host {
		return true // another machine's process: assume alive, never steal its directory
	}
	if s.PID <= 0 {
		return false
	}
	err := syscall.Kill(s.PID, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// SetStatus edits and rewrites status.json atomically.
func (r *Run) SetStatus(edit func(*rundir.Status)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	edit(&r.status)
	r.status.UpdatedAt = time.Now().UTC()
	r.lastW = time.Now()
	return rundir.WriteStatus(r.Dir, r.status)
}

// Heartbeat rewrites status.json with the step if the last write is older
// than a couple of seconds, so readers see progress and freshness.
func (r *Run) Heartbeat(step int) {
	r.mu.Lock()
	due := time.Since(r.lastW) > 2*time.Second
	r.mu.Unlock()
	if due {
		r.SetStatus(func(s *rundir.Status) { s.Step = step })
	}
}

// Metric appends one line to metrics.jsonl and flushes it.
func (r *Run) Metric(m rundir.Metric) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err = r.metrics.Write(append(b, '\n'))
	return err
}

// Logf writes a line to train.log and to the terminal.
func (r *Run) Logf(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	stamp := time.Now().Format("15:04:05")
	r.mu.Lock()
	defer r.mu.Unlock()
	w := bufio.NewWriter(r.log)
	fmt.Fprintf(w, "%s %s\n", stamp, line)
	w.Flush()
	if r.out != nil {
		fmt.Fprintln(r.out, line)
	}
}

// Close releases the files (the status is left as last set).
func (r *Run) Close() error {
	r.metrics.Close()
	return r.log.Close()
}
