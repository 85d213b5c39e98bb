package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/dist/disttest"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// failingRank fails its n-th gradient reduction, as a broken transport would.
type failingRank struct {
	dist.Collective
	n, calls int
}

func (f *failingRank) AllReduceAvg(buf []float32) error {
	if f.calls++; f.calls == f.n {
		return errors.New("injected transport failure")
	}
	return f.Collective.AllReduceAvg(buf)
}

// finetuneRanks runs Finetune on every rank of a fresh group at once.
func finetuneRanks(t *testing.T, size int, o Options, ctxs []context.Context, wrap func(int, dist.Collective) dist.Collective) ([]string, []error) {
	t.Helper()
	group := disttest.Collectives(disttest.NewLocalGroup(size)) // tests only; the product's is NCCL
	dirs, errs := make([]string, size), make([]error, size)
	var wg sync.WaitGroup
	for r := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ro := o
			ro.Collective = group[r]
			if wrap != nil {
				ro.Collective = wrap(r, group[r])
			}
			ctx := context.Background()
			if ctxs != nil {
				ctx = ctxs[r]
			}
			dirs[r], errs[r] = Finetune(ctx, ro, "")
		}()
	}
	wg.Wait()
	return dirs, errs
}

// dpConfig is synthFinetuneConfig for goroutine ranks: train.threads = 0,
// since ranks setting the process's thread count at once would race (a
// rank per process, as launchers run them, never shares it).
func dpConfig(t *testing.T, dir, glueDir, vocab, name, extra string) string {
	return synthFinetuneConfig(t, dir, glueDir, vocab, name, extra+"\ntrain.threads = 0")
}

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(a)) }

// runFiles lists a run directory's files, relative, with a re-saved
// checkpoint's varying suffix (step-N-r<time>) cut.
func runFiles(t *testing.T, dir string) []string {
	var out []string
	resaved := regexp.MustCompile(`-r[0-9]+/`)
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, resaved.ReplaceAllString(rel, "-r/"))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// TestDataParallelMatchesOneRank is issue 17's check: two ranks with
// micro-batch b train exactly as one process with batch 2b (up to float32
// reassociation in the gradient sums): the same loss, gradient norm and
// dev scores at every step, with and without gradient accumulation; and
// rank 0 alone writes the run directory, rank 1 only ranks/1.log.
func TestDataParallelMatchesOneRank(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 48, 16, false)
	for _, accum := range []int{1, 2} {
		cfg := dpConfig(t, dir, gd, vocab, fmt.Sprint("dp", accum), fmt.Sprintf("train.grad_accum = %d\ncheckpoint.every = 6\ncheckpoint.keep = 0", accum))
		one, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: fmt.Sprint("one", accum)}, "")
		if err != nil {
			t.Fatal(err)
		}
		dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: fmt.Sprint("two", accum)}, nil, nil)
		for r, err := range errs {
			if err != nil {
				t.Fatalf("accum %d rank %d: %v", accum, r, err)
			}
		}
		if dirs[0] != dirs[1] {
			t.Fatalf("the ranks trained in %s and %s", dirs[0], dirs[1])
		}
		two := dirs[0]
		a, b := metricsBySplit(t, one, "train"), metricsBySplit(t, two, "train")
		if len(a) != 12 || len(b) != 12 {
			t.Fatalf("accum %d: %d and %d train lines", accum, len(a), len(b))
		}
		for step := 1; step <= 12; step++ {
			for _, k := range []string{"loss", "grad_norm"} {
				if !closeTo(a[step][k], b[step][k], 1e-6) {
					t.Errorf("accum %d step %d %s: one rank %v, two ranks %v", accum, step, k, a[step][k], b[step][k])
				}
			}
			if a[step]["lr"] != b[step]["lr"] {
				t.Errorf("step %d lr %v vs %v", step, a[step]["lr"], b[step]["lr"])
			}
		}
		worst := 0.0
		for step := 1; step <= 12; step++ {
			for _, k := range []string{"loss", "grad_norm"} {
				worst = math.Max(worst, math.Abs(a[step][k]-b[step][k])/math.Abs(a[step][k]))
			}
		}
		t.Logf("accum %d: worst relative difference of loss and grad_norm over 12 steps %.2g", accum, worst)
		if a[1]["loss"] == a[12]["loss"] {
			t.Fatalf("the loss did not move: %v", a[1]["loss"])
		}
		ea, eb := metricsBySplit(t, one, "eval"), metricsBySplit(t, two, "eval")
		for step, v := range ea {
			// the correlations of 16 nearly equal predictions magnify
			// float32 differences: a looser bound for them
			if !closeTo(v["loss"], eb[step]["loss"], 2e-5) || !closeTo(v["pearson"], eb[step]["pearson"], 2e-3) || !closeTo(v["spearman"], eb[step]["spearman"], 2e-3) {
				t.Errorf("accum %d eval at %d: one rank %v, two ranks %v", accum, step, v, eb[step])
			}
		}
		// the same files as one process, plus rank 1's log
		fa, fb := runFiles(t, one), runFiles(t, two)
		want := append([]string{filepath.Join(rundir.RanksDir, "1.log")}, fa...)
		sort.Strings(want)
		if strings.Join(fb, " ") != strings.Join(want, " ") {
			t.Errorf("accum %d: two ranks wrote\n%v\none rank\n%v", accum, fb, fa)
		}
		log1, _ := os.ReadFile(filepath.Join(two, rundir.RanksDir, "1.log"))
		if !strings.Contains(string(log1), "(rank 1 of 2)") || !strings.Contains(string(log1), "done: 12 steps") || strings.Contains(string(log1), "step     1/") {
			t.Errorf("rank 1's log:\n%s", log1)
		}
		log0, _ := os.ReadFile(filepath.Join(two, rundir.LogFile))
		if !strings.Contains(string(log0), "data parallel: 2 ranks, 4 examples each of every batch of 8") {
			t.Errorf("rank 0's train.log does not describe the split:\n%s", log0)
		}
		if st, _ := rundir.ReadStatus(two); st.State != rundir.StateDone || st.Step != 12 {
			t.Errorf("status %+v", st)
		}
	}
}

