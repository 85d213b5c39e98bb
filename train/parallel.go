package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fnet-tui/fnet-tui/atomicfile"
	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// Data parallel (Options.Collective): every rank runs this same trainer on
// the same config. Each reads the same global batches (the data order
// depends on the seed alone) and trains on its own shard of every one
// (dist.SliceBatch); after the micro-batches of a step the ranks average
// their gradients and sum their loss statistics through the Collective,
// so every rank applies the same AdamW step to the same weights and sees
// the same loss. Rank 0 alone owns the run directory (status, metrics,
// train.log, checkpoints, evaluations, predictions); rank N ≥ 1 writes
// only ranks/<N>.log (and ranks/<N>.error when it fails). A signal on any
// rank stops every rank after the same step, and rank 0 checkpoints it. A
// rank that fails first records it (rank 0: status.json and train.log;
// rank N: ranks/<N>.log and ranks/<N>.error), then aborts the Collective
// (leave), so it never waits in a clean close for peers that sit in their
// next reduction; the peers fail rather than wait, and rank 0, failing
// through the Collective, names the rank whose error file it finds.

// parallel is the loop's view of the world it trains in; nil is one process.
type parallel struct {
	coll    dist.Collective
	buckets dist.Buckets
	// rank 0's clock for the system metrics, and whether this step logs
	// them: rank 0 decides in the step's reduction, so every rank joins
	// the GPU gather at the same step (gatherGPU)
	lastSystem time.Time
	systemDue  bool
}

// collectiveError marks an error that came through the Collective (a peer
// that left or aborted, a timeout, the stop request's grace): rank 0 then
// looks for the failed peers' own errors (peerErrors).
type collectiveError struct{ err error }

func (e *collectiveError) Error() string { return e.err.Error() }
func (e *collectiveError) Unwrap() error { return e.err }

func viaCollective(err error) error {
	if err == nil {
		return nil
	}
	return &collectiveError{err}
}

// leave aborts the Collective after an error of this rank (not after the
// agreed stop, whose clean close is the caller's): the run's end must be
// recorded first (status.json, the logs, ranks/<N>.error), since the
// peers may learn of it only through the abort.
func (p *parallel) leave(err error) {
	if p == nil || err == nil || errors.Is(err, errStopped) {
		return
	}
	p.coll.Abort()
}

// rankErrorFile is where rank N ≥ 1 leaves the error it failed with:
// ranks/<N>.error in the run directory rank 0 owns.
func rankErrorFile(runDir string, rank int) string {
	return filepath.Join(runDir, rundir.RanksDir, fmt.Sprintf("%d.error", rank))
}

// writeRankError records a follower's error for rank 0 (peerErrors),
// atomically, so rank 0 never reads half of it.
func writeRankError(runDir string, rank int, err error) error {
	if err := os.MkdirAll(filepath.Join(runDir, rundir.RanksDir), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(rankErrorFile(runDir, rank), []byte(rankNamed(rank, err)+"\n"), 0o644)
}

// rankNamed is err's text with "rank N" in front, unless it starts so.
func rankNamed(rank int, err error) string {
	msg := strings.TrimSpace(err.Error())
	if strings.HasPrefix(msg, fmt.Sprintf("rank %d:", rank)) || strings.HasPrefix(msg, fmt.Sprintf("rank %d ", rank)) {
		return msg
	}
	return fmt.Sprintf("rank %d: %s", rank, msg)
}

// removeRankErrors drops the ranks/<N>.error files of an earlier attempt
// of a resumed run (rank 0, before the ranks agree that they started, so
// before any follower of this attempt can write one).
func removeRankErrors(runDir string) {
	files, _ := filepath.Glob(filepath.Join(runDir, rundir.RanksDir, "*.error"))
	for _, f := range files {
		os.Remove(f)
	}
}

// peerErrors is the followers' errors in ranks/*.error, in rank order,
// joined by "; " ("" when none).
func peerErrors(runDir string) string {
	files, _ := filepath.Glob(filepath.Join(runDir, rundir.RanksDir, "*.error"))
	type rankErr struct {
		rank int
		msg  string
	}
	var found []rankErr
	for _, f := range files {
		n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(f), ".error"))
		if err != nil || n < 1 {
			continue
		}
		b, err := os.ReadFile(f)
		if msg := strings.TrimSpace(string(b)); err == nil && msg != "" {
			found = append(found, rankErr{n, msg})
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].rank < found[j].rank })
	msgs := make([]string, len(found))
	for i, f := range found {
		msgs[i] = f.msg
	}
	return strings.Join(msgs, "; ")
}

