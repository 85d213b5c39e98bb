package cuda

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// dropout holds one site's dropout arguments as the kernels take them.
type dropout struct {
	seed, step uint64
	site       uint32
	thr        uint32
	scale      float32
}

var noDropout = dropout{scale: 1}

func (e *Engine) dropoutAt(train bool, step uint64, site uint32) dropout {
	p := e.cfg.DropoutProb
	if !train || p <= 0 {
		return noDropout
	}
	return dropout{seed: e.seed, step: step, site: site, thr: fnet.DropoutThreshold(p), scale: float32(1 / (1 - p))}
}

// pass is one forward (and maybe backward) run over a batch.
type pass struct {
	e      *Engine
	a      *activations
	b      *fnet.Batch
	train  bool
	dstep  uint64
	scale  float32
	T, M   int
	tables *dftTables
	// which heads run on this batch
	mlm, nsp, task bool
	seqN           int
	seqMode        int32
	seqStat        int
}

func (e *Engine) newPass(b *fnet.Batch, train bool, dstep uint64, scale float32) (*pass, error) {
	if err := b.Validate(e.cfg); err != nil {
		return nil, err
	}
	a, err := e.activationsFor(b.B, b.S, b.K)
	if err != nil {
		return nil, err
	}
	t, err := e.tablesFor(b.S)
	if err != nil {
		return nil, err
	}
	p, err := e.passFor(b, train, dstep, scale, a, t)
	if err != nil {
		return nil, err
	}
	return p, p.upload()
}

// passFor decides which heads run on the batch (no device work).
func (e *Engine) passFor(b *fnet.Batch, train bool, dstep uint64, scale float32, a *activations, t *dftTables) (*pass, error) {
	p := &pass{e: e, a: a, b: b, train: train, dstep: dstep, scale: scale, T: b.B * b.S, M: b.B * b.K, tables: t}
	h, err := fnet.PlanHeads(e.cfg, e.heads, b)
	if err != nil {
		return nil, fmt.Errorf("cuda engine: %w", err)
	}
	p.mlm, p.nsp, p.task, p.seqN = h.MLM, h.NSP, h.Task, h.SeqOutputs
	switch {
	case h.Task:
		p.seqStat = statTaskLoss
		if h.Regression {
			p.seqMode = 1
		}
	case h.NSP:
		p.seqStat = statNSPLoss
	}
	return p, nil
}

// dB is the kernels' layout argument: the batch size when token rows are
// seq-major, 0 when batch-major.
func (p *pass) dB() int32 {
	if p.e.seqMajor {
		return int32(p.b.B)
	}
	return 0
}

// seqMajorFlag is 1 for seq-major rows.
func (p *pass) seqMajorFlag() int32 {
	if p.e.seqMajor {
		return 1
	}
	return 0
}

// clsStride is the row distance between the sequences' [CLS] rows.
func (p *pass) clsStride() int32 {
	if p.e.seqMajor {
		return 1
	}
	return int32(p.b.S)
}

// upload copies the batch's ids, positions, labels and weights in one transfer.
func (p *pass) upload() error {
	a, b := p.a, p.b
	buf := make([]uint32, a.inputWords)
	put := func(off int, xs []int) {
		for i, x := range xs {
			buf[off+i] = uint32(int32(x))
		}
	}
	ids, types := b.InputIDs, b.TypeIDs
	if p.e.seqMajor {
		ids, types = toSeqMajor(ids, b.B, b.S), toSeqMajor(types, b.B, b.S)
	}
	put(a.offIDs, ids)
	put(a.offTypes, types)
	if b.K > 0 {
		put(a.offPos, b.MaskedPos)
		put(a.offLabels, b.MaskedLabels)
		for i, w := range b.MaskedWeight {
			buf[a.offWeights+i] = math.Float32bits(w)
		}
	}
	if b.Labels != nil {
		put(a.offSeqLb, b.Labels)
	}
	for i, t := range b.Targets {
		buf[a.offTargets+i] = math.Float32bits(t)
	}
	e := p.e
	if err := e.htod(a.input, unsafe.Pointer(&buf[0]), 4*len(buf)); err != nil {
		return err
	}
	return e.memsetD32(e.stats, 0, 2*numStats)
}