// TestDataParallelNamesOneDirectory: without run.name, the directory name
// carries rank 0's start time, so every rank lands in the same one.
func TestDataParallelNamesOneDirectory(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "named", "train.steps = 2\neval.every = 0")
	dirs, errs := finetuneRanks(t, 3, Options{ConfigPath: cfg}, nil, func(r int, c dist.Collective) dist.Collective { return c })
	for r, err := range errs { // batch 8 does not divide over 3 ranks
		if err == nil || !strings.Contains(err.Error(), "data.batch_size: batch size 8 does not divide over 3 ranks") {
			t.Errorf("rank %d of 3 with batch 8: %v", r, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "runs")); len(ents) != 0 {
		t.Errorf("a refused world created %d run directories", len(ents))
	}
	dirs, errs = finetuneRanks(t, 2, Options{ConfigPath: cfg}, nil, nil)
	if errs[0] != nil || errs[1] != nil || dirs[0] != dirs[1] || !strings.HasPrefix(filepath.Base(dirs[0]), "finetune-named-") {
		t.Fatalf("two ranks without run.name: %v %v in %s and %s", errs[0], errs[1], dirs[0], dirs[1])
	}
}

// TestDataParallelSignalStopsEveryRank: a signal on rank 1 alone stops
// both ranks after the same step, and rank 0 checkpoints it.
func TestDataParallelSignalStopsEveryRank(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "sig", "eval.every = 0")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "sig"}, []context.Context{context.Background(), cancelled}, nil)
	for r, err := range errs {
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("rank %d: %v, want ErrStopped", r, err)
		}
	}
	st, _ := rundir.ReadStatus(dirs[0])
	if st.State != rundir.StateStopped || st.Step != 1 {
		t.Fatalf("status %+v, want stopped at step 1", st)
	}
	if steps, _ := ListCheckpoints(filepath.Join(dirs[0], rundir.CheckpointsDir)); len(steps) != 1 || steps[0] != StepDirName(1) {
		t.Fatalf("checkpoints %v", steps)
	}
	log1, _ := os.ReadFile(filepath.Join(dirs[0], rundir.RanksDir, "1.log"))
	if !strings.Contains(string(log1), "stopped at step 1") {
		t.Errorf("rank 1's log:\n%s", log1)
	}
}

