package dist

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The local launcher (`fnet-tui pretrain --gpus N`): one process starts N
// rank processes of the same program on this machine, each with torchrun's
// variables, so a rank cannot tell it from torchrun and takes the same
// path (FromEnv, rendezvous, NCCL). The launcher writes nothing of the run
// itself: rank 0 owns the run directory, rank N its ranks/N.log.

// How the local launcher ends the ranks that outlive a failure. On one
// node NCCL does not notice a dead peer by itself (the P2P and SHM
// transports raise no asynchronous error; only the 30-minute timeout
// would), so the survivors of a rank that failed would wait in their next
// all-reduce. The launcher therefore sends them SIGTERM soon after (Grace:
// just long enough for ranks failing on their own, e.g. with the same
// startup error, to print why), the trainer's stop request: a rank whose
// peers answer stops with the agreed stop; one whose wait does not finish
// within StopGrace aborts, and rank 0 writes the failed status (naming the
// failed rank, from its ranks/N.error) before it exits. Ranks still
// running KillAfter after the SIGTERM are killed.
const (
	// StopGrace is how long the trainer's NCCL waits go on after its stop
	// request (cuda.DefaultStopGrace): long enough for a healthy peer to
	// finish its step and reach the agreed stop, or rank 0 to evaluate and
	// checkpoint while the others wait.
	StopGrace = 60 * time.Second
	// KillMargin is the time past StopGrace a rank has to write its
	// status and exit, before SIGKILL.
	KillMargin = 15 * time.Second
	// DefaultGrace is LaunchSpec.Grace's default: from a rank's failure to
	// the others' SIGTERM.
	DefaultGrace = 5 * time.Second
	// DefaultKillAfter is LaunchSpec.KillAfter's default: from SIGTERM to SIGKILL.
	DefaultKillAfter = StopGrace + KillMargin
	// DefaultAfterRankZero is LaunchSpec.AfterRankZero's default: how long
	// the other ranks may run on after rank 0 exited (a finished run's
	// ranks leave the communicator together) before they are sent SIGTERM.
	DefaultAfterRankZero = 30 * time.Second
)

// LocalMasterAddr is where the ranks of a local launch meet: rank 0 serves
// the rendezvous on this machine.
const LocalMasterAddr = "127.0.0.1"

// LaunchSpec describes a local launch.
type LaunchSpec struct {
	Path  string   // the program every rank runs (os.Executable)
	Args  []string // its arguments, without argv[0]; the same on every rank
	Env   []string // the environment the ranks start from (os.Environ)
	Ranks int      // how many rank processes (one per GPU), at least 1
	// MasterPort is rank 0's rendezvous port; 0 picks a free one.
	MasterPort int
	// RunID is FNET_RUN_ID for every rank; "" draws a fresh one, so that
	// ranks of another launch that reach this port are refused.
	RunID string
	// Stdout and Stderr receive rank 0's output unchanged; the other
	// ranks' stdout and stderr go to Stderr, each line prefixed "[rank N] "
	// (unless the rank already wrote that prefix), so nothing a rank prints
	// before its ranks/N.log exists is lost.
	Stdout, Stderr io.Writer
	// Grace is how long the other ranks may run on after one failed
	// before they are sent SIGTERM; DefaultGrace when 0.
	Grace time.Duration
	// KillAfter is how long the ranks sent SIGTERM (after another rank
	// failed, or after rank 0 exited) have to exit before SIGKILL;
	// DefaultKillAfter when 0.
	KillAfter time.Duration
	// AfterRankZero is how long the others may outlive rank 0's exit
	// (whatever its status) before SIGTERM; DefaultAfterRankZero when 0.
	AfterRankZero time.Duration
	// Signals are the launcher's own signals (SIGINT, SIGTERM): the first
	// is forwarded to rank 0, which checkpoints and stops every rank after
	// the same step; a second kills every rank.
	Signals <-chan os.Signal
	// Started, when set, is called once every rank has started, with the
	// port and run id in use (for the launcher's own message).
	Started func(port int, runID string)
}

// RankEnv is the environment of rank r of a local launch of size ranks:
// base without any variable a launcher (or a previous launch) set, plus
// torchrun's contract and the run id.
func RankEnv(base []string, r, size, port int, runID string) []string {
	set := map[string]string{
		"RANK": strconv.Itoa(r), "LOCAL_RANK": strconv.Itoa(r),
		"WORLD_SIZE": strconv.Itoa(size), "LOCAL_WORLD_SIZE": strconv.Itoa(size),
		"MASTER_ADDR": LocalMasterAddr, "MASTER_PORT": strconv.Itoa(port),
		"FNET_RUN_ID": runID,
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		// FNET_MASTER_PORT would send the ranks to another port than the
		// one this launch picked
		if _, ours := set[k]; ours || torchrunWorkerVar(k) || k == "FNET_MASTER_PORT" {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "FNET_RUN_ID"} {
		env = append(env, k+"="+set[k])
	}
	return env
}

// torchrunWorkerVar reports whether k is one of the other variables
// torchrun gives its workers (TORCHELASTIC_RUN_ID, TORCHELASTIC_USE_AGENT_STORE,
// GROUP_RANK, ...): left over in a shell, they would describe another job.
func torchrunWorkerVar(k string) bool {
	switch k {
	case "GROUP_RANK", "GROUP_WORLD_SIZE", "ROLE_RANK", "ROLE_WORLD_SIZE", "ROLE_NAME":
		return true
	}
	return strings.HasPrefix(k, "TORCHELASTIC_")
}

// FreePort is a TCP port no process listens on now (on any interface, as
// rank 0's rendezvous server listens). Another process may take it before
// rank 0 does; the rendezvous then fails with rank 0's error, by name.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for the rendezvous: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// NewRunID is a fresh run id for a local launch: "local-" and 16 hex digits.
func NewRunID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("drawing a run id: %w", err)
	}
	return "local-" + hex.EncodeToString(b[:]), nil
}

