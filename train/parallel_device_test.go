package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/dist/disttest"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// deviceAveragingEngine stands for the CUDA engine's side of the device
// path (cuda/grad_average.go) on the CPU engine: it logs when it is armed,
// run, averaged and stepped, and averages the CPU engine's gradients
// itself through the Collective. It embeds the engine as fnet.Engine, so
// the CPU engine's fnet.GradientTensors is hidden: the host path cannot
// be taken behind its back.
type deviceAveragingEngine struct {
	fnet.Engine
	cpu     fnet.GradientTensors
	mu      *sync.Mutex
	log     *[]string
	rank    int
	armed   bool
	buckets dist.Buckets
}

func (e *deviceAveragingEngine) note(s string) {
	if e.rank == 0 {
		e.mu.Lock()
		*e.log = append(*e.log, s)
		e.mu.Unlock()
	}
}

func (e *deviceAveragingEngine) ArmGradientAverage(c dist.Collective) (bool, error) {
	e.note("arm")
	e.armed = true
	return true, nil
}

func (e *deviceAveragingEngine) ForwardBackward(b *fnet.Batch, d uint64, s float32) (fnet.Stats, error) {
	e.note(fmt.Sprintf("forward-backward armed=%v", e.armed))
	return e.Engine.ForwardBackward(b, d, s)
}

func (e *deviceAveragingEngine) AverageGradients(c dist.Collective) (bool, error) {
	e.note(fmt.Sprintf("average armed=%v", e.armed))
	e.armed = false
	g, err := e.cpu.AccumulatedGradients()
	if err != nil {
		return true, err
	}
	return true, e.buckets.AllReduceAvg(c, g)
}

func (e *deviceAveragingEngine) Step(lr, clip float64) (float64, error) {
	e.note("step")
	return e.Engine.Step(lr, clip)
}

// fixedJob hands out fixed classification batches (global batch 4).
type fixedJob struct {
	mc fnet.Config
	i  int
}

func (j *fixedJob) next(context.Context) (*fnet.Batch, error) {
	B, S := 4, j.mc.SeqLen
	b := &fnet.Batch{B: B, S: S, InputIDs: make([]int, B*S), TypeIDs: make([]int, B*S), Labels: make([]int, B)}
	for i := range b.InputIDs {
		b.InputIDs[i] = 5 + (i*7+j.i*13)%(j.mc.VocabSize-5)
	}
	for i := range b.Labels {
		b.Labels[i] = (i + j.i) % 3
	}
	j.i++
	return b, nil
}
func (j *fixedJob) dataState() (json.RawMessage, error) {
	return json.RawMessage(fmt.Sprintf(`{"i":%d}`, j.i)), nil
}
func (j *fixedJob) waitTime() (time.Duration, time.Duration) { return 0, 0 }
func (j *fixedJob) loss(s fnet.Stats) float64                { return s.TaskLossSum / float64(s.Examples) }
func (j *fixedJob) trainValues(s fnet.Stats) map[string]float64 {
	return map[string]float64{"loss": j.loss(s)}
}
func (j *fixedJob) trainSummary(map[string]float64) string { return "" }
func (j *fixedJob) evaluate(context.Context, fnet.Engine) (evalResult, error) {
	return evalResult{}, nil
}
func (j *fixedJob) close() {}

// TestLoopArmsTheDeviceAverage: with an engine that averages on the
// device, every step arms it right before the last micro-batch (not the
// others), averages once after it, before the optimizer step, and never
// takes the host path; rank 0's status carries world_size.
func TestLoopArmsTheDeviceAverage(t *testing.T) {
	mc := fnet.DefaultConfig()
	mc.VocabSize, mc.HiddenSize, mc.NumLayers, mc.IntermediateSize = 50, 16, 1, 32
	mc.MaxPositions, mc.SeqLen, mc.NumLabels = 16, 8, 3
	cfg := DefaultConfig()
	cfg.Kind = "finetune"
	cfg.Train.Steps, cfg.Train.GradAccum, cfg.Log.Every = 2, 3, 1
	group := disttest.Collectives(disttest.NewLocalGroup(2))
	var mu sync.Mutex
	var log []string
	errs := make([]error, 2)
	dirs := []string{t.TempDir(), t.TempDir()}
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cpu, err := fnet.NewCPUEngine(mc, fnet.ClassifierHeads, fnet.DefaultAdamW, fnet.CPUOptions{Seed: 1})
			if err != nil {
				errs[r] = err
				return
			}
			eng := &deviceAveragingEngine{Engine: cpu, cpu: cpu, mu: &mu, log: &log, rank: r}
			var run *Run
			if r == 0 {
				run, err = OpenRun(dirs[0], rundir.Status{Kind: "finetune"}, io.Discard, false)
			} else {
				run, err = openFollower(dirs[1], 1, io.Discard)
			}
			if err != nil {
				errs[r] = err
				return
			}
			defer run.Close()
			l := &loop{cfg: cfg, run: run, eng: eng, job: &fixedJob{mc: mc}, sched: Schedule{Peak: 1e-3, Total: 2},
				tokensPerBatch: 4 * mc.SeqLen, stopAt: -1, par: &parallel{coll: group[r]}}
			errs[r] = l.runLoop(context.Background())
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	step := []string{"forward-backward armed=false", "forward-backward armed=false", "arm", "forward-backward armed=true", "average armed=true", "step"}
	want := strings.Join(append(append([]string{}, step...), step...), "\n")
	if got := strings.Join(log, "\n"); got != want {
		t.Fatalf("rank 0's engine saw\n%s\nwant\n%s", got, want)
	}
	st, err := rundir.ReadStatus(dirs[0])
	if err != nil || st.WorldSize != 2 {
		t.Fatalf("rank 0's status: %+v %v", st, err)
	}
}

