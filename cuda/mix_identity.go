package cuda

// FF-only mixing (fnet.MixIdentity): mix(x) = x, so the sublayer is
// LayerNorm(x + x) (layer_mix.go hands the LayerNorm hidden[i] twice; no
// launch), and the backward doubles the gradient: dx = dpre + dpre.

// identityBackward adds dPre into dx (which may be dPre itself).
func (p *pass) identityBackward(dPre, dx DevPtr) error {
	n := int64(p.T * p.e.cfg.HiddenSize)
	return p.e.l.launch("axpy_f32", elementwiseGrid(n), block1D, 0, dPre, float32(1), n, dx)
}
