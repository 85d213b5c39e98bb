package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// job is what the loop trains: pretraining or finetuning. The loop owns the
// schedule, accumulation, logging, evaluation, checkpoints and signals.
type job interface {
	// next returns the next training micro-batch.
	next(ctx context.Context) (*fnet.Batch, error)
	// dataState is the stream position after the last batch next returned.
	dataState() (json.RawMessage, error)
	// waitTime is the time the loop spent blocked on data, and the stream's age.
	waitTime() (blocked, elapsed time.Duration)
	// loss is the objective of a step's summed stats; trainValues the
	// values of a train metrics line.
	loss(s fnet.Stats) float64
	trainValues(s fnet.Stats) map[string]float64
	// trainSummary is the log line's text for those values.
	trainSummary(v map[string]float64) string
	// evaluate runs the held-out / dev evaluation.
	evaluate(ctx context.Context, eng fnet.Engine) (evalResult, error)
	close()
}

// evalResult is one evaluation.
type evalResult struct {
	values  map[string]float64
	task    string
	summary string  // the log line's text
	score   float64 // the value that picks the best checkpoint (higher is better)
	metric  string
}

// loopState is where a run stands: restored from trainer.json on resume.
type loopState struct {
	step       int
	microSteps uint64
	tokens     int64
	elapsed    time.Duration // training time before this process
}

// loop runs the schedule from st to cfg.Train.Steps.
type loop struct {
	cfg            Config
	run            *Run
	eng            fnet.Engine
	job            job
	tok            tokenizer.Tokenizer
	sched          Schedule
	st             loopState
	start          time.Time
	tokensPerBatch int
	best           *float64
	stopAt         int       // step after which to checkpoint and stop; -1: never
	par            *parallel // data parallel (parallel.go); nil: one process
}

// errStopped ends a run cleanly after a signal.
var errStopped = errors.New("stopped by signal")

func (l *loop) elapsed() time.Duration { return l.st.elapsed + time.Since(l.start) }

// runLoop trains until the last step, a signal, or an error, and leaves the
// status and a checkpoint accordingly.
func (l *loop) runLoop(ctx context.Context) error {
	cfg := l.cfg
	l.start = time.Now()
	total := cfg.Train.Steps
	accum := cfg.Train.GradAccum
	var (
		win          fnet.Stats
		winSteps     int
		winNorm      float64
		winStart     = time.Now()
		lastLR       float64
		lastState    json.RawMessage
		lastSys      time.Time
		checkpointed = -1
	)
	winBlocked, _ := l.job.waitTime()
	var err error
	if lastState, err = l.job.dataState(); err != nil {
		return err
	}
	l.run.SetStatus(func(s *rundir.Status) {
		s.State = rundir.StateRunning
		s.Step, s.TotalSteps = l.st.step, total
		if n := l.par.size(); n > 1 {
			s.WorldSize = n
		}
	})
	save := func() error {
		if checkpointed == l.st.step || !l.par.leader() {
			return nil
		}
		path, err := l.checkpoint(lastState, lastLR, nil, "")
		if err != nil {
			return err
		}
		checkpointed = l.st.step
		l.run.Logf("checkpoint %s", path)
		return nil
	}
	dataCtx := ctx
	if l.par != nil {
		// the ranks stop together, after the step in which any rank saw
		// the signal (reduce), so a signal must not cut one rank's data short
		dataCtx = context.WithoutCancel(ctx)
	}
	for l.st.step < total {
		var st fnet.Stats
		for a := 0; a < accum; a++ {
			b, err := l.job.next(dataCtx)
			if err != nil {
				if ctx.Err() != nil && l.par == nil {
					return l.stop(save)
				}
				return err
			}
			l.st.tokens += int64(b.B * b.S) // the global batch's
			if l.par != nil {
				if b, err = dist.SliceBatch(b, l.par.rank(), l.par.size()); err != nil {
					return fmt.Errorf("rank %d: %w", l.par.rank(), err)
				}
			}
			if a == accum-1 {
				if err := l.par.lastMicroBatch(l.eng); err != nil {
					return err
				}
			}
			s, err := l.eng.ForwardBackward(b, l.par.dropoutStep(l.st.microSteps), float32(1)/float32(accum))
			if err != nil {
				return err
			}
			l.st.microSteps++
			st.Add(s)
		}
		stopping := false
		if l.par != nil {
			if stopping, err = l.par.reduce(l.eng, &st, ctx.Err() != nil); err != nil {
				return err
			}
		}
		loss := l.job.loss(st)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("loss is %v at step %d: stopping with the last good checkpoint kept (lower train.lr, or set train.clip_grad_norm)", loss, l.st.step+1)
		}
		lr := l.sched.LR(l.st.step + 1)
		norm, err := l.eng.Step(lr, cfg.Train.ClipGradNorm)
		if err != nil {
			return fmt.Errorf("step %d: %w (the last good checkpoint is kept)", l.st.step+1, err)
		}
		l.st.step++
		lastLR = lr
		if lastState, err = l.job.dataState(); err != nil {
			return err
		}
		win.Add(st)
		winSteps++
		winNorm += norm
		if (l.st.step%cfg.Log.Every == 0 || l.st.step == total) && l.par.leader() {
			blocked, _ := l.job.waitTime()
			wall := time.Since(winStart)
			l.logTrain(win, winSteps, winNorm/float64(winSteps), lr, wall, blocked-winBlocked)
			win, winSteps, winNorm, winStart, winBlocked = fnet.Stats{}, 0, 0, time.Now(), blocked
		}
		if l.par.systemTick(&lastSys) {
			if err := l.logSystem(); err != nil {
				return err
			}
		}
		if cfg.Eval.Every > 0 && l.st.step%cfg.Eval.Every == 0 && l.st.step < total && l.par.leader() {
			if err := l.evaluate(ctx, lastState, lastLR, &checkpointed); err != nil {
				return err
			}
		}
		if cfg.Checkpoint.Every > 0 && l.st.step%cfg.Checkpoint.Every == 0 {
			if err := save(); err != nil {
				return err
			}
		}
		l.run.Heartbeat(l.st.step)
		if err := l.run.WriteErr(); err != nil {
			// a full disk: stop rather than train on while metrics are lost
			return fmt.Errorf("%w: stopping at step %d (the last checkpoint is kept; free space and --resume)", err, l.st.step)
		}
		if l.par == nil {
			stopping = ctx.Err() != nil
		}
		if stopping || l.st.step == l.stopAt {
			return l.stop(save)
		}
	}
	if !l.par.leader() {
		return nil
	}
	if err := l.evaluate(ctx, lastState, lastLR, &checkpointed); err != nil {
		return err
	}
	if err := save(); err != nil {
		return err
	}
	return nil
}

