package glue

import (
	"math"
	"testing"
)

// TestScoreSTSBCorrelations: STS-B predictions whose ranks differ from
// their values (so Spearman and Pearson disagree), against values worked
// out by hand:
//
//	gold  0.5 1.0 4.5 2.0 3.0   ranks 1 2 5 3 4
//	pred  1   3   2   4   5     ranks 1 3 2 4 5
//
// Spearman: rank differences 0 −1 3 −1 −1, Σd² = 12, 1 − 6·12/(5·24) = 0.4.
// Pearson: means 3 and 2.2; dx = −2 0 −1 1 2, dy = −1.7 −1.2 2.3 −0.2 0.8;
// Σdxdy = 2.5, Σdx² = 10, Σdy² = 10.3, r = 2.5/√103.
// A constant predictor scores 0 and a reversed one −1: no trivial
// predictor reaches the numbers above.
func TestScoreSTSBCorrelations(t *testing.T) {
	stsb, err := Lookup("stsb")
	if err != nil {
		t.Fatal(err)
	}
	gold := []float64{0.5, 1.0, 4.5, 2.0, 3.0}
	m, err := Score(stsb, []float64{1, 3, 2, 4, 5}, gold)
	if err != nil {
		t.Fatal(err)
	}
	pearson, spearman := 2.5/math.Sqrt(103), 0.4
	for name, want := range map[string]float64{"pearson": pearson, "spearman": spearman, "corr": (pearson + spearman) / 2} {
		if got := m[name]; math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for name, preds := range map[string][]float64{
		"constant": {2.2, 2.2, 2.2, 2.2, 2.2},
		"reversed": {4, 3, 0, 2, 1}, // ranks 5 4 1 3 2: gold's ranks reversed
	} {
		m, err := Score(stsb, preds, gold)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{"constant": 0, "reversed": -1}[name]
		if math.Abs(m["spearman"]-want) > 1e-12 || (name == "constant" && (m["pearson"] != 0 || m["corr"] != 0)) {
			t.Errorf("%s predictor: %v", name, m)
		}
	}
}

// TestPearsonSmallAndRoundedInputs: two points are enough for a
// correlation (±1); a perfectly correlated input whose float64 sums
// round past ±1 is clipped to exactly ±1, as SciPy does.
func TestPearsonSmallAndRoundedInputs(t *testing.T) {
	if got := Pearson([]float64{1, 2}, []float64{3, 5}); !near(got, 1) {
		t.Errorf("Pearson of two increasing points = %v, want 1", got)
	}
	if got := Pearson([]float64{1, 2}, []float64{5, 3}); !near(got, -1) {
		t.Errorf("Pearson of two opposite points = %v, want -1", got)
	}
	if got := Spearman([]float64{1, 2}, []float64{3, 5}); !near(got, 1) {
		t.Errorf("Spearman of two points = %v, want 1", got)
	}
	x := []float64{0.3, 0.7, 0.7}
	up, down := make([]float64, 3), make([]float64, 3)
	for i := range x {
		up[i], down[i] = x[i]*1.1, x[i]*-1.1
	}
	// unclipped, these are 1.0000000000000002 and −1.0000000000000002
	if got := Pearson(x, up); got != 1 {
		t.Errorf("Pearson(x, 1.1x) = %v, want exactly 1", got)
	}
	if got := Pearson(x, down); got != -1 {
		t.Errorf("Pearson(x, -1.1x) = %v, want exactly -1", got)
	}
}

// TestScoreRejectsWhatItCannotScore: an unlabelled STS-B example has no
// gold score (Gold must not pass its −1 on), and a prediction of ±Inf or
// NaN is refused for either kind of task.
func TestScoreRejectsWhatItCannotScore(t *testing.T) {
	stsb, _ := Lookup("stsb")
	rte, _ := Lookup("rte")
	if _, err := Gold(stsb, []Example{{Score: 2, Label: -1}, {Score: -1, Label: -1, Line: 3}}); err == nil {
		t.Error("Gold accepted an unlabelled STS-B example")
	}
	if _, err := Gold(rte, []Example{{Label: 1, Score: -1}, {Label: -1, Score: -1}}); err == nil {
		t.Error("Gold accepted an unlabelled RTE example")
	}
	if g, err := Gold(stsb, []Example{{Score: 0, Label: -1}, {Score: 4.5, Label: -1}}); err != nil || g[0] != 0 || g[1] != 4.5 {
		t.Errorf("Gold of labelled STS-B = %v, %v", g, err)
	}
	for _, bad := range []float64{math.Inf(-1), math.Inf(1), math.NaN()} {
		if _, err := Score(stsb, []float64{1, bad}, []float64{1, 2}); err == nil {
			t.Errorf("STS-B prediction %v accepted", bad)
		}
		if _, err := Score(rte, []float64{1, bad}, []float64{1, 0}); err == nil {
			t.Errorf("RTE prediction %v accepted", bad)
		}
	}
}
