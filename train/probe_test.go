package train

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// writeSentiment writes an SST-2-shaped task whose label is carried by one
// word: "good" sentences are positive, "bad" ones negative, the rest of each
// sentence random filler. Frozen features of any encoder that sees its
// tokens hold the answer linearly; a majority or chance guess scores 0.5.
func writeSentiment(t *testing.T, dir string, nTrain, nDev int) {
	t.Helper()
	filler := []string{"the", "film", "was", "a", "story", "of", "people", "and", "time", "with", "some", "very", "long", "scenes"}
	rng := rand.New(rand.NewPCG(3, 4))
	write := func(name string, n int) {
		text := "sentence\tlabel\n"
		for i := 0; i < n; i++ {
			var w []string
			for k := 0; k < 4+rng.IntN(5); k++ {
				w = append(w, filler[rng.IntN(len(filler))])
			}
			label, word := i%2, "bad"
			if label == 1 {
				word = "good"
			}
			pos := rng.IntN(len(w) + 1)
			w = append(w[:pos], append([]string{word}, w[pos:]...)...)
			text += strings.Join(w, " ") + "\t" + strconv.Itoa(label) + "\n"
		}
		os.MkdirAll(filepath.Join(dir, "SST-2"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "SST-2", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train.tsv", nTrain)
	write("dev.tsv", nDev)
}

// TestProbeOnACheckpoint: the probe reads a pretraining checkpoint and
// scores all three feature sets with the task's metrics; on a task whose
// answer is one word, each must be far above the 0.5 a majority guess gets.
func TestProbeOnACheckpoint(t *testing.T) {
	dir := t.TempDir()
	gd := filepath.Join(dir, "glue")
	writeSentiment(t, gd, 160, 80)
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=2", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(filepath.Join(pre, rundir.CheckpointsDir, rundir.LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	task, _ := glue.Lookup("sst2")
	res, err := Probe(context.Background(), ProbeModel{Config: ck.Model.Config, Params: ck.Model.Params, Tokenizer: ck.Tokenizer, Seed: 1}, gd, task, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ProbeFeatures) {
		t.Fatalf("%d results", len(res))
	}
	// the [CLS] row sees the word only through two layers of mixing; the
	// averaged features hold it directly (chance: 0.5 ± 0.06 on 80 examples)
	floor := map[string]float64{"cls": 0.75, "mean": 0.9, "embeddings": 0.9}
	for i, r := range res {
		acc, ok := r.Metrics["accuracy"]
		t.Logf("%s: dev accuracy %.3f (λ %g)", r.Features, acc, r.Lambda)
		if r.Features != ProbeFeatures[i] || !ok || acc < floor[r.Features] || !slices.Contains(ProbeLambdas, r.Lambda) {
			t.Errorf("result %d: %+v (a majority guess scores 0.5)", i, r)
		}
	}
}
