package tui

import (
	"math"
	"slices"
	"sort"
)

// track is every numeric value of one split's lines of a run ("train",
// "eval", "system"), column-wise: x by step and by wall-clock seconds, and
// one column per metric key, as long as the x columns (NaN where a line
// did not carry the key). Columns sharing the x columns keep a run of
// 100k lines with a dozen keys at ~10 MB.
type track struct {
	step, wall []float64
	cols       map[string][]float64
	tokens     []float64 // x by tokens seen: step × tokensPerStep, built on demand
	tokensPer  float64   // the tokens-per-step tokens was built with
}

func newTrack() *track { return &track{cols: map[string][]float64{}} }

// add appends one line.
func (t *track) add(step, wall float64, vals map[string]float64) {
	n := len(t.step)
	t.step = append(t.step, step)
	t.wall = append(t.wall, wall)
	for k, v := range vals {
		if k == "elapsed_s" { // it is the wall-clock x, not a metric
			continue
		}
		col, ok := t.cols[k]
		if !ok { // a key first seen now: NaN for the lines before
			col = make([]float64, n, max(2*n, 16))
			for i := range col {
				col[i] = math.NaN()
			}
		}
		t.cols[k] = append(col, v)
	}
	for k, col := range t.cols {
		if len(col) == n {
			t.cols[k] = append(col, math.NaN())
		}
	}
}

func (t *track) len() int { return len(t.step) }

// last is the key's latest finite value and its step.
func (t *track) last(key string) (v, step float64, ok bool) {
	col := t.cols[key]
	for i := len(col) - 1; i >= 0; i-- {
		if finite(col[i]) {
			return col[i], t.step[i], true
		}
	}
	return math.NaN(), 0, false
}

// xAxis is what a chart's x measures.
type xAxis int

const (
	xStep   xAxis = iota
	xTokens       // tokens seen: step × the run's tokens per step
	xTime         // wall-clock seconds since the run's first metric
	numXAxes
)

var xAxisNames = [numXAxes]string{"step", "tokens", "time"}

// xs is the track's x column for an axis; tokensPerStep is the run's.
func (t *track) xs(axis xAxis, tokensPerStep float64) []float64 {
	switch axis {
	case xTime:
		return t.wall
	case xTokens:
		if !finite(tokensPerStep) || tokensPerStep <= 0 {
			return nil
		}
		if t.tokensPer != tokensPerStep {
			t.tokens, t.tokensPer = t.tokens[:0:0], tokensPerStep
		}
		for i := len(t.tokens); i < len(t.step); i++ {
			t.tokens = append(t.tokens, t.step[i]*tokensPerStep)
		}
		return t.tokens
	}
	return t.step
}

// curve is a column's smoothed copy, extended as lines arrive and rebuilt
// when the weight changes, and the downsampling caches of its raw and
// smoothed forms by x axis.
type curve struct {
	weight float64
	ema    ema
	ys     []float64
	gen    uint64 // bumped whenever ys is rebuilt, so caches of the old one miss
	cache  [numXAxes][2]sampleCache
}

// smoothed is raw smoothed with weight w (0: raw itself).
func (c *curve) smoothed(raw []float64, w float64) []float64 {
	if w == 0 {
		return raw
	}
	if c.weight != w || len(c.ys) > len(raw) || c.ys == nil {
		c.weight, c.ema, c.gen = w, ema{weight: w}, c.gen+1
		c.ys = make([]float64, 0, cap(raw))
	}
	for i := len(c.ys); i < len(raw); i++ {
		c.ys = append(c.ys, c.ema.push(raw[i]))
	}
	return c.ys
}

// curveKey names a column of a run.
type curveKey struct{ split, key string }

// metricOrder puts the usual metrics first in pickers and grids.
var metricOrder = []string{"loss", "mlm_acc", "nsp_acc", "accuracy", "f1", "mcc", "corr", "pearson", "spearman",
	"f1_acc_mean", "mlm_loss", "nsp_loss", "lr", "grad_norm", "tokens_per_s", "examples_per_s", "step_ms",
	"data_wait", "gpu_util", "gpu_mem_gib", "cpu_util", "rss_gib"}

// sortMetrics orders metric keys: the usual ones first, the rest by name.
func sortMetrics(keys []string) []string {
	rank := func(k string) int {
		if i := slices.Index(metricOrder, k); i >= 0 {
			return i
		}
		return len(metricOrder)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return keys
}
