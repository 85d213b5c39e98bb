package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Activation fused into a linear layer's forward pass.
type Activation int

const (
	ActNone    Activation = iota
	ActGELU               // tanh GELU ("gelu_new"): the FFN and the MLM transform
	ActTanh               // the pooler
	ActGELUErf            // exact GELU ("gelu"): BERT checkpoints' FFN and MLM transform
)

// linear returns act(x·Wᵀ + b) for x [n, in], W [out, in] (Hugging Face's
// Linear layout), b [out]: one BLAS GEMM, then bias and activation in one
// pass. The activation's backward is its own node (dpre), and dx, dW, db
// are separate nodes reading it, so every dependency is a graph edge.
func linear(x, w, b *G.Node, act Activation) *G.Node {
	n, in := x.Shape()[0], x.Shape()[1]
	out := w.Shape()[0]
	if w.Shape()[1] != in || b.Shape()[0] != out {
		panic(fmt.Sprintf("fnet: linear shapes x%v W%v b%v", x.Shape(), w.Shape(), b.Shape()))
	}
	y := newOwned(n, out)
	var pre, aux []float32 // saved for the backward pass: pre-activation, tanh (Φ for the exact GELU)
	if act != ActNone {
		pre, aux = make([]float32, n*out), make([]float32, n*out)
	}
	op := newOp("linear", fnType(f32Mat, f32Mat, f32Vec, f32Mat), tensor.Shape{n, out}, []bool{true, true, true})
	op.do = func(v []G.Value) (G.Value, error) {
		xs, ws, bs := f32s(v[0]), f32s(v[1]), f32s(v[2])
		dst := y.data
		if act != ActNone {
			dst = pre
		}
		kernels.MatMulNT(n, out, in, xs, ws, dst, false)
		switch act {
		case ActNone:
			kernels.AddBias(dst, bs, n, out)
		case ActGELU:
			kernels.AddBias(pre, bs, n, out)
			kernels.GELUForward(pre, y.data, aux)
		case ActTanh:
			kernels.AddBias(pre, bs, n, out)
			kernels.TanhForward(pre, y.data, aux)
		case ActGELUErf:
			kernels.AddBias(pre, bs, n, out)
			kernels.GELUErfForward(pre, y.data, aux)
		}
		return y.t, nil
	}
	op.symDiff = func(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		dpre := grad
		if act != ActNone {
			dpre = activationBackward(grad, output, act, pre, aux, n, out)
		}
		return G.Nodes{
			linearDX(dpre, inputs[1], n, in, out),
			linearDW(dpre, inputs[0], n, in, out),
			biasGrad(dpre, n, out),
		}, nil
	}
	return apply(op, x, w, b)
}

// activationBackward is dpre = dy ⊙ act'(pre), from the forward pass's saved
// pre-activation and tanh. It takes the forward output as an input only to be
// ordered after it.
func activationBackward(dy, fwd *G.Node, act Activation, pre, aux []float32, n, out int) *G.Node {
	d := newOwned(n, out)
	op := newOp("activation_grad", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{n, out}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		dys := f32s(v[0])
		switch act {
		case ActGELU:
			kernels.GELUBackward(dys, pre, aux, d.data)
		case ActGELUErf:
			kernels.GELUErfBackward(dys, pre, aux, d.data)
		case ActTanh:
			kernels.ParallelFor(len(dys), 1<<14, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					t := aux[i]
					d.data[i] = dys[i] * (1 - t*t)
				}
			})
		}
		return d.t, nil
	}
	return apply(op, dy, fwd)
}

// linearDX is dx = dpre·W: [n, out]·[out, in].
func linearDX(dpre, w *G.Node, n, in, out int) *G.Node {
	dx := newOwned(n, in)
	op := newOp("linear_dx", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{n, in}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.MatMulNN(n, in, out, f32s(v[0]), f32s(v[1]), dx.data, false)
		return dx.t, nil
	}
	return apply(op, dpre, w)
}

// linearDW is dW = dpreᵀ·x: [out, n]·[n, in].
func linearDW(dpre, x *G.Node, n, in, out int) *G.Node {
	dw := newOwned(out, in)
	op := newOp("linear_dw", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{out, in}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.MatMulTN(out, in, n, f32s(v[0]), f32s(v[1]), dw.data, false)
		return dw.t, nil
	}
	return apply(op, dpre, x)
}

// biasGrad is db = Σ_rows dpre.
func biasGrad(dpre *G.Node, n, out int) *G.Node {
	db := newOwned(out)
	var scratch []float32
	op := newOp("bias_grad", fnType(f32Mat, f32Vec), tensor.Shape{out}, []bool{false})
	op.do = func(v []G.Value) (G.Value, error) {
		if len(scratch) < kernels.Workers*out {
			scratch = make([]float32, kernels.Workers*out)
		}
		kernels.BiasGrad(f32s(v[0]), db.data, scratch, n, out)
		return db.t, nil
	}
	return apply(op, dpre)
}
