package train

// The loop's bookkeeping checked against what it must produce: the
// learning rate of each update, log windows, when it evaluates and
// checkpoints, the status while it runs, stopping, and failing when a
// checkpoint cannot be written (tools/mutate lists the mutants these kill).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestLoggedLRFollowsTheSchedule: warmup over 2 steps, then linear decay
// to min_lr at the last step, worked out by hand; trainer.json keeps the
// last update's rate.
func TestLoggedLRFollowsTheSchedule(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "lr", "train.steps = 6\ntrain.decay = \"linear\"\ntrain.min_lr = 1e-3\neval.every = 100")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "lr"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// peak 1e-2; steps 1-2 warm up; steps 3..6 fall by 9e-3/4 each
	want := []float64{5e-3, 1e-2, 7.75e-3, 5.5e-3, 3.25e-3, 1e-3}
	tr := metricsBySplit(t, run, "train")
	for i, w := range want {
		if got := tr[i+1]["lr"]; math.Abs(got-w) > 1e-12 {
			t.Errorf("step %d: lr %v, want %v", i+1, got, w)
		}
	}
	ck, err := LoadCheckpoint(run)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ck.Trainer.LR-1e-3) > 1e-12 {
		t.Errorf("trainer.json lr %v, want the last update's 1e-3", ck.Trainer.LR)
	}
}

// TestLogWindowsAverageTheirSteps: with log.every = 4 over 6 steps the
// train lines are at steps 4 and 6 (the last, partial window), and each
// holds the mean loss and gradient norm of its steps, as a run logging
// every step shows them.
func TestLogWindowsAverageTheirSteps(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	ctx := context.Background()
	runs := map[int]string{}
	for _, every := range []int{1, 4} {
		cfg := synthFinetuneConfig(t, dir, gd, vocab, fmt.Sprint("log", every), fmt.Sprintf("train.steps = 6\neval.every = 100\nlog.every = %d", every))
		run, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: fmt.Sprint("log", every)}, "")
		if err != nil {
			t.Fatal(err)
		}
		runs[every] = run
	}
	each, win := metricsBySplit(t, runs[1], "train"), metricsBySplit(t, runs[4], "train")
	var steps []int
	for s := range win {
		steps = append(steps, s)
	}
	slices.Sort(steps)
	if !slices.Equal(steps, []int{4, 6}) {
		t.Fatalf("log.every = 4 over 6 steps: train lines at %v, want [4 6]", steps)
	}
	for _, w := range [][2]int{{1, 4}, {5, 6}} {
		var loss, norm float64
		for s := w[0]; s <= w[1]; s++ {
			if !(each[s]["grad_norm"] > 0) {
				t.Errorf("step %d: gradient norm %v", s, each[s]["grad_norm"])
			}
			loss += each[s]["loss"]
			norm += each[s]["grad_norm"]
		}
		n := float64(w[1] - w[0] + 1)
		got := win[w[1]]
		if math.Abs(got["loss"]-loss/n) > 1e-6*loss || math.Abs(got["grad_norm"]-norm/n) > 1e-6*norm {
			t.Errorf("window %d-%d: loss %v norm %v, want the means %v and %v", w[0], w[1], got["loss"], got["grad_norm"], loss/n, norm/n)
		}
	}
}

// TestEvaluatesEveryStepAsked: eval.every = 1 evaluates after every step
// (the last one once).
func TestEvaluatesEveryStepAsked(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "ev", "train.steps = 3\neval.every = 1")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "ev"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, e := range evalLines(t, run) {
		steps = append(steps, e.step)
	}
	if !slices.Equal(steps, []int{1, 2, 3}) {
		t.Errorf("evaluations at %v, want [1 2 3]", steps)
	}
}

// checkpointLog counts train.log's "checkpoint <dir>" lines by step directory.
func checkpointLog(t *testing.T, runDir string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, rundir.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if _, rest, ok := strings.Cut(line, " checkpoint "); ok {
			out[filepath.Base(strings.TrimSpace(rest))]++
		}
	}
	return out
}

