package fnet

import (
	"github.com/chewxy/hm"
	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// layerNorm is LayerNorm(x + r)·gamma + beta over the last axis of [n, h]
// (r may be nil: plain LayerNorm). Fusing the residual add saves a pass and a
// buffer; the gradient of x and r is the same tensor.
func layerNorm(x, r, gamma, beta *G.Node, eps float64) *G.Node {
	n, h := x.Shape()[0], x.Shape()[1]
	y := newOwned(n, h)
	xhat, rstd := make([]float32, n*h), make([]float32, n)
	inputs := G.Nodes{x}
	typ := []hm.Type{f32Mat}
	if r != nil {
		inputs = append(inputs, r)
		typ = append(typ, f32Mat)
	}
	inputs = append(inputs, gamma, beta)
	typ = append(typ, f32Vec, f32Vec, f32Mat)
	diff := make([]bool, len(inputs))
	for i := range diff {
		diff[i] = true
	}
	name := "layernorm"
	if r != nil {
		name = "add_layernorm"
	}
	op := newOp(name, fnType(typ...), tensor.Shape{n, h}, diff)
	op.do = func(v []G.Value) (G.Value, error) {
		var rs []float32
		off := 1
		if r != nil {
			rs, off = f32s(v[1]), 2
		}
		kernels.LayerNormForward(f32s(v[0]), rs, f32s(v[off]), f32s(v[off+1]), y.data, xhat, rstd, n, h, float32(eps))
		return y.t, nil
	}
	op.symDiff = func(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		g := in[len(in)-2]
		dx, dgamma, dbeta := layerNormBackward(grad, g, output, xhat, rstd, n, h)
		if r != nil {
			return G.Nodes{dx, dx, dgamma, dbeta}, nil
		}
		return G.Nodes{dx, dgamma, dbeta}, nil
	}
	return apply(op, inputs...)
}

// layerNormBackward makes three nodes: dx, computed with dgamma and dbeta in
// one pass over dy, and two that hand the parameter gradients out.
func layerNormBackward(dy, gamma, fwd *G.Node, xhat, rstd []float32, n, h int) (dx, dgamma, dbeta *G.Node) {
	d := newOwned(n, h)
	dg, db := newOwned(h), newOwned(h)
	partial := make([]float32, 2*h*max(kernels.Workers, 1))
	op := newOp("layernorm_grad", fnType(f32Mat, f32Vec, f32Mat, f32Mat), tensor.Shape{n, h}, []bool{false, false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		if len(partial) < 2*h*kernels.Workers {
			partial = make([]float32, 2*h*kernels.Workers)
		}
		clear(dg.data)
		clear(db.data)
		kernels.LayerNormBackward(f32s(v[0]), xhat, rstd, f32s(v[1]), d.data, dg.data, db.data, partial, n, h)
		return d.t, nil
	}
	dx = apply(op, dy, gamma, fwd)
	return dx, handOut("layernorm_dgamma", dx, dg), handOut("layernorm_dbeta", dx, db)
}

// handOut returns a buffer that the node `after` fills as a side result.
func handOut(name string, after *G.Node, buf *owned) *G.Node {
	op := newOp(name, fnType(f32Mat, f32Vec), buf.t.Shape().Clone(), []bool{false})
	op.do = func([]G.Value) (G.Value, error) { return buf.t, nil }
	return apply(op, after)
}
