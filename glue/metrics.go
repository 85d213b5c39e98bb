package glue

import (
	"fmt"
	"math"
	"sort"
)

// The metric functions follow the GLUE leaderboard's implementations
// (scikit-learn and SciPy): no smoothing terms, and a score of 0 where the
// formula divides by zero (scikit-learn's convention for MCC and F1; SciPy
// would return NaN for a correlation with a constant input, which has no
// JSON form and would poison best-checkpoint selection). They panic when
// the two slices differ in length; Score checks that first. Empty inputs
// score 0.

// Accuracy is the fraction of predictions equal to the gold labels.
func Accuracy(pred, gold []int) float64 {
	checkLens("Accuracy", len(pred), len(gold))
	if len(gold) == 0 {
		return 0
	}
	right := 0
	for i := range gold {
		if pred[i] == gold[i] {
			right++
		}
	}
	return float64(right) / float64(len(gold))
}

// F1 is the F1 score of the positive class (label 1): 2tp / (2tp + fp + fn).
func F1(pred, gold []int) float64 {
	checkLens("F1", len(pred), len(gold))
	var tp, fp, fn int
	for i := range gold {
		p, g := pred[i] == 1, gold[i] == 1
		switch {
		case p && g:
			tp++
		case p:
			fp++
		case g:
			fn++
		}
	}
	if d := 2*tp + fp + fn; d > 0 {
		return float64(2*tp) / float64(d)
	}
	return 0
}

// MatthewsCorr is the Matthews correlation coefficient. For more than two
// classes it is Gorodkin's R_K generalisation (scikit-learn's
// matthews_corrcoef), which the GLUE diagnostic reports as R3:
//
//	(c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))
//
// with s examples, c correct, p_k predicted and t_k true counts of class k.
func MatthewsCorr(pred, gold []int) float64 {
	checkLens("MatthewsCorr", len(pred), len(gold))
	predN, goldN := map[int]float64{}, map[int]float64{}
	var correct float64
	for i := range gold {
		predN[pred[i]]++
		goldN[gold[i]]++
		if pred[i] == gold[i] {
			correct++
		}
	}
	s := float64(len(gold))
	var pt, pp, tt float64
	for k, p := range predN {
		pt += p * goldN[k]
		pp += p * p
	}
	for _, t := range goldN {
		tt += t * t
	}
	den := math.Sqrt((s*s - pp) * (s*s - tt))
	if den == 0 {
		return 0
	}
	return (correct*s - pt) / den
}

// Pearson is the Pearson correlation coefficient of x and y, clipped to
// [-1, 1] as SciPy does; 0 when either input is constant.
func Pearson(x, y []float64) float64 {
	checkLens("Pearson", len(x), len(y))
	n := float64(len(x))
	if len(x) < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy)))
}

// Spearman is Spearman's rank correlation: the Pearson correlation of the
// ranks, where tied values share the average of the ranks they span.
func Spearman(x, y []float64) float64 {
	checkLens("Spearman", len(x), len(y))
	return Pearson(ranks(x), ranks(y))
}

// ranks gives 1-based ranks with ties averaged (SciPy's rankdata "average").
func ranks(x []float64) []float64 {
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return x[order[a]] < x[order[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(order); {
		j := i + 1
		for j < len(order) && x[order[j]] == x[order[i]] {
			j++
		}
		avg := float64(i+1+j) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			r[order[k]] = avg
		}
		i = j
	}
	return r
}

func checkLens(fn string, a, b int) {
	if a != b {
		panic(fmt.Sprintf("glue.%s: %d predictions for %d gold values", fn, a, b))
	}
}