// TestCheckpointSteps: checkpoint.every = 2 and 4 over 6 pretraining steps
// (no evaluation) keep exactly steps 2, 4, 6 and 4, 6 (the end), each
// written once.
func TestCheckpointSteps(t *testing.T) {
	dir := t.TempDir()
	for every, want := range map[int][]string{2: {StepDirName(2), StepDirName(4), StepDirName(6)}, 4: {StepDirName(4), StepDirName(6)}} {
		run, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: fmt.Sprint("ck", every),
			Overrides: []string{"train.steps=6", "eval.every=0", fmt.Sprintf("checkpoint.every=%d", every), "checkpoint.keep=0"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := ListCheckpoints(filepath.Join(run, rundir.CheckpointsDir))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("checkpoint.every = %d: %v, want %v", every, got, want)
		}
		logged := checkpointLog(t, run)
		for _, s := range want {
			if logged[s] != 1 {
				t.Errorf("checkpoint.every = %d: %s written %d times, want once (%v)", every, s, logged[s], logged)
			}
		}
	}
}

// TestUnsavableCheckpointFailsTheRun: an update so large that the weights
// overflow leaves a model no checkpoint may hold: the run must fail at
// that checkpoint, a periodic one or the final one, not end as done.
func TestUnsavableCheckpointFailsTheRun(t *testing.T) {
	dir := t.TempDir()
	run, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "final",
		Overrides: []string{"train.lr=1e38", "train.decay=constant", "train.steps=1", "train.warmup_steps=0", "eval.every=0", "checkpoint.every=0", "train.clip_grad_norm=0"}})
	if err == nil || !strings.Contains(err.Error(), "NaN or Inf at step 1") {
		t.Errorf("final checkpoint of overflowed weights: err = %v", err)
	}
	if st, _ := rundir.ReadStatus(run); st.State != rundir.StateFailed {
		t.Errorf("status %s, want failed", st.State)
	}
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "every", "train.lr = 1e38\ntrain.warmup_steps = 0\ncheckpoint.every = 1\neval.every = 100")
	if _, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "every"}, ""); err == nil || !strings.Contains(err.Error(), "NaN or Inf at step 1") {
		t.Errorf("periodic checkpoint of overflowed weights: err = %v", err)
	}
}

// TestStatusWhileRunning: once training, status.json says running, with
// the run's length; a signal then stops it.
func TestStatusWhileRunning(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "st", "train.steps = 100000\neval.every = 100000")
	runDir := filepath.Join(dir, "runs", "st")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan rundir.Status, 1)
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for ctx.Err() == nil && time.Now().Before(deadline) {
			if st, err := rundir.ReadStatus(runDir); err == nil && st.Step >= 1 {
				seen <- st
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		close(seen)
		cancel()
	}()
	_, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "st"}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	st, ok := <-seen
	if !ok {
		t.Fatal("never saw the run at step 1")
	}
	if st.State != rundir.StateRunning || st.TotalSteps != 100000 || st.Kind != "finetune" {
		t.Errorf("status while training: %+v", st)
	}
	if st, _ := rundir.ReadStatus(runDir); st.State != rundir.StateStopped {
		t.Errorf("after the signal: %s", st.State)
	}
}

// TestSignalBeforeAnEvaluation: a signal that is already there when the
// first evaluation starts interrupts it; the run stops cleanly (not with
// an evaluation error) and keeps a checkpoint of its one step.
func TestSignalBeforeAnEvaluation(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "sig", "train.steps = 10\neval.every = 1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	run, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "sig"}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	ck, err := LoadCheckpoint(run)
	if err != nil || ck.Trainer.Step != 1 {
		t.Fatalf("checkpoint after the signal: %v (%v)", ck, err)
	}
}

// TestStopAfterOneStep: StopAfter = 1 checkpoints step 1 and stops.
func TestStopAfterOneStep(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "one", "eval.every = 100")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "one", StopAfter: 1}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	ck, err := LoadCheckpoint(run)
	if err != nil || ck.Trainer.Step != 1 {
		t.Fatalf("checkpoint: %v (%v)", ck, err)
	}
	if st, _ := rundir.ReadStatus(run); st.State != rundir.StateStopped || st.Step != 1 {
		t.Errorf("status %+v", st)
	}
}