// gemm runs a row-major GEMM C[M,N] = α·op(A)·op(B) + β·C on the engine's handle.
func (e *Engine) gemm(transA, transB bool, m, n, k int, alpha float32, a DevPtr, at, lda int, b DevPtr, bt, ldb int, beta float32, c DevPtr, ct, ldc int, compute int) error {
	return e.gemmCall(gemmCall{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: gemmOperand{ptr: a, dtype: at, ld: lda}, b: gemmOperand{ptr: b, dtype: bt, ld: ldb},
		c: gemmOperand{ptr: c, dtype: ct, ld: ldc}, compute: compute})
}

// gemmCall runs one cuBLAS call on the engine's handle (timed when profiling).
func (e *Engine) gemmCall(g gemmCall) error {
	if d := e.dry(); d != nil {
		d.record(dryOp{name: gemmLabel(g), gemm: &g})
		return g.validate()
	}
	timed := e.prof != nil && e.prof.begin()
	err := e.s.cublas.gemm(e.blas, g)
	if timed {
		e.prof.end(gemmLabel(g))
	}
	return err
}

// linear: out[rows, out] = in[rows, in]·Wᵀ (W stored [out, in], the GEMM-typed copy).
func (p *pass) linear(in DevPtr, rows, nIn, nOut int, w string, out DevPtr, outType int) error {
	e := p.e
	gt := e.prec.gemmType()
	return e.gemm(false, true, rows, nOut, nIn, 1, in, gt, nIn, e.gparam(w), gt, nIn, 0, out, outType, nOut, e.prec.computeType())
}