// stop checkpoints after a signal.
func (l *loop) stop(save func() error) error {
	l.run.SetStatus(func(s *rundir.Status) { s.State = rundir.StateStopping; s.Step = l.st.step })
	l.run.Logf("signal received: checkpointing at step %d, then stopping", l.st.step)
	if l.st.step > 0 {
		if err := save(); err != nil {
			return err
		}
	}
	return errStopped
}

// checkpoint saves the current step; score and metric are the dev result
// that made it the best one (nil and "" for a periodic checkpoint).
func (l *loop) checkpoint(data json.RawMessage, lr float64, score *float64, metric string) (string, error) {
	params, err := l.eng.Params()
	if err != nil {
		return "", fmt.Errorf("reading the parameters for the step-%d checkpoint: %w", l.st.step, err)
	}
	if name, ok := nonFinite(params); !ok {
		return "", fmt.Errorf("parameter %s holds NaN or Inf at step %d: not checkpointing it (the last good checkpoint is kept)", name, l.st.step)
	}
	ts := TrainerState{
		Kind: l.cfg.Kind, Task: l.cfg.Finetune.Task, Step: l.st.step, TotalSteps: l.cfg.Train.Steps,
		MicroSteps: l.st.microSteps, Seed: l.cfg.Train.Seed, Data: data, LR: lr,
		Tokens: l.st.tokens, ElapsedS: l.elapsed().Seconds(), Config: l.cfg.Path, Score: score, Metric: metric,
	}
	path, err := SaveCheckpoint(l.run.Dir, l.eng, l.tok, ts)
	if err != nil {
		return "", err
	}
	if err := PruneCheckpoints(filepath.Join(l.run.Dir, rundir.CheckpointsDir), l.cfg.Checkpoint.Keep); err != nil {
		l.run.Logf("warning: pruning old checkpoints: %v", err)
	}
	return path, nil
}

