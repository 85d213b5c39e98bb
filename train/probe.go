package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// A linear probe asks what a checkpoint's frozen representations hold
// about a task, without finetuning: features of each example are read off
// the encoder and a ridge model is fitted on them. Comparing a checkpoint
// with random weights says how much pretraining put there.

// ProbeFeatures names the feature sets a probe reads, in report order.
var ProbeFeatures = []string{"cls", "mean", "embeddings"}

// ProbeLambdas are the ridge strengths tried; one is chosen on a held-out
// fifth of the training examples, never on dev.
var ProbeLambdas = []float64{0.1, 1, 10, 100, 1000}

// ProbeResult is one feature set's dev score.
type ProbeResult struct {
	Features string             // cls, mean or embeddings
	Lambda   float64            // the ridge strength chosen on held-out training examples
	Metrics  map[string]float64 // the task's dev metrics (glue.ScoreExamples)
}

// ProbeModel is the encoder a probe reads: a checkpoint's, or random
// weights (Params nil) for the baseline.
type ProbeModel struct {
	Config    fnet.Config
	Params    map[string][]float32 // nil: fnet.InitParams with Seed
	Tokenizer tokenizer.Tokenizer
	Seed      uint64
	Inference Inference // where the encoder runs (the CPU by default)
}

// Probe fits ridge probes of task on the first maxTrain training examples
// (0 = all) and scores them on dev.
func Probe(ctx context.Context, m ProbeModel, glueDir string, task glue.Task, maxTrain int) ([]ProbeResult, error) {
	train, err := glue.Load(glueDir, task.Name, "train")
	if err != nil {
		return nil, err
	}
	dev, err := glue.Load(glueDir, task.Name, "dev")
	if err != nil {
		return nil, err
	}
	if maxTrain > 0 && maxTrain < len(train) {
		train = train[:maxTrain]
	}
	cfg := m.Config
	cfg.DropoutProb, cfg.NumLabels, cfg.Task = 0, task.NumClasses(), task.Name
	params := fnet.InitParams(cfg, fnet.ClassifierHeads, m.Seed)
	if m.Params != nil { // the checkpoint's encoder, checked as finetuning checks it
		if params, _, err = transferParams(cfg, fnet.ClassifierHeads, m.Params, m.Seed); err != nil {
			return nil, err
		}
	}
	eng, err := m.Inference.Engine(cfg, fnet.ClassifierHeads, params)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	ftr, err := probeFeatures(ctx, eng, m.Tokenizer, task, train)
	if err != nil {
		return nil, err
	}
	fdv, err := probeFeatures(ctx, eng, m.Tokenizer, task, dev)
	if err != nil {
		return nil, err
	}
	targets, err := probeTargets(task, train)
	if err != nil {
		return nil, err
	}
	var out []ProbeResult
	for i, name := range ProbeFeatures {
		preds, lambda, err := ridgeProbe(ftr[i], targets, fdv[i], task.IsRegression, m.Seed)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		metrics, err := glue.ScoreExamples(task, preds, dev)
		if err != nil {
			return nil, err
		}
		out = append(out, ProbeResult{Features: name, Lambda: lambda, Metrics: metrics})
	}
	return out, nil
}

// probeFeatures returns, for each of ProbeFeatures, an [N, H] matrix: the
// final layer's [CLS] row, the final layer averaged over the real
// (unpadded) tokens, and the embedding output averaged likewise.
func probeFeatures(ctx context.Context, eng fnet.Engine, tok tokenizer.Tokenizer, task glue.Task, ex []glue.Example) ([]*mat.Dense, error) {
	cfg := eng.Config()
	enc, err := glue.Tokenize(tok, task, ex, cfg.SeqLen)
	if err != nil {
		return nil, err
	}
	n, H, S := enc.Len(), cfg.HiddenSize, cfg.SeqLen
	out := []*mat.Dense{mat.NewDense(n, H, nil), mat.NewDense(n, H, nil), mat.NewDense(n, H, nil)}
	const batch = 32
	for lo := 0; lo < n; lo += batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+batch, n)
		emb, layers, err := eng.HiddenStates(enc.Range(lo, hi))
		if err != nil {
			return nil, err
		}
		last := layers[len(layers)-1]
		for r := 0; r < hi-lo; r++ {
			ids, _ := enc.Row(lo + r)
			real := float64(len(ids))
			cls, mean, embMean := out[0].RawRowView(lo+r), out[1].RawRowView(lo+r), out[2].RawRowView(lo+r)
			base := r * S * H
			for h := 0; h < H; h++ {
				cls[h] = float64(last[base+h])
			}
			for t := range ids {
				row := base + t*H
				for h := 0; h < H; h++ {
					mean[h] += float64(last[row+h]) / real
					embMean[h] += float64(emb[row+h]) / real
				}
			}
		}
	}
	return out, nil
}