// TestDataParallelPeerFailureFailsEveryRank: a rank whose reduction fails
// leaves the group, and rank 0 fails the run instead of waiting for it.
func TestDataParallelPeerFailureFailsEveryRank(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "fail", "eval.every = 0")
	dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "fail"}, nil, func(r int, c dist.Collective) dist.Collective {
		if r == 1 {
			return &failingRank{Collective: c, n: 3}
		}
		return c
	})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "rank 1 of 2") || !strings.Contains(errs[1].Error(), "injected transport failure") {
		t.Errorf("rank 1: %v", errs[1])
	}
	if !errors.Is(errs[0], disttest.ErrLeft) || !strings.Contains(errs[0].Error(), "rank 0 of 2") {
		t.Errorf("rank 0: %v, want the group's error", errs[0])
	}
	st, _ := rundir.ReadStatus(dirs[0])
	if st.State != rundir.StateFailed || !strings.Contains(st.Error, "a rank left the group") {
		t.Errorf("status %+v", st)
	}
}

// TestDataParallelResumeIsExact: two ranks stopped after step 5 and
// resumed (with the same world size) train on exactly as two ranks that
// never stopped.
func TestDataParallelResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 48, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "res", "train.grad_accum = 2\neval.every = 4")
	full, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "full"}, nil, nil)
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	part, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "part", StopAfter: 5}, nil, nil)
	if !errors.Is(errs[0], ErrStopped) || !errors.Is(errs[1], ErrStopped) {
		t.Fatal(errs)
	}
	if _, errs = finetuneRanks(t, 2, Options{Resume: part[0]}, nil, nil); errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	a, b := metricsBySplit(t, full[0], "train"), metricsBySplit(t, part[0], "train")
	for step := 6; step <= 12; step++ {
		for _, k := range []string{"loss", "grad_norm"} {
			if a[step][k] != b[step][k] {
				t.Errorf("step %d %s: uninterrupted %v, resumed %v", step, k, a[step][k], b[step][k])
			}
		}
	}
	if ea, eb := metricsBySplit(t, full[0], "eval"), metricsBySplit(t, part[0], "eval"); ea[12]["loss"] != eb[12]["loss"] {
		t.Errorf("final eval: %v vs %v", ea[12], eb[12])
	}
}

// leaving records how a rank left the group: whether it aborted or
// closed, and what rank 0's status.json and train.log said at that moment.
type leaving struct {
	dist.Collective
	runs string // the runs directory (its one run's status is read)

	mu                sync.Mutex
	aborts, closes    int
	stateAtLeave      string
	errorAtLeave, log string
	rankErrorAtLeave  string
}

func (l *leaving) note() {
	if l.aborts+l.closes > 1 {
		return // the state at the first
	}
	dirs, _ := filepath.Glob(filepath.Join(l.runs, "*", rundir.StatusFile))
	if len(dirs) != 1 {
		return
	}
	dir := filepath.Dir(dirs[0])
	st, _ := rundir.ReadStatus(dir)
	l.stateAtLeave, l.errorAtLeave = string(st.State), st.Error
	b, _ := os.ReadFile(filepath.Join(dir, rundir.LogFile))
	l.log = string(b)
	if b, err := os.ReadFile(filepath.Join(dir, rundir.RanksDir, fmt.Sprintf("%d.error", l.Rank()))); err == nil {
		l.rankErrorAtLeave = string(b)
	}
}

func (l *leaving) Abort() error {
	l.mu.Lock()
	l.aborts++
	l.note()
	l.mu.Unlock()
	return l.Collective.Abort()
}

func (l *leaving) Close() error {
	l.mu.Lock()
	l.closes++
	l.note()
	l.mu.Unlock()
	return l.Collective.Close()
}