// LaunchError is a launch that did not end with every rank exiting 0.
type LaunchError struct {
	Rank   int    // the first rank that failed
	Size   int    // ranks launched
	Status string // how it ended: "exit status 3", "signal: killed"
	Code   int    // its exit code; -1 when a signal ended it
	// Terminated are the ranks the launcher sent SIGTERM (after a rank
	// failed, or after rank 0 exited), in order.
	Terminated []int
	// Killed are the ranks the launcher killed (still running KillAfter
	// after the SIGTERM, or on a second signal), in order.
	Killed    []int
	Grace     time.Duration // after the failure, before the SIGTERM
	KillAfter time.Duration // after the SIGTERM, before the SIGKILL
	// Interrupted: a second signal (or a cancelled context) killed the ranks.
	Interrupted bool
}

func (e *LaunchError) Error() string {
	var b strings.Builder
	if e.Interrupted {
		fmt.Fprintf(&b, "stopped by a second signal: killed %s of %d", rankList(e.Killed), e.Size)
		if e.Rank >= 0 {
			fmt.Fprintf(&b, " (rank %d had already failed: %s)", e.Rank, e.Status)
		}
		return b.String()
	}
	if e.Rank >= 0 {
		fmt.Fprintf(&b, "rank %d of %d failed: %s", e.Rank, e.Size, e.Status)
	} else {
		fmt.Fprintf(&b, "rank 0 of %d exited, but not every other rank did", e.Size)
	}
	if len(e.Terminated) > 0 {
		fmt.Fprintf(&b, "; sent SIGTERM to %s", rankList(e.Terminated))
	}
	if len(e.Killed) > 0 {
		fmt.Fprintf(&b, "; killed %s, still running %s after the SIGTERM", rankList(e.Killed), e.KillAfter)
	}
	return b.String()
}

// ExitCode is the status the launcher should exit with: the failed rank's
// own code when it has one, else 1.
func (e *LaunchError) ExitCode() int {
	if e.Code > 0 && !e.Interrupted {
		return e.Code
	}
	return 1
}

// rankProc is one started rank.
type rankProc struct {
	cmd     *exec.Cmd
	alive   bool
	flushes []*linePrefixer
}

// rankExit is what a rank's Wait returned.
type rankExit struct {
	rank int
	err  error
}