// withPeerErrors puts the followers' own errors in front of rank 0's
// when rank 0 failed through the Collective: the dashboard's error then
// says which rank failed and why, not only that a peer left.
func (p *parallel) withPeerErrors(runDir string, err error) error {
	var ce *collectiveError
	if p == nil || err == nil || !errors.As(err, &ce) {
		return err
	}
	peers := peerErrors(runDir)
	if peers == "" {
		return err
	}
	return fmt.Errorf("%s (rank 0 then failed: %w)", peers, err)
}

// systemEvery is how often rank 0 writes a "system" metrics line.
const systemEvery = 10 * time.Second

// deviceAverager is an engine that averages its own gradients over the
// ranks where they live, through a Collective that reaches them (the CUDA
// engine with the NCCL Collective: cuda/grad_average.go). ok false: this
// Collective cannot, and the host path (fnet.GradientTensors) is taken.
type deviceAverager interface {
	// ArmGradientAverage makes the next ForwardBackward (the step's last
	// micro-batch) start each layer's reduction as soon as the backward
	// has finished its gradients.
	ArmGradientAverage(c dist.Collective) (ok bool, err error)
	// AverageGradients completes the average (or, unarmed, does it all)
	// before the optimizer step.
	AverageGradients(c dist.Collective) (ok bool, err error)
}

// lastMicroBatch is called before the step's last ForwardBackward: an
// engine that averages on the device is armed to overlap the reductions
// with that backward.
func (p *parallel) lastMicroBatch(eng fnet.Engine) error {
	if p == nil {
		return nil
	}
	if da, ok := eng.(deviceAverager); ok {
		if _, err := da.ArmGradientAverage(p.coll); err != nil {
			return viaCollective(fmt.Errorf("rank %d of %d: %w", p.rank(), p.size(), err))
		}
	}
	return nil
}

func (p *parallel) rank() int {
	if p == nil {
		return 0
	}
	return p.coll.Rank()
}

func (p *parallel) size() int {
	if p == nil {
		return 1
	}
	return p.coll.Size()
}

// leader reports whether this rank writes the run directory.
func (p *parallel) leader() bool { return p.rank() == 0 }

// dropoutStep numbers a rank's micro-batch for the dropout masks: each
// rank draws its own masks (micro-step·size + rank), and one process
// draws exactly what it always did.
func (p *parallel) dropoutStep(microStep uint64) uint64 {
	return microStep*uint64(p.size()) + uint64(p.rank())
}

// checkParallel refuses what data parallel cannot train, before anything
// is created on disk: a global batch that does not divide over the ranks,
// an engine without reachable gradients.
func checkParallel(p *parallel, batch int) error {
	if p == nil {
		return nil
	}
	if _, err := dist.ShardOf(batch, p.rank(), p.size()); err != nil {
		return fmt.Errorf("data.batch_size: %w", err)
	}
	return nil
}

// agree tells every rank whether any rank failed (failed: this one did)
// and returns how many did, and whether rank 0 took the run directory
// (owns: rank 0's session started), so that a follower writes its
// ranks/N.error only into this run's directory, never into one rank 0
// was refused (another live run's).
func (p *parallel) agree(failed, owns bool) (int, bool, error) {
	v := []float64{0, 0}
	if failed {
		v[0] = 1
	}
	if owns && p.leader() {
		v[1] = 1
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return 0, false, viaCollective(fmt.Errorf("rank %d of %d: %w", p.rank(), p.size(), err))
	}
	return int(v[0]), v[1] > 0, nil
}