func (l *loop) evaluate(ctx context.Context, data json.RawMessage, lr float64, checkpointed *int) error {
	t0 := time.Now()
	res, err := l.job.evaluate(ctx, l.eng)
	if err != nil {
		if ctx.Err() != nil {
			return nil // a signal interrupted the evaluation; the loop stops next
		}
		return fmt.Errorf("evaluation at step %d: %w", l.st.step, err)
	}
	if res.values == nil {
		if res.summary != "" {
			l.run.Logf("eval %6d/%d | %s", l.st.step, l.cfg.Train.Steps, res.summary)
		}
		return nil
	}
	l.run.Metric(rundir.Metric{T: time.Now(), Step: l.st.step, Split: "eval", Task: res.task, Values: res.values})
	l.run.Logf("eval %6d/%d | %s | %.1fs", l.st.step, l.cfg.Train.Steps, res.summary, time.Since(t0).Seconds())
	if res.metric != "" && (l.best == nil || res.score > *l.best) {
		score := res.score
		l.best = &score
		path, err := l.checkpoint(data, lr, &score, res.metric)
		if err != nil {
			return err
		}
		*checkpointed = l.st.step
		if err := SetLink(filepath.Join(l.run.Dir, rundir.CheckpointsDir), BestLink, filepath.Base(path)); err != nil {
			return err
		}
		l.run.Logf("best %s %.4f so far: %s", res.metric, score, path)
	}
	return nil
}

func (l *loop) logTrain(s fnet.Stats, steps int, norm, lr float64, wall, blocked time.Duration) {
	vals := l.job.trainValues(s)
	tokens := float64(steps * l.tokensPerBatch * l.cfg.Train.GradAccum)
	examples := float64(s.Examples)
	sec := wall.Seconds()
	stepMs := 1e3 * sec / float64(steps)
	vals["lr"] = lr
	vals["grad_norm"] = norm
	vals["tokens_per_s"] = tokens / sec
	vals["examples_per_s"] = examples / sec
	vals["step_ms"] = stepMs
	vals["data_wait"] = blocked.Seconds() / sec
	vals["elapsed_s"] = l.elapsed().Seconds()
	l.run.Metric(rundir.Metric{T: time.Now(), Step: l.st.step, Split: "train", Values: vals})
	eta := time.Duration(float64(l.cfg.Train.Steps-l.st.step) * stepMs * float64(time.Millisecond))
	l.run.Logf("step %6d/%d | %s | lr %.2e | norm %.3f | %.1f ms/step | %.0f tok/s | data %.1f%% | eta %s",
		l.st.step, l.cfg.Train.Steps, l.job.trainSummary(vals),
		lr, norm, stepMs, tokens/sec, 100*vals["data_wait"], eta.Round(time.Second))
	l.run.SetStatus(func(st *rundir.Status) { st.Step = l.st.step })
}

// logSystem writes CPU/RSS (and GPU, when the engine reports it) usage.
// In data parallel every rank calls it at the same step (systemTick): the
// ranks' GPU readings are gathered (gatherGPU), and rank 0 writes the line
// with its own CPU and memory and every rank's GPU.
func (l *loop) logSystem() error {
	vals := map[string]float64{}
	if l.par != nil && l.par.size() > 1 {
		if err := l.par.gatherGPU(l.eng, vals); err != nil {
			return err
		}
	} else if u, ok := l.eng.(gpuUsage); ok {
		if util, mem, err := u.GPUUsage(); err == nil {
			vals["gpu_util"], vals["gpu_mem_gib"] = util, mem
		}
	}
	if !l.par.leader() {
		return nil
	}
	if rss, err := rssGiB(); err == nil {
		vals["rss_gib"] = rss
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		vals["cpu_util"] = cpu.Seconds() / time.Since(processStart).Seconds() // cores in use, averaged
	}
	l.run.Metric(rundir.Metric{T: time.Now(), Step: l.st.step, Split: "system", Values: vals})
	return nil
}

var processStart = time.Now()

// gpuUsage is implemented by engines that can read NVML.
type gpuUsage interface {
	GPUUsage() (util, memGiB float64, err error)
}

func rssGiB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%f", &kb); err != nil {
				return 0, err
			}
			return kb / (1 << 20), nil
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// nonFinite finds a parameter with a NaN or infinite value.
func nonFinite(params map[string][]float32) (string, bool) {
	for name, p := range params {
		for _, x := range p {
			if x != x || x > math.MaxFloat32 || x < -math.MaxFloat32 {
				return name, false
			}
		}
	}
	return "", true
}