// Launch starts spec.Ranks processes and waits for all of them. It returns
// nil when every rank exited 0 (a run that finished, or stopped on a
// signal after its checkpoint), else a *LaunchError (or the error that
// kept a rank from starting). Cancelling ctx kills every rank.
func Launch(ctx context.Context, s LaunchSpec) error {
	if s.Ranks < 1 {
		return fmt.Errorf("launch: %d ranks: want at least 1", s.Ranks)
	}
	if s.Stdout == nil {
		s.Stdout = io.Discard
	}
	if s.Stderr == nil {
		s.Stderr = io.Discard
	}
	grace, killAfter, afterZero := s.Grace, s.KillAfter, s.AfterRankZero
	if grace <= 0 {
		grace = DefaultGrace
	}
	if killAfter <= 0 {
		killAfter = DefaultKillAfter
	}
	if afterZero <= 0 {
		afterZero = DefaultAfterRankZero
	}
	port := s.MasterPort
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return err
		}
	}
	runID := s.RunID
	if runID == "" {
		var err error
		if runID, err = NewRunID(); err != nil {
			return err
		}
	}
	// one lock for every writer of the shared stderr, so the ranks' lines
	// do not interleave mid-line
	errOut := &lockedWriter{w: s.Stderr}
	procs := make([]*rankProc, s.Ranks)
	exited := make(chan rankExit, s.Ranks)
	for r := range procs {
		cmd := exec.Command(s.Path, s.Args...)
		cmd.Env = RankEnv(s.Env, r, s.Ranks, port, runID)
		cmd.SysProcAttr = rankProcAttr()
		p := &rankProc{cmd: cmd}
		if r == 0 {
			// rank 0's output unchanged (a terminal stays a terminal)
			cmd.Stdout, cmd.Stderr = s.Stdout, s.Stderr
		} else {
			out, eout := newLinePrefixer(errOut, r), newLinePrefixer(errOut, r)
			cmd.Stdout, cmd.Stderr = out, eout
			p.flushes = []*linePrefixer{out, eout}
		}
		if err := cmd.Start(); err != nil {
			for _, q := range procs[:r] {
				q.cmd.Process.Kill()
			}
			for range procs[:r] {
				<-exited
			}
			return fmt.Errorf("starting rank %d of %d (%s): %w", r, s.Ranks, s.Path, err)
		}
		p.alive = true
		procs[r] = p
		go func() { exited <- rankExit{r, cmd.Wait()} }()
	}
	if s.Started != nil {
		s.Started(port, runID)
	}

	failure := &LaunchError{Rank: -1, Size: s.Ranks, Grace: grace, KillAfter: killAfter}
	// termC: Grace after a failure, or AfterRankZero after rank 0's exit;
	// killC: KillAfter after the SIGTERM
	var termC, killC <-chan time.Time
	signals := 0
	killAlive := func() {
		for r, p := range procs {
			if p.alive && !killed(failure.Killed, r) {
				p.cmd.Process.Kill()
				failure.Killed = append(failure.Killed, r)
			}
		}
	}
	// terminate sends SIGTERM to the ranks still running (the trainer's
	// stop request), once; SIGKILL follows after killAfter
	terminated := false
	terminate := func() {
		if terminated || failure.Interrupted {
			return
		}
		terminated, termC = true, nil
		for r, p := range procs {
			if p.alive {
				p.cmd.Process.Signal(syscall.SIGTERM)
				failure.Terminated = append(failure.Terminated, r)
			}
		}
		killC = time.After(killAfter)
	}
	done := ctx.Done()
	for running := s.Ranks; running > 0; {
		select {
		case e := <-exited:
			running--
			procs[e.rank].alive = false
			for _, f := range procs[e.rank].flushes {
				f.Flush()
			}
			if e.err != nil && failure.Rank < 0 && !killed(failure.Killed, e.rank) {
				failure.Rank, failure.Status, failure.Code = e.rank, exitStatus(e.err), exitCode(e.err)
				// the survivors would wait for it in NCCL until its timeout
				if !terminated {
					termC = time.After(grace)
				}
			} else if e.rank == 0 && running > 0 && !terminated && termC == nil {
				termC = time.After(afterZero)
			}
		case <-termC:
			terminate()
		case <-killC:
			killC = nil
			killAlive()
		case sig := <-s.Signals:
			signals++
			if signals > 1 {
				failure.Interrupted = true
				killAlive()
				continue
			}
			// rank 0 stops every rank through the trainer's agreed stop;
			// without rank 0 nobody can agree, so the signal goes to all
			if procs[0].alive {
				procs[0].cmd.Process.Signal(sig)
			} else {
				for _, p := range procs {
					if p.alive {
						p.cmd.Process.Signal(sig)
					}
				}
			}
		case <-done:
			done = nil
			failure.Interrupted = true
			killAlive()
		}
	}
	if failure.Interrupted {
		if ctx.Err() != nil {
			return fmt.Errorf("launch cancelled (killed %s): %w", rankList(failure.Killed), ctx.Err())
		}
		return failure
	}
	if failure.Rank >= 0 || len(failure.Killed) > 0 {
		return failure
	}
	return nil
}

func killed(ranks []int, r int) bool {
	for _, k := range ranks {
		if k == r {
			return true
		}
	}
	return false
}

// exitStatus says how a rank ended ("exit status 3", "signal: segmentation fault").
func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	return err.Error()
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.ExitCode()
	}
	return -1
}

// lockedWriter serialises whole writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// linePrefixer writes each complete line of a rank's output to out with
// "[rank N] " in front, unless the line already starts with it (the
// trainer's follower prefixes its own terminal lines).
type linePrefixer struct {
	mu      sync.Mutex
	out     io.Writer
	prefix  []byte
	partial []byte
}

func newLinePrefixer(out io.Writer, rank int) *linePrefixer {
	return &linePrefixer{out: out, prefix: []byte(fmt.Sprintf("[rank %d] ", rank))}
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	var block []byte
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		block = l.line(block, l.partial[:i+1])
		l.partial = l.partial[i+1:]
	}
	if len(block) > 0 {
		if _, err := l.out.Write(block); err != nil {
			return 0, err
		}
	}
	// keep the tail in a buffer of its own, not aliasing p's
	l.partial = append([]byte(nil), l.partial...)
	return len(p), nil
}

func (l *linePrefixer) line(dst, line []byte) []byte {
	if !bytes.HasPrefix(line, l.prefix) {
		dst = append(dst, l.prefix...)
	}
	return append(dst, line...)
}

// Flush writes an unterminated last line, with a newline.
func (l *linePrefixer) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.partial) == 0 {
		return
	}
	l.out.Write(append(l.line(nil, l.partial), '\n'))
	l.partial = nil
}
