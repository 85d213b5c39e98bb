package train

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	lock    *os.File // the owner lock (OwnerLockFile), held until Close
	// writeErr is the first failed write to metrics.jsonl or train.log
	// (a full disk): the loop stops the run on it rather than train on
	// while metrics are lost.
	writeErr error
	// follower is a data-parallel rank other than 0 (openFollower): it
	// owns nothing in the directory but its ranks/<N>.log; status and
	// metrics are rank 0's to write, so they are no-ops here.
	follower bool
	prefix   string // "[rank N] " on the terminal
}

// openFollower opens rank's log, ranks/<rank>.log, in a run directory that
// rank 0 owns.
func openFollower(dir string, rank int, out io.Writer) (*Run, error) {
	rd := filepath.Join(dir, rundir.RanksDir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(rd, fmt.Sprintf("%d.log", rank)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &Run{Dir: dir, log: f, out: out, follower: true, prefix: fmt.Sprintf("[rank %d] ", rank)}, nil
}

// OwnerLockFile is the run directory's ownership lock: the trainer holds an
// exclusive flock on it for the life of its process (the kernel drops it
// when the process dies, kill -9 included; NFS v4 carries it between hosts),
// and writes its pid and host into it so a refused second trainer can say
// who owns the run.
const OwnerLockFile = "owner.lock"

// lockRun takes the run's owner lock or says who holds it.
func lockRun(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, OwnerLockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := io.ReadAll(io.LimitReader(f, 256))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(owner))
			if who == "" {
				who = "another process"
			}
			return nil, fmt.Errorf("%s: %w (%s holds %s)", dir, ErrLiveRun, who, OwnerLockFile)
		}
		return nil, fmt.Errorf("%s: locking %s: %w", dir, OwnerLockFile, err)
	}
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(fmt.Sprintf("pid %d on %s\n", os.Getpid(), host)), 0)
	}
	return f, nil
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
	lock, err := lockRun(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, status: st, out: out, lock: lock}
	fail := func(err error) (*Run, error) {
		r.Close()
		return nil, err
	}
	var restarted string
	if prev, err := rundir.ReadStatus(dir); err == nil {
		if Live(prev) {
			// a live trainer that holds no lock: another host's on a
			// filesystem without working locks, or an older fnet-tui
			return fail(fmt.Errorf("%s: %w (pid %d on %s, state %s)", dir, ErrLiveRun, prev.PID, prev.Host, prev.State))
		}
		switch {
		case resume:
			st.StartedAt = prev.StartedAt
			r.status.StartedAt = prev.StartedAt
		case !hasCheckpoint(dir):
			// killed before its first checkpoint: nothing to keep, start again
			restarted = prev.State
			for _, f := range []string{rundir.MetricsFile, rundir.LogFile} {
				os.Remove(filepath.Join(dir, f))
			}
		default:
			return fail(fmt.Errorf("%s already holds a run (state %s); use --resume to continue it or pick another run.name", dir, prev.State))
		}
	} else if resume {
		return fail(fmt.Errorf("%s: cannot resume: %v", dir, err))
	}
	removed := removeDeadWriters(filepath.Join(dir, rundir.CheckpointsDir))
	torn, err := repairTornLine(filepath.Join(dir, rundir.MetricsFile))
	if err != nil {
		return fail(err)
	}
	if r.metrics, err = os.OpenFile(filepath.Join(dir, rundir.MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	if r.log, err = os.OpenFile(filepath.Join(dir, rundir.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return fail(err)
	}
	if err := r.SetStatus(func(s *rundir.Status) {}); err != nil {
		return fail(err)
	}
	if restarted != "" {
		r.Logf("starting %s again: its previous run (state %s) ended before its first checkpoint", dir, restarted)
	}
	if len(removed) > 0 {
		r.Logf("removed %d unfinished checkpoint folders of dead writers: %s", len(removed), strings.Join(removed, ", "))
	}
	if torn > 0 {
		r.Logf("%s ended in a torn line (%d bytes, the process was killed mid-write or the disk filled): dropped it", rundir.MetricsFile, torn)
	}
	return r, nil
}

// repairTornLine cuts a file back to its last complete line, so that lines
// appended later are not glued onto a fragment; it returns the bytes dropped.
func repairTornLine(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	// read back from the end until a newline
	size, end := st.Size(), st.Size()
	buf := make([]byte, 4096)
	for end > 0 {
		n := int64(len(buf))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := strings.LastIndexByte(string(buf[:n]), '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return 0, nil
	}
	if err := f.Truncate(end); err != nil {
		return 0, fmt.Errorf("%s: dropping a torn last line: %w", path, err)
	}
	return size - end, f.Sync()
}

// hasCheckpoint reports whether a run directory holds a complete checkpoint.
func hasCheckpoint(dir string) bool {
	_, _, err := newestComplete(filepath.Join(dir, rundir.CheckpointsDir))
	return err == nil
}

// removeDeadWriters deletes the temporary (.tmp-*) and displaced (*.old-*)
// checkpoint folders that killed writers leave. Only the owner of the run
// (holding its lock) calls it, so no live writer is using them.
func removeDeadWriters(ckDir string) []string {
	ents, err := os.ReadDir(ckDir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".tmp-") || strings.Contains(n, ".old-") || (strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-")) {
			if os.RemoveAll(filepath.Join(ckDir, n)) == nil {
				removed = append(removed, n)
			}
		}
	}
	return removed
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
	if r.follower {
		return nil
	}
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
	if r.follower {
		return
	}
	r.mu.Lock()
	due := time.Since(r.lastW) > 2*time.Second
	r.mu.Unlock()
	if due {
		r.SetStatus(func(s *rundir.Status) { s.Step = step })
	}
}

// Metric appends one line to metrics.jsonl and flushes it.
func (r *Run) Metric(m rundir.Metric) error {
	if r.follower {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err = r.metrics.Write(append(b, '\n')); err != nil && r.writeErr == nil {
		r.writeErr = fmt.Errorf("writing %s: %w", filepath.Join(r.Dir, rundir.MetricsFile), err)
	}
	return err
}

// WriteErr is the first failed write to the run's metrics or log, if any.
func (r *Run) WriteErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeErr
}

// Logf writes a line to train.log and to the terminal.
func (r *Run) Logf(format string, a ...any) {
	line := fmt.Sprintf(format, a...)
	stamp := time.Now().Format("15:04:05")
	r.mu.Lock()
	defer r.mu.Unlock()
	w := bufio.NewWriter(r.log)
	fmt.Fprintf(w, "%s %s\n", stamp, line)
	if err := w.Flush(); err != nil && r.writeErr == nil {
		r.writeErr = fmt.Errorf("writing %s: %w", r.log.Name(), err)
	}
	if r.out != nil {
		fmt.Fprintln(r.out, r.prefix+line)
	}
}

// Close releases the files and the owner lock (the status is left as last set).
func (r *Run) Close() error {
	var err error
	if r.metrics != nil {
		r.metrics.Close()
	}
	if r.log != nil {
		err = r.log.Close()
	}
	if r.lock != nil {
		r.lock.Close() // closing the descriptor drops the flock
		r.lock = nil
	}
	return err
}
