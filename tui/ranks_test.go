package tui

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

func TestRanksOf(t *testing.T) {
	sys := rundir.Metric{Split: "system", Values: map[string]float64{
		"gpu_util": 0.9, "gpu_mem_gib": 31,
		"gpu_util_r1": 0.8, "gpu_mem_gib_r1": 30, "gpu_util_r0": 1, "gpu_mem_gib_r0": 31,
		"gpu_util_r10": 0.7,                                     // rank 10 reports no memory
		"gpu_util_rx":  5, "gpu_util_r01": 5, "gpu_util_r-1": 5, // not rank numbers
	}}
	got := ranksOf(sys)
	if len(got) != 3 || got[0].Rank != 0 || got[1].Rank != 1 || got[2].Rank != 10 {
		t.Fatalf("ranks %+v", got)
	}
	if got[0].Util != 1 || got[0].MemGiB != 31 || got[1].Util != 0.8 || got[1].MemGiB != 30 || got[2].Util != 0.7 || !math.IsNaN(got[2].MemGiB) {
		t.Errorf("values %+v", got)
	}
	if r := ranksOf(rundir.Metric{Values: map[string]float64{"gpu_util": 0.9}}); len(r) != 0 {
		t.Errorf("one process: %+v", r)
	}
}

func TestWorldSize(t *testing.T) {
	two := rundir.Metric{Values: map[string]float64{"gpu_util_r0": 1, "gpu_util_r1": 1}}
	for _, c := range []struct {
		st   rundir.Status
		sys  rundir.Metric
		want int
	}{
		{rundir.Status{}, rundir.Metric{}, 1},
		{rundir.Status{WorldSize: 8}, rundir.Metric{}, 8},
		{rundir.Status{WorldSize: 8}, two, 8}, // the status is the authority
		{rundir.Status{}, two, 2},             // a run from before the status field
		{rundir.Status{WorldSize: 1}, rundir.Metric{}, 1},
	} {
		if got := worldSize(c.st, c.sys); got != c.want {
			t.Errorf("worldSize(%+v, %v) = %d, want %d", c.st, c.sys.Values, got, c.want)
		}
	}
}

func TestWithWorld(t *testing.T) {
	for _, c := range []struct {
		dev   string
		world int
		want  string
	}{
		{"cuda:0 (NVIDIA H100 80GB HBM3)", 1, "cuda:0 (NVIDIA H100 80GB HBM3)"},
		{"cuda:0 (NVIDIA H100 80GB HBM3)", 8, "cuda:0 ×8 (NVIDIA H100 80GB HBM3)"},
		{"cuda:0", 2, "cuda:0 ×2"},
		{"", 4, "4 ranks"},
		{"", 1, ""},
	} {
		got := withWorld(c.dev, c.world)
		if got != c.want {
			t.Errorf("withWorld(%q, %d) = %q, want %q", c.dev, c.world, got, c.want)
		}
		if c.world > 1 && c.dev != "" && !strings.Contains(shortDevice(got), "×") {
			t.Errorf("shortening %q loses the world size", got)
		}
	}
}

func TestUtilSpread(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		rs   []rankGPU
		want string
	}{
		{[]rankGPU{{0, 0.95, 31.2}, {1, 0.88, 30.1}}, "88–95%"},
		{[]rankGPU{{0, 0.9, nan}, {1, 0.904, nan}}, "90%"},
		{[]rankGPU{{0, nan, 12}, {1, 0.5, 14}}, "50%"},
		{[]rankGPU{{0, nan, nan}}, "-"},
	} {
		if got := utilSpread(c.rs); got != c.want {
			t.Errorf("utilSpread(%v) = %q, want %q", c.rs, got, c.want)
		}
	}
}

// dataParallelFixture is one finished 4-rank GPU run.
func dataParallelFixture(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "runs")
	writeFixtureRun(t, root, fixtureSpec{id: "pretrain-base-dp-20250601-100000", kind: "pretrain", state: "done",
		steps: 300, total: 300, evalEvery: 100, ckptEvery: 100, gpu: true, ranks: 4,
		start: fixtureNow.Add(-time.Hour), stepTime: time.Second, seed: 4})
	return root
}

func TestDataParallelRunInTheListing(t *testing.T) {
	root := dataParallelFixture(t)
	rows, err := ScanRunRows(root, fixtureNow)
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	if rows[0].WorldSize != 4 {
		t.Errorf("world size %d", rows[0].WorldSize)
	}
	var out bytes.Buffer
	if err := WriteRunsTable(&out, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cuda:0 ×4 (NVIDIA H100") {
		t.Errorf("fnet-tui runs:\n%s", out.String())
	}
	b, _ := json.Marshal(rows)
	if !strings.Contains(string(b), `"world_size":4`) {
		t.Errorf("fnet-tui runs --json: %s", b)
	}
}

func TestDataParallelRunView(t *testing.T) {
	root := dataParallelFixture(t)
	m := newTestModel(t, root, 160, 48)
	if s := screen(m); !strings.Contains(s, "cuda:0 ×4") {
		t.Errorf("runs table lacks the world size:\n%s", s)
	}
	press(m, "enter")
	s := screen(m)
	// 160x48: every rank has its line, after the mean and the largest.
	for _, want := range []string{"cuda:0 ×4", "GPU util", "mean", "GiB max", "rank 0", "95%", "rank 3", "86%", "30.9 GiB"} {
		if !strings.Contains(s, want) {
			t.Errorf("160x48 run view lacks %q:\n%s", want, s)
		}
	}
	// 80x24: no room for four rank lines: the spread instead, and the
	// optimizer's lines still fit.
	m = newTestModel(t, root, 80, 24)
	press(m, "enter")
	s = screen(m)
	if strings.Contains(s, "rank 3") || !strings.Contains(s, "rank util") || !strings.Contains(s, "86–95%") || !strings.Contains(s, "grad norm") {
		t.Errorf("80x24 run view should show the spread, not each rank:\n%s", s)
	}
}
