package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/cuda"
	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestNCCLTrainerMatchesOneProcess is issue 17's GPU check of the trainer
// (scripts/gpu/nccl.sh): this process is one rank of the launcher's world
// (torchrun's variables; none: a world of one), finetuning the synthetic
// STS-B on the CUDA engine with the NCCL Collective (the device gradient
// average, overlapped with the backward), and rank 0 then trains the same
// config as one process without any Collective and compares: at world
// size 1 the losses and gradient norms must be equal (ncclAvg over one
// rank is the identity), at size N those of one process with the same
// global batch to float32 reassociation (1e-4 relative: the ranks' batch
// reductions run over N times fewer rows). FNET_NCCL_RUNS is the runs
// directory every rank shares (default: a temporary one, for a world of one).
func TestNCCLTrainerMatchesOneProcess(t *testing.T) {
	if err := cuda.Available(); err != nil {
		t.Skipf("no GPU: %v", err)
	}
	if info := cuda.ProbeNCCL(); info.Err != nil {
		t.Skipf("no usable NCCL: %v", info.Err)
	}
	w, err := dist.FromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	runs := os.Getenv("FNET_NCCL_RUNS")
	if runs == "" {
		if !w.IsSingle() {
			t.Fatal("FNET_NCCL_RUNS must name the runs directory every rank shares")
		}
		runs = t.TempDir()
	}
	dir := t.TempDir() // this rank's copy of the data (the same on every rank)
	gd, vocab := synthSTSB(t, dir, 48, 16, false)
	cfg := synthFinetuneConfig(t, dir, gd, vocab, "nccl",
		"train.device = \"cuda\"\ntrain.precision = \"fp32\"\ntrain.grad_accum = 2\ntrain.threads = 0\neval.every = 6")
	c, err := cuda.JoinNCCL(context.Background(), w, "train-test/"+os.Getenv("FNET_NCCL_TAG"), dist.Options{Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	name := "nccl-" + os.Getenv("FNET_NCCL_TAG")
	two, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunsDir: runs, RunName: name + "-dp", Collective: c}, "")
	if cerr := c.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil {
		t.Fatalf("rank %d of %d: %v", w.Rank, w.Size, err)
	}
	if w.Rank != 0 {
		return
	}
	one, err := Finetune(context.Background(), Options{ConfigPath: cfg, RunsDir: runs, RunName: name + "-one"}, "")
	if err != nil {
		t.Fatal(err)
	}
	// world size 1: equal but for the CUDA engine's own run-to-run
	// differences (its embedding-gradient scatter adds with atomics)
	tol := 1e-4
	if w.IsSingle() {
		tol = 1e-6
	}
	a, b := metricsBySplit(t, one, "train"), metricsBySplit(t, two, "train")
	if len(a) != 12 || len(b) != 12 {
		t.Fatalf("%d and %d train lines", len(a), len(b))
	}
	worst := 0.0
	for step := 1; step <= 12; step++ {
		for _, k := range []string{"loss", "grad_norm"} {
			d := math.Abs(a[step][k]-b[step][k]) / math.Abs(a[step][k])
			worst = math.Max(worst, d)
			if d > tol {
				t.Errorf("step %d %s: one process %v, %d ranks over NCCL %v", step, k, a[step][k], w.Size, b[step][k])
			}
		}
	}
	t.Logf("NCCL_TRAINER world_size %d: worst relative difference of loss and grad_norm over 12 steps %.3g (bound %g); first loss %.6f, last %.6f",
		w.Size, worst, tol, b[1]["loss"], b[12]["loss"])
	if a[1]["loss"] == a[12]["loss"] {
		t.Fatalf("the loss did not move: %v", a[1]["loss"])
	}
	wantWorld := 0 // omitted for one rank
	if w.Size > 1 {
		wantWorld = w.Size
	}
	if st, _ := rundir.ReadStatus(two); st.State != rundir.StateDone || st.WorldSize != wantWorld {
		t.Errorf("the NCCL run's status: %+v", st)
	}
	if w.Size > 1 {
		if _, err := os.Stat(filepath.Join(two, rundir.RanksDir, "1.log")); err != nil {
			t.Errorf("rank 1's log: %v", err)
		}
	}
	sys := metricsBySplit(t, two, "system")
	for k := range w.Size {
		found := false
		for _, v := range sys {
			_, found = v[fmt.Sprintf("gpu_util_r%d", k)]
			if found {
				break
			}
		}
		if w.Size > 1 && !found {
			t.Errorf("no gpu_util_r%d in rank 0's system lines: %v", k, sys)
		}
	}
}
