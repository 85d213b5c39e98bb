package fnet

import (
	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dropoutCounter is the engine's (seed, micro-batch) pair that every dropout
// node reads when it runs; see DropoutKeep.
type dropoutCounter struct {
	seed, step uint64
}

// dropout zeroes elements with probability p and scales the rest by
// 1/(1−p); the mask comes from the counter-based hash of (seed, step, site,
// element), and is kept for the backward pass.
func dropout(x *G.Node, p float64, site uint32, ctr *dropoutCounter) *G.Node {
	rows, h := x.Shape()[0], x.Shape()[1]
	y := newOwned(rows, h)
	mask := make([]uint8, rows*h)
	thr := DropoutThreshold(p)
	op := newOp("dropout", fnType(f32Mat, f32Mat), tensor.Shape{rows, h}, []bool{true})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.DropoutForward(f32s(v[0]), y.data, mask, ctr.seed, ctr.step, site, thr, p)
		return y.t, nil
	}
	op.symDiff = func(_ G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		d := newOwned(rows, h)
		bop := newOp("dropout_grad", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{rows, h}, []bool{false, false})
		bop.do = func(v []G.Value) (G.Value, error) {
			kernels.DropoutBackward(f32s(v[0]), d.data, mask, p)
			return d.t, nil
		}
		return G.Nodes{apply(bop, grad, output)}, nil
	}
	return apply(op, x)
}
