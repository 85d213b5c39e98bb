package cuda

// LayerNorm, forward and backward, with the residual add, bias and
// dropout fused into the forward and the γ/β gradients as column sums.

// ln runs LayerNorm(res + dropout(add + bias)) over rows; dB is the
// layout argument of the dropout index (0 for the masked-LM head's rows).
func (p *pass) ln(res, add, bias DevPtr, d dropout, lnW, lnB string, rows int, xhat, rstd, out, outG DevPtr, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	return e.l.launch(e.lnKernel("ln_fwd"), warpRowGrid(rows), block1D, 0, res, add, bias, d.seed, d.step, d.site, d.thr, d.scale,
		e.param(e.params, lnW), e.param(e.params, lnB), int32(rows), int32(H), float32(e.cfg.LayerNormEps), xhat, rstd, out, outG, dB)
}

// lnBackward is ln's backward over rows: dx (float32) is the gradient at
// the LayerNorm's input res + z; dxG, when not 0, gets dropout(dx) (d is the
// forward's dropout, dB its layout argument), the gradient at add + bias,
// GEMM-typed; the γ and β gradients are added as column sums.
func (p *pass) lnBackward(dy, xhat, rstd DevPtr, lnW, lnB string, rows int, dx, dxG DevPtr, d dropout, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	if err := e.l.launch(e.lnKernel("ln_bwd"), warpRowGrid(rows), block1D, 0, dy, xhat, rstd, e.param(e.params, lnW), int32(rows), int32(H),
		dx, dxG, d.seed, d.step, d.site, d.thr, d.scale, dB); err != nil {
		return err
	}
	return p.colsum("ln", dy, xhat, noDropout, rows, H, e.param(e.grads, lnW), e.param(e.grads, lnB), 0)
}

// lnKernel picks the register-resident LayerNorm when a row fits
// (H ≤ 1024, 32 values per lane).
func (e *Engine) lnKernel(name string) string {
	if e.cfg.HiddenSize <= 32*32 {
		return name + "_reg"
	}
	return name
}
