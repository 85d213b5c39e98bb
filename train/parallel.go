package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

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
// only ranks/<N>.log. A signal on any rank stops every rank after the same
// step, and rank 0 checkpoints it; an error on one rank closes the
// Collective, so the others fail rather than wait.

// parallel is the loop's view of the world it trains in; nil is one process.
type parallel struct {
	coll    dist.Collective
	buckets dist.Buckets
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
// and returns how many did.
func (p *parallel) agree(failed bool) (int, error) {
	v := []float64{0}
	if failed {
		v[0] = 1
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return 0, fmt.Errorf("rank %d of %d: %w", p.rank(), p.size(), err)
	}
	return int(v[0]), nil
}

// startTime gives every rank rank 0's clock, so that a new run's
// directory name (which carries the time) is the same on every rank.
func (p *parallel) startTime() (time.Time, error) {
	v := []float64{0}
	if p.leader() {
		v[0] = float64(time.Now().Unix())
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return time.Time{}, fmt.Errorf("rank %d of %d: %w", p.rank(), p.size(), err)
	}
	return time.Unix(int64(v[0]), 0), nil
}

// reduce averages the step's gradients over the ranks and sums its loss
// statistics (st, in place) and stop requests; it reports whether any
// rank asked to stop.
func (p *parallel) reduce(eng fnet.Engine, st *fnet.Stats, stop bool) (bool, error) {
	ge, ok := eng.(fnet.GradientTensors)
	if !ok {
		return false, fmt.Errorf("rank %d: the %s engine cannot hand its gradients over for averaging (data parallel runs on the CPU engine so far)", p.rank(), eng.Device())
	}
	grads, err := ge.AccumulatedGradients()
	if err != nil {
		return false, err
	}
	if err := p.buckets.AllReduceAvg(p.coll, grads); err != nil {
		return false, err
	}
	v := []float64{float64(st.Examples), st.MLMLossSum, st.MLMCount, st.MLMCorrect, st.NSPLossSum, st.NSPCorrect, st.TaskLossSum, st.TaskCorrect, 0}
	if stop {
		v[8] = 1
	}
	if err := p.coll.AllReduceSum(v); err != nil {
		return false, fmt.Errorf("rank %d of %d: summing the step's losses: %w", p.rank(), p.size(), err)
	}
	*st = fnet.Stats{Examples: int(math.Round(v[0])), MLMLossSum: v[1], MLMCount: v[2], MLMCorrect: v[3],
		NSPLossSum: v[4], NSPCorrect: v[5], TaskLossSum: v[6], TaskCorrect: v[7]}
	return v[8] > 0, nil
}

// follow is the closing of a rank other than 0: the engine and the job,
// the same loop, and a log of its own in the run directory rank 0 owns.
func (op *opening) follow(ctx context.Context, stopAfter int, p plan, par *parallel, runDir string) (string, error) {
	cfg, rp := op.cfg, op.rp
	eng, err := newEngine(cfg, p.mc, p.heads, p.params, func(f string, a ...any) { op.say("[rank %d] "+f, append([]any{par.rank()}, a...)...) })
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
	failed, aerr := par.agree(err != nil)
	switch {
	case err != nil:
		release()
		return runDir, fmt.Errorf("rank %d: %w", par.rank(), err)
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
		par.coll.Close() // the others would wait at the first step
		return runDir, fmt.Errorf("rank %d: %w", par.rank(), err)
	}
	sess := &session{dir: runDir, run: run, eng: eng}
	defer j.close()
	run.Logf("%s (rank %d of %d)", p.describe(runDir, eng), par.rank(), par.size())
	l := sess.newLoop(cfg, j, p.tok, p.ls, p.tokensPerBatch, stopAfter)
	l.par = par
	if p.prepare != nil {
		p.prepare(l)
	}
	err = l.runLoop(ctx)
	if err != nil && !errors.Is(err, errStopped) {
		par.coll.Close() // the others must not wait for this rank
	}
	return runDir, sess.finish(l, err, nil) // the finishing work (predictions) is rank 0's
}
