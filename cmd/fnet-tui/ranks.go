package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/train"
)

// How a training command (pretrain, finetune) runs, decided from the
// environment before anything is written (docs/SCALING.md):
//
//   - a launcher's variables (torchrun, Slurm, Open MPI) of more than one
//     rank: this process is one rank; it joins the NCCL communicator
//     (cuda.JoinNCCL: rendezvous at MASTER_ADDR:MASTER_PORT or a shared
//     file) and trains with it as train.Options.Collective;
//   - no launcher and --gpus N (or train.gpus = N) with N > 1: this
//     process is the local launcher (dist.Launch): it starts N copies of
//     itself with torchrun's variables, which take the path above, and
//     writes nothing of the run;
//   - otherwise one process, as always.
//
// Data parallel is NCCL-only, so a world of more than one rank needs
// train.device = "cuda" (or "auto" finding a GPU).

// trainRequest is what a training command hands the rank logic.
type trainRequest struct {
	command    string        // "pretrain" or "finetune"
	fs         *flag.FlagSet // the command's flags (to pass its arguments on)
	args       []string      // the command's arguments as given
	configPath string        // -c
	resume     string        // --resume
	overrides  []string      // --set
	gpus       int           // --gpus; meaningful when gpusSet
	gpusSet    bool
}

// gpusFlag registers --gpus on a training command.
func gpusFlag(fs *flag.FlagSet) *int {
	return fs.Int("gpus", 0, "data-parallel ranks on this machine, one per visible GPU (overrides train.gpus; needs train.device = cuda); not with torchrun, srun or mpirun, whose ranks are the world")
}

// flagSet reports whether name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// rankPlan is what the environment and the config make of this process.
type rankPlan struct {
	world  dist.World // the launcher's world; Single: one process
	launch int        // > 1: be the local launcher of this many ranks
	source string     // what asked for the local ranks: "--gpus 4", "train.gpus = 4"
}

// planRanks reads the launcher environment and the config, and refuses,
// before anything is created, what cannot run: a launcher environment that
// does not fit together (exit status 2, as the launcher's mistake), a
// multi-rank world off the GPU, --gpus under a launcher, more local ranks
// than visible GPUs.
func planRanks(req trainRequest) (rankPlan, error) {
	w, err := dist.FromEnv(os.Getenv)
	if err != nil {
		return rankPlan{}, &exitError{code: 2, err: err}
	}
	if req.gpusSet && req.gpus < 1 {
		return rankPlan{}, usagef("--gpus %d: want 1 or more (1 = one process)", req.gpus)
	}
	launched := w.Launcher != dist.Single
	// Under a launcher's world of one rank (an sbatch of one task, torchrun
	// with one process) --gpus still starts this machine's ranks: the
	// children's torchrun variables take precedence over Slurm's.
	if launched && req.gpusSet && !w.IsSingle() {
		return rankPlan{}, fmt.Errorf("--gpus %d under %s (%s): the launcher already started the ranks and its world (%s) decides; drop --gpus", req.gpus, w.Launcher, launcherVars(w), w)
	}
	cfg, cfgErr := requestConfig(req)
	if !w.IsSingle() {
		if err := checkTorchrunStore(w); err != nil {
			return rankPlan{}, &exitError{code: 2, err: err}
		}
		if cfgErr != nil {
			return rankPlan{}, fmt.Errorf("rank %d of %d: %w", w.Rank, w.Size, cfgErr)
		}
		if err := checkRankDevice(cfg, w); err != nil {
			return rankPlan{}, err
		}
		return rankPlan{world: w}, nil
	}
	n, source := req.gpus, fmt.Sprintf("--gpus %d", req.gpus)
	if !req.gpusSet {
		if cfgErr != nil {
			// a config that does not load is the trainer's to report, in its words
			return rankPlan{world: w}, nil
		}
		if launched {
			if cfg.Train.GPUs > 1 {
				fmt.Fprintf(os.Stderr, "note: train.gpus = %d is not read under %s, whose world is one rank (%s): this process trains alone\n", cfg.Train.GPUs, w.Launcher, launcherVars(w))
			}
			return rankPlan{world: w}, nil
		}
		n, source = cfg.Train.GPUs, fmt.Sprintf("train.gpus = %d", cfg.Train.GPUs)
	}
	if n <= 1 {
		return rankPlan{world: w}, nil
	}
	if cfgErr != nil {
		return rankPlan{}, cfgErr
	}
	if err := checkLocalGPUs(cfg, n, source); err != nil {
		return rankPlan{}, err
	}
	return rankPlan{world: w, launch: n, source: source}, nil
}