// TestDataParallelFailureIsRecordedBeforeTheAbort: a rank whose step
// fails aborts the Collective (NCCL's destroy would wait at its barrier
// for peers sitting in their next all-reduce), and only after the run's
// end is recorded: rank 0's status.json says failed, with the error, and
// train.log has it, when the peers learn of it; the peer that then fails
// has written ranks/1.error before it aborts too. The agreed stop aborts
// nothing (the caller closes cleanly).
func TestDataParallelFailureIsRecordedBeforeTheAbort(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "order", "eval.every = 0")
	runs := filepath.Join(dir, "runs")
	ranks := make([]*leaving, 2)
	_, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "order"}, nil, func(r int, c dist.Collective) dist.Collective {
		if r == 0 {
			c = &failingRank{Collective: c, n: 3}
		}
		ranks[r] = &leaving{Collective: c, runs: runs}
		return ranks[r]
	})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "injected transport failure") || errs[1] == nil {
		t.Fatalf("errors %v", errs)
	}
	r0, r1 := ranks[0], ranks[1]
	if r0.aborts == 0 || r0.closes != 0 {
		t.Fatalf("rank 0 aborted %d and closed %d times; want it aborted", r0.aborts, r0.closes)
	}
	if r0.stateAtLeave != string(rundir.StateFailed) || !strings.Contains(r0.errorAtLeave, "injected transport failure") || !strings.Contains(r0.log, "error: ") {
		t.Fatalf("when rank 0 aborted, status.json said %q (%q) and train.log:\n%s", r0.stateAtLeave, r0.errorAtLeave, r0.log)
	}
	if r1.aborts == 0 || r1.closes != 0 || !strings.HasPrefix(r1.rankErrorAtLeave, "rank 1") || !strings.Contains(r1.rankErrorAtLeave, "a rank left the group") {
		t.Fatalf("rank 1: %d aborts, %d closes, ranks/1.error when it aborted: %q", r1.aborts, r1.closes, r1.rankErrorAtLeave)
	}

	// the agreed stop: nothing aborts
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	stopRuns := filepath.Join(dir, "stop-runs")
	_, errs = finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "stop", RunsDir: stopRuns}, []context.Context{cancelled, context.Background()}, func(r int, c dist.Collective) dist.Collective {
		ranks[r] = &leaving{Collective: c, runs: stopRuns}
		return ranks[r]
	})
	for r, err := range errs {
		if !errors.Is(err, ErrStopped) || ranks[r].aborts != 0 || ranks[r].closes != 0 {
			t.Errorf("stopped rank %d: %v, %d aborts, %d closes (the caller closes)", r, err, ranks[r].aborts, ranks[r].closes)
		}
	}
}

// TestDataParallelFollowerErrorReachesStatus: rank 1 fails mid-run; it
// writes its error to ranks/1.error, and rank 0, failing through the
// Collective, puts "rank 1: …" with rank 1's message first in
// status.json's error and train.log.
func TestDataParallelFollowerErrorReachesStatus(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "ferr", "eval.every = 0")
	dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "ferr"}, nil, func(r int, c dist.Collective) dist.Collective {
		if r == 1 {
			return &failingRank{Collective: c, n: 4}
		}
		return c
	})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "injected transport failure") {
		t.Fatalf("rank 1: %v", errs[1])
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], rundir.RanksDir, "1.error"))
	if err != nil || !strings.HasPrefix(string(b), "rank 1") || !strings.Contains(string(b), "injected transport failure") {
		t.Fatalf("ranks/1.error: %q %v", b, err)
	}
	st, _ := rundir.ReadStatus(dirs[0])
	if st.State != rundir.StateFailed || !strings.HasPrefix(st.Error, "rank 1") || !strings.Contains(st.Error, "injected transport failure") || !strings.Contains(st.Error, "a rank left the group") {
		t.Fatalf("status.json error %q (state %s): want rank 1's error first, then rank 0's", st.Error, st.State)
	}
	if !errors.Is(errs[0], disttest.ErrLeft) || !strings.HasPrefix(errs[0].Error(), "rank 1") {
		t.Errorf("rank 0's error %v", errs[0])
	}
	log0, _ := os.ReadFile(filepath.Join(dirs[0], rundir.LogFile))
	if !strings.Contains(string(log0), "error: rank 1") {
		t.Errorf("train.log:\n%s", log0)
	}

	// resumed, an earlier attempt's error file is gone before the ranks start
	dirs, errs = finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "ferr2", StopAfter: 2}, nil, nil)
	if !errors.Is(errs[0], ErrStopped) || !errors.Is(errs[1], ErrStopped) {
		t.Fatal(errs)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], rundir.RanksDir, "1.error"), []byte("rank 1: stale\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs = finetuneRanks(t, 2, Options{Resume: dirs[0]}, nil, func(r int, c dist.Collective) dist.Collective {
		if r == 0 {
			return &failingRank{Collective: c, n: 2}
		}
		return c
	})
	st, _ = rundir.ReadStatus(dirs[0])
	if errs[0] == nil || strings.Contains(st.Error, "stale") || !strings.HasPrefix(st.Error, "rank 0") || !strings.Contains(st.Error, "injected transport failure") {
		t.Errorf("rank 0's own failure on resume: %v, status error %q", errs[0], st.Error)
	}
}

