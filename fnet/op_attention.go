package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// attentionDropout is what the attention op needs to draw its dropout masks.
type attentionDropout struct {
	p     float64         // drop probability of the attention probabilities; 0 = off (eval, parity)
	layer int             // encoder layer: part of the site, DropoutSiteAttention(layer, b, h, heads)
	ctr   *dropoutCounter // the engine's (seed, step), read when the forward runs; nil when p = 0
}

// selfAttention is multi-head self-attention without its projections:
// ctx = softmax(q_h k_hᵀ/√d + pad mask) v_h per head, as Hugging Face BERT
// computes it (kernels/attention.go has the details).
//
//	q, k, v  [B·S, H]  the query/key/value projections (linear, biases included)
//	keyMask  [B·S]     float32: 1 for a real key, 0 for a pad (input_ids == pad id)
//	output   [B·S, H]  ctx, heads side by side: head h is columns h·d … (h+1)·d−1
//
// nHeads divides H. The op keeps nothing S×S between its forward and
// backward (the backward recomputes the probabilities), so a graph of many
// attention layers holds none of their scores. The backward is one node
// computing dq, dk and dv together from dctx, q, k, v, keyMask and ctx (its
// row dots dctx_i·ctx_i are the softmax backward's row sums) — all of which
// it takes as graph inputs, per the memory rule in ops.go; dk and dv are
// handed out by two nodes that follow it.
func selfAttention(q, k, v, keyMask *G.Node, B, S, nHeads int, drop attentionDropout) *G.Node {
	rows, H := q.Shape()[0], q.Shape()[1]
	if rows != B*S || !q.Shape().Eq(k.Shape()) || !q.Shape().Eq(v.Shape()) || keyMask.Shape().TotalSize() != B*S {
		panic(fmt.Sprintf("fnet: attention shapes q%v k%v v%v mask%v for B=%d S=%d", q.Shape(), k.Shape(), v.Shape(), keyMask.Shape(), B, S))
	}
	if nHeads < 1 || H%nHeads != 0 {
		panic(fmt.Sprintf("fnet: attention: %d heads do not divide hidden size %d", nHeads, H))
	}
	if drop.p > 0 && drop.ctr == nil {
		panic("fnet: attention dropout without a dropout counter")
	}
	// The kernels' dropout, but for the counter: the forward fills in
	// (seed, step) when it runs and the backward reuses exactly those.
	var kdrop kernels.AttentionDropout
	if drop.p > 0 {
		DropoutSiteAttention(drop.layer, B-1, nHeads-1, nHeads) // range check now, not mid-step
		kdrop = kernels.AttentionDropout{P: drop.p, Threshold: DropoutThreshold(drop.p),
			Site: func(b, h int) uint32 { return DropoutSiteAttention(drop.layer, b, h, nHeads) }}
	}
	ctx := newOwned(rows, H)
	op := newOp("self_attention", fnType(f32Mat, f32Mat, f32Mat, f32Vec, f32Mat), tensor.Shape{rows, H}, []bool{true, true, true, false})
	op.do = func(in []G.Value) (G.Value, error) {
		if drop.p > 0 {
			kdrop.Seed, kdrop.Step = drop.ctr.seed, drop.ctr.step
		}
		kernels.AttentionForward(f32s(in[0]), f32s(in[1]), f32s(in[2]), f32s(in[3]), ctx.data, B, S, H, nHeads, kdrop)
		return ctx.t, nil
	}
	op.symDiff = func(in G.Nodes, output, grad *G.Node) (G.Nodes, error) {
		dq, dk, dv := newOwned(rows, H), newOwned(rows, H), newOwned(rows, H)
		bop := newOp("self_attention_grad", fnType(f32Mat, f32Mat, f32Mat, f32Mat, f32Vec, f32Mat, f32Mat), tensor.Shape{rows, H},
			[]bool{false, false, false, false, false, false})
		bop.do = func(bv []G.Value) (G.Value, error) {
			// bv: dctx, q, k, v, keyMask, ctx
			kernels.AttentionBackward(f32s(bv[1]), f32s(bv[2]), f32s(bv[3]), f32s(bv[4]), f32s(bv[5]), f32s(bv[0]),
				dq.data, dk.data, dv.data, B, S, H, nHeads, kdrop)
			return dq.t, nil
		}
		dqNode := apply(bop, grad, in[0], in[1], in[2], in[3], output)
		return G.Nodes{dqNode, attentionHandOut("self_attention_dk", dqNode, dk), attentionHandOut("self_attention_dv", dqNode, dv), nil}, nil
	}
	return apply(op, q, k, v, keyMask)
}

// attentionHandOut returns a [rows, H] buffer that the node `after` fills as
// a side result (handOut in op_layernorm.go is the same for vectors).
func attentionHandOut(name string, after *G.Node, buf *owned) *G.Node {
	op := newOp(name, fnType(f32Mat, f32Mat), buf.t.Shape().Clone(), []bool{false})
	op.do = func([]G.Value) (G.Value, error) { return buf.t, nil }
	return apply(op, after)
}
