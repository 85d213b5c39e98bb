package fnet

import (
	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ceStats are a cross-entropy node's sums from its last forward run.
type ceStats struct {
	lossSum, weightSum, correct float64
}

// softmaxCE is the weighted mean softmax cross-entropy of logits [m, v]
// against integer labels: Σ w·CE / Σ w (weights nil: all 1). Rows of weight 0
// (padding slots of the masked-LM batch) contribute nothing. The
// probabilities are kept for the backward pass, dlogits = w·(p − onehot)/Σw.
func softmaxCE(logits, labels, weights *G.Node, stats *ceStats) *G.Node {
	m, v := logits.Shape()[0], logits.Shape()[1]
	probs := make([]float32, m*v)
	partial := make([]float64, 3*m)
	var out ownedScalar
	var inputs G.Nodes
	var op *customOp
	if weights != nil {
		op = newOp("softmax_ce", fnType(f32Mat, intVec, f32Vec, f32), tensor.ScalarShape(), []bool{true, false, false})
		inputs = G.Nodes{logits, labels, weights}
	} else {
		op = newOp("softmax_ce", fnType(f32Mat, intVec, f32), tensor.ScalarShape(), []bool{true, false})
		inputs = G.Nodes{logits, labels}
	}
	op.do = func(in []G.Value) (G.Value, error) {
		var w []float32
		if weights != nil {
			w = f32s(in[2])
		}
		s, ws, c := kernels.SoftmaxCrossEntropy(f32s(in[0]), probs, ints(in[1]), w, m, v, partial)
		*stats = ceStats{s, ws, c}
		mean := 0.0
		if ws > 0 {
			mean = s / ws
		}
		return out.set(float32(mean)), nil
	}
	op.symDiff = func(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		d := newOwned(m, v)
		bop := newOp("softmax_ce_grad", fnType(f32, intVec, f32, f32Mat), tensor.Shape{m, v}, []bool{false, false, false})
		bin := G.Nodes{grad, in[1], output}
		if weights != nil {
			bop = newOp("softmax_ce_grad", fnType(f32, intVec, f32Vec, f32, f32Mat), tensor.Shape{m, v}, []bool{false, false, false, false})
			bin = G.Nodes{grad, in[1], in[2], output}
		}
		bop.do = func(bv []G.Value) (G.Value, error) {
			var w []float32
			if weights != nil {
				w = f32s(bv[2])
			}
			scale := float32(0)
			if stats.weightSum > 0 {
				scale = scalarOf(bv[0]) / float32(stats.weightSum)
			}
			kernels.SoftmaxCrossEntropyBackward(probs, ints(bv[1]), w, d.data, m, v, scale)
			return d.t, nil
		}
		grads := G.Nodes{apply(bop, bin...), nil}
		if weights != nil {
			grads = append(grads, nil)
		}
		return grads, nil
	}
	return apply(op, inputs...)
}

// mseLoss is mean((pred − target)²) for pred [B, 1] (STS-B regression, as
// the official code: no 1/2 factor).
func mseLoss(pred, target *G.Node, sumSq *float64) *G.Node {
	b := pred.Shape()[0]
	var out ownedScalar
	op := newOp("mse", fnType(f32Mat, f32Vec, f32), tensor.ScalarShape(), []bool{true, false})
	op.do = func(in []G.Value) (G.Value, error) {
		p, t := f32s(in[0]), f32s(in[1])
		var s float64
		for i := 0; i < b; i++ {
			d := float64(p[i]) - float64(t[i])
			s += d * d
		}
		*sumSq = s
		return out.set(float32(s / float64(b))), nil
	}
	op.symDiff = func(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		d := newOwned(b, 1)
		bop := newOp("mse_grad", fnType(f32, f32Mat, f32Vec, f32, f32Mat), tensor.Shape{b, 1}, []bool{false, false, false, false})
		bop.do = func(bv []G.Value) (G.Value, error) {
			g := scalarOf(bv[0])
			p, t := f32s(bv[1]), f32s(bv[2])
			for i := 0; i < b; i++ {
				d.data[i] = g * 2 * (p[i] - t[i]) / float32(b)
			}
			return d.t, nil
		}
		return G.Nodes{apply(bop, grad, in[0], in[1], output), nil}, nil
	}
	return apply(op, pred, target)
}

// scalarSum adds two scalar losses (the pretraining objective MLM + NSP).
func scalarSum(a, b *G.Node) *G.Node {
	var out ownedScalar
	op := newOp("scalar_sum", fnType(f32, f32, f32), tensor.ScalarShape(), []bool{true, true})
	op.do = func(in []G.Value) (G.Value, error) {
		return out.set(scalarOf(in[0]) + scalarOf(in[1])), nil
	}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{grad, grad}, nil
	}
	return apply(op, a, b)
}