// linearBackward: dW[out, in] += dOutᵀ·in and, when dIn != 0, dIn = dOut·W
// (accumulated when accumulate is set).
func (p *pass) linearBackward(dOut, in DevPtr, rows, nIn, nOut int, w string, dIn DevPtr, dInType int, accumulate bool) error {
	e := p.e
	gt, ct := e.prec.gemmType(), e.prec.computeType()
	if err := e.gemm(true, false, nOut, nIn, rows, 1, dOut, gt, nOut, in, gt, nIn, 1, e.param(e.grads, w), cudaR32F, nIn, ct); err != nil {
		return err
	}
	if dIn == 0 {
		return nil
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	return e.gemm(false, false, rows, nIn, nOut, 1, dOut, gt, nOut, e.gparam(w), gt, nIn, beta, dIn, dInType, nIn, ct)
}

// mix computes out = Re(FFT2(in)) per sequence (+ β·out) as GEMMs.
//
// Seq-major rows: two GEMMs over the whole batch. [Zc; Zs] = in·C_H and
// in·S_H (one batched call), each [S, B·H] when read seq-major, then
// out = [C_S | −S_S]·[Zc; Zs] with K = 2S and N = B·H.
//
// Batch-major rows: Z = in·[C_H | S_H], then per sequence
// out_b = C_S·Z_b[:, :H] − S_S·Z_b[:, H:] (strided-batched, two calls).
func (p *pass) mix(in DevPtr, out DevPtr, beta float32) error {
	e, t, a := p.e, p.tables, p.a
	H, S, B := e.cfg.HiddenSize, p.b.S, p.b.B
	dt, ct := t.dtype, e.mixCompute()
	es := 4
	if dt == cudaR16BF {
		es = 2
	}
	if e.seqMajor {
		err := e.gemmCall(gemmCall{m: p.T, n: H, k: H, alpha: 1, beta: 0,
			a:     gemmOperand{ptr: in, dtype: dt, ld: H, stride: 0},
			b:     gemmOperand{ptr: t.hidden, dtype: dt, ld: H, stride: int64(H * H)},
			c:     gemmOperand{ptr: a.z1, dtype: dt, ld: H, stride: int64(p.T * H)},
			batch: 2, compute: ct})
		if err != nil {
			return err
		}
		return e.gemm(false, false, S, B*H, 2*S, 1, t.seqCat, dt, 2*S, a.z1, dt, B*H, beta, out, cudaR32F, B*H, ct)
	}
	if err := e.gemm(false, false, p.T, 2*H, H, 1, in, dt, H, t.hidden, dt, 2*H, 0, a.z1, dt, 2*H, ct); err != nil {
		return err
	}
	for half, tab := range []DevPtr{t.cosS, t.negSinS} {
		bb := beta
		if half == 1 {
			bb = 1
		}
		err := e.gemmCall(gemmCall{m: S, n: H, k: S, alpha: 1, beta: bb,
			a:     gemmOperand{ptr: tab, dtype: dt, ld: S, stride: 0},
			b:     gemmOperand{ptr: a.z1 + DevPtr(half*H*es), dtype: dt, ld: 2 * H, stride: int64(S * 2 * H)},
			c:     gemmOperand{ptr: out, dtype: cudaR32F, ld: H, stride: int64(S * H)},
			batch: B, compute: ct})
		if err != nil {
			return err
		}
	}
	return nil
}

// gOrNil is the GEMM-typed output to write, or 0 when it aliases the float32 one.
func (p *pass) gOrNil(g DevPtr) DevPtr {
	if p.e.prec == BF16 {
		return g
	}
	return 0
}

// ln runs LayerNorm(res + dropout(add + bias)) over rows; dB is the
// layout argument of the dropout index (0 for the masked-LM head's rows).
func (p *pass) ln(res, add, bias DevPtr, d dropout, lnW, lnB string, rows int, xhat, rstd, out, outG DevPtr, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	return e.l.launch(e.lnKernel("ln_fwd"), warpRowGrid(rows), block1D, 0, res, add, bias, d.seed, d.step, d.site, d.thr, d.scale,
		e.param(e.params, lnW), e.param(e.params, lnB), int32(rows), int32(H), float32(e.cfg.LayerNormEps), xhat, rstd, out, outG, dB)
}

// lnKernel picks the register-resident LayerNorm when a row fits
// (H ≤ 1024, 32 values per lane).
func (e *Engine) lnKernel(name string) string {
	if e.cfg.HiddenSize <= 32*32 {
		return name + "_reg"
	}
	return name
}

// forward runs the encoder and the heads; with train it also leaves the
// loss gradients (dlogits) for backward.
func (p *pass) forward() error {
	e, a, b := p.e, p.a, p.b
	H, F, L, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, e.cfg.NumLayers, p.T
	gt := e.prec.gemmType()
	l := e.l
	if err := l.launch("embed_ln_fwd", warpRowGrid(T), block1D, 0, a.ids, a.types,
		e.param(e.params, fnet.WordEmbName), e.param(e.params, fnet.PosEmbName), e.param(e.params, fnet.TypeEmbName),
		e.param(e.params, fnet.EmbLNWeight), e.param(e.params, fnet.EmbLNBias), int32(T), int32(b.S), int32(H),
		float32(e.cfg.LayerNormEps), a.embXhat, a.embRstd, a.embLNG, p.dB()); err != nil {
		return err
	}
	if err := p.linear(a.embLNG, T, H, H, fnet.EmbProjWeight, a.tmpH, cudaR32F); err != nil {
		return err
	}
	d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteEmbeddings)
	if err := l.launch("bias_dropout", rowColGrid(T, H), block1D, 0, a.tmpH, e.param(e.params, fnet.EmbProjBias),
		d.seed, d.step, d.site, d.thr, d.scale, int64(T), int32(H), a.x[0], p.gOrNil(a.xG[0]), p.dB()); err != nil {
		return err
	}
	for i := 0; i < L; i++ {
		mixIn := a.xG[i]
		if e.mixTF32 {
			mixIn = a.x[i]
		}
		if err := p.mix(mixIn, a.tmpH, 0); err != nil {
			return err
		}
		if err := p.ln(a.x[i], a.tmpH, 0, noDropout, fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
			T, a.xhat1[i], a.rstd1[i], a.a[i], p.gOrNil(a.aG[i]), p.dB()); err != nil {
			return err
		}
		if err := p.linear(a.aG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.u[i], gt); err != nil {
			return err
		}
		if err := l.launch("bias_gelu", rowColGrid(T, F), block1D, 0, a.u[i], e.param(e.params, fnet.LayerParam(i, fnet.FFInB)),
			int64(T), int32(F), a.h[i]); err != nil {
			return err
		}
		if err := p.linear(a.h[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.tmpH, cudaR32F); err != nil {
			return err
		}
		d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteFFN(i))
		if err := p.ln(a.a[i], a.tmpH, e.param(e.params, fnet.LayerParam(i, fnet.FFOutB)), d,
			fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
			T, a.xhat2[i], a.rstd2[i], a.x[i+1], p.gOrNil(a.xG[i+1]), p.dB()); err != nil {
			return err
		}
	}
	if p.mlm {
		if err := p.mlmForward(); err != nil {
			return err
		}
	}
	if p.seqN > 0 {
		if err := p.seqForward(); err != nil {
			return err
		}
	}
	return nil
}

