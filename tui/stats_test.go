package tui

import (
	"math"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func TestSmoothEMA(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		ys   []float64
		w    float64
		want []float64
	}{
		{"weight 0 is the raw series", []float64{3, 1, 4, 1}, 0, []float64{3, 1, 4, 1}},
		// Debiasing: the first smoothed value is the first value, not w*0 + (1-w)*y.
		{"debiased start", []float64{10, 10, 10}, 0.9, []float64{10, 10, 10}},
		// By hand: last=0.5*0+0.5*2=1 -> 1/(1-.5)=2; last=.5*1+.5*4=2.5 -> 2.5/.75=3.3333;
		// last=.5*2.5+.5*0=1.25 -> 1.25/.875=1.428571.
		{"hand computed", []float64{2, 4, 0}, 0.5, []float64{2, 10.0 / 3, 1.25 / 0.875}},
		{"non-finite passes through", []float64{2, nan, 4}, 0.5, []float64{2, nan, 10.0 / 3}},
		{"empty", nil, 0.6, []float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := SmoothEMA(tc.ys, tc.w)
			if len(got) != len(tc.want) {
				t.Fatalf("len %d, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !near(got[i], tc.want[i], 1e-12) {
					t.Errorf("[%d] = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// The incremental smoother of a curve must match smoothing the whole
// column at once, including after a weight change and as lines arrive.
func TestCurveSmoothingIncrementalMatchesBatch(t *testing.T) {
	var c curve
	ys := []float64{5, 4, 4.5, 3, 2.5, 2.7, 2}
	got := c.smoothed(ys[:3], 0.6)
	got = c.smoothed(ys, 0.6)
	want := SmoothEMA(ys, 0.6)
	for i := range ys {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("incremental[%d]=%v batch=%v", i, got[i], want[i])
		}
	}
	gen := c.gen
	ys = append(ys, 1.5)
	got = c.smoothed(ys, 0.95)
	want = SmoothEMA(ys, 0.95)
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("after a weight change [%d]=%v want %v", i, got[i], want[i])
		}
	}
	if c.gen == gen {
		t.Error("a weight change must start a new generation (the downsampling caches key on it)")
	}
	if raw := c.smoothed(ys, 0); &raw[0] != &ys[0] {
		t.Error("weight 0 is the raw column itself")
	}
}

func TestETA(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pts := func(steps ...int) []progressPoint {
		out := make([]progressPoint, len(steps))
		for i, s := range steps {
			out[i] = progressPoint{Step: s, T: t0.Add(time.Duration(i) * 10 * time.Second)}
		}
		return out
	}
	cases := []struct {
		name   string
		window []progressPoint
		step   int
		total  int
		want   time.Duration
		ok     bool
	}{
		{"steady 1 step/s", pts(100, 110, 120), 120, 1120, 1000 * time.Second, true},
		{"rate from the window's ends", pts(0, 50, 100), 100, 300, 40 * time.Second, true},
		{"done", pts(10, 20), 300, 300, 0, true},
		{"no total", pts(10, 20), 20, 0, 0, false},
		{"one point", pts(10), 10, 100, 0, false},
		{"no progress", pts(10, 10, 10), 10, 100, 0, false},
		{"same instant", []progressPoint{{10, t0}, {20, t0}}, 20, 100, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ETA(tc.window, tc.step, tc.total)
			if ok != tc.ok || got != tc.want {
				t.Errorf("ETA = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestThroughputOf(t *testing.T) {
	m := func(v map[string]float64) rundir.Metric { return rundir.Metric{Split: "train", Values: v} }
	cases := []struct {
		name   string
		window []rundir.Metric
		want   Throughput
	}{
		{"means", []rundir.Metric{
			m(map[string]float64{"tokens_per_s": 1000, "examples_per_s": 10, "step_ms": 100, "data_wait": 0.1}),
			m(map[string]float64{"tokens_per_s": 3000, "examples_per_s": 30, "step_ms": 300, "data_wait": 0.3}),
		}, Throughput{2000, 20, 200, 0.2}},
		{"missing and null fields are skipped", []rundir.Metric{
			m(map[string]float64{"tokens_per_s": 1000, "step_ms": math.NaN()}),
			m(map[string]float64{"tokens_per_s": 2000, "step_ms": 50}),
		}, Throughput{1500, math.NaN(), 50, math.NaN()}},
		{"empty window", nil, Throughput{math.NaN(), math.NaN(), math.NaN(), math.NaN()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ThroughputOf(tc.window)
			if !near(got.TokensPerS, tc.want.TokensPerS, 1e-12) || !near(got.ExamplesPerS, tc.want.ExamplesPerS, 1e-12) ||
				!near(got.StepMs, tc.want.StepMs, 1e-12) || !near(got.DataWait, tc.want.DataWait, 1e-12) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDownsampleKeepsExtremesInOrder(t *testing.T) {
	n := 10000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i] = float64(i)
		ys[i] = math.Sin(float64(i) / 50)
	}
	ys[4321] = 9  // a spike
	ys[7000] = -9 // a dip
	ys[8000] = math.NaN()
	pts := Downsample(xs, ys, 0, float64(n-1), 100)
	if len(pts) > 200 {
		t.Fatalf("%d points for 100 buckets", len(pts))
	}
	var sawSpike, sawDip bool
	for i, p := range pts {
		if i > 0 && p.X < pts[i-1].X {
			t.Fatalf("x goes back at %d: %v after %v", i, p.X, pts[i-1].X)
		}
		if math.IsNaN(p.Y) {
			t.Fatal("NaN kept")
		}
		sawSpike = sawSpike || (p.X == 4321 && p.Y == 9)
		sawDip = sawDip || (p.X == 7000 && p.Y == -9)
	}
	if !sawSpike || !sawDip {
		t.Errorf("extremes lost: spike %v dip %v", sawSpike, sawDip)
	}
}

func TestDownsampleSmallAndRange(t *testing.T) {
	cases := []struct {
		name   string
		xs, ys []float64
		x0, x1 float64
		want   []point
	}{
		{"few points pass through", []float64{1, 2, 3}, []float64{5, 6, 7}, 0, 10, []point{{1, 5}, {2, 6}, {3, 7}}},
		{"outside the range dropped", []float64{1, 2, 3}, []float64{5, 6, 7}, 2, 3, []point{{2, 6}, {3, 7}}},
		{"empty", nil, nil, 0, 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Downsample(tc.xs, tc.ys, tc.x0, tc.x1, 10)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{fmtDuration(42 * time.Second), "42s"},
		{fmtDuration(192 * time.Second), "3m12s"},
		{fmtDuration(3840 * time.Second), "1h04m"},
		{fmtDuration(50 * time.Hour), "2d02h"},
		{fmtSI(950), "950"},
		{fmtSI(12345), "12.3k"},
		{fmtSI(1.2e6), "1.20M"},
		{fmtSI(math.NaN()), "-"},
		{fmtFloat(3.21), "3.21"},
		{fmtFloat(1e-4), "1.00e-04"},
		{fmtPercent(0.02), "2%"},
		{progressBar(0, 4), "░░░░"},
		{progressBar(0.5, 4), "██░░"},
		{progressBar(1, 4), "████"},
		{progressBar(0.5625, 4), "██▎░"},
		{progressBar(2, 3), "███"},
		{truncate("abcdef", 4), "abc…"},
		{truncMiddle("pretrain-mini-20250601-100000", 15), "pretrai…-100000"},
	}
	for i, c := range cases {
		if c.got != c.want {
			t.Errorf("case %d: got %q, want %q", i, c.got, c.want)
		}
	}
}
