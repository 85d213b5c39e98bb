package cuda

import "strconv"

// LayerNorm, forward and backward, with the residual add, bias and
// dropout fused into the forward and the γ/β gradients as column sums.
// With Options.Fuse the forward may take ln_fwd_vec (FuseLayerNormForward)
// and the backward ln_bwd_colsum_K (FuseLayerNormBackward), both in
// kernels/layernorm.cu. Both sublayers of every layer and the masked-LM
// head go through ln and lnBackward, so both flags cover them; the
// embeddings' LayerNorm goes through lnBackward only (its forward is fused
// with the embedding sum in embed_ln_fwd / embed_ln_drop_fwd,
// layer_embed.go), so FuseLayerNormBackward covers it and
// FuseLayerNormForward does not.

// ln runs LayerNorm(res + dropout(add + bias)) over rows; dB is the
// layout argument of the dropout index (0 for the masked-LM head's rows).
func (p *pass) ln(res, add, bias DevPtr, d dropout, lnW, lnB string, rows int, xhat, rstd, out, outG DevPtr, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	return e.l.launch(e.lnForwardKernel(), warpRowGrid(rows), block1D, 0, res, add, bias, d.seed, d.step, d.site, d.thr, d.scale,
		e.param(e.params, lnW), e.param(e.params, lnB), int32(rows), int32(H), float32(e.cfg.LayerNormEps), xhat, rstd, out, outG, dB)
}

// lnBackward is ln's backward over rows: dx (float32) is the gradient at
// the LayerNorm's input res + z; dxG, when not 0, gets dropout(dx) (d is the
// forward's dropout, dB its layout argument), the gradient at add + bias,
// GEMM-typed; the γ and β gradients are added as column sums.
func (p *pass) lnBackward(dy, xhat, rstd DevPtr, lnW, lnB string, rows int, dx, dxG DevPtr, d dropout, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	if k := e.lnBackwardFusedKernel(); k != "" {
		return p.lnBackwardFused(k, dy, xhat, rstd, lnW, lnB, rows, dx, dxG, d, dB)
	}
	if err := e.l.launch(e.lnKernel("ln_bwd"), warpRowGrid(rows), block1D, 0, dy, xhat, rstd, e.param(e.params, lnW), int32(rows), int32(H),
		dx, dxG, d.seed, d.step, d.site, d.thr, d.scale, dB); err != nil {
		return err
	}
	return p.colsum("ln", dy, xhat, noDropout, rows, H, e.param(e.grads, lnW), e.param(e.grads, lnB), 0)
}

// lnBackwardFused is lnBackward in one pass over dy and x̂: kernel k
// (ln_bwd_colsum_K) writes dx and dxG as ln_bwd_reg does and one γ/β
// partial row per chunk of rows, which ln_colsum_final adds into the
// gradients (see lnColsumChunks).
func (p *pass) lnBackwardFused(k string, dy, xhat, rstd DevPtr, lnW, lnB string, rows int, dx, dxG DevPtr, d dropout, dB int32) error {
	e, a := p.e, p.a
	H := e.cfg.HiddenSize
	chunks, rpc := lnColsumChunks(rows, H, a.colsumFloats)
	if err := e.l.launch(k, [3]uint32{uint32(chunks), 1, 1}, block1D, 0, dy, xhat, rstd, e.param(e.params, lnW), int32(rows), int32(H), int32(rpc),
		dx, dxG, d.seed, d.step, d.site, d.thr, d.scale, dB, a.colsumPartials); err != nil {
		return err
	}
	return e.l.launch("ln_colsum_final", [3]uint32{uint32((2*H + 31) / 32), 1, 1}, [3]uint32{32, 16, 1}, 0,
		a.colsumPartials, int32(chunks), int32(H), e.param(e.grads, lnW), e.param(e.grads, lnB))
}

// lnKernel picks the register-resident LayerNorm when a row fits
// (H ≤ 1024, 32 values per lane).
func (e *Engine) lnKernel(name string) string {
	if e.cfg.HiddenSize <= 32*32 {
		return name + "_reg"
	}
	return name
}

// lnForwardKernel is the forward LayerNorm kernel: ln_fwd_vec when
// FuseLayerNormForward is set and a row is whole 16-byte vectors that fit
// its registers (H % 4 == 0, H ≤ 1024), else the plain choice.
func (e *Engine) lnForwardKernel() string {
	if H := e.cfg.HiddenSize; e.fuse.Has(FuseLayerNormForward) && H%4 == 0 && H <= 32*32 {
		return "ln_fwd_vec"
	}
	return e.lnKernel("ln_fwd")
}

// lnBackwardFusedKernel is the fused backward's instance for this hidden
// size (ln_bwd_colsum_K keeps K = 8, 16, 24 or 32 values per lane, the
// smallest with 32·K ≥ H), or "" when FuseLayerNormBackward is off or a
// row does not fit (H > 1024: the plain ln_bwd and colsum_ln run).
func (e *Engine) lnBackwardFusedKernel() string {
	H := e.cfg.HiddenSize
	if !e.fuse.Has(FuseLayerNormBackward) || H > 32*32 {
		return ""
	}
	for _, k := range []int{8, 16, 24, 32} {
		if H <= 32*k {
			return "ln_bwd_colsum_" + strconv.Itoa(k)
		}
	}
	return ""
}
