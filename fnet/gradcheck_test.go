package fnet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Finite-difference checks of every custom operator, through gorgonia's
// symbolic differentiation and tape machine, exactly as the model uses them.
// Each case builds a graph from leaf tensors, reduces its output to a scalar
// with a fixed random projection (built-in ops), and compares the gradient
// of every differentiable leaf with central differences.

type leaf struct {
	name  string
	shape []int
	data  []float32 // float leaves
	ints  []int     // integer (non-differentiable) leaves
	diff  bool
}

func randLeaf(rng *rand.Rand, name string, scale float64, shape ...int) *leaf {
	d := make([]float32, NumElements(shape))
	for i := range d {
		d[i] = float32(rng.NormFloat64() * scale)
	}
	return &leaf{name: name, shape: shape, data: d, diff: true}
}

func intLeaf(name string, xs []int) *leaf {
	return &leaf{name: name, shape: []int{len(xs)}, ints: xs}
}

func (l *leaf) node(g *G.ExprGraph) *G.Node {
	if l.ints != nil {
		return G.NewVector(g, tensor.Int, G.WithShape(len(l.ints)), G.WithName(l.name),
			G.WithValue(tensor.New(tensor.WithShape(len(l.ints)), tensor.WithBacking(l.ints))))
	}
	t := tensor.New(tensor.WithShape(l.shape...), tensor.WithBacking(l.data))
	if len(l.shape) == 1 {
		return G.NewVector(g, tensor.Float32, G.WithShape(l.shape...), G.WithName(l.name), G.WithValue(t))
	}
	return G.NewMatrix(g, tensor.Float32, G.WithShape(l.shape...), G.WithName(l.name), G.WithValue(t))
}

// gradCheck builds f over the leaves twice (analytic run, then repeated
// forward runs for the differences) and compares.
func gradCheck(t *testing.T, name string, leaves []*leaf, f func(in G.Nodes) *G.Node, tol float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(99, 1))
	build := func(withGrad bool) (G.VM, *G.Node, G.Nodes, G.Nodes) {
		g := G.NewGraph()
		in := make(G.Nodes, len(leaves))
		var wrt G.Nodes
		for i, l := range leaves {
			in[i] = l.node(g)
			if l.diff {
				wrt = append(wrt, in[i])
			}
		}
		out := f(in)
		cost := out
		if !out.IsScalar() {
			// loss = Σ R ⊙ out with a fixed projection R
			r := make([]float32, out.Shape().TotalSize())
			prng := rand.New(rand.NewPCG(7, 7))
			for i := range r {
				r[i] = float32(prng.NormFloat64())
			}
			rn := G.NewConstant(tensor.New(tensor.WithShape(out.Shape()...), tensor.WithBacking(r)))
			cost = G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
		}
		var grads G.Nodes
		if withGrad {
			var err error
			if grads, err = G.Grad(cost, wrt...); err != nil {
				t.Fatalf("%s: Grad: %v", name, err)
			}
		}
		return G.NewTapeMachine(g), cost, wrt, grads
	}
	vm, _, wrt, grads := build(true)
	if err := vm.RunAll(); err != nil {
		t.Fatalf("%s: run: %v", name, err)
	}
	analytic := make([][]float32, len(grads))
	for i, gn := range grads {
		analytic[i] = append([]float32{}, f32s(gn.Value())...)
	}
	fvm, fcost, _, _ := build(false)
	eval := func() float64 {
		fvm.Reset()
		if err := fvm.RunAll(); err != nil {
			t.Fatalf("%s: forward: %v", name, err)
		}
		return float64(scalarOf(fcost.Value()))
	}
	li := 0
	for _, l := range leaves {
		if !l.diff {
			continue
		}
		an := analytic[li]
		li++
		if len(an) != len(l.data) {
			t.Fatalf("%s: gradient of %s has %d values, want %d", name, l.name, len(an), len(l.data))
		}
		for trial := 0; trial < 6; trial++ {
			i := rng.IntN(len(l.data))
			old := l.data[i]
			h := float32(1e-2) * float32(math.Max(1, math.Abs(float64(old))))
			l.data[i] = old + h
			lp := eval()
			l.data[i] = old - h
			lm := eval()
			l.data[i] = old
			fd := (lp - lm) / (2 * float64(h))
			if d := math.Abs(fd - float64(an[i])); d > tol*(1+math.Abs(fd)) {
				t.Errorf("%s: d/d%s[%d]: analytic %.6g, finite difference %.6g", name, l.name, i, an[i], fd)
			}
		}
	}
	_ = wrt
}

func TestGradLinear(t *testing.T) {
	for _, act := range []Activation{ActNone, ActGELU, ActTanh, ActGELUErf} {
		rng := rand.New(rand.NewPCG(1, uint64(act)))
		leaves := []*leaf{randLeaf(rng, "x", 1, 5, 7), randLeaf(rng, "w", 0.5, 3, 7), randLeaf(rng, "b", 0.5, 3)}
		gradCheck(t, fmt.Sprintf("linear/act%d", act), leaves, func(in G.Nodes) *G.Node {
			return linear(in[0], in[1], in[2], act)
		}, 2e-2)
	}
}

func TestGradLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	leaves := []*leaf{randLeaf(rng, "x", 1, 4, 8), randLeaf(rng, "g", 1, 8), randLeaf(rng, "b", 1, 8)}
	gradCheck(t, "layernorm", leaves, func(in G.Nodes) *G.Node {
		return layerNorm(in[0], nil, in[1], in[2], 1e-12)
	}, 2e-2)
	leaves = []*leaf{randLeaf(rng, "x", 1, 4, 8), randLeaf(rng, "r", 1, 4, 8), randLeaf(rng, "g", 1, 8), randLeaf(rng, "b", 1, 8)}
	gradCheck(t, "add_layernorm", leaves, func(in G.Nodes) *G.Node {
		return layerNorm(in[0], in[1], in[2], in[3], 1e-12)
	}, 2e-2)
}

func TestGradFourierMix(t *testing.T) {
	for _, method := range []kernels.MixMethod{kernels.MixFFT, kernels.MixDFT} {
		rng := rand.New(rand.NewPCG(3, uint64(method)))
		B, S, H := 2, 5, 6
		mixer := kernels.NewFourierMixer(S, H, method)
		leaves := []*leaf{randLeaf(rng, "x", 1, B*S, H)}
		gradCheck(t, "fourier_mix/"+method.String(), leaves, func(in G.Nodes) *G.Node {
			return fourierMix(in[0], mixer, B)
		}, 1e-2)
	}
}

func TestGradEmbeddingAndGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	B, S, H, V, P, T := 2, 4, 3, 6, 5, 2
	ids := []int{1, 5, 1, 0, 3, 3, 2, 4}
	types := []int{0, 0, 1, 1, 0, 1, 1, 1}
	leaves := []*leaf{randLeaf(rng, "word", 1, V, H), randLeaf(rng, "pos", 1, P, H), randLeaf(rng, "type", 1, T, H), intLeaf("ids", ids), intLeaf("types", types)}
	gradCheck(t, "embedding", leaves, func(in G.Nodes) *G.Node {
		return embedding(in[0], in[1], in[2], in[3], in[4], B, S)
	}, 1e-2)
	K := 3
	leaves = []*leaf{randLeaf(rng, "h", 1, B*S, H), intLeaf("pos", []int{0, 2, 2, 3, 1, 0})}
	gradCheck(t, "gather_rows", leaves, func(in G.Nodes) *G.Node {
		return gatherRows(in[0], in[1], B, S, K)
	}, 1e-2)
}

func TestGradLosses(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var st ceStats
	leaves := []*leaf{randLeaf(rng, "logits", 2, 6, 9), intLeaf("labels", []int{0, 8, 3, 3, 1, 5}), randLeaf(rng, "w", 1, 6)}
	leaves[2].diff = false
	for i := range leaves[2].data {
		leaves[2].data[i] = float32(i % 3 / 2) // some zero-weight (padding) rows
	}
	leaves[2].data[0] = 1
	gradCheck(t, "softmax_ce/weighted", leaves, func(in G.Nodes) *G.Node {
		return softmaxCE(in[0], in[1], in[2], &st)
	}, 1e-2)
	leaves = []*leaf{randLeaf(rng, "logits", 2, 4, 3), intLeaf("labels", []int{2, 0, 1, 1})}
	gradCheck(t, "softmax_ce", leaves, func(in G.Nodes) *G.Node {
		return softmaxCE(in[0], in[1], nil, &st)
	}, 1e-2)
	var ss float64
	leaves = []*leaf{randLeaf(rng, "pred", 1, 5, 1), randLeaf(rng, "target", 1, 5)}
	leaves[1].diff = false
	gradCheck(t, "mse", leaves, func(in G.Nodes) *G.Node {
		return mseLoss(in[0], in[1], &ss)
	}, 1e-2)
	leaves = []*leaf{randLeaf(rng, "a", 1, 5, 1), randLeaf(rng, "target", 1, 5), randLeaf(rng, "b", 1, 5, 2), intLeaf("labels", []int{0, 1, 1, 0, 1})}
	leaves[1].diff = false
	gradCheck(t, "scalar_sum", leaves, func(in G.Nodes) *G.Node {
		return scalarSum(mseLoss(in[0], in[1], &ss), softmaxCE(in[2], in[3], nil, &st))
	}, 1e-2)
}

func TestGradDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	ctr := &dropoutCounter{seed: 11, step: 3}
	leaves := []*leaf{randLeaf(rng, "x", 1, 8, 16)}
	gradCheck(t, "dropout", leaves, func(in G.Nodes) *G.Node {
		return dropout(in[0], 0.3, 2, ctr)
	}, 1e-2)
}
