package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The Linear and Random mixings of the FNet paper (f_net layers.py
// LinearTransform / RandomTransform): each example X_b [S, H] becomes
//
//	Y_b = seq · X_b · hidden      seq [S, S] (layout [out, in]), hidden [H, H] ([in, out])
//
// with no bias or nonlinearity. Linear trains both matrices; Random keeps
// them fixed (trained = false: no gradient nodes for them, so gorgonia
// never computes one). Two operators: the hidden-axis product over all
// B·S rows at once, then the sequence-axis product per example.

// denseMix is linear or random mixing of x [B·S, H].
func denseMix(x, hidden, seq *G.Node, B, S int, trained bool) *G.Node {
	return seqMix(hiddenMix(x, hidden, trained), seq, B, S, trained)
}

// hiddenMix is z = x·W for x [n, H] and W [H, H] stored [in, out].
func hiddenMix(x, w *G.Node, trained bool) *G.Node {
	n, h := x.Shape()[0], x.Shape()[1]
	if w.Shape()[0] != h || w.Shape()[1] != h {
		panic(fmt.Sprintf("fnet: hidden mixing shapes x%v W%v", x.Shape(), w.Shape()))
	}
	z := newOwned(n, h)
	op := newOp("hidden_mix", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{n, h}, []bool{true, trained})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.MatMulNN(n, h, h, f32s(v[0]), f32s(v[1]), z.data, false)
		return z.t, nil
	}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dx := matmulOp("hidden_mix_dx", grad, in[1], n, h, h, false, true) // dz·Wᵀ
		var dw *G.Node
		if trained {
			dw = matmulOp("hidden_mix_dw", in[0], grad, h, h, n, true, false) // xᵀ·dz
		}
		return G.Nodes{dx, dw}, nil
	}
	return apply(op, x, w)
}

// matmulOp is c = op(a)·op(b) with c [m, n] and inner dimension k (a node
// of the backward pass; both operands are its graph inputs).
func matmulOp(name string, a, b *G.Node, m, n, k int, transA, transB bool) *G.Node {
	c := newOwned(m, n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	op := newOp(name, fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{m, n}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.Gemm(transA, transB, m, n, k, 1, f32s(v[0]), lda, f32s(v[1]), ldb, 0, c.data, n)
		return c.t, nil
	}
	return apply(op, a, b)
}

// seqMix is y_b = Wseq·z_b for each example z_b [S, H] of z [B·S, H].
func seqMix(z, w *G.Node, B, S int, trained bool) *G.Node {
	h := z.Shape()[1]
	if z.Shape()[0] != B*S || w.Shape()[0] != S || w.Shape()[1] != S {
		panic(fmt.Sprintf("fnet: sequence mixing shapes z%v W%v for B=%d S=%d (linear and random mixing run at the model's seq_len)", z.Shape(), w.Shape(), B, S))
	}
	y := newOwned(B*S, h)
	op := newOp("seq_mix", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{B * S, h}, []bool{true, trained})
	op.do = func(v []G.Value) (G.Value, error) {
		zs, ws := f32s(v[0]), f32s(v[1])
		for b := 0; b < B; b++ { // Gemm splits each product over the workers
			kernels.Gemm(false, false, S, h, S, 1, ws, S, zs[b*S*h:], h, 0, y.data[b*S*h:], h)
		}
		return y.t, nil
	}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		dz := seqMixDZ(grad, in[1], B, S, h)
		var dw *G.Node
		if trained {
			dw = seqMixDW(grad, in[0], B, S, h)
		}
		return G.Nodes{dz, dw}, nil
	}
	return apply(op, z, w)
}

// seqMixDZ is dz_b = Wseqᵀ·dy_b.
func seqMixDZ(dy, w *G.Node, B, S, h int) *G.Node {
	dz := newOwned(B*S, h)
	op := newOp("seq_mix_dz", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{B * S, h}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		dys, ws := f32s(v[0]), f32s(v[1])
		for b := 0; b < B; b++ {
			kernels.Gemm(true, false, S, h, S, 1, ws, S, dys[b*S*h:], h, 0, dz.data[b*S*h:], h)
		}
		return dz.t, nil
	}
	return apply(op, dy, w)
}

// seqMixDW is dWseq = Σ_b dy_b·z_bᵀ, summed in example order (one GEMM
// per example accumulating into the output, so the result does not depend
// on scheduling).
func seqMixDW(dy, z *G.Node, B, S, h int) *G.Node {
	dw := newOwned(S, S)
	op := newOp("seq_mix_dw", fnType(f32Mat, f32Mat, f32Mat), tensor.Shape{S, S}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		dys, zs := f32s(v[0]), f32s(v[1])
		for b := 0; b < B; b++ {
			beta := float32(1)
			if b == 0 {
				beta = 0
			}
			kernels.Gemm(false, true, S, S, h, 1, dys[b*S*h:], h, zs[b*S*h:], h, beta, dw.data, S)
		}
		return dw.t, nil
	}
	return apply(op, dy, z)
}