// requestConfig is the config the trainer will read: -c, else the resumed
// run's own config.toml (found as train does: a run directory, or a
// checkpoint directory two levels inside one), with the --set overrides.
func requestConfig(req trainRequest) (train.Config, error) {
	path := req.configPath
	if path == "" {
		if req.resume == "" {
			return train.Config{}, errors.New("no config: give -c CONFIG (or --resume RUN_DIR)")
		}
		runDir := req.resume
		if _, err := os.Stat(filepath.Join(runDir, rundir.StatusFile)); err != nil {
			runDir = filepath.Dir(filepath.Dir(filepath.Clean(runDir)))
		}
		path = filepath.Join(runDir, rundir.ConfigFile)
	}
	return train.LoadConfig(path, req.overrides)
}

// launcherVars names the variables that made w a multi-rank world, with
// their values: "RANK=1, WORLD_SIZE=2".
func launcherVars(w dist.World) string {
	var names []string
	switch w.Launcher {
	case dist.Torchrun:
		names = []string{"RANK", "WORLD_SIZE"}
	case dist.OpenMPI:
		names = []string{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}
	case dist.Slurm:
		names = []string{"SLURM_PROCID", "SLURM_NTASKS"}
		if os.Getenv("SLURM_NTASKS") == "" {
			names[1] = "SLURM_NPROCS"
		}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + os.Getenv(n)
	}
	return strings.Join(parts, ", ")
}

// checkTorchrunStore refuses the TCP rendezvous at an address torchrun's
// own agent serves: with TORCHELASTIC_USE_AGENT_STORE=True (what torchrun
// sets for its default static rendezvous, and for c10d in recent
// releases), MASTER_ADDR:MASTER_PORT is the agent's c10d TCPStore, already listening,
// so rank 0 could not listen there and the peers would talk to the store.
// Every rank fails at once, saying what to do, rather than rank 0 on a bind
// error and the others after the rendezvous timeout.
func checkTorchrunStore(w dist.World) error {
	if w.Launcher != dist.Torchrun || w.RendezvousFile != "" || os.Getenv("FNET_MASTER_PORT") != "" || !strings.EqualFold(os.Getenv("TORCHELASTIC_USE_AGENT_STORE"), "true") {
		return nil
	}
	return &dist.EnvError{Launcher: dist.Torchrun, Var: "MASTER_PORT",
		Msg: fmt.Sprintf("= %d is torchrun's own store (TORCHELASTIC_USE_AGENT_STORE=True), which the NCCL id rendezvous cannot share: set FNET_MASTER_PORT to another free port on the master node (e.g. FNET_MASTER_PORT=29501 torchrun --no-python …), or FNET_RENDEZVOUS_FILE to a file every rank sees (one node: under /tmp; several: a shared filesystem), or launch with srun or fnet-tui --gpus", w.MasterPort)}
}

// checkRankDevice refuses a rank of a multi-rank world that would not
// train on a GPU: there is no CPU transport between ranks.
func checkRankDevice(cfg train.Config, w dist.World) error {
	world := fmt.Sprintf("rank %d of %d: %s's %s make this a %d-rank world", w.Rank, w.Size, w.Launcher, launcherVars(w), w.Size)
	if cfg.Train.Device == "cpu" {
		return fmt.Errorf("%s, and data parallel runs only over NCCL between GPUs: it needs train.device = \"cuda\" (or \"auto\" with a usable GPU), but this run has train.device = \"cpu\" (add --set train.device=cuda)", world)
	}
	if err := cuda.Available(); err != nil {
		return fmt.Errorf("%s, which needs a GPU for every rank, but train.device = %q finds none usable: %w (run `fnet-tui doctor` on the node)", world, cfg.Train.Device, err)
	}
	return nil
}