// probeTargets is the ridge target matrix: one-hot class columns, or the
// regression score.
func probeTargets(task glue.Task, ex []glue.Example) (*mat.Dense, error) {
	gold, err := glue.Gold(task, ex)
	if err != nil {
		return nil, err
	}
	cols := task.NumClasses()
	y := mat.NewDense(len(gold), cols, nil)
	for i, g := range gold {
		if task.IsRegression {
			y.Set(i, 0, g)
		} else {
			y.Set(i, int(g), 1)
		}
	}
	return y, nil
}

// ridgeProbe standardises the features on the training rows, picks λ from
// ProbeLambdas on a seeded held-out fifth of them, refits on all training
// rows and predicts the dev rows: the argmax class, or the score.
func ridgeProbe(xTrain, yTrain, xDev *mat.Dense, regression bool, seed uint64) ([]float64, float64, error) {
	n, _ := xTrain.Dims()
	if n < 5 {
		return nil, 0, fmt.Errorf("%d training examples: too few to probe", n)
	}
	xTrain, xDev = standardise(xTrain, xDev)
	perm := rand.New(rand.NewPCG(seed, 0x9B0BE)).Perm(n)
	cut := n / 5
	fit, held := perm[cut:], perm[:cut]
	best, bestScore := ProbeLambdas[0], math.Inf(-1)
	for _, lambda := range ProbeLambdas {
		w, err := ridge(rows(xTrain, fit), rows(yTrain, fit), lambda)
		if err != nil {
			return nil, 0, err
		}
		if s := probeScore(predictRidge(rows(xTrain, held), w, regression), rows(yTrain, held), regression); s > bestScore {
			best, bestScore = lambda, s
		}
	}
	w, err := ridge(xTrain, yTrain, best)
	if err != nil {
		return nil, 0, err
	}
	return predictRidge(xDev, w, regression), best, nil
}

// ridge solves (XᵀX + λI) W = XᵀY with an unpenalised intercept (the last
// row of W).
func ridge(x, y *mat.Dense, lambda float64) (*mat.Dense, error) {
	xb := withBias(x)
	_, d := xb.Dims()
	var a mat.Dense
	a.Mul(xb.T(), xb)
	for j := 0; j < d-1; j++ {
		a.Set(j, j, a.At(j, j)+lambda)
	}
	var b, w mat.Dense
	b.Mul(xb.T(), y)
	if err := w.Solve(&a, &b); err != nil {
		return nil, fmt.Errorf("ridge λ=%g: %w", lambda, err)
	}
	return &w, nil
}

func predictRidge(x, w *mat.Dense, regression bool) []float64 {
	var p mat.Dense
	p.Mul(withBias(x), w)
	n, k := p.Dims()
	out := make([]float64, n)
	for i := range out {
		if regression {
			out[i] = p.At(i, 0)
			continue
		}
		arg := 0
		for j := 1; j < k; j++ {
			if p.At(i, j) > p.At(i, arg) {
				arg = j
			}
		}
		out[i] = float64(arg)
	}
	return out
}

// probeScore is accuracy, or minus the mean squared error.
func probeScore(pred []float64, y *mat.Dense, regression bool) float64 {
	s := 0.0
	for i, p := range pred {
		if regression {
			d := p - y.At(i, 0)
			s -= d * d
		} else if y.At(i, int(p)) == 1 {
			s++
		}
	}
	return s / float64(len(pred))
}

// standardise scales every column to zero mean and unit variance using the
// training rows' statistics (constant columns are left centred).
func standardise(train, dev *mat.Dense) (*mat.Dense, *mat.Dense) {
	n, d := train.Dims()
	nd, _ := dev.Dims()
	tr, dv := mat.DenseCopyOf(train), mat.DenseCopyOf(dev)
	for j := 0; j < d; j++ {
		mean, sq := 0.0, 0.0
		for i := 0; i < n; i++ {
			mean += train.At(i, j)
		}
		mean /= float64(n)
		for i := 0; i < n; i++ {
			d := train.At(i, j) - mean
			sq += d * d
		}
		sd := math.Sqrt(sq / float64(n))
		if sd == 0 {
			sd = 1
		}
		for i := 0; i < n; i++ {
			tr.Set(i, j, (train.At(i, j)-mean)/sd)
		}
		for i := 0; i < nd; i++ {
			dv.Set(i, j, (dev.At(i, j)-mean)/sd)
		}
	}
	return tr, dv
}

func withBias(x *mat.Dense) *mat.Dense {
	n, d := x.Dims()
	out := mat.NewDense(n, d+1, nil)
	out.Slice(0, n, 0, d).(*mat.Dense).Copy(x)
	for i := 0; i < n; i++ {
		out.Set(i, d, 1)
	}
	return out
}

func rows(x *mat.Dense, idx []int) *mat.Dense {
	_, d := x.Dims()
	out := mat.NewDense(len(idx), d, nil)
	for r, i := range idx {
		out.SetRow(r, x.RawRowView(i))
	}
	return out
}
