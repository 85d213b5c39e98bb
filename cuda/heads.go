package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// The heads on the encoder output, each forward beside its backward: the
// masked-LM head on the masked positions, and the pooler with the
// next-sentence or classifier (or regression) head on the [CLS] rows.

// mlmForward runs the masked-LM head on the masked rows of hidden[L]: the
// loss sums go to the stats; training also leaves the loss gradient at the
// logits (dMLMLogits, scaled by scale over the masked weights' sum).
func (p *pass) mlmForward() error {
	e, a, b := p.e, p.a, p.b
	H, V, M, L := e.cfg.HiddenSize, e.cfg.VocabSize, p.M, e.cfg.NumLayers
	l := e.l
	if err := l.launch("gather_rows", elementwiseGrid(int64(M*H)), block1D, 0, a.hiddenG[L], a.maskedPos, int32(b.B), int32(b.S), int32(b.K), int32(H), a.mlmIn, p.seqMajorFlag()); err != nil {
		return err
	}
	if err := p.linear(a.mlmIn, M, H, H, fnet.MLMDenseW, a.mlmPre, cudaR32F); err != nil {
		return err
	}
	if err := l.launch("bias_gelu_f32", rowColGrid(M, H), block1D, 0, a.mlmPre, e.param(e.params, fnet.MLMDenseB), int64(M), int32(H), a.mlmGelu); err != nil {
		return err
	}
	if err := p.ln(0, a.mlmGelu, 0, noDropout, fnet.MLMLNWeight, fnet.MLMLNBias, M, a.mlmLNXhat, a.mlmLNRstd, 0, a.mlmLN, 0); err != nil {
		return err
	}
	gt := e.prec.gemmType()
	if err := e.gemm(false, true, M, V, H, 1, a.mlmLN, gt, H, e.gparam(fnet.WordEmbName), gt, H, 0, a.mlmLogits, cudaR32F, V, e.prec.computeType()); err != nil {
		return err
	}
	var wsum float64
	for _, w := range b.MaskedWeight {
		wsum += float64(w)
	}
	gscale := float32(0)
	if wsum > 0 {
		gscale = float32(float64(p.scale) / wsum)
	}
	var dl DevPtr
	if p.train {
		dl = a.dMLMLogits
	}
	return l.launch("mlm_xent", [3]uint32{uint32(M), 1, 1}, [3]uint32{512, 1, 1}, 0, a.mlmLogits, e.param(e.params, fnet.MLMBias),
		a.maskedLabels, a.maskedWeights, int32(M), int32(V), gscale, e.stats+8*statMLMLoss, dl)
}

// mlmBackward adds the head's parameter gradients and scatters the
// gradient at its input rows into dLayerOut (the gradient at hidden[L]).
func (p *pass) mlmBackward() error {
	e, a, b := p.e, p.a, p.b
	H, V, M := e.cfg.HiddenSize, e.cfg.VocabSize, p.M
	gt, ct := e.prec.gemmType(), e.prec.computeType()
	// mlmLogits = mlmLN·Eᵀ (+ bias): the tied decoder
	if err := p.colsum("g", a.dMLMLogits, 0, noDropout, M, V, e.param(e.grads, fnet.MLMBias), 0, 0); err != nil {
		return err
	}
	if err := e.gemm(true, false, V, H, M, 1, a.dMLMLogits, gt, V, a.mlmLN, gt, H, 1, e.param(e.grads, fnet.WordEmbName), cudaR32F, H, ct); err != nil {
		return err
	}
	if err := e.gemm(false, false, M, H, V, 1, a.dMLMLogits, gt, V, e.gparam(fnet.WordEmbName), gt, H, 0, a.dMLMLN, cudaR32F, H, ct); err != nil {
		return err
	}
	if err := p.lnBackward(a.dMLMLN, a.mlmLNXhat, a.mlmLNRstd, fnet.MLMLNWeight, fnet.MLMLNBias, M, a.dMLMGelu, 0, noDropout, 0); err != nil {
		return err
	}
	if err := e.l.launch("gelu_bwd_f32", rowColGrid(M, H), block1D, 0, a.dMLMGelu, a.mlmPre, e.param(e.params, fnet.MLMDenseB),
		int64(M), int32(H), a.dMLMPre, a.dMLMPreG); err != nil {
		return err
	}
	if err := p.colsum("f32", a.dMLMPre, 0, noDropout, M, H, e.param(e.grads, fnet.MLMDenseB), 0, 0); err != nil {
		return err
	}
	if err := p.linearBackward(a.dMLMPreG, a.mlmIn, M, H, H, fnet.MLMDenseW, a.dMLMIn, cudaR32F, false); err != nil {
		return err
	}
	return e.l.launch("scatter_add_rows", elementwiseGrid(int64(M*H)), block1D, 0, a.dMLMIn, a.maskedPos, int32(b.B), int32(b.S), int32(b.K), int32(H), a.dLayerOut, p.seqMajorFlag())
}