func (p *pass) mlmForward() error {
	e, a, b := p.e, p.a, p.b
	H, V, M, L := e.cfg.HiddenSize, e.cfg.VocabSize, p.M, e.cfg.NumLayers
	l := e.l
	if err := l.launch("gather_rows", elementwiseGrid(int64(M*H)), block1D, 0, a.xG[L], a.pos, int32(b.B), int32(b.S), int32(b.K), int32(H), a.gathG, p.seqMajorFlag()); err != nil {
		return err
	}
	if err := p.linear(a.gathG, M, H, H, fnet.MLMDenseW, a.uh, cudaR32F); err != nil {
		return err
	}
	if err := l.launch("bias_gelu_f32", rowColGrid(M, H), block1D, 0, a.uh, e.param(e.params, fnet.MLMDenseB), int64(M), int32(H), a.gh); err != nil {
		return err
	}
	if err := p.ln(0, a.gh, 0, noDropout, fnet.MLMLNWeight, fnet.MLMLNBias, M, a.xhatH, a.rstdH, 0, a.hmG, 0); err != nil {
		return err
	}
	gt := e.prec.gemmType()
	if err := e.gemm(false, true, M, V, H, 1, a.hmG, gt, H, e.gparam(fnet.WordEmbName), gt, H, 0, a.logits, cudaR32F, V, e.prec.computeType()); err != nil {
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
		dl = a.dlogitsG
	}
	return l.launch("mlm_xent", [3]uint32{uint32(M), 1, 1}, [3]uint32{512, 1, 1}, 0, a.logits, e.param(e.params, fnet.MLMBias),
		a.labels, a.weights, int32(M), int32(V), gscale, e.stats+8*statMLMLoss, dl)
}

