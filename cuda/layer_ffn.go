package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// The feed-forward sublayer of layer i, forward beside backward:
//
//	ffnPre = mixLN·W1ᵀ, ffnGelu = gelu(ffnPre + b1)
//	hidden[i+1] = LayerNorm(mixLN + dropout(ffnGelu·W2ᵀ + b2))

func (p *pass) ffnForward(i int) error {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	if err := p.linear(a.mixLNG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.ffnPre[i], e.prec.gemmType()); err != nil {
		return err
	}
	if err := e.l.launch("bias_gelu", rowColGrid(T, F), block1D, 0, a.ffnPre[i], e.param(e.params, fnet.LayerParam(i, fnet.FFInB)),
		int64(T), int32(F), a.ffnGelu[i]); err != nil {
		return err
	}
	if err := p.linear(a.ffnGelu[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.branch, cudaR32F); err != nil {
		return err
	}
	d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteFFN(i))
	return p.ln(a.mixLN[i], a.branch, e.param(e.params, fnet.LayerParam(i, fnet.FFOutB)), d,
		fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
		T, a.outLNXhat[i], a.outLNRstd[i], a.hidden[i+1], p.gOrNil(a.hiddenG[i+1]), p.dB())
}

// ffnBackward takes the gradient at the layer's output hidden[i+1]
// (dLayerOut) to the gradient at the sublayer's input mixLN, in dMixLN (the
// residual's share plus the FFN's), adding the sublayer's parameter gradients.
func (p *pass) ffnBackward(i int) error {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	gt := e.prec.gemmType()
	// LayerNorm: dMixLN = d(mixLN + dropout(z)), dBranch = dropout(dMixLN) = dz (z = ffnGelu·W2ᵀ + b2)
	d := e.dropoutAt(true, p.dstep, fnet.DropoutSiteFFN(i))
	if err := p.lnBackward(a.dLayerOut, a.outLNXhat[i], a.outLNRstd[i], fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
		T, a.dMixLN, a.dBranch, d, p.dB()); err != nil {
		return err
	}
	if err := p.colsum("f32", a.dMixLN, 0, d, T, H, e.param(e.grads, fnet.LayerParam(i, fnet.FFOutB)), 0, p.dB()); err != nil {
		return err
	}
	if err := p.linearBackward(a.dBranch, a.ffnGelu[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.dFFNGelu, gt, false); err != nil {
		return err
	}
	// ffnGelu = gelu(ffnPre + b1)
	if err := p.geluBackward(a.dFFNGelu, a.ffnPre[i], fnet.LayerParam(i, fnet.FFInB), T, F, a.dFFNPre); err != nil {
		return err
	}
	// ffnPre = mixLN·W1ᵀ: dMixLN += dFFNPre·W1
	return p.linearBackward(a.dFFNPre, a.mixLNG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.dMixLN, cudaR32F, true)
}

// geluBackward writes du = dh·gelu'(u + b) and adds its column sums (in
// float32, before rounding du) into the bias gradient, in one pass.
func (p *pass) geluBackward(dh, u DevPtr, bias string, rows, C int, du DevPtr) error {
	e, a := p.e, p.a
	chunks, rpc := colsumChunks(rows)
	grid := [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}
	if err := e.l.launch("gelu_bwd_colsum", grid, [3]uint32{32, 8, 1}, 0, dh, u, e.param(e.params, bias), int32(rows), int32(C), int32(rpc), du, a.colsumPartials); err != nil {
		return err
	}
	fgrid := [3]uint32{uint32((C + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
	return e.l.launch("colsum_final", fgrid, block1D, 0, a.colsumPartials, int32(chunks), int32(C), int32(C), float32(1), e.param(e.grads, bias), int32(0), DevPtr(0))
}