// seqForward runs the pooler on the [CLS] rows of hidden[L] and the
// next-sentence or task head on it (softmax cross-entropy, or MSE for
// regression); training also leaves dSeqLogits (scaled by scale / B).
func (p *pass) seqForward() error {
	e, a, b := p.e, p.a, p.b
	H := e.cfg.HiddenSize
	L := e.cfg.NumLayers
	if err := e.l.launch("pooler_fwd", warpRowGrid(b.B*H), block1D, 0, a.hidden[L], p.clsStride(), int32(H),
		e.param(e.params, fnet.PoolerWeight), e.param(e.params, fnet.PoolerBias), int32(b.B), a.pooled); err != nil {
		return err
	}
	w, bias := fnet.NSPWeight, fnet.NSPBias
	if p.task {
		w, bias = fnet.ClsWeight, fnet.ClsBias
	}
	gscale := p.scale / float32(b.B)
	var dl DevPtr
	if p.train {
		dl = a.dSeqLogits
	}
	return e.l.launch("seq_head_fwd", warpRowGrid(b.B), block1D, 0, a.pooled, e.param(e.params, w), e.param(e.params, bias),
		int32(b.B), int32(H), int32(p.seqN), a.seqLabels, a.targets, p.seqMode, gscale, e.stats+DevPtr(8*p.seqStat), a.seqLogits, dl)
}

// seqBackward adds the head's and the pooler's parameter gradients and
// the gradient at the [CLS] rows into dLayerOut.
func (p *pass) seqBackward() error {
	e, a, b := p.e, p.a, p.b
	H, L := e.cfg.HiddenSize, e.cfg.NumLayers
	w, bias := fnet.NSPWeight, fnet.NSPBias
	if p.task {
		w, bias = fnet.ClsWeight, fnet.ClsBias
	}
	n := p.seqN
	if err := e.l.launch("seq_head_bwd_w", elementwiseGrid(int64(n*H)), block1D, 0, a.dSeqLogits, a.pooled, int32(b.B), int32(H), int32(n),
		e.param(e.grads, w), e.param(e.grads, bias)); err != nil {
		return err
	}
	if err := e.l.launch("seq_head_bwd_x", elementwiseGrid(int64(b.B*H)), block1D, 0, a.dSeqLogits, e.param(e.params, w), a.pooled,
		int32(b.B), int32(H), int32(n), a.dPoolerPre); err != nil {
		return err
	}
	if err := e.l.launch("pooler_bwd_w", elementwiseGrid(int64(H*H)), block1D, 0, a.dPoolerPre, a.hidden[L], p.clsStride(), int32(H), int32(b.B),
		e.param(e.grads, fnet.PoolerWeight), e.param(e.grads, fnet.PoolerBias)); err != nil {
		return err
	}
	return e.l.launch("pooler_bwd_x", elementwiseGrid(int64(b.B*H)), block1D, 0, a.dPoolerPre, e.param(e.params, fnet.PoolerWeight),
		p.clsStride(), int32(H), int32(b.B), a.dLayerOut)
}
