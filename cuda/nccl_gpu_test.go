package cuda

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/fnet"
)

// The GPU checks of the NCCL Collective (scripts/gpu/nccl.sh). Each rank
// is one process running the same test, with the launcher's variables set
// (torchrun's: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT);
// without them the test is a world of one, which still runs NCCL's real
// all-reduce on the device. Every rank makes the same collective calls in
// the same order, so the tests must run with the same -test.run on every rank.

// requireNCCL skips without a GPU or a usable NCCL and returns the
// launcher's world.
func requireNCCL(t *testing.T) dist.World {
	t.Helper()
	requireGPU(t)
	if info := ProbeNCCL(); info.Err != nil {
		t.Skipf("no usable NCCL: %v", info.Err)
	}
	w, err := dist.FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// joinForTest joins the world's communicator for one test (its own run id:
// each test meets afresh).
func joinForTest(t *testing.T, w dist.World) *Collective {
	t.Helper()
	c, err := JoinNCCL(context.Background(), w, "cuda-test/"+t.Name(), dist.Options{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 2 * time.Minute
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Logf("NCCL %s: rank %d of %d on %s", ncclLib.Version(), c.Rank(), c.Size(), w)
	return c
}

// flatGradients lists an engine's gradients in the trained parameters' order.
func flatGradients(t *testing.T, e *Engine) []float32 {
	t.Helper()
	g, err := e.Gradients()
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, ps := range e.trained {
		out = append(out, g[ps.Name]...)
	}
	return out
}

// TestNCCLCollectiveOnDevice: the host reductions give the mean and the
// exact sum over the ranks, and the engine's device average (overlapped
// with the backward, and unarmed) equals the host average of the same
// gradients; the optimizer step's norm is that of the averaged gradients.
func TestNCCLCollectiveOnDevice(t *testing.T) {
	w := requireNCCL(t)
	c := joinForTest(t, w)
	N, r := float64(c.Size()), c.Rank()
	sums := []float64{float64(r + 1), 1, 1e15 + float64(r)}
	if err := c.AllReduceSum(sums); err != nil {
		t.Fatal(err)
	}
	if sums[0] != N*(N+1)/2 || sums[1] != N || sums[2] != N*1e15+N*(N-1)/2 {
		t.Fatalf("float64 sums over %v ranks: %v", N, sums)
	}
	avg := []float32{float32(r), 2}
	if err := c.AllReduceAvg(avg); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(avg[0])-(N-1)/2) > 1e-6 || avg[1] != 2 {
		t.Fatalf("float32 average over %v ranks: %v", N, avg)
	}

	cfg := smallConfig(0)
	newEngine := func() *Engine {
		e, err := NewEngineWithOptions(cfg, fnet.PretrainingHeads, fnet.DefaultAdamW, 7, FP32, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	b := randomBatch(rand.New(rand.NewPCG(uint64(r)+1, 7)), cfg, 3, 6, 0) // each rank its own batch
	host, armed, unarmed := newEngine(), newEngine(), newEngine()
	if _, err := host.ForwardBackward(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	want := flatGradients(t, host)
	if err := c.AllReduceAvg(want); err != nil {
		t.Fatal(err)
	}
	check := func(name string, e *Engine) {
		got := flatGradients(t, e)
		worst, norm := 0.0, 0.0
		for i := range want {
			worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			norm += float64(want[i]) * float64(want[i])
		}
		t.Logf("%s: max |device − host average| = %.3g over %d gradients", name, worst, len(want))
		if worst > 1e-6*math.Sqrt(norm) {
			t.Fatalf("%s: the device average is off the host average by %g", name, worst)
		}
		n, err := e.Step(1e-3, 0)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(n-math.Sqrt(norm)) > 1e-4*math.Sqrt(norm) {
			t.Fatalf("%s: Step's gradient norm %v, the averaged gradients' %v", name, n, math.Sqrt(norm))
		}
	}
	if ok, err := armed.ArmGradientAverage(c); !ok || err != nil {
		t.Fatalf("arm: %v %v", ok, err)
	}
	if _, err := armed.ForwardBackward(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := armed.AverageGradients(c); err != nil {
		t.Fatal(err)
	}
	if _, err := unarmed.ForwardBackward(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := unarmed.AverageGradients(c); err != nil {
		t.Fatal(err)
	}
	// read after both averages: the reads are host-side only
	check("overlapped", armed)
	check("after the backward", unarmed)
}

// ncclBenchResult is one rank's line of TestNCCLAllReduceTimeBase.
type ncclBenchResult struct {
	What      string `json:"what"`
	NCCL      string `json:"nccl"`
	Rank      int    `json:"rank"`
	WorldSize int    `json:"world_size"`
	Device    string `json:"device"`
	B         int    `json:"batch"`
	S         int    `json:"seq"`
	GradBytes int    `json:"grad_bytes"`
	Groups    int    `json:"groups"`
	// the embeddings' group, the backward's last: its all-reduce cannot overlap
	LastGroupBytes int     `json:"last_group_bytes"`
	StepMsPlain    float64 `json:"step_ms_plain"`      // FB + Step, no collective
	StepMsAvg      float64 `json:"step_ms_overlapped"` // Arm + FB + AverageGradients + Step
	AllReduceMs    float64 `json:"allreduce_ms"`       // AverageGradients alone, after the backward
	Share          float64 `json:"allreduce_share"`    // AllReduceMs / StepMsPlain
	ExposedMs      float64 `json:"exposed_ms"`         // StepMsAvg − StepMsPlain
	AlgBWGBs       float64 `json:"algbw_gbs"`          // GradBytes / AllReduceMs
	BusBWGBs       float64 `json:"busbw_gbs"`          // algbw · 2(n−1)/n (nccl-tests' definition)
	LastLoss       float64 `json:"last_loss"`
}

// TestNCCLAllReduceTimeBase times the gradient average at FNet-Base (seq
// 512, FNET_BENCH_BATCH, bf16) on this rank: the plain step, the step
// with the overlapped average, and the average alone after the backward,
// with its bandwidth. FNET_CUDA_BENCH=1 only (a measurement).
func TestNCCLAllReduceTimeBase(t *testing.T) {
	if os.Getenv("FNET_CUDA_BENCH") != "1" {
		t.Skip("set FNET_CUDA_BENCH=1 to time the gradient all-reduce at FNet-Base")
	}
	w := requireNCCL(t)
	c := joinForTest(t, w)
	cfg := fnet.Presets["base"]
	B, K, steps := envInt("FNET_BENCH_BATCH", 32), envInt("FNET_BENCH_MASKED", 80), envInt("FNET_BENCH_STEPS", 10)
	e, err := NewEngineWithOptions(cfg, fnet.PretrainingHeads, fnet.DefaultAdamW, 1, BF16, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	corpus := newSyntheticCorpus(3+uint64(c.Rank()), cfg.VocabSize)
	batches := make([]*fnet.Batch, 4)
	for i := range batches {
		batches[i] = corpus.batch(cfg, B, K)
	}
	groups, err := e.gradGroups()
	if err != nil {
		t.Fatal(err)
	}
	r := ncclBenchResult{What: "fnet-tui NCCL gradient average", NCCL: ncclLib.Version(), Rank: c.Rank(), WorldSize: c.Size(), Device: e.Device(),
		B: B, S: cfg.SeqLen, GradBytes: 4 * e.nTrained, Groups: len(groups), LastGroupBytes: 4 * groups[0].n}
	step := func(i int, mode string) (float64, float64) {
		b := batches[i%len(batches)]
		t0 := time.Now()
		if mode == "overlapped" {
			if _, err := e.ArmGradientAverage(c); err != nil {
				t.Fatal(err)
			}
		}
		st, err := e.ForwardBackward(b, uint64(i), 1)
		if err != nil {
			t.Fatal(err)
		}
		var avgMs float64
		if mode != "plain" {
			t1 := time.Now()
			if _, err := e.AverageGradients(c); err != nil {
				t.Fatal(err)
			}
			avgMs = time.Since(t1).Seconds() * 1e3
		}
		if _, err := e.Step(1e-4, 1); err != nil {
			t.Fatal(err)
		}
		r.LastLoss = st.PretrainLoss()
		return time.Since(t0).Seconds() * 1e3, avgMs
	}
	measure := func(mode string) (stepMs, avgMs float64) {
		var st, av []float64
		for i := 0; i < steps+3; i++ {
			s, a := step(i, mode)
			if i >= 3 {
				st, av = append(st, s), append(av, a)
			}
		}
		return median(st), median(av)
	}
	r.StepMsPlain, _ = measure("plain")
	r.StepMsAvg, _ = measure("overlapped")
	_, r.AllReduceMs = measure("after")
	r.Share = r.AllReduceMs / r.StepMsPlain
	r.ExposedMs = r.StepMsAvg - r.StepMsPlain
	r.AlgBWGBs = float64(r.GradBytes) / (r.AllReduceMs / 1e3) / 1e9
	n := float64(r.WorldSize)
	r.BusBWGBs = r.AlgBWGBs * 2 * (n - 1) / n
	j, _ := json.Marshal(r)
	fmt.Printf("RESULT_JSON %s\n", j)
	t.Logf("rank %d of %d: step %.2f ms plain, %.2f ms with the overlapped average (%+.2f ms); the average alone %.2f ms (%.1f%% of a step), %.1f GB/s algbw, %.1f GB/s busbw over %d groups of %d MB",
		r.Rank, r.WorldSize, r.StepMsPlain, r.StepMsAvg, r.ExposedMs, r.AllReduceMs, 100*r.Share, r.AlgBWGBs, r.BusBWGBs, r.Groups, r.GradBytes>>20)
}
