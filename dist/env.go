package dist

import (
	"fmt"
	"strconv"
	"strings"
)

// Launcher names what started the process.
type Launcher string

const (
	// Single is a process that no launcher started: rank 0 of 1.
	Single Launcher = "single"
	// Torchrun is torch.distributed.run (torchrun, python -m torch.distributed.run).
	Torchrun Launcher = "torchrun"
	// Slurm is srun (one task per rank).
	Slurm Launcher = "slurm"
	// OpenMPI is Open MPI's mpirun / mpiexec.
	OpenMPI Launcher = "openmpi"
)

// World is where this process stands among the ranks of one training job.
type World struct {
	Rank      int // 0 .. Size-1; rank 0 owns the run directory
	Size      int // number of ranks (one GPU each)
	LocalRank int // the rank's index on its node: its GPU ordinal
	// MasterAddr and MasterPort are where rank 0 serves the rendezvous
	// (MASTER_ADDR, MASTER_PORT); empty / 0 for a single process or a file
	// rendezvous.
	MasterAddr string
	MasterPort int
	// RendezvousFile, when set (FNET_RENDEZVOUS_FILE), replaces the TCP
	// rendezvous by a file on a filesystem every rank sees.
	RendezvousFile string
	// JobID names the launcher's job (FNET_RUN_ID, else torchrun's
	// TORCHELASTIC_RUN_ID, Slurm's job.step, Open MPI's job id): ranks of
	// different jobs that meet at one address refuse each other.
	JobID    string
	Launcher Launcher
}

// IsSingle reports whether the world is one process.
func (w World) IsSingle() bool { return w.Size <= 1 }

func (w World) String() string {
	if w.IsSingle() {
		return "single process"
	}
	return fmt.Sprintf("rank %d of %d (local rank %d, %s)", w.Rank, w.Size, w.LocalRank, w.Launcher)
}

// EnvError is a launcher variable that is missing or does not fit the others.
type EnvError struct {
	Launcher Launcher
	Var      string // the variable at fault
	Msg      string
}

func (e *EnvError) Error() string {
	return fmt.Sprintf("%s environment: %s %s", e.Launcher, e.Var, e.Msg)
}

// FromEnv reads the World from the launcher's variables (getenv is
// os.Getenv outside tests). The launchers are recognised in this order,
// because they nest: torchrun (RANK and WORLD_SIZE; torchrun started by
// srun sees Slurm's variables too, but its workers are the ranks), Open MPI
// (OMPI_COMM_WORLD_*; mpirun inside a Slurm allocation sees Slurm's too),
// Slurm (SLURM_PROCID). With none of them the process is a single rank.
//
// MASTER_ADDR and MASTER_PORT are required when there is more than one
// rank, unless FNET_RENDEZVOUS_FILE names a shared file; under Slurm,
// SLURM_LAUNCH_NODE_IPADDR stands in for a missing MASTER_ADDR.
func FromEnv(getenv func(string) string) (World, error) {
	p := envParser{get: getenv}
	var w World
	switch {
	case p.has("RANK") || p.has("WORLD_SIZE"):
		p.launcher = Torchrun
		w = World{Launcher: Torchrun}
		w.Rank = p.int("RANK", true)
		w.Size = p.int("WORLD_SIZE", true)
		w.LocalRank = p.int("LOCAL_RANK", true)
		p.localSize("LOCAL_WORLD_SIZE", "LOCAL_RANK", w.LocalRank)
		w.JobID = getenv("TORCHELASTIC_RUN_ID")
	case p.has("OMPI_COMM_WORLD_RANK") || p.has("OMPI_COMM_WORLD_SIZE"):
		p.launcher = OpenMPI
		w = World{Launcher: OpenMPI}
		w.Rank = p.int("OMPI_COMM_WORLD_RANK", true)
		w.Size = p.int("OMPI_COMM_WORLD_SIZE", true)
		w.LocalRank = p.int("OMPI_COMM_WORLD_LOCAL_RANK", true)
		p.localSize("OMPI_COMM_WORLD_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", w.LocalRank)
		w.JobID = getenv("OMPI_MCA_ess_base_jobid")
		if w.JobID == "" {
			w.JobID = getenv("PMIX_NAMESPACE")
		}
	case p.has("SLURM_PROCID"):
		p.launcher = Slurm
		w = World{Launcher: Slurm}
		w.Rank = p.int("SLURM_PROCID", true)
		ntasks := "SLURM_NTASKS"
		if !p.has(ntasks) && p.has("SLURM_NPROCS") {
			ntasks = "SLURM_NPROCS" // older Slurm
		}
		w.Size = p.int(ntasks, true)
		p.sizeVar = ntasks
		w.LocalRank = p.int("SLURM_LOCALID", true)
		if job := getenv("SLURM_JOB_ID"); job != "" {
			w.JobID = job
			if step := getenv("SLURM_STEP_ID"); step != "" {
				w.JobID += "." + step
			}
		}
	default:
		p.launcher = Single
		w = World{Launcher: Single, Size: 1}
	}
	if p.err != nil {
		return World{}, p.err
	}
	if w.Launcher != Single {
		if p.sizeVar == "" {
			p.sizeVar = map[Launcher]string{Torchrun: "WORLD_SIZE", OpenMPI: "OMPI_COMM_WORLD_SIZE"}[w.Launcher]
		}
		rankVar := map[Launcher]string{Torchrun: "RANK", OpenMPI: "OMPI_COMM_WORLD_RANK", Slurm: "SLURM_PROCID"}[w.Launcher]
		switch {
		case w.Size < 1:
			return World{}, &EnvError{w.Launcher, p.sizeVar, fmt.Sprintf("= %d: a world has at least one rank", w.Size)}
		case w.Rank >= w.Size:
			return World{}, &EnvError{w.Launcher, rankVar, fmt.Sprintf("= %d, but %s = %d: ranks run from 0 to %d", w.Rank, p.sizeVar, w.Size, w.Size-1)}
		case w.LocalRank >= w.Size:
			localVar := map[Launcher]string{Torchrun: "LOCAL_RANK", OpenMPI: "OMPI_COMM_WORLD_LOCAL_RANK", Slurm: "SLURM_LOCALID"}[w.Launcher]
			return World{}, &EnvError{w.Launcher, localVar, fmt.Sprintf("= %d, but %s = %d: a node cannot hold more ranks than the world", w.LocalRank, p.sizeVar, w.Size)}
		}
	}
	if id := getenv("FNET_RUN_ID"); id != "" {
		w.JobID = id
	}
	w.RendezvousFile = getenv("FNET_RENDEZVOUS_FILE")
	if w.IsSingle() {
		return w, nil
	}
	if err := p.master(&w); err != nil {
		return World{}, err
	}
	return w, nil
}

