package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Options start a training run.
type Options struct {
	ConfigPath string   // the TOML config; may be empty when resuming
	Overrides  []string // key=value
	Resume     string   // a run directory or a checkpoint directory
	RunsDir    string   // overrides run.dir
	RunName    string   // overrides run.name
	// StopAfter, when positive, checkpoints and stops (as a signal would)
	// after this many steps of this invocation: time-boxed jobs.
	StopAfter int
	Out       io.Writer
	// Collective, when set, makes this process one rank of a data-parallel
	// run (parallel.go): every rank calls with the same options and its
	// own Collective; rank 0 owns the run directory. nil: one process.
	Collective dist.Collective
}

// ErrStopped is returned when a signal stopped the run after checkpointing.
var ErrStopped = errStopped

// resumePoint is where a resumed run continues.
type resumePoint struct {
	runDir string
	ckpt   *Checkpoint
}

func findResume(path string) (*resumePoint, error) {
	runDir := path
	if _, err := os.Stat(filepath.Join(path, rundir.StatusFile)); err != nil {
		// a checkpoint directory: runs/<id>/checkpoints/step-N
		runDir = filepath.Dir(filepath.Dir(filepath.Clean(path)))
		if _, err := os.Stat(filepath.Join(runDir, rundir.StatusFile)); err != nil {
			return nil, fmt.Errorf("--resume %s: neither a run directory nor a checkpoint inside one", path)
		}
	}
	ck, err := LoadCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("--resume %s: %w", path, err)
	}
	if ck.Trainer == nil {
		return nil, fmt.Errorf("--resume %s: %s has no %s", path, ck.Dir, TrainerFile)
	}
	if err := checkTrainerState(ck); err != nil {
		return nil, fmt.Errorf("--resume %s: %w", path, err)
	}
	// the optimizer state is read now, before the run is reopened: a
	// damaged file must not turn a finished run into a failed one
	if _, err := fnet.LoadOptimizer(filepath.Join(ck.Dir, fnet.OptimizerFile), ck.Model.Config, ck.Model.Heads); err != nil {
		return nil, fmt.Errorf("--resume %s: %w", path, err)
	}
	return &resumePoint{runDir: runDir, ckpt: ck}, nil
}

// checkTrainerState refuses a trainer.json that cannot describe its
// checkpoint: a negative step or counter, or a step other than the one its
// folder is named for.
func checkTrainerState(ck *Checkpoint) error {
	ts, file := ck.Trainer, filepath.Join(ck.Dir, TrainerFile)
	if ts.Step < 0 || ts.TotalSteps < 0 || ts.Tokens < 0 || ts.ElapsedS < 0 || ts.ElapsedS != ts.ElapsedS {
		return fmt.Errorf("%s: step %d, total_steps %d, tokens_seen %d, elapsed_s %v: none may be negative", file, ts.Step, ts.TotalSteps, ts.Tokens, ts.ElapsedS)
	}
	name := filepath.Base(ck.Dir)
	if strings.HasPrefix(name, "step-") {
		num, _, _ := strings.Cut(strings.TrimPrefix(name, "step-"), "-r")
		if n, err := strconv.Atoi(num); err == nil && n != ts.Step {
			return fmt.Errorf("%s says step %d, but it is in %s (step %d): the checkpoint's files do not belong together", file, ts.Step, name, n)
		}
	}
	if ts.Step > 0 && ts.MicroSteps < uint64(ts.Step) {
		return fmt.Errorf("%s: micro_steps %d is fewer than its %d steps", file, ts.MicroSteps, ts.Step)
	}
	return nil
}

// loadRunConfig reads the config for a new or resumed run.
func loadRunConfig(o Options, rp *resumePoint) (Config, error) {
	path := o.ConfigPath
	if path == "" {
		if rp == nil {
			return Config{}, errors.New("no config: give -c CONFIG (or --resume RUN_DIR)")
		}
		path = filepath.Join(rp.runDir, rundir.ConfigFile)
	}
	cfg, err := LoadConfig(path, o.Overrides)
	if err != nil {
		return cfg, err
	}
	if rp != nil && o.ConfigPath == "" {
		// keep the original config's name for the run's records
		cfg.Path = path
	}
	if o.RunsDir != "" {
		cfg.Run.Dir = o.RunsDir
	}
	if o.RunName != "" {
		cfg.Run.Name = o.RunName
	}
	return cfg, nil
}

