package fnet

import (
	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// embedding is word[ids] + pos[0..S-1] + type[types] for a [B, S] batch,
// as [B·S, H]. Its backward scatter-adds into each table (word rows repeat,
// so that pass is serial and reproducible).
func embedding(word, pos, typ, ids, types *G.Node, B, S int) *G.Node {
	h := word.Shape()[1]
	y := newOwned(B*S, h)
	op := newOp("embedding", fnType(f32Mat, f32Mat, f32Mat, intVec, intVec, f32Mat), tensor.Shape{B * S, h}, []bool{true, true, true, false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.EmbeddingForward(f32s(v[0]), f32s(v[1]), f32s(v[2]), ints(v[3]), ints(v[4]), y.data, B, S, h)
		return y.t, nil
	}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{
			embeddingGrad("word_embedding_grad", grad, in[3], word.Shape(), B, S, 0),
			embeddingGrad("position_embedding_grad", grad, in[4], pos.Shape(), B, S, 1),
			embeddingGrad("type_embedding_grad", grad, in[4], typ.Shape(), B, S, 2),
			nil, nil,
		}, nil
	}
	return apply(op, word, pos, typ, ids, types)
}

// embeddingGrad builds one table's gradient: which = 0 word (by ids),
// 1 position (by row index), 2 token type (by types).
func embeddingGrad(name string, dy, idx *G.Node, shape tensor.Shape, B, S, which int) *G.Node {
	rows, h := shape[0], shape[1]
	d := newOwned(rows, h)
	op := newOp(name, fnType(f32Mat, intVec, f32Mat), tensor.Shape{rows, h}, []bool{false, false})
	op.do = func(v []G.Value) (G.Value, error) {
		dys, ix := f32s(v[0]), ints(v[1])
		clear(d.data)
		switch which {
		case 0:
			kernels.EmbeddingBackward(dys, ix, nil, d.data, nil, nil, B, S, h)
		case 1:
			kernels.EmbeddingBackward(dys, nil, nil, nil, d.data, nil, B, S, h)
		case 2:
			kernels.EmbeddingBackward(dys, nil, ix, nil, nil, d.data, B, S, h)
		}
		return d.t, nil
	}
	return apply(op, dy, idx)
}

// gatherRows picks K rows of each example: out[b·K+k] = x[b·S + pos[b·K+k]],
// x [B·S, H] → [B·K, H]. It feeds the MLM head only the masked positions
// (K = 1 with pos 0 is the [CLS] row for the pooler).
func gatherRows(x, pos *G.Node, B, S, K int) *G.Node {
	h := x.Shape()[1]
	y := newOwned(B*K, h)
	op := newOp("gather_rows", fnType(f32Mat, intVec, f32Mat), tensor.Shape{B * K, h}, []bool{true, false})
	op.do = func(v []G.Value) (G.Value, error) {
		kernels.GatherRows(f32s(v[0]), ints(v[1]), y.data, B, S, K, h)
		return y.t, nil
	}
	op.symDiff = func(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		d := newOwned(B*S, h)
		gop := newOp("scatter_rows", fnType(f32Mat, intVec, f32Mat), tensor.Shape{B * S, h}, []bool{false, false})
		gop.do = func(v []G.Value) (G.Value, error) {
			clear(d.data)
			kernels.ScatterAddRows(f32s(v[0]), ints(v[1]), d.data, B, S, K, h)
			return d.t, nil
		}
		return G.Nodes{apply(gop, grad, in[1]), nil}, nil
	}
	return apply(op, x, pos)
}