// checkLocalGPUs refuses local ranks that cannot each have a GPU.
func checkLocalGPUs(cfg train.Config, n int, source string) error {
	if cfg.Train.Device == "cpu" {
		return fmt.Errorf("%s: data parallel runs only over NCCL between GPUs, so it needs train.device = \"cuda\" (or \"auto\" with GPUs), but this run has train.device = \"cpu\" (add --set train.device=cuda)", source)
	}
	if v := os.Getenv("FNET_CUDA_DEVICE"); v != "" {
		return fmt.Errorf("%s with FNET_CUDA_DEVICE=%s: every rank takes the GPU of its local rank, and FNET_CUDA_DEVICE would put them all on one; unset it and choose the GPUs with CUDA_VISIBLE_DEVICES", source, v)
	}
	// the devices CUDA_VISIBLE_DEVICES leaves visible, as the ranks will see
	// them; whether the engine runs on them (NVRTC, cuBLAS) each rank
	// checks, and a rank that cannot fails the launch naming itself
	visible, err := countGPUs()
	if visible < n {
		return fmt.Errorf("%s but %s visible (%s)", source, gpuCount(visible), visibility(err))
	}
	return nil
}

func gpuCount(n int) string {
	if n == 1 {
		return "1 GPU is"
	}
	return fmt.Sprintf("%d GPUs are", n)
}

// visibility says why the GPUs visible are what they are (err: why none
// could be counted).
func visibility(err error) string {
	var why []string
	if v, ok := os.LookupEnv("CUDA_VISIBLE_DEVICES"); ok {
		why = append(why, fmt.Sprintf("CUDA_VISIBLE_DEVICES=%q", v))
	} else {
		why = append(why, "CUDA_VISIBLE_DEVICES is not set")
	}
	if err != nil {
		why = append(why, err.Error())
	}
	return strings.Join(why, "; ")
}

// countGPUs is how the local launcher counts the GPUs: cuda.CountDevices,
// which creates no CUDA context in the launcher (a test of the launch on a
// host without GPUs replaces it).
var countGPUs = cuda.CountDevices

// rankProgram is what every local rank runs: this program, and arguments
// before the command's own (a test re-executes its test binary).
var rankProgram = func() (string, []string, error) {
	self, err := os.Executable()
	return self, nil, err
}

// launchLocal is the local launcher: N ranks of this program with the
// same arguments minus --gpus. Its signals go to rank 0 (dist.Launch), so
// it must not also take them as a trainer would.
func launchLocal(req trainRequest, plan rankPlan) error {
	self, lead, err := rankProgram()
	if err != nil {
		return fmt.Errorf("%s: finding this program to start the ranks: %w", plan.source, err)
	}
	port, err := dist.FreePort()
	if err != nil {
		return err
	}
	runID, err := dist.NewRunID()
	if err != nil {
		return err
	}
	// said before any rank starts, so it comes before their lines
	fmt.Fprintf(os.Stderr, "fnet-tui %s: %d ranks, one per GPU (cuda:0-%d), rendezvous %s:%d, run %s; rank 0 prints here and writes the run directory, the others' lines are marked [rank N]. Ctrl-C checkpoints and stops them all; a second Ctrl-C kills them.\n",
		req.command, plan.launch, plan.launch-1, dist.LocalMasterAddr, port, runID)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	err = dist.Launch(context.Background(), dist.LaunchSpec{
		Path:       self,
		Args:       append(append(lead, req.command), withoutFlag(req.fs, req.args, "gpus")...),
		Env:        os.Environ(),
		Ranks:      plan.launch,
		MasterPort: port,
		RunID:      runID,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Signals:    sigs,
	})
	var le *dist.LaunchError
	if errors.As(err, &le) {
		return &exitError{code: le.ExitCode(), err: err}
	}
	return err
}

