package glue

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestAccuracyF1(t *testing.T) {
	// tp=2 (0,1), fp=1 (2), fn=1 (3), tn=2 (4,5).
	pred := []int{1, 1, 1, 0, 0, 0}
	gold := []int{1, 1, 0, 1, 0, 0}
	if got := Accuracy(pred, gold); !near(got, 4.0/6) {
		t.Errorf("Accuracy = %v, want 4/6", got)
	}
	if got := F1(pred, gold); !near(got, 4.0/6) { // 2tp/(2tp+fp+fn) = 4/6
		t.Errorf("F1 = %v, want 4/6", got)
	}
	// F1 is about class 1 only: swapping which class is "positive" changes it.
	if got := F1([]int{0, 0, 1}, []int{0, 1, 1}); !near(got, 2.0/3) { // tp=1 fn=1 → 2/3
		t.Errorf("F1 = %v, want 2/3", got)
	}
	// Degenerate: no positive predicted or true → 0, not NaN.
	if got := F1([]int{0, 0}, []int{0, 0}); got != 0 {
		t.Errorf("F1 without positives = %v, want 0", got)
	}
	if got := Accuracy(nil, nil); got != 0 {
		t.Errorf("Accuracy(empty) = %v", got)
	}
}

func TestMatthewsCorr(t *testing.T) {
	// tp=2 fp=1 fn=1 tn=2: (2·2 − 1·1)/sqrt(3·3·3·3) = 3/9.
	pred := []int{1, 1, 1, 0, 0, 0}
	gold := []int{1, 1, 0, 1, 0, 0}
	if got := MatthewsCorr(pred, gold); !near(got, 1.0/3) {
		t.Errorf("MCC = %v, want 1/3", got)
	}
	if got := MatthewsCorr(gold, gold); !near(got, 1) {
		t.Errorf("MCC(perfect) = %v", got)
	}
	inv := []int{0, 0, 1, 0, 1, 1}
	if got := MatthewsCorr(inv, gold); !near(got, -1) {
		t.Errorf("MCC(inverted) = %v", got)
	}
	// Constant predictions: zero denominator → 0 (scikit-learn's value).
	if got := MatthewsCorr([]int{1, 1, 1, 1}, []int{1, 0, 1, 0}); got != 0 {
		t.Errorf("MCC(constant) = %v, want 0", got)
	}
	// Three classes (R3): s=6, c=3, p=(2,2,2), t=(2,2,2):
	// (3·6 − 12) / sqrt((36−12)(36−12)) = 6/24.
	p3 := []int{0, 0, 1, 1, 2, 2}
	if got := MatthewsCorr(p3, p3); !near(got, 1) {
		t.Errorf("R3(perfect) = %v", got)
	}
	if got := MatthewsCorr(p3, []int{0, 1, 1, 2, 2, 0}); !near(got, 0.25) {
		t.Errorf("R3 = %v, want 0.25", got)
	}
	// Unequal class counts, one class never true: s=5, c=3, p=(3,1,1),
	// t=(2,3,0): (15 − 9) / sqrt((25 − 11)(25 − 13)) = 6/sqrt(168).
	if got := MatthewsCorr([]int{0, 0, 0, 1, 2}, []int{0, 1, 0, 1, 1}); !near(got, 6/math.Sqrt(168)) {
		t.Errorf("R3 = %v, want %v", got, 6/math.Sqrt(168))
	}
	// The binary formula and the multiclass one agree on binary input.
	tp, tn, fp, fn := 2.0, 2.0, 1.0, 1.0
	classic := (tp*tn - fp*fn) / math.Sqrt((tp+fp)*(tp+fn)*(tn+fp)*(tn+fn))
	if got := MatthewsCorr(pred, gold); !near(got, classic) {
		t.Errorf("MCC = %v, classic formula %v", got, classic)
	}
}

func TestPearsonSpearman(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	if got := Pearson(x, []float64{2, 4, 6, 8, 10}); !near(got, 1) {
		t.Errorf("Pearson(linear) = %v", got)
	}
	if got := Pearson(x, []float64{5, 4, 3, 2, 1}); !near(got, -1) {
		t.Errorf("Pearson(reversed) = %v", got)
	}
	// x=(1,2,3), y=(1,3,2): means 2,2; sxy = (−1)(−1)+0+(1)(0) = 1; sxx=2, syy=2 → 0.5.
	if got := Pearson([]float64{1, 2, 3}, []float64{1, 3, 2}); !near(got, 0.5) {
		t.Errorf("Pearson = %v, want 0.5", got)
	}
	// Monotone but not linear: Spearman 1, Pearson below 1.
	y := []float64{1, 4, 9, 16, 100}
	if got := Spearman(x, y); !near(got, 1) {
		t.Errorf("Spearman(monotone) = %v", got)
	}
	if got := Pearson(x, y); got >= 0.99 {
		t.Errorf("Pearson(convex) = %v, want < 0.99", got)
	}
	// Ties get average ranks: x=(1,2,2,3) → ranks (1, 2.5, 2.5, 4);
	// y=(1,2,3,4) ranks (1,2,3,4). Means 2.5; dx=(−1.5,0,0,1.5),
	// dy=(−1.5,−.5,.5,1.5): sxy=4.5, sxx=4.5, syy=5 → 4.5/sqrt(22.5).
	if got, want := Spearman([]float64{1, 2, 2, 3}, []float64{1, 2, 3, 4}), 4.5/math.Sqrt(22.5); !near(got, want) {
		t.Errorf("Spearman(ties) = %v, want %v", got, want)
	}
	if got := ranks([]float64{3, 1, 3, 2, 3}); !floatsEqual(got, []float64{4, 1, 4, 2, 4}) {
		t.Errorf("ranks = %v, want [4 1 4 2 4]", got)
	}
	// Constant input: undefined correlation reported as 0.
	if got := Pearson(x, []float64{3, 3, 3, 3, 3}); got != 0 {
		t.Errorf("Pearson(constant) = %v, want 0", got)
	}
	if got := Spearman([]float64{2, 2, 2}, []float64{1, 2, 3}); got != 0 {
		t.Errorf("Spearman(constant) = %v, want 0", got)
	}
	if got := Pearson([]float64{1}, []float64{2}); got != 0 {
		t.Errorf("Pearson(one point) = %v, want 0", got)
	}
}

func TestMetricLengthMismatchPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Accuracy with different lengths did not panic")
		}
	}()
	Accuracy([]int{1}, []int{1, 0})
}

func floatsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i]) {
			return false
		}
	}
	return true
}
