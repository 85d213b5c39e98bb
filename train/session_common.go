package train

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/atomicfile"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// session is a started run: its directory, its engine, and how it ends.
// Pretraining and finetuning differ in their data and model setup only.
type session struct {
	dir string
	run *Run
	eng fnet.Engine
	// left, when set, is told a failure once it is recorded (status.json,
	// the log), before the engine is released: a data-parallel rank aborts
	// its Collective there (parallel.leave), so that no NCCL kernel still
	// uses the engine's buffers when they are freed.
	left func(error)
}

// newRunDir names a new run's directory: run.name, else
// <kind>-<config name without the kind's prefix>-<time>.
func newRunDir(cfg Config, kind, prefix string) string {
	return newRunDirAt(cfg, kind, prefix, time.Now())
}

// newRunDirAt names it for a run started at t.
func newRunDirAt(cfg Config, kind, prefix string, t time.Time) string {
	name := cfg.Run.Name
	if name == "" {
		name = rundir.NewRunID(kind, strings.TrimPrefix(cfg.Name, prefix), t)
	}
	return filepath.Join(cfg.Run.Dir, name)
}

// startSession takes ownership of the run directory (refusing a live
// run's), writes the resolved config, builds the engine and, when resuming,
// restores the optimizer. On error nothing is left open; an error after the
// directory is owned marks the run failed.
func startSession(cfg Config, kind, task, dir string, rp *resumePoint, mc fnet.Config, heads fnet.Heads, params map[string][]float32, step int, out io.Writer, ranks int) (*session, error) {
	host, _ := os.Hostname()
	status := rundir.Status{State: rundir.StateStarting, Kind: kind, Task: task, Config: cfg.Path, PID: os.Getpid(), Host: host,
		Step: step, TotalSteps: cfg.Train.Steps, StartedAt: time.Now().UTC(), Device: "starting"}
	if rp != nil {
		status.ResumedFrom = rp.ckpt.Dir
	}
	run, err := OpenRun(dir, status, newTerminal(out), rp != nil)
	if err != nil {
		return nil, err
	}
	s := &session{dir: dir, run: run}
	if err := atomicfile.Write(filepath.Join(dir, rundir.ConfigFile), cfg.TOML(), 0o644); err != nil {
		return nil, s.fail(err)
	}
	if s.eng, err = newEngine(cfg, mc, heads, params, ranks, run.Logf); err != nil {
		return nil, s.fail(err)
	}
	if rp != nil {
		opt, err := fnet.LoadOptimizer(filepath.Join(rp.ckpt.Dir, fnet.OptimizerFile), mc, heads)
		if err == nil {
			err = s.eng.SetOptimizer(opt)
		}
		if err != nil {
			return nil, s.fail(err)
		}
		run.Logf("resuming %s from %s (step %d)", dir, rp.ckpt.Dir, step)
		run.Metric(rundir.Metric{T: time.Now(), Step: step, Split: "system", Values: map[string]float64{"resumed_from_step": float64(step)}})
	}
	run.SetStatus(func(st *rundir.Status) { st.Device = s.eng.Device() })
	return s, nil
}

// fail marks the run failed with err, logs it, releases everything and
// returns err.
func (s *session) fail(err error) error {
	now := time.Now().UTC()
	s.run.SetStatus(func(st *rundir.Status) { st.State, st.Error, st.EndedAt = rundir.StateFailed, err.Error(), &now })
	s.run.Logf("error: %v", err)
	s.leave(err)
	s.close()
	return err
}

// leave tells s.left of a recorded failure.
func (s *session) leave(err error) {
	if s.left != nil {
		s.left(err)
	}
}

// finish records how the loop ended: stopped by a signal, failed, or done
// (after onDone, which may add finishing work such as test predictions).
func (s *session) finish(l *loop, err error, onDone func() error) error {
	defer s.close()
	now := time.Now().UTC()
	switch {
	case errors.Is(err, errStopped):
		s.run.SetStatus(func(st *rundir.Status) { st.State, st.EndedAt, st.Step = rundir.StateStopped, &now, l.st.step })
		s.run.Logf("stopped at step %d", l.st.step)
		return ErrStopped
	case err != nil:
		now := time.Now().UTC()
		s.run.SetStatus(func(st *rundir.Status) { st.State, st.Error, st.EndedAt = rundir.StateFailed, err.Error(), &now })
		s.run.Logf("error: %v", err)
		s.leave(err)
		return err
	}
	if onDone != nil {
		if err := onDone(); err != nil {
			now := time.Now().UTC()
			s.run.SetStatus(func(st *rundir.Status) {
				st.State, st.Error, st.EndedAt, st.Step = rundir.StateFailed, err.Error(), &now, l.st.step
			})
			s.run.Logf("error: %v", err)
			s.leave(err)
			return err
		}
	}
	s.run.SetStatus(func(st *rundir.Status) { st.State, st.EndedAt, st.Step = rundir.StateDone, &now, l.st.step })
	s.run.Logf("done: %d steps in %s", l.st.step, l.elapsed().Round(time.Second))
	return nil
}

func (s *session) close() {
	if s.eng != nil {
		s.eng.Close()
		s.eng = nil
	}
	if s.run != nil {
		s.run.Close()
		s.run = nil
	}
}

// loadResumeState reads the loop position from a resumed checkpoint.
func loadResumeState(rp *resumePoint) loopState {
	ts := rp.ckpt.Trainer
	return loopState{step: ts.Step, microSteps: ts.MicroSteps, tokens: ts.Tokens, elapsed: time.Duration(ts.ElapsedS * float64(time.Second))}
}

// newLoop wires the loop for a session.
func (s *session) newLoop(cfg Config, j job, tok tokenizer.Tokenizer, ls loopState, tokensPerBatch, stopAfter int) *loop {
	decay, _ := ParseDecay(cfg.Train.Decay) // validated with the config
	return &loop{cfg: cfg, run: s.run, eng: s.eng, job: j, tok: tok, st: ls, tokensPerBatch: tokensPerBatch, stopAt: stopAt(ls.step, stopAfter),
		sched: Schedule{Peak: cfg.Train.LR, Min: cfg.Train.MinLR, Warmup: cfg.Train.WarmupSteps, Total: cfg.Train.Steps, Decay: decay}}
}
