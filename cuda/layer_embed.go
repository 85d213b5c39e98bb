package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// The embeddings, forward beside backward:
//
//	hidden[0] = dropout(embLN·Wpᵀ + bp), embLN = LayerNorm(word[id] + pos[s] + type[t])
//
// (FNet projects the embeddings to the hidden size; the gather, sum and
// LayerNorm are one kernel). BERT has no projection:
//
//	hidden[0] = dropout(LayerNorm(word[id] + pos[s] + type[t]))
//
// in one kernel (embed_ln_drop_fwd), and its backward is the dropout's and
// the LayerNorm's.

func (p *pass) embeddingsForward() error {
	e, a, b := p.e, p.a, p.b
	H, T := e.cfg.HiddenSize, p.T
	if !e.cfg.HasEmbeddingProjection() {
		d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteEmbeddings)
		return e.l.launch("embed_ln_drop_fwd", warpRowGrid(T), block1D, 0, a.ids, a.typeIDs,
			e.param(e.params, fnet.WordEmbName), e.param(e.params, fnet.PosEmbName), e.param(e.params, fnet.TypeEmbName),
			e.param(e.params, fnet.EmbLNWeight), e.param(e.params, fnet.EmbLNBias), int32(T), int32(b.S), int32(H),
			float32(e.cfg.LayerNormEps), d.seed, d.step, d.site, d.thr, d.scale, a.embLNXhat, a.embLNRstd,
			a.hidden[0], p.gOrNil(a.hiddenG[0]), p.dB())
	}
	if err := e.l.launch("embed_ln_fwd", warpRowGrid(T), block1D, 0, a.ids, a.typeIDs,
		e.param(e.params, fnet.WordEmbName), e.param(e.params, fnet.PosEmbName), e.param(e.params, fnet.TypeEmbName),
		e.param(e.params, fnet.EmbLNWeight), e.param(e.params, fnet.EmbLNBias), int32(T), int32(b.S), int32(H),
		float32(e.cfg.LayerNormEps), a.embLNXhat, a.embLNRstd, a.embLN, p.dB()); err != nil {
		return err
	}
	if err := p.linear(a.embLN, T, H, H, fnet.EmbProjWeight, a.branch, cudaR32F); err != nil {
		return err
	}
	d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteEmbeddings)
	return e.l.launch("bias_dropout", rowColGrid(T, H), block1D, 0, a.branch, e.param(e.params, fnet.EmbProjBias),
		d.seed, d.step, d.site, d.thr, d.scale, int64(T), int32(H), a.hidden[0], p.gOrNil(a.hiddenG[0]), p.dB())
}

// embeddingsBackward takes the gradient at hidden[0] (dLayerOut) into the
// embedding tables' gradients (word and type rows added atomically).
func (p *pass) embeddingsBackward() error {
	e, a := p.e, p.a
	H, T := e.cfg.HiddenSize, p.T
	d := e.dropoutAt(true, p.dstep, fnet.DropoutSiteEmbeddings)
	if !e.cfg.HasEmbeddingProjection() {
		// branch = dropout(dLayerOut), the gradient at the LayerNorm's
		// output (dropout_to_g's GEMM-typed copy in dBranch is not read)
		if err := e.l.launch("dropout_to_g", rowColGrid(T, H), block1D, 0, a.dLayerOut, d.seed, d.step, d.site, d.thr, d.scale, int64(T), int32(H), a.dBranch, a.branch, p.dB()); err != nil {
			return err
		}
		return p.embeddingLNBackward(a.branch)
	}
	// In bf16 mode the data gradient through the projection takes float32
	// operands (TF32): it is 1/40 of the step's FLOPs, and every embedding
	// gradient sums it over the whole batch, so bf16 rounding here showed
	// up among the largest parity errors (embeddings.LayerNorm.bias).
	var dPf DevPtr
	if e.prec == BF16 {
		dPf = a.dMixLN
	}
	if err := e.l.launch("dropout_to_g", rowColGrid(T, H), block1D, 0, a.dLayerOut, d.seed, d.step, d.site, d.thr, d.scale, int64(T), int32(H), a.dBranch, dPf, p.dB()); err != nil {
		return err
	}
	if err := p.colsum("f32", a.dLayerOut, 0, d, T, H, e.param(e.grads, fnet.EmbProjBias), 0, p.dB()); err != nil {
		return err
	}
	if e.prec == BF16 {
		if err := p.linearBackward(a.dBranch, a.embLN, T, H, H, fnet.EmbProjWeight, 0, 0, false); err != nil {
			return err
		}
		if err := e.gemm(false, false, T, H, H, 1, dPf, cudaR32F, H, e.param(e.params, fnet.EmbProjWeight), cudaR32F, H, 0, a.branch, cudaR32F, H, computeF32FastTF32); err != nil {
			return err
		}
	} else if err := p.linearBackward(a.dBranch, a.embLN, T, H, H, fnet.EmbProjWeight, a.branch, cudaR32F, false); err != nil {
		return err
	}
	return p.embeddingLNBackward(a.branch)
}

// embeddingLNBackward takes the gradient at the embedding LayerNorm's
// output (dy) into γ, β and the three tables' gradients.
func (p *pass) embeddingLNBackward(dy DevPtr) error {
	e, a, b := p.e, p.a, p.b
	H, T := e.cfg.HiddenSize, p.T
	if err := p.lnBackward(dy, a.embLNXhat, a.embLNRstd, fnet.EmbLNWeight, fnet.EmbLNBias, T, a.dLayerIn, 0, noDropout, 0); err != nil {
		return err
	}
	blk := [3]uint32{uint32(min(threadsPerBlock, (H+31)/32*32)), 1, 1}
	return e.l.launch("embed_bwd", [3]uint32{uint32(b.S), 1, 1}, blk, 0, a.dLayerIn, a.ids, a.typeIDs, int32(b.B), int32(b.S), int32(H),
		e.param(e.grads, fnet.WordEmbName), e.param(e.grads, fnet.PosEmbName), e.param(e.grads, fnet.TypeEmbName), p.seqMajorFlag())
}
