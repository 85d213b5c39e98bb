package tui

import (
	"math"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// ema is TensorBoard's debiased exponential moving average, fed one value
// at a time so a growing series is smoothed incrementally:
//
//	last = last*w + (1-w)*y;  n++;  smoothed = last / (1 - w^n)
//
// Dividing by 1 - w^n removes the pull towards the zero start value, so the
// first points are not dragged down. Non-finite values pass through
// unsmoothed and do not disturb the average.
type ema struct {
	weight float64
	last   float64
	pow    float64 // weight^n, kept as a running product instead of math.Pow
	n      int
}

func (e *ema) push(y float64) float64 {
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return y
	}
	if e.n == 0 {
		e.pow = 1
	}
	e.last = e.last*e.weight + (1-e.weight)*y
	e.n++
	e.pow *= e.weight
	debias := 1.0
	if e.weight != 1 {
		debias = 1 - e.pow
	}
	return e.last / debias
}

// SmoothEMA returns ys smoothed with weight w in [0, 1): 0 is the raw
// series, 0.99 very smooth.
func SmoothEMA(ys []float64, w float64) []float64 {
	out := make([]float64, len(ys))
	e := ema{weight: w}
	for i, y := range ys {
		out[i] = e.push(y)
	}
	return out
}

// progressPoint is a step reached at a moment, for rate and ETA estimates.
type progressPoint struct {
	Step int
	T    time.Time
}

// StepRate is steps per second between the first and last points of a
// window; ok is false when the window spans no time or no steps.
func StepRate(window []progressPoint) (rate float64, ok bool) {
	if len(window) < 2 {
		return 0, false
	}
	a, b := window[0], window[len(window)-1]
	dt := b.T.Sub(a.T).Seconds()
	ds := float64(b.Step - a.Step)
	if dt <= 0 || ds <= 0 {
		return 0, false
	}
	return ds / dt, true
}

// ETA is the time left to reach total at the window's recent step rate.
// ok is false when it cannot be told (no total, no progress yet); a run at
// or past its total has zero left.
func ETA(window []progressPoint, step, total int) (time.Duration, bool) {
	if total <= 0 {
		return 0, false
	}
	if step >= total {
		return 0, true
	}
	rate, ok := StepRate(window)
	if !ok {
		return 0, false
	}
	secs := float64(total-step) / rate
	if secs > 1e9 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// Throughput summarises recent training speed. Each field is the mean of
// the values reported on the window's train lines (NaN when none had it).
type Throughput struct {
	TokensPerS   float64
	ExamplesPerS float64
	StepMs       float64
	DataWait     float64 // share of step time spent waiting for data, 0..1
}

// ThroughputOf averages the speed fields of the given train metrics.
func ThroughputOf(window []rundir.Metric) Throughput {
	return Throughput{
		TokensPerS:   meanField(window, "tokens_per_s"),
		ExamplesPerS: meanField(window, "examples_per_s"),
		StepMs:       meanField(window, "step_ms"),
		DataWait:     meanField(window, "data_wait"),
	}
}

func meanField(ms []rundir.Metric, key string) float64 {
	sum, n := 0.0, 0
	for _, m := range ms {
		if v, ok := m.Values[key]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// point is one (x, y) chart sample.
type point struct{ X, Y float64 }

// Downsample reduces a series to at most two points per bucket of x
// (its minimum and maximum, in the order they occur), so a 100k-point
// series drawn on a 160-dot-wide chart keeps every spike but costs 320
// segments. xs must be non-decreasing; points outside [x0, x1] and
// non-finite values are dropped.
func Downsample(xs, ys []float64, x0, x1 float64, buckets int) []point {
	n := min(len(xs), len(ys))
	if n == 0 || buckets <= 0 {
		return nil
	}
	if n <= 2*buckets {
		out := make([]point, 0, n)
		for i := range n {
			if finite(ys[i]) && xs[i] >= x0 && xs[i] <= x1 {
				out = append(out, point{xs[i], ys[i]})
			}
		}
		return out
	}
	span := x1 - x0
	out := make([]point, 0, 2*buckets+2)
	cur, lo, hi := -1, -1, -1
	flush := func() {
		if lo < 0 {
			return
		}
		a, b := lo, hi
		if a > b {
			a, b = b, a
		}
		out = append(out, point{xs[a], ys[a]})
		if b != a {
			out = append(out, point{xs[b], ys[b]})
		}
	}
	for i := range n {
		x, y := xs[i], ys[i]
		if !finite(y) || x < x0 || x > x1 {
			continue
		}
		b := 0
		if span > 0 {
			b = min(int((x-x0)/span*float64(buckets)), buckets-1)
		}
		if b != cur {
			flush()
			cur, lo, hi = b, i, i
			continue
		}
		if y < ys[lo] {
			lo = i
		}
		if y > ys[hi] {
			hi = i
		}
	}
	flush()
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