// startTime gives every rank rank 0's clock, so that a new run's
// directory name (which carries the time) is the same on every rank.
func (p *parallel) startTime() (time.Time, error) {
	v := []float64{0}
	if p.leader() {
		v[0] = float64(time.Now().Unix())
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return time.Time{}, viaCollective(fmt.Errorf("rank %d of %d: %w", p.rank(), p.size(), err))
	}
	return time.Unix(int64(v[0]), 0), nil
}

// reduce averages the step's gradients over the ranks and sums its loss
// statistics (st, in place) and stop requests; it reports whether any
// rank asked to stop.
func (p *parallel) reduce(eng fnet.Engine, st *fnet.Stats, stop bool) (bool, error) {
	if err := p.averageGradients(eng); err != nil {
		return false, err
	}
	v := []float64{float64(st.Examples), st.MLMLossSum, st.MLMCount, st.MLMCorrect, st.NSPLossSum, st.NSPCorrect, st.TaskLossSum, st.TaskCorrect, 0, 0}
	if stop {
		v[8] = 1
	}
	if p.leader() && time.Since(p.lastSystem) > systemEvery {
		v[9] = 1
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return false, viaCollective(fmt.Errorf("rank %d of %d: summing the step's losses: %w", p.rank(), p.size(), err))
	}
	*st = fnet.Stats{Examples: int(math.Round(v[0])), MLMLossSum: v[1], MLMCount: v[2], MLMCorrect: v[3],
		NSPLossSum: v[4], NSPCorrect: v[5], TaskLossSum: v[6], TaskCorrect: v[7]}
	p.systemDue = v[9] > 0
	return v[8] > 0, nil
}

// averageGradients averages the step's gradients over the ranks: on the
// device when the engine and the Collective can (deviceAverager), else
// through host copies in buckets (fnet.GradientTensors, the CPU engine).
func (p *parallel) averageGradients(eng fnet.Engine) error {
	if da, ok := eng.(deviceAverager); ok {
		done, err := da.AverageGradients(p.coll)
		if err != nil {
			return viaCollective(fmt.Errorf("rank %d of %d: averaging the gradients: %w", p.rank(), p.size(), err))
		}
		if done {
			return nil
		}
	}
	ge, ok := eng.(fnet.GradientTensors)
	if !ok {
		return fmt.Errorf("rank %d: the %s engine's gradients are out of this Collective's reach (a CUDA engine averages through the NCCL Collective, cuda.JoinNCCL)", p.rank(), eng.Device())
	}
	grads, err := ge.AccumulatedGradients()
	if err != nil {
		return err
	}
	return viaCollective(p.buckets.AllReduceAvg(p.coll, grads))
}

// systemTick reports whether this step writes a system metrics line:
// for one process, every systemEvery by its clock (last is the loop's);
// for data parallel, when rank 0 said so in this step's reduction (every
// rank then joins gatherGPU).
func (p *parallel) systemTick(last *time.Time) bool {
	now := time.Now()
	if p == nil {
		if now.Sub(*last) > systemEvery {
			*last = now
			return true
		}
		return false
	}
	if p.systemDue && p.leader() {
		p.lastSystem = now
	}
	return p.systemDue
}