// usageEngine reports a fixed GPU reading (ok false: none, as without NVML).
type usageEngine struct {
	fnet.Engine
	util, mem float64
	ok        bool
}

func (u usageEngine) GPUUsage() (float64, float64, error) {
	if !u.ok {
		return 0, 0, fmt.Errorf("NVML unavailable")
	}
	return u.util, u.mem, nil
}

// TestGatherGPU: every rank's reading reaches every rank (rank 0 writes
// them) as gpu_util_r<k>, gpu_mem_gib_r<k>, with gpu_util the mean and
// gpu_mem_gib the maximum over the ranks that had one; a rank without a
// reading has no keys and no share of the mean.
func TestGatherGPU(t *testing.T) {
	group := disttest.Collectives(disttest.NewLocalGroup(3))
	engines := []usageEngine{{util: 0.9, mem: 40, ok: true}, {ok: false}, {util: 0.5, mem: 71.5, ok: true}}
	vals := make([]map[string]float64, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[r] = map[string]float64{}
			errs[r] = (&parallel{coll: group[r]}).gatherGPU(engines[r], vals[r])
		}()
	}
	wg.Wait()
	want := map[string]float64{"gpu_util_r0": 0.9, "gpu_mem_gib_r0": 40, "gpu_util_r2": 0.5, "gpu_mem_gib_r2": 71.5, "gpu_util": 0.7, "gpu_mem_gib": 71.5}
	for r := range 3 {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		if len(vals[r]) != len(want) {
			t.Fatalf("rank %d: %v, want %v", r, vals[r], want)
		}
		for k, w := range want {
			if math.Abs(vals[r][k]-w) > 1e-12 {
				t.Errorf("rank %d: %s = %v, want %v", r, k, vals[r][k], w)
			}
		}
	}
	// a failed reduction is the rank's error
	group[0].Close()
	if err := (&parallel{coll: group[1]}).gatherGPU(engines[1], map[string]float64{}); err == nil || !strings.Contains(err.Error(), "rank 1 of 3: gathering the ranks' GPU metrics") {
		t.Fatalf("after a rank left: %v", err)
	}
}

// TestDataParallelRatesAreGlobal: rank 0's tokens_per_s and
// examples_per_s count every rank's work: per step they make the global
// batch (8 examples × accumulation), as one process's do, and two ranks'
// tokens per step equal one process's. Rank 0's status.json says
// world_size 2 (one process's has none), and its system lines come at the
// same steps on every rank (no GPU here: no gpu_* keys).
func TestDataParallelRatesAreGlobal(t *testing.T) {
	dir := t.TempDir()
	gd, vocab := synthSTSB(t, dir, 32, 16, false)
	cfg := dpConfig(t, dir, gd, vocab, "rates", "train.steps = 3\neval.every = 0\ntrain.grad_accum = 2\nlog.every = 1")
	one, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunName: "one"}, "")
	if err != nil {
		t.Fatal(err)
	}
	dirs, errs := finetuneRanks(t, 2, Options{ConfigPath: cfg, RunName: "two"}, nil, nil)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("%v %v", errs[0], errs[1])
	}
	a, b := metricsBySplit(t, one, "train"), metricsBySplit(t, dirs[0], "train")
	for step := 1; step <= 3; step++ {
		for name, m := range map[string]map[string]float64{"one process": a[step], "two ranks": b[step]} {
			perStep := m["step_ms"] / 1e3
			if ex := m["examples_per_s"] * perStep; math.Abs(ex-16) > 1e-6 {
				t.Errorf("%s step %d: examples_per_s × step time = %v examples per step, want the global 8 × 2", name, step, ex)
			}
		}
		ta, tb := a[step]["tokens_per_s"]*a[step]["step_ms"]/1e3, b[step]["tokens_per_s"]*b[step]["step_ms"]/1e3
		if math.Abs(ta-tb) > 1e-6*ta || ta <= 0 {
			t.Errorf("step %d: tokens per step %v (one process), %v (two ranks)", step, ta, tb)
		}
	}
	if st, _ := rundir.ReadStatus(dirs[0]); st.WorldSize != 2 {
		t.Errorf("two ranks' status: world_size %d", st.WorldSize)
	}
	if st, _ := rundir.ReadStatus(one); st.WorldSize != 0 {
		t.Errorf("one process's status: world_size %d", st.WorldSize)
	}
	sys := metricsBySplit(t, dirs[0], "system")
	if len(sys) == 0 || sys[1] == nil {
		t.Fatalf("rank 0 wrote no system line at step 1: %v", sys)
	}
	for k := range sys[1] {
		if strings.HasPrefix(k, "gpu_") {
			t.Errorf("a CPU run's system line has %s", k)
		}
	}
	if _, err := os.Stat(filepath.Join(dirs[0], rundir.RanksDir, "1.log")); err != nil {
		t.Errorf("rank 1's log: %v", err)
	}
}