// TestDataParallelAutoDeviceDoesNotFallBack: with train.device = "auto",
// one process falls back to the CPU when no GPU can be used, but a rank of
// a multi-rank world fails with the reason instead (its host-bucket NCCL
// calls would not match the CUDA ranks' per-layer ones), and the startup
// agreement fails every rank, with nothing trained.
func TestDataParallelAutoDeviceDoesNotFallBack(t *testing.T) {
	if cuda.Available() == nil {
		t.Skip("a GPU is usable here: \"auto\" takes it, there is no fallback to refuse")
	}
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "auto", "eval.every = 0\ntrain.steps = 2\ntrain.device = \"auto\"")
	dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "auto"}, nil, nil)
	for r, err := range errs {
		if err == nil {
			t.Fatalf("rank %d trained with train.device = \"auto\" and no GPU", r)
		}
	}
	for _, err := range []error{errs[0], errs[1]} {
		if !strings.Contains(err.Error(), "may not fall back to the CPU") && !strings.Contains(err.Error(), "ranks failed to start") {
			t.Errorf("error %v", err)
		}
	}
	if !strings.Contains(errs[1].Error(), `rank 1: train.device = "auto" in a 2-rank world: no usable GPU`) {
		t.Errorf("rank 1: %v", errs[1])
	}
	st, _ := rundir.ReadStatus(dirs[0])
	if st.State != rundir.StateFailed || !strings.Contains(st.Error, "may not fall back to the CPU") {
		t.Errorf("status %+v", st)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], rundir.RanksDir, "1.error")); err != nil || !strings.Contains(string(b), "may not fall back") {
		t.Errorf("ranks/1.error: %q %v", b, err)
	}
	// a follower does not write into a directory rank 0 was refused (another live run's)
	live := filepath.Join(dir, "runs", "live")
	if err := os.MkdirAll(live, 0o755); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if err := rundir.WriteStatus(live, rundir.Status{State: rundir.StateRunning, PID: os.Getpid(), Host: host}); err != nil {
		t.Fatal(err)
	}
	_, errs = finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "live"}, nil, nil)
	if !errors.Is(errs[0], ErrLiveRun) || errs[1] == nil {
		t.Fatalf("a live run's directory: %v", errs)
	}
	if _, err := os.Stat(filepath.Join(live, rundir.RanksDir, "1.error")); err == nil {
		t.Errorf("rank 1 wrote its error into another run's directory")
	}
	// one process still falls back, saying why
	one, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "auto-one"}, "")
	if err != nil {
		t.Fatalf("one process with train.device = \"auto\": %v", err)
	}
	if log, _ := os.ReadFile(filepath.Join(one, rundir.LogFile)); !strings.Contains(string(log), "device auto: no usable GPU") {
		t.Errorf("train.log of one process:\n%s", log)
	}
}
