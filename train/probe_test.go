package train

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestRidgeMatchesNormalEquations: the ridge solve against the 2×2 normal
// equations worked by hand (unpenalised intercept).
func TestRidgeMatchesNormalEquations(t *testing.T) {
	x := mat.NewDense(4, 1, []float64{1, 2, 3, 4})
	y := mat.NewDense(4, 1, []float64{3, 5, 7, 9})
	for _, c := range []struct{ lambda, slope, intercept float64 }{
		{0, 2, 1},                 // y = 2x + 1 exactly
		{1, 40.0 / 24, 44.0 / 24}, // [31 10; 10 4][a b]ᵀ = [70 24]ᵀ
	} {
		w, err := ridge(x, y, c.lambda)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(w.At(0, 0)-c.slope) > 1e-9 || math.Abs(w.At(1, 0)-c.intercept) > 1e-9 {
			t.Errorf("λ=%g: slope %v intercept %v, want %v %v", c.lambda, w.At(0, 0), w.At(1, 0), c.slope, c.intercept)
		}
	}
}

// TestRidgeProbeRecoversLinearStructure: a class that is the sign of one
// feature among noise is read perfectly, and a linear score almost exactly.
func TestRidgeProbeRecoversLinearStructure(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := func(n int) (*mat.Dense, *mat.Dense, *mat.Dense) {
		x := mat.NewDense(n, 6, nil)
		cls := mat.NewDense(n, 2, nil)
		score := mat.NewDense(n, 1, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < 6; j++ {
				x.Set(i, j, rng.NormFloat64())
			}
			if v := x.At(i, 2); v >= 0 { // |x₂| ≥ 1: a margin between the classes
				x.Set(i, 2, v+1)
			} else {
				x.Set(i, 2, v-1)
			}
			c := 0
			if x.At(i, 2) > 0 {
				c = 1
			}
			cls.Set(i, c, 1)
			score.Set(i, 0, 3*x.At(i, 0)-x.At(i, 4)+0.5)
		}
		return x, cls, score
	}
	xTr, cTr, sTr := data(400)
	xDv, cDv, sDv := data(100)
	pred, lambda, err := ridgeProbe(xTr, cTr, xDv, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if acc := probeScore(pred, cDv, false); acc < 0.97 || !slices.Contains(ProbeLambdas, lambda) {
		t.Errorf("classification: dev accuracy %.3f (λ=%g)", acc, lambda)
	}
	pred, _, err = ridgeProbe(xTr, sTr, xDv, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if mse := -probeScore(pred, sDv, true); mse > 0.05 {
		t.Errorf("regression: dev MSE %.4f", mse)
	}
}

// TestProbeOnACheckpoint: the probe reads a pretraining checkpoint and
// scores all three feature sets on RTE dev with the task's metrics.
func TestProbeOnACheckpoint(t *testing.T) {
	gd := glueDir(t)
	dir := t.TempDir()
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=2", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(filepath.Join(pre, rundir.CheckpointsDir, rundir.LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	task, _ := glue.Lookup("rte")
	res, err := Probe(context.Background(), ProbeModel{Config: ck.Model.Config, Params: ck.Model.Params, Tokenizer: ck.Tokenizer, Seed: 1}, gd, task, 80)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ProbeFeatures) {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		acc, ok := r.Metrics["accuracy"]
		if r.Features != ProbeFeatures[i] || !ok || acc < 0.3 || acc > 0.7 || !slices.Contains(ProbeLambdas, r.Lambda) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
}