// opening is where every training command starts: the resolved config,
// the checkpoint it resumes from (nil for a new run) and where progress
// lines go before the run directory exists.
type opening struct {
	cfg Config
	rp  *resumePoint
	out io.Writer
	par *parallel // nil: one process
}

// Check resolves and validates what Pretrain (kind "pretrain") or Finetune
// ("finetune") would run for o, exactly as they do, without creating or
// touching anything: the dashboard's launch form asks it before starting a
// process, so a bad override is refused in the form, in the trainer's words.
func Check(o Options, kind string) error {
	_, err := resolveOpening(o, kind)
	return err
}

// open resolves a run's config (from -c, or the resumed run's own) and
// checks that it is a config for this command.
func open(o Options, kind string) (*opening, error) {
	op, err := resolveOpening(o, kind)
	if err != nil {
		return nil, err
	}
	applyThreads(op.cfg)
	if op.rp != nil && op.rp.ckpt.Note != "" {
		op.say("%s", op.rp.ckpt.Note)
	}
	return op, nil
}

func resolveOpening(o Options, kind string) (*opening, error) {
	var rp *resumePoint
	if o.Resume != "" {
		var err error
		if rp, err = findResume(o.Resume); err != nil {
			return nil, err
		}
	}
	cfg, err := loadRunConfig(o, rp)
	if err != nil {
		return nil, err
	}
	if cfg.Kind != kind {
		other := map[string]string{"pretrain": "finetune", "finetune": "pretrain"}[kind]
		return nil, fmt.Errorf("%s: kind = %q; use `fnet-tui %s` for %s configs", cfg.Path, cfg.Kind, other, cfg.Kind)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	op := &opening{cfg: cfg, rp: rp, out: out}
	if o.Collective != nil {
		op.par = &parallel{coll: o.Collective}
	}
	return op, nil
}

// say prints a progress line (before the run's train.log exists).
func (op *opening) say(format string, a ...any) { fmt.Fprintf(op.out, format+"\n", a...) }

// resumeState is the loop position to continue from (zero for a new run).
func (op *opening) resumeState() loopState {
	if op.rp == nil {
		return loopState{}
	}
	return loadResumeState(op.rp)
}

// plan is what a command hands the shared closing: the model, where the
// loop starts, and how to build the job once the run directory is owned.
type plan struct {
	kind, task string
	dirPrefix  string // the config-name prefix a new run's directory drops ("pretrain-", "glue-")
	mc         fnet.Config
	heads      fnet.Heads
	params     map[string][]float32 // nil: fresh weights drawn by the engine from train.seed
	tok        tokenizer.Tokenizer
	ls         loopState
	batch      int // examples in a global batch (data parallel splits it over the ranks)
	// newJob builds the data side; it runs after the engine exists.
	newJob func() (job, error)
	// tokensPerBatch counts a micro-batch's tokens for throughput.
	tokensPerBatch int
	// describe is the run's first log line.
	describe func(runDir string, eng fnet.Engine) string
	// prepare adjusts the loop before it runs (a resumed finetune's best score).
	prepare func(l *loop)
	// onDone is the finishing work of a run that reached its last step; an
	// error from it fails the run.
	onDone func(l *loop) error
}

// train is the shared closing of Pretrain and Finetune: it owns the run
// directory, builds the engine (restoring the optimizer when resuming),
// runs the loop and records how it ended. A data-parallel rank that fails
// aborts the Collective once the failure is recorded (status.json and
// train.log, or ranks/N.error and its log): in the loop through
// sess.left, before the engine's buffers are freed; before it, the caller
// (Pretrain, Finetune: leaveOnError). It never closes it cleanly after a
// failure: NCCL's destroy would wait for peers sitting in their next
// reduction.
func (op *opening) train(ctx context.Context, stopAfter int, p plan) (string, error) {
	cfg, rp, par := op.cfg, op.rp, op.par
	if err := checkParallel(par, p.batch); err != nil {
		return "", err
	}
	runDir := ""
	if rp != nil {
		runDir = rp.runDir
		if p.ls.step >= cfg.Train.Steps {
			return runDir, fmt.Errorf("--resume: the checkpoint is at step %d, which is already train.steps = %d (raise it with --set train.steps=N)", p.ls.step, cfg.Train.Steps)
		}
	} else if par != nil {
		t, err := par.startTime() // one directory name on every rank
		if err != nil {
			return "", err
		}
		runDir = newRunDirAt(cfg, p.kind, p.dirPrefix, t)
	} else {
		runDir = newRunDir(cfg, p.kind, p.dirPrefix)
	}
	if !par.leader() {
		return op.follow(ctx, stopAfter, p, par, runDir)
	}
	sess, err := startSession(cfg, p.kind, p.task, runDir, rp, p.mc, p.heads, p.params, p.ls.step, op.out, par.size())
	if err == nil && par != nil {
		removeRankErrors(runDir) // an earlier attempt's; before the agreement below
	}
	var j job
	if err == nil {
		if j, err = p.newJob(); err != nil {
			err = sess.fail(err)
		}
	}
	if par != nil { // every rank learns whether every rank could start
		failed, _, aerr := par.agree(err != nil, ownsRunDir(sess, runDir))
		switch {
		case err != nil:
		case aerr != nil:
			err = sess.fail(par.withPeerErrors(runDir, aerr))
		case failed > 0:
			err = sess.fail(fmt.Errorf("%d of the %d ranks failed to start (their reasons are on their terminals and in %s/N.error)", failed, par.size(), rundir.RanksDir))
		}
	}
	if err != nil {
		if j != nil {
			j.close()
		}
		return runDir, err
	}
	defer j.close()
	if par != nil {
		// from here a failure aborts once recorded, before the engine goes
		// (not before the agreement above: the peers wait in it)
		sess.left = par.leave
	}
	sess.run.Logf("%s", p.describe(runDir, sess.eng))
	if par != nil {
		sess.run.Logf("data parallel: %d ranks, %d examples each of every batch of %d; rank 0 writes this directory, rank N its %s/N.log",
			par.size(), p.batch/par.size(), p.batch, rundir.RanksDir)
	}
	l := sess.newLoop(cfg, j, p.tok, p.ls, p.tokensPerBatch, stopAfter)
	l.par = par
	if p.prepare != nil {
		p.prepare(l)
	}
	var onDone func() error
	if p.onDone != nil {
		onDone = func() error { return p.onDone(l) }
	}
	err = l.runLoop(ctx)
	// a peer's own error first (ranks/N.error), when this rank failed through the Collective
	err = par.withPeerErrors(runDir, err)
	return runDir, sess.finish(l, err, onDone) // a failure: recorded, then aborted (sess.left), then the engine released
}

// ownsRunDir reports whether this process took runDir: its session
// started, or failed after writing the run's status (an engine that
// could not start) rather than being refused the directory.
func ownsRunDir(sess *session, runDir string) bool {
	if sess != nil {
		return true
	}
	st, err := rundir.ReadStatus(runDir)
	return err == nil && st.PID == os.Getpid() && st.State == rundir.StateFailed
}

// leaveOnError aborts c after a training command failed on this rank, for
// the errors before op.train (nil c, no error, the agreed stop: nothing).
func leaveOnError(c dist.Collective, err error) {
	if c != nil {
		(&parallel{coll: c}).leave(err)
	}
}

func stopAt(step, after int) int {
	if after > 0 {
		return step + after
	}
	return -1
}

// applyThreads sets the CPU thread count for the process, the kernels and OpenBLAS.
func applyThreads(cfg Config) {
	if n := cfg.Train.Threads; n > 0 {
		runtime.GOMAXPROCS(n)
		kernels.SetThreads(n)
	}
}

// newTerminal returns the writer progress lines go to (nil discards).
func newTerminal(w io.Writer) io.Writer {
	if w == io.Discard {
		return nil
	}
	return w
}