// TestSignalBeforeTheFirstStep: a pretraining run stopped before its first
// update has nothing to keep: no checkpoint of the untrained weights. A
// resumed run stopped the same way rewrites its checkpoint with the data
// position it resumed from, so it can be resumed again. (The stream may
// hand out a ready batch before it sees the signal; then the run stops a
// step later and the step-0 checks do not apply.)
func TestSignalBeforeTheFirstStep(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir, "")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	run, err := Pretrain(cancelled, Options{ConfigPath: cfg, RunName: "zero"})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	if st, _ := rundir.ReadStatus(run); st.Step == 0 {
		if got, _ := ListCheckpoints(filepath.Join(run, rundir.CheckpointsDir)); len(got) != 0 {
			t.Errorf("stopped before any update, yet checkpoints %v", got)
		}
	}

	part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "part", StopAfter: 3})
	if !errors.Is(err, ErrStopped) {
		t.Fatal(err)
	}
	before, err := LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pretrain(cancelled, Options{Resume: part}); !errors.Is(err, ErrStopped) {
		t.Fatalf("resume under a signal: %v", err)
	}
	after, err := LoadCheckpoint(part)
	if err != nil {
		t.Fatal(err)
	}
	if after.Trainer.Step == 3 && string(after.Trainer.Data) != string(before.Trainer.Data) {
		t.Errorf("the rewritten step-3 checkpoint's data position %s, want the one it resumed from %s", after.Trainer.Data, before.Trainer.Data)
	}
	if _, err := Pretrain(context.Background(), Options{Resume: part}); err != nil {
		t.Errorf("resuming again: %v", err)
	}
}

// TestResumedBestWithoutAScore: a best checkpoint without a recorded score
// (or with an unreadable trainer.json) is no bound, whatever the metric.
func TestResumedBestWithoutAScore(t *testing.T) {
	mrpc, _ := glue.Lookup("mrpc")
	for name, content := range map[string]string{
		"no score":   `{"kind":"finetune","task":"mrpc","step":4,"metric":"f1"}`,
		"unreadable": `{"kind":`,
	} {
		run := t.TempDir()
		best := filepath.Join(run, rundir.CheckpointsDir, BestLink)
		os.MkdirAll(best, 0o755)
		os.WriteFile(filepath.Join(best, TrainerFile), []byte(content), 0o644)
		for _, metric := range []string{"f1", "accuracy"} {
			if got := resumedBest(run, mrpc.ScoreMetric, metric, t.Logf); got != nil {
				t.Errorf("%s, metric %s: best %v, want none", name, metric, *got)
			}
		}
	}
}

// TestResumeAtTheLastStepIsRefused: a finished run has nothing left to
// train; resuming it is an error, not a second final evaluation.
func TestResumeAtTheLastStepIsRefused(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "done", "train.steps = 3\neval.every = 100")
	run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "done"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Finetune(context.Background(), Options{Resume: run}, ""); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("resuming a finished run: err = %v", err)
	}
	if n := len(evalLines(t, run)); n != 1 {
		t.Errorf("%d evaluations, want the one of the finished run", n)
	}
}

// TestLoggedGradNormIsTheLossGradient anchors the gradient scale: with
// adam_eps far above every gradient element, Adam's first step is
// p −= (lr/eps)·g, so on a fixed batch (the whole training set, dropout
// off, no weight decay) the loss falls by (lr/eps)·‖g‖² to first order.
// The logged norm must be that ‖g‖, for one batch and for accumulated
// micro-batches: a gradient scaled by any factor c fails by c.
func TestLoggedGradNormIsTheLossGradient(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 8, 8, false)
	const lr, eps = 1.0, 1000.0
	for name, extra := range map[string]string{
		"one batch":     "data.batch_size = 8\ntrain.grad_accum = 1",
		"accumulated 2": "data.batch_size = 4\ntrain.grad_accum = 2",
	} {
		cfg := synthFinetuneConfig(t, dir, gd, vocab, strings.ReplaceAll(name, " ", ""), extra+fmt.Sprintf(
			"\ntrain.steps = 2\ntrain.warmup_steps = 0\ntrain.lr = %g\ntrain.adam_eps = %g\ntrain.weight_decay = 0\ntrain.clip_grad_norm = 0\neval.every = 100", lr, eps))
		run, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: strings.ReplaceAll(name, " ", "")}, "")
		if err != nil {
			t.Fatal(err)
		}
		tr := metricsBySplit(t, run, "train")
		norm := tr[1]["grad_norm"]
		fell, want := tr[1]["loss"]-tr[2]["loss"], lr/eps*norm*norm
		if !(want > 1e-4) || !(math.Abs(fell/want-1) < 0.1) {
			t.Errorf("%s: the loss fell by %g after one step; ‖g‖ = %g as logged predicts (lr/eps)·‖g‖² = %g", name, fell, norm, want)
		}
	}
}
