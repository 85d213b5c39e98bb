package tui

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// fixtureSpec describes a recorded run directory the tests write: metrics
// as a trainer logs them (train lines every step, eval lines, system
// lines), status.json, train.log and checkpoint folders.
type fixtureSpec struct {
	id        string
	kind      string // pretrain | finetune
	task      string
	state     string
	live      bool // pid = this test process, so Live() holds
	steps     int  // train lines written
	total     int
	evalEvery int
	ckptEvery int
	gpu       bool
	ranks     int // > 1: a data-parallel run of that many ranks (with gpu)
	start     time.Time
	stepTime  time.Duration
	seed      int64
	errText   string
	pid       int // with live: the process the status names (default this one)
}

// writeFixtureRun writes the run and returns its directory.
func writeFixtureRun(tb testing.TB, root string, f fixtureSpec) string {
	tb.Helper()
	dir := filepath.Join(root, f.id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(f.seed))
	var metrics, log strings.Builder
	enc := func(m rundir.Metric) {
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		metrics.Write(b)
		metrics.WriteByte('\n')
	}
	fmt.Fprintf(&log, "%s starting %s run %s\n", f.start.Format(time.RFC3339), f.kind, f.id)
	t := f.start
	device := "cpu"
	if f.gpu {
		device = "cuda:0 (NVIDIA H100 80GB HBM3)"
	}
	for step := 1; step <= f.steps; step++ {
		t = f.start.Add(time.Duration(step) * f.stepTime)
		loss := 2.2 + 8*math.Exp(-float64(step)/float64(max(f.total/6, 1))) + 0.25*rng.NormFloat64()
		lr := 1e-4 * math.Min(1, float64(step)/float64(max(f.total/10, 1))) * (1 - float64(step)/float64(f.total+1))
		enc(rundir.Metric{T: t, Step: step, Split: "train", Values: map[string]float64{
			"loss": loss, "mlm_loss": loss * 0.9, "nsp_loss": loss * 0.1,
			"mlm_acc": 0.6 * (1 - math.Exp(-float64(step)/400)), "nsp_acc": 0.5 + 0.3*(1-math.Exp(-float64(step)/300)),
			"lr": lr, "grad_norm": 1 + rng.Float64(),
			"tokens_per_s": 12000 + 500*rng.NormFloat64(), "examples_per_s": 94 + 3*rng.NormFloat64(),
			"step_ms": 170 + 5*rng.NormFloat64(), "data_wait": 0.02 + 0.005*rng.Float64(),
			"elapsed_s": t.Sub(f.start).Seconds(),
		}})
		if f.evalEvery > 0 && step%f.evalEvery == 0 {
			vals := map[string]float64{"loss": loss + 0.1}
			if f.kind == "finetune" {
				vals = map[string]float64{"loss": loss + 0.1, "accuracy": 0.5 + 0.4*float64(step)/float64(f.total)}
			} else {
				vals["mlm_acc"] = 0.55 * float64(step) / float64(f.total)
				vals["nsp_acc"] = 0.5 + 0.3*float64(step)/float64(f.total)
			}
			enc(rundir.Metric{T: t, Step: step, Split: "eval", Task: f.task, Values: vals})
			fmt.Fprintf(&log, "step %d eval loss %.3f\n", step, loss+0.1)
		}
		if step%50 == 0 {
			sys := map[string]float64{"cpu_util": 1.9, "rss_gib": 2.1}
			if f.gpu {
				sys["gpu_util"], sys["gpu_mem_gib"] = 0.93, 31.2
			}
			if f.gpu && f.ranks > 1 { // as rank 0 logs them: each rank, the mean and the largest
				var sum float64
				for k := range f.ranks {
					u := 0.95 - 0.03*float64(k)
					sys[fmt.Sprintf("gpu_util_r%d", k)] = u
					sys[fmt.Sprintf("gpu_mem_gib_r%d", k)] = 31.2 - 0.1*float64(k)
					sum += u
				}
				sys["gpu_util"] = sum / float64(f.ranks)
			}
			enc(rundir.Metric{T: t, Step: step, Split: "system", Values: sys})
		}
		if f.ckptEvery > 0 && step%f.ckptEvery == 0 {
			ck := filepath.Join(dir, rundir.CheckpointsDir, fmt.Sprintf("step-%09d", step))
			if err := os.MkdirAll(ck, 0o755); err != nil {
				tb.Fatal(err)
			}
			os.WriteFile(filepath.Join(ck, "trainer.json"), []byte(fmt.Sprintf(`{"step":%d}`, step)), 0o644)
			link := filepath.Join(dir, rundir.CheckpointsDir, rundir.LatestLink)
			os.Remove(link)
			if err := os.Symlink(filepath.Base(ck), link); err != nil {
				tb.Fatal(err)
			}
			fmt.Fprintf(&log, "step %d saved checkpoint %s\n", step, filepath.Base(ck))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.MetricsFile), []byte(metrics.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rundir.LogFile), []byte(log.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	host, _ := os.Hostname()
	st := rundir.Status{
		State: f.state, Kind: f.kind, Task: f.task, Config: "configs/" + f.kind + ".toml",
		Host: host, Device: device, Step: f.steps, TotalSteps: f.total,
		StartedAt: f.start, UpdatedAt: t, Error: f.errText,
	}
	if f.ranks > 1 {
		st.WorldSize = f.ranks
	}
	if f.live {
		st.PID = os.Getpid()
		if f.pid != 0 {
			st.PID = f.pid
		}
	} else {
		st.PID = 1 << 22 // no such process
		end := t
		st.EndedAt = &end
	}
	if err := rundir.WriteStatus(dir, st); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// fixtureNow is the clock of golden tests: shortly after the fixtures' runs.
var fixtureNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// standardFixtures writes a mix of runs: one live pretraining run, a
// finished one, a failed finetune and one on a GPU.
func standardFixtures(tb testing.TB) string {
	root := filepath.Join(tb.TempDir(), "runs")
	base := fixtureNow.Add(-2 * time.Hour)
	writeFixtureRun(tb, root, fixtureSpec{id: "pretrain-pretrain-mini-20250601-100000", kind: "pretrain",
		state: rundir.StateDone, steps: 600, total: 600, evalEvery: 100, ckptEvery: 200,
		start: base, stepTime: 2 * time.Second, seed: 1})
	writeFixtureRun(tb, root, fixtureSpec{id: "pretrain-pretrain-small-20250601-113000", kind: "pretrain",
		state: rundir.StateRunning, live: true, steps: 900, total: 3000, evalEvery: 150, ckptEvery: 300,
		start: base.Add(90 * time.Minute), stepTime: time.Second, seed: 2})
	writeFixtureRun(tb, root, fixtureSpec{id: "finetune-glue-sst2-20250601-101500", kind: "finetune", task: "sst2",
		state: rundir.StateFailed, steps: 120, total: 400, evalEvery: 40, start: base.Add(15 * time.Minute),
		stepTime: 3 * time.Second, seed: 3, errText: "loss became NaN at step 121"})
	writeFixtureRun(tb, root, fixtureSpec{id: "pretrain-pretrain-base-20250601-110000", kind: "pretrain",
		state: rundir.StateStopped, gpu: true, steps: 400, total: 10000, evalEvery: 200, ckptEvery: 200,
		start: base.Add(time.Hour), stepTime: time.Second, seed: 4})
	return root
}