// envParser reads integers, keeping the first error.
type envParser struct {
	get      func(string) string
	launcher Launcher
	sizeVar  string
	err      error
}

func (p *envParser) has(name string) bool { return strings.TrimSpace(p.get(name)) != "" }

func (p *envParser) fail(name, msg string) {
	if p.err == nil {
		p.err = &EnvError{p.launcher, name, msg}
	}
}

// int reads a non-negative integer variable.
func (p *envParser) int(name string, required bool) int {
	s := strings.TrimSpace(p.get(name))
	if s == "" {
		if required {
			p.fail(name, "is not set")
		}
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.fail(name, fmt.Sprintf("= %q is not an integer", s))
		return 0
	}
	if n < 0 {
		p.fail(name, fmt.Sprintf("= %d is negative", n))
		return 0
	}
	return n
}

// localSize checks the local rank against the node's rank count when the
// launcher gives one.
func (p *envParser) localSize(sizeVar, rankVar string, local int) {
	if !p.has(sizeVar) || p.err != nil {
		return
	}
	n := p.int(sizeVar, false)
	if p.err == nil && local >= n {
		p.fail(rankVar, fmt.Sprintf("= %d, but %s = %d: local ranks run from 0 to %d", local, sizeVar, n, n-1))
	}
}

// master fills the rendezvous address of a multi-rank world.
func (p *envParser) master(w *World) error {
	w.MasterAddr = strings.TrimSpace(p.get("MASTER_ADDR"))
	if w.MasterAddr == "" && w.Launcher == Slurm {
		w.MasterAddr = strings.TrimSpace(p.get("SLURM_LAUNCH_NODE_IPADDR"))
	}
	// FNET_MASTER_PORT, when set, is the rendezvous port instead of
	// MASTER_PORT, which torchrun's agent may already serve its own store on.
	portVar := "MASTER_PORT"
	if p.has("FNET_MASTER_PORT") {
		portVar = "FNET_MASTER_PORT"
	}
	if w.RendezvousFile != "" {
		// the file replaces the address; a port that is set must still be valid
		if p.has(portVar) {
			w.MasterPort = p.int(portVar, false)
			return p.portErr(portVar, w.MasterPort)
		}
		return nil
	}
	if w.MasterAddr == "" {
		msg := "is not set: rank 0's address is needed by the other ranks (or set FNET_RENDEZVOUS_FILE to a file on a shared filesystem)"
		if w.Launcher == Slurm {
			msg = "is not set and neither is SLURM_LAUNCH_NODE_IPADDR: export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1) (or set FNET_RENDEZVOUS_FILE)"
		}
		return &EnvError{w.Launcher, "MASTER_ADDR", msg}
	}
	if !p.has(portVar) {
		return &EnvError{w.Launcher, portVar, "is not set: rank 0 serves the rendezvous on it (export MASTER_PORT=29500, a free port on rank 0's node, or set FNET_RENDEZVOUS_FILE)"}
	}
	w.MasterPort = p.int(portVar, true)
	return p.portErr(portVar, w.MasterPort)
}

func (p *envParser) portErr(portVar string, port int) error {
	if p.err != nil {
		return p.err
	}
	if port < 1 || port > 65535 {
		return &EnvError{p.launcher, portVar, fmt.Sprintf("= %d is not a TCP port (1-65535)", port)}
	}
	return nil
}