// withoutFlag is args without the flag name (-name V, --name V, -name=V,
// --name=V), read as parseFlags reads them: another flag's value and
// everything after "--" are kept as they are.
func withoutFlag(fs *flag.FlagSet, args []string, name string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out = append(out, a)
			continue
		}
		flagName, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesNext := false
		if f := fs.Lookup(flagName); f != nil && !hasValue {
			bf, ok := f.Value.(interface{ IsBoolFlag() bool })
			takesNext = !(ok && bf.IsBoolFlag())
		}
		if flagName == name {
			if takesNext {
				i++ // its value
			}
			continue
		}
		out = append(out, a)
		if takesNext && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// rankSession is this process's place in the run once the ranks have met.
type rankSession struct {
	world dist.World
	coll  *cuda.Collective // nil: one process
}

// joinRanks joins the NCCL communicator of a multi-rank world (ctx: the
// signal handler's, so Ctrl-C ends a rendezvous that waits for a missing
// rank); one process joins nothing.
func joinRanks(ctx context.Context, plan rankPlan) (*rankSession, error) {
	rs := &rankSession{world: plan.world}
	if plan.world.IsSingle() {
		return rs, nil
	}
	coll, err := cuda.JoinNCCL(ctx, plan.world, plan.world.JobID, dist.Options{})
	if err != nil {
		return nil, rs.named(err)
	}
	rs.coll = coll
	return rs, nil
}

// collective is train.Options.Collective: nil (not a nil *cuda.Collective
// in an interface) for one process.
func (rs *rankSession) collective() dist.Collective {
	if rs.coll == nil {
		return nil
	}
	return rs.coll
}

func (rs *rankSession) close() {
	if rs.coll != nil {
		rs.coll.Close()
	}
}

// named puts the rank in front of an error of a multi-rank run, unless
// it is there already.
func (rs *rankSession) named(err error) error {
	if rs.world.IsSingle() || strings.HasPrefix(err.Error(), fmt.Sprintf("rank %d", rs.world.Rank)) {
		return err
	}
	return fmt.Errorf("rank %d of %d: %w", rs.world.Rank, rs.world.Size, err)
}

// finish reports how the training ended: the run's directory and how to
// resume it (rank 0, or the one process), or the error naming the rank.
func (rs *rankSession) finish(command, dir string, err error) error {
	if errors.Is(err, train.ErrStopped) {
		switch {
		case rs.world.IsSingle():
			fmt.Printf("run %s stopped; resume with: fnet-tui %s --resume %s\n", dir, command, dir)
		case rs.world.Rank == 0:
			fmt.Printf("run %s stopped on every rank; resume with: fnet-tui %s --resume %s, launched as before (%d ranks)\n", dir, command, dir, rs.world.Size)
		}
		return nil
	}
	if err != nil {
		if dir != "" {
			err = fmt.Errorf("%w (run directory %s)", err, dir)
		}
		return rs.named(err)
	}
	if rs.world.IsSingle() || rs.world.Rank == 0 {
		fmt.Printf("run %s done\n", dir)
	}
	return nil
}

// trainAsPlanned runs a training command the way its plan says: as the
// local launcher, or as one process / one rank calling trainFn.
func trainAsPlanned(req trainRequest, trainFn func(ctx context.Context, coll dist.Collective) (string, error)) error {
	plan, err := planRanks(req)
	if err != nil {
		return err
	}
	if plan.launch > 1 {
		return launchLocal(req, plan)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rs, err := joinRanks(ctx, plan)
	if err != nil {
		return err
	}
	defer rs.close()
	dir, err := trainFn(ctx, rs.collective())
	return rs.finish(req.command, dir, err)
}
