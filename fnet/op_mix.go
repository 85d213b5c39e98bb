package fnet

import (
	"github.com/fnet-tui/fnet-tui/kernels"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// fourierMix is FNet's token mixing: Re(FFT2(x)) of each [S, H] example of
// x [B·S, H], unnormalised, no parameters. The map is self-adjoint, so its
// backward node is the same transform applied to the gradient.
func fourierMix(x *G.Node, mixer *kernels.FourierMixer, B int) *G.Node {
	rows, h := x.Shape()[0], x.Shape()[1]
	y := newOwned(rows, h)
	op := newOp("fourier_mix", fnType(f32Mat, f32Mat), tensor.Shape{rows, h}, []bool{true})
	op.do = func(v []G.Value) (G.Value, error) {
		mixer.Mix(f32s(v[0]), y.data, B)
		return y.t, nil
	}
	op.symDiff = func(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
		return G.Nodes{fourierMixGrad(grad, mixer, B)}, nil
	}
	return apply(op, x)
}

func fourierMixGrad(dy *G.Node, mixer *kernels.FourierMixer, B int) *G.Node {
	rows, h := dy.Shape()[0], dy.Shape()[1]
	dx := newOwned(rows, h)
	op := newOp("fourier_mix_grad", fnType(f32Mat, f32Mat), tensor.Shape{rows, h}, []bool{false})
	op.do = func(v []G.Value) (G.Value, error) {
		mixer.Mix(f32s(v[0]), dx.data, B)
		return dx.t, nil
	}
	return apply(op, dy)
}