func (p *pass) seqForward() error {
	e, a, b := p.e, p.a, p.b
	H := e.cfg.HiddenSize
	L := e.cfg.NumLayers
	if err := e.l.launch("pooler_fwd", warpRowGrid(b.B*H), block1D, 0, a.x[L], p.clsStride(), int32(H),
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

// colsum adds the column sums of a [rows, C] source into out.
// kind: "ln" (out = γ grad, out2 = β grad, from dy·x̂ and dy), "f32" (with
// dropout d; dB its layout argument), "g" (GEMM-typed source).
func (p *pass) colsum(kind string, src, xhat DevPtr, d dropout, rows, C int, out, out2 DevPtr, dB int32) error {
	e, a := p.e, p.a
	chunks, rpc := colsumChunks(rows)
	grid := [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}
	blk := [3]uint32{32, 8, 1}
	var err error
	ld := C
	switch kind {
	case "ln":
		ld = 2 * C
		err = e.l.launch("colsum_ln_partial", grid, blk, 0, src, xhat, int32(rows), int32(C), int32(rpc), a.partials)
	case "f32":
		err = e.l.launch("colsum_f32_partial", grid, blk, 0, src, d.seed, d.step, d.site, d.thr, d.scale, int32(rows), int32(C), int32(rpc), a.partials, dB)
	case "g":
		err = e.l.launch("colsum_g_partial", grid, blk, 0, src, int32(rows), int32(C), int32(rpc), a.partials)
	default:
		return fmt.Errorf("colsum: unknown kind %q", kind)
	}
	if err != nil {
		return err
	}
	C2 := 0
	if kind == "ln" {
		C2 = C // the β sums follow the γ sums in each chunk's partials
	}
	fgrid := [3]uint32{uint32((C + C2 + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
	return e.l.launch("colsum_final", fgrid, block1D, 0, a.partials, int32(chunks), int32(ld), int32(C), float32(1), out, int32(C2), out2)
}

func (p *pass) lnBackward(dy, xhat, rstd DevPtr, lnW, lnB string, rows int, dx, dxG DevPtr, d dropout, dB int32) error {
	e := p.e
	H := e.cfg.HiddenSize
	if err := e.l.launch(e.lnKernel("ln_bwd"), warpRowGrid(rows), block1D, 0, dy, xhat, rstd, e.param(e.params, lnW), int32(rows), int32(H),
		dx, dxG, d.seed, d.step, d.site, d.thr, d.scale, dB); err != nil {
		return err
	}
	return p.colsum("ln", dy, xhat, noDropout, rows, H, e.param(e.grads, lnW), e.param(e.grads, lnB), 0)
}

// backward propagates the loss gradients left by forward and adds the
// parameter gradients (already scaled: the loss gradients carry scale).
func (p *pass) backward() error {
	e, a, b := p.e, p.a, p.b
	H, F, L, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, e.cfg.NumLayers, p.T
	gt := e.prec.gemmType()
	if err := e.memsetD32(a.dCur, 0, T*H); err != nil {
		return err
	}
	if p.mlm {
		if err := p.mlmBackward(); err != nil {
			return err
		}
	}
	if p.seqN > 0 {
		if err := p.seqBackward(); err != nil {
			return err
		}
	}
	for i := L - 1; i >= 0; i-- {
		// out = LN2(a + dropout(h·W2ᵀ + b2))
		d := e.dropoutAt(true, p.dstep, fnet.DropoutSiteFFN(i))
		if err := p.lnBackward(a.dCur, a.xhat2[i], a.rstd2[i], fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
			T, a.dA, a.dG, d, p.dB()); err != nil {
			return err
		}
		if err := p.colsum("f32", a.dA, 0, d, T, H, e.param(e.grads, fnet.LayerParam(i, fnet.FFOutB)), 0, p.dB()); err != nil {
			return err
		}
		if err := p.linearBackward(a.dG, a.h[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.dFG, gt, false); err != nil {
			return err
		}
		// h = gelu(a·W1ᵀ + b1)
		if err := p.geluBackward(a.dFG, a.u[i], fnet.LayerParam(i, fnet.FFInB), T, F, a.dUG); err != nil {
			return err
		}
		if err := p.linearBackward(a.dUG, a.aG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.dA, cudaR32F, true); err != nil {
			return err
		}
		// a = LN1(x + mix(x)); dx = dpre + mix(dpre)
		if err := p.lnBackward(a.dA, a.xhat1[i], a.rstd1[i], fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
			T, a.dNext, p.mixGradInput(), noDropout, 0); err != nil {
			return err
		}
		mixIn := a.dG
		if e.mixTF32 {
			mixIn = a.dNext
		}
		if err := p.mix(mixIn, a.dNext, 1); err != nil {
			return err
		}
		a.dCur, a.dNext = a.dNext, a.dCur
	}
	// x0 = dropout(LN(emb)·Wpᵀ + bp)
	d := e.dropoutAt(true, p.dstep, fnet.DropoutSiteEmbeddings)
	// In bf16 mode the data gradient through the projection takes float32
	// operands (TF32): it is 1/40 of the step's FLOPs, and every embedding
	// gradient sums it over the whole batch, so bf16 rounding here showed
	// up among the largest parity errors (embeddings.LayerNorm.bias).
	var dPf DevPtr
	if e.prec == BF16 {
		dPf = a.dA
	}
	if err := e.l.launch("dropout_to_g", rowColGrid(T, H), block1D, 0, a.dCur, d.seed, d.step, d.site, d.thr, d.scale, int64(T), int32(H), a.dG, dPf, p.dB()); err != nil {
		return err
	}
	if err := p.colsum("f32", a.dCur, 0, d, T, H, e.param(e.grads, fnet.EmbProjBias), 0, p.dB()); err != nil {
		return err
	}
	if e.prec == BF16 {
		if err := p.linearBackward(a.dG, a.embLNG, T, H, H, fnet.EmbProjWeight, 0, 0, false); err != nil {
			return err
		}
		if err := e.gemm(false, false, T, H, H, 1, dPf, cudaR32F, H, e.param(e.params, fnet.EmbProjWeight), cudaR32F, H, 0, a.tmpH, cudaR32F, H, computeF32FastTF32); err != nil {
			return err
		}
	} else if err := p.linearBackward(a.dG, a.embLNG, T, H, H, fnet.EmbProjWeight, a.tmpH, cudaR32F, false); err != nil {
		return err
	}
	if err := p.lnBackward(a.tmpH, a.embXhat, a.embRstd, fnet.EmbLNWeight, fnet.EmbLNBias, T, a.dNext, 0, noDropout, 0); err != nil {
		return err
	}
	blk := [3]uint32{uint32(min(threadsPerBlock, (H+31)/32*32)), 1, 1}
	return e.l.launch("embed_bwd", [3]uint32{uint32(b.S), 1, 1}, blk, 0, a.dNext, a.ids, a.types, int32(b.B), int32(b.S), int32(H),
		e.param(e.grads, fnet.WordEmbName), e.param(e.grads, fnet.PosEmbName), e.param(e.grads, fnet.TypeEmbName), p.seqMajorFlag())
}

// geluBackward writes du = dh·gelu'(u + b) and adds its column sums (in
// float32, before rounding du) into the bias gradient, in one pass.
func (p *pass) geluBackward(dh, u DevPtr, bias string, rows, C int, du DevPtr) error {
	e, a := p.e, p.a
	chunks, rpc := colsumChunks(rows)
	grid := [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}
	if err := e.l.launch("gelu_bwd_colsum", grid, [3]uint32{32, 8, 1}, 0, dh, u, e.param(e.params, bias), int32(rows), int32(C), int32(rpc), du, a.partials); err != nil {
		return err
	}
	fgrid := [3]uint32{uint32((C + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
	return e.l.launch("colsum_final", fgrid, block1D, 0, a.partials, int32(chunks), int32(C), int32(C), float32(1), e.param(e.grads, bias), int32(0), DevPtr(0))
}

// mixGradInput is where LN1's backward leaves the GEMM-typed gradient the
// mixing reads (nothing when the mixing reads the float32 one).
func (p *pass) mixGradInput() DevPtr {
	if p.e.mixTF32 {
		return 0
	}
	return p.a.dG
}

func (p *pass) mlmBackward() error {
	e, a, b := p.e, p.a, p.b
	H, V, M := e.cfg.HiddenSize, e.cfg.VocabSize, p.M
	gt, ct := e.prec.gemmType(), e.prec.computeType()
	// logits = hm·Eᵀ (+ bias): tied decoder
	if err := p.colsum("g", a.dlogitsG, 0, noDropout, M, V, e.param(e.grads, fnet.MLMBias), 0, 0); err != nil {
		return err
	}
	if err := e.gemm(true, false, V, H, M, 1, a.dlogitsG, gt, V, a.hmG, gt, H, 1, e.param(e.grads, fnet.WordEmbName), cudaR32F, H, ct); err != nil {
		return err
	}
	if err := e.gemm(false, false, M, H, V, 1, a.dlogitsG, gt, V, e.gparam(fnet.WordEmbName), gt, H, 0, a.dhm, cudaR32F, H, ct); err != nil {
		return err
	}
	if err := p.lnBackward(a.dhm, a.xhatH, a.rstdH, fnet.MLMLNWeight, fnet.MLMLNBias, M, a.dgh, 0, noDropout, 0); err != nil {
		return err
	}
	if err := e.l.launch("gelu_bwd_f32", rowColGrid(M, H), block1D, 0, a.dgh, a.uh, e.param(e.params, fnet.MLMDenseB),
		int64(M), int32(H), a.du, a.duG); err != nil {
		return err
	}
	if err := p.colsum("f32", a.du, 0, noDropout, M, H, e.param(e.grads, fnet.MLMDenseB), 0, 0); err != nil {
		return err
	}
	if err := p.linearBackward(a.duG, a.gathG, M, H, H, fnet.MLMDenseW, a.dgath, cudaR32F, false); err != nil {
		return err
	}
	return e.l.launch("scatter_add_rows", elementwiseGrid(int64(M*H)), block1D, 0, a.dgath, a.pos, int32(b.B), int32(b.S), int32(b.K), int32(H), a.dCur, p.seqMajorFlag())
}

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
		int32(b.B), int32(H), int32(n), a.dz); err != nil {
		return err
	}
	if err := e.l.launch("pooler_bwd_w", elementwiseGrid(int64(H*H)), block1D, 0, a.dz, a.x[L], p.clsStride(), int32(H), int32(b.B),
		e.param(e.grads, fnet.PoolerWeight), e.param(e.grads, fnet.PoolerBias)); err != nil {
		return err
	}
	return e.l.launch("pooler_bwd_x", elementwiseGrid(int64(b.B*H)), block1D, 0, a.dz, e.param(e.params, fnet.PoolerWeight),
		p.clsStride(), int32(H), int32(b.B), a.dCur)
}

// readStats copies the device's loss sums out (the one host round trip of a step).
func (p *pass) readStats() (fnet.Stats, error) {
	var s [numStats]float64
	if err := p.e.dtoh(unsafe.Pointer(&s[0]), p.e.stats, 8*numStats); err != nil {
		return fnet.Stats{}, err
	}
	st := fnet.Stats{Examples: p.b.B}
	if p.mlm {
		st.MLMLossSum, st.MLMCount, st.MLMCorrect = s[statMLMLoss], s[statMLMCount], s[statMLMCorrect]
	}
	if p.nsp && !p.task {
		st.NSPLossSum, st.NSPCorrect = s[statNSPLoss], s[statNSPCorrect]
	}
	if p.task {
		st.TaskLossSum, st.TaskCorrect = s[statTaskLoss], s[statTaskCorrect]
	}
	return st, nil
}

// ForwardBackward runs one micro-batch with dropout and adds scale × its
// gradients into the gradient buffers.
func (e *Engine) ForwardBackward(b *fnet.Batch, dropoutStep uint64, scale float32) (fnet.Stats, error) {
	unlock, err := e.enter()
	if err != nil {
		return fnet.Stats{}, err
	}
	defer unlock()
	p, err := e.newPass(b, true, dropoutStep, scale)
	if err != nil {
		return fnet.Stats{}, err
	}
	if err := p.forward(); err != nil {
		return fnet.Stats{}, err
	}
	if err := p.backward(); err != nil {
		return fnet.Stats{}, err
	}
	return p.readStats()
}

// Evaluate runs the forward pass without dropout. For a classifier it also
// returns the logits [B × NumLabels].
func (e *Engine) Evaluate(b *fnet.Batch) (fnet.Stats, []float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return fnet.Stats{}, nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return fnet.Stats{}, nil, err
	}
	if err := p.forward(); err != nil {
		return fnet.Stats{}, nil, err
	}
	st, err := p.readStats()
	if err != nil || !p.task {
		return st, nil, err
	}
	logits := make([]float32, b.B*p.seqN)
	err = e.dtoh(unsafe.Pointer(&logits[0]), p.a.seqLogits, 4*len(logits))
	return st, logits, err
}

// MaskedLMLogits runs the model without dropout and returns the masked-LM
// logits (with the output bias) at the batch's masked positions, [B·K, V]
// row-major, as the CPU engine's method of the same name does for the REPL.
func (e *Engine) MaskedLMLogits(b *fnet.Batch) ([]float32, error) {
	if !e.heads.MLM {
		return nil, fmt.Errorf("cuda engine: the model has no masked-LM head")
	}
	if b.K == 0 {
		return nil, fmt.Errorf("cuda engine: MaskedLMLogits needs masked positions (K > 0)")
	}
	unlock, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return nil, err
	}
	if err := p.forward(); err != nil {
		return nil, err
	}
	V, M := e.cfg.VocabSize, p.M
	logits := make([]float32, M*V)
	bias := make([]float32, V)
	if err := e.dtoh(unsafe.Pointer(&logits[0]), p.a.logits, 4*len(logits)); err != nil {
		return nil, err
	}
	if err := e.dtoh(unsafe.Pointer(&bias[0]), e.param(e.params, fnet.MLMBias), 4*V); err != nil {
		return nil, err
	}
	for r := 0; r < M; r++ {
		row := logits[r*V : (r+1)*V]
		for v := range row {
			row[v] += bias[v]
		}
	}
	return logits, nil
}

// HiddenStates runs the model without dropout and returns the embedding
// output and every layer's output, each [B·S × H] in batch order (b·S + s),
// as the CPU engine's method of the same name does for probes.
func (e *Engine) HiddenStates(b *fnet.Batch) ([]float32, [][]float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return nil, nil, err
	}
	if err := p.forward(); err != nil {
		return nil, nil, err
	}
	T, H := b.B*b.S, e.cfg.HiddenSize
	outs := make([][]float32, e.cfg.NumLayers+1)
	for l := range outs {
		x := make([]float32, T*H)
		if err := e.dtoh(unsafe.Pointer(&x[0]), p.a.x[l], 4*len(x)); err != nil {
			return nil, nil, fmt.Errorf("cuda engine: reading layer %d's output: %w", l, err)
		}
		if e.seqMajor {
			x = fromSeqMajor(x, b.B, b.S)
		}
		outs[l] = x
	}
	return outs[0], outs[1:], nil
}