// gatherGPU collects every rank's GPU utilisation and memory in one
// AllReduceSum (rank k fills slot k of each third; the last third says
// which ranks had a reading): rank 0's system line gets gpu_util_r<k> and
// gpu_mem_gib_r<k> per rank, gpu_util the mean and gpu_mem_gib the maximum
// over the ranks that reported. Every rank must call it at the same step.
func (p *parallel) gatherGPU(eng fnet.Engine, vals map[string]float64) error {
	n := p.size()
	v := make([]float64, 3*n)
	if u, ok := eng.(gpuUsage); ok {
		if util, mem, err := u.GPUUsage(); err == nil {
			k := p.rank()
			v[k], v[n+k], v[2*n+k] = util, mem, 1
		}
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return viaCollective(fmt.Errorf("rank %d of %d: gathering the ranks' GPU metrics: %w", p.rank(), p.size(), err))
	}
	reported, sum, peak := 0, 0.0, 0.0
	for k := range n {
		if v[2*n+k] == 0 {
			continue
		}
		vals[fmt.Sprintf("gpu_util_r%d", k)] = v[k]
		vals[fmt.Sprintf("gpu_mem_gib_r%d", k)] = v[n+k]
		reported++
		sum += v[k]
		peak = math.Max(peak, v[n+k])
	}
	if reported > 0 {
		vals["gpu_util"], vals["gpu_mem_gib"] = sum/float64(reported), peak
	}
	return nil
}

// follow is the closing of a rank other than 0: the engine and the job,
// the same loop, and a log of its own in the run directory rank 0 owns.
// A failure is written to ranks/<N>.error and the rank's log before the
// Collective is aborted (sess.left in the loop, else the caller's
// leaveOnError).
func (op *opening) follow(ctx context.Context, stopAfter int, p plan, par *parallel, runDir string) (string, error) {
	cfg, rp := op.cfg, op.rp
	eng, err := newEngine(cfg, p.mc, p.heads, p.params, par.size(), func(f string, a ...any) { op.say("[rank %d] "+f, append([]any{par.rank()}, a...)...) })
	if err == nil && rp != nil {
		var opt fnet.OptimizerState
		if opt, err = fnet.LoadOptimizer(filepath.Join(rp.ckpt.Dir, fnet.OptimizerFile), p.mc, p.heads); err == nil {
			err = eng.SetOptimizer(opt)
		}
	}
	var j job
	if err == nil {
		j, err = p.newJob()
	}
	release := func() {
		if j != nil {
			j.close()
		}
		if eng != nil {
			eng.Close()
		}
	}
	failed, owned, aerr := par.agree(err != nil, false)
	switch {
	case err != nil:
		release()
		err = fmt.Errorf("rank %d: %w", par.rank(), err)
		if owned { // after the agreement, so after rank 0 cleared an earlier attempt's files
			op.recordFollowerError(runDir, par.rank(), err)
		}
		return runDir, err
	case aerr != nil:
		release()
		return runDir, aerr
	case failed > 0:
		release()
		return runDir, fmt.Errorf("rank %d: %d of the %d ranks failed to start (rank 0's reason is in %s)", par.rank(), failed, par.size(), filepath.Join(runDir, rundir.LogFile))
	}
	run, err := openFollower(runDir, par.rank(), newTerminal(op.out))
	if err != nil {
		release()
		err = fmt.Errorf("rank %d: %w", par.rank(), err)
		op.recordFollowerError(runDir, par.rank(), err)
		return runDir, err
	}
	sess := &session{dir: runDir, run: run, eng: eng, left: par.leave}
	defer j.close()
	run.Logf("%s (rank %d of %d)", p.describe(runDir, eng), par.rank(), par.size())
	l := sess.newLoop(cfg, j, p.tok, p.ls, p.tokensPerBatch, stopAfter)
	l.par = par
	if p.prepare != nil {
		p.prepare(l)
	}
	err = l.runLoop(ctx)
	if err != nil && !errors.Is(err, errStopped) {
		op.recordFollowerError(runDir, par.rank(), err)
	}
	return runDir, sess.finish(l, err, nil) // the finishing work (predictions) is rank 0's
}

// recordFollowerError writes a follower's error to ranks/<N>.error; a
// failure to write it is said on the terminal (the error itself is
// returned and printed anyway).
func (op *opening) recordFollowerError(runDir string, rank int, err error) {
	if werr := writeRankError(runDir, rank, err); werr != nil {
		op.say("[rank %d] could not record the error in %s: %v", rank, rankErrorFile(runDir, rank), werr)
	}
}
