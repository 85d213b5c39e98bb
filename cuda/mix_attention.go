package cuda

import (
	"math"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Self-attention mixing (fnet.MixAttention; the CPU twin is
// fnet/mix_attention.go over kernels/attention.go), as Hugging Face BERT
// computes it:
//
//	q, k, v = x·Wqᵀ + bq, x·Wkᵀ + bk, x·Wvᵀ + bv          (linear layers, GEMM-typed outputs attnQ/K/V)
//	per (example b, head h), d = H/heads columns each:
//	  scores = q_h·k_hᵀ                                  (strided-batched GEMM → attnScores, float32)
//	  P̃ = dropout(softmax(scores/√d, pad keys masked))   (attn_softmax_fwd → attnProbs, GEMM type)
//	  ctx_h = P̃·v_h                                      (strided-batched GEMM → attnCtx)
//	mix = ctx·Woᵀ                                        (the LayerNorm adds bo with the residual)
//
// The [S, S] scores of one layer at a time live in shared scratch, and
// only for a chunk of (example, head) pairs at a time (activations
// attnChunk: all B·heads pairs while they fit attnScratchElems, else as
// many as fit), so the scratch does not grow past that budget with B or
// the head count; the backward recomputes them (one more GEMM and softmax
// per layer) rather than keeping B·heads·S² probabilities per layer. Dropout masks are
// counter-based (site fnet.DropoutSiteAttention(layer, b, h, heads), element
// i·S + j), the bits the CPU engine draws.
//
// Head matrices need no copies: with seq-major token rows (s·B + b) head h
// of example b is the [S, d] matrix at element b·H + h·d = (b·heads + h)·d
// with row stride B·H, so ONE strided-batched GEMM (stride d, batch
// B·heads) covers every pair; with batch-major rows (b·S + s) it is at
// b·S·H + h·d with row stride H, one strided-batched GEMM per head (stride
// S·H, batch B). The scores are [pairs, S, S] in pair order either way,
// so the softmax kernels do not care about the row layout.
//
// Backward, from dout (the GEMM-typed gradient at the output projection):
//
//	dbo = Σ_rows dout (float32),  dWo += doutᵀ·ctx,  dctx = dout·Wo
//	scores, P, P̃ recomputed;  dP̃ = dctx_h·v_hᵀ;  dv_h = P̃ᵀ·dctx_h
//	dS = attn_softmax_bwd (the gradient at q·kᵀ, 1/√d folded in; written over P̃)
//	dq_h = dS·k_h,  dk_h = dSᵀ·q_h
//	per projection: db = Σ_rows d·, dW += d·ᵀ·x, dx += d·W

// attnHeads are the attention's head count and head width.
func (e *Engine) attnHeads() (heads, d int) {
	heads = e.cfg.AttentionHeads()
	return heads, e.cfg.HiddenSize / heads
}

// attnScale is 1/√d, as the CPU engine computes it.
func attnScale(d int) float32 { return float32(1 / math.Sqrt(float64(d))) }

// attnChunk is a run of (example, head) pairs, [p0, p0+n), that the
// S×S scratch holds at once (activations.attnChunk pairs at most; with
// batch-major rows whole examples, all of their heads).
type attnChunk struct{ p0, n int }

// attnChunks splits the batch's B·heads pairs into chunks.
func (p *pass) attnChunks() []attnChunk {
	heads, _ := p.e.attnHeads()
	total, per := p.b.B*heads, p.a.attnChunk
	var out []attnChunk
	for p0 := 0; p0 < total; p0 += per {
		out = append(out, attnChunk{p0, min(per, total-p0)})
	}
	return out
}

// headOperand is one operand of a per-pair GEMM: a token tensor [T, H]
// (its head matrices [S, d]) or the chunk's scores-shaped scratch
// [n, S, S] (pair p0 + r at block r).
type headOperand struct {
	ptr    DevPtr
	dtype  int
	scores bool
}

func elemSize(dtype int) int {
	if dtype == cudaR16BF {
		return 2
	}
	return 4
}

// headGemm runs C = op(A)·op(B), C [m, n], for every pair of chunk c.
// Seq-major rows: one strided-batched GEMM (token matrices d apart, row
// stride B·H, scratch blocks S² apart). Batch-major rows: one per head h
// over the chunk's examples (token matrices S·H apart from column h·d,
// row stride H; scratch blocks heads·S² apart from block h).
func (p *pass) headGemm(c attnChunk, transA, transB bool, m, n, k int, A, B, C headOperand) error {
	e := p.e
	Bn, S, H := p.b.B, p.b.S, e.cfg.HiddenSize
	heads, d := e.attnHeads()
	calls, batch := 1, c.n
	tokLd, tokStride, scStride := Bn*H, int64(d), int64(S*S)
	tokOff := func(int) int { return c.p0 * d }
	scOff := func(int) int { return 0 }
	if !e.seqMajor {
		calls, batch = heads, c.n/heads
		tokLd, tokStride, scStride = H, int64(S*H), int64(heads*S*S)
		tokOff = func(h int) int { return c.p0/heads*S*H + h*d }
		scOff = func(h int) int { return h * S * S }
	}
	operand := func(o headOperand, call int) gemmOperand {
		if o.scores {
			return gemmOperand{ptr: o.ptr + DevPtr(scOff(call)*elemSize(o.dtype)), dtype: o.dtype, ld: S, stride: scStride}
		}
		return gemmOperand{ptr: o.ptr + DevPtr(tokOff(call)*elemSize(o.dtype)), dtype: o.dtype, ld: tokLd, stride: tokStride}
	}
	for call := 0; call < calls; call++ {
		err := e.gemmCall(gemmCall{transA: transA, transB: transB, m: m, n: n, k: k, alpha: 1, beta: 0,
			a: operand(A, call), b: operand(B, call), c: operand(C, call), batch: batch, compute: e.prec.computeType()})
		if err != nil {
			return err
		}
	}
	return nil
}

// attnDropout is layer i's attention dropout; site is the site of pair 0
// (fnet.DropoutSiteAttention(i, 0, 0, heads)); the kernels add the pair.
func (p *pass) attnDropout(i int, train bool) dropout {
	heads, _ := p.e.attnHeads()
	return p.e.dropoutAt(train, p.dstep, fnet.DropoutSiteAttention(i, 0, 0, heads))
}

// attnSoftmax launches attn_softmax_fwd on chunk c: P̃ into attnProbs and,
// when pOut is set, P (float32) there.
func (p *pass) attnSoftmax(c attnChunk, d dropout, pOut DevPtr) error {
	e, a, b := p.e, p.a, p.b
	heads, hd := e.attnHeads()
	return e.l.launch("attn_softmax_fwd", warpRowGrid(c.n*b.S), block1D, 0, a.attnScores, a.keyMask, int32(c.p0), int32(c.n), int32(heads), int32(b.S),
		attnScale(hd), d.seed, d.step, d.site, d.thr, d.scale, pOut, a.attnProbs)
}

// attnScoresGemm is scores = q·kᵀ for chunk c's pairs, into attnScores (float32).
func (p *pass) attnScoresGemm(c attnChunk, i int) error {
	a, gt := p.a, p.e.prec.gemmType()
	S := p.b.S
	_, d := p.e.attnHeads()
	return p.headGemm(c, false, true, S, S, d, headOperand{ptr: a.attnQ[i], dtype: gt}, headOperand{ptr: a.attnK[i], dtype: gt},
		headOperand{ptr: a.attnScores, dtype: cudaR32F, scores: true})
}

// attnProjections are layer i's q, k, v linear layers: weight, bias and output.
func (p *pass) attnProjections(i int) [3]struct {
	w, b string
	out  DevPtr
} {
	a := p.a
	return [3]struct {
		w, b string
		out  DevPtr
	}{
		{fnet.LayerParam(i, fnet.AttnQueryW), fnet.LayerParam(i, fnet.AttnQueryB), a.attnQ[i]},
		{fnet.LayerParam(i, fnet.AttnKeyW), fnet.LayerParam(i, fnet.AttnKeyB), a.attnK[i]},
		{fnet.LayerParam(i, fnet.AttnValueW), fnet.LayerParam(i, fnet.AttnValueB), a.attnV[i]},
	}
}

// attentionForward writes layer i's attention of hidden[i] into out [T, H]
// (float32) without the output bias, which mixForward hands the LayerNorm.
func (p *pass) attentionForward(i int, out DevPtr) error {
	e, a := p.e, p.a
	H, T, S := e.cfg.HiddenSize, p.T, p.b.S
	gt := e.prec.gemmType()
	_, d := e.attnHeads()
	for _, pr := range p.attnProjections(i) {
		// the GEMM's float32 output, then the bias in float32 and one
		// rounding to the GEMM type (in tf32/fp32 both are pr.out)
		f := pr.out
		if e.prec == BF16 {
			f = a.branch
		}
		if err := p.linear(a.hiddenG[i], T, H, H, pr.w, f, cudaR32F); err != nil {
			return err
		}
		if err := e.l.launch("bias_dropout", rowColGrid(T, H), block1D, 0, f, e.param(e.params, pr.b),
			noDropout.seed, noDropout.step, noDropout.site, noDropout.thr, noDropout.scale, int64(T), int32(H), f, p.gOrNil(pr.out), p.dB()); err != nil {
			return err
		}
	}
	drop := p.attnDropout(i, p.train)
	for _, c := range p.attnChunks() {
		if err := p.attnScoresGemm(c, i); err != nil {
			return err
		}
		if err := p.attnSoftmax(c, drop, 0); err != nil {
			return err
		}
		if err := p.headGemm(c, false, false, S, d, S, headOperand{ptr: a.attnProbs, dtype: gt, scores: true},
			headOperand{ptr: a.attnV[i], dtype: gt}, headOperand{ptr: a.attnCtx[i], dtype: gt}); err != nil {
			return err
		}
	}
	return p.linear(a.attnCtx[i], T, H, H, fnet.LayerParam(i, fnet.AttnOutW), out, cudaR32F)
}

// attentionBackward adds the gradient through layer i's attention of dPre
// (float32 [T, H], the gradient at its output; dPreG its GEMM-typed copy)
// into dx, and the attention's parameter gradients.
func (p *pass) attentionBackward(i int, dPre, dPreG, dx DevPtr) error {
	e, a := p.e, p.a
	H, T, S := e.cfg.HiddenSize, p.T, p.b.S
	gt := e.prec.gemmType()
	heads, d := e.attnHeads()
	// output projection (its bias went through the LayerNorm: the gradient is dPre)
	if err := p.colsum("f32", dPre, 0, noDropout, T, H, e.param(e.grads, fnet.LayerParam(i, fnet.AttnOutB)), 0, p.dB()); err != nil {
		return err
	}
	if err := p.linearBackward(dPreG, a.attnCtx[i], T, H, H, fnet.LayerParam(i, fnet.AttnOutW), a.attnDCtx, gt, false); err != nil {
		return err
	}
	drop := p.attnDropout(i, true)
	tok := func(ptr DevPtr) headOperand { return headOperand{ptr: ptr, dtype: gt} }
	probs := headOperand{ptr: a.attnProbs, dtype: gt, scores: true}
	for _, c := range p.attnChunks() {
		// the probabilities again: P (float32) over the scores, P̃ in attnProbs
		if err := p.attnScoresGemm(c, i); err != nil {
			return err
		}
		if err := p.attnSoftmax(c, drop, a.attnScores); err != nil {
			return err
		}
		// dP̃ = dctx·vᵀ, dv = P̃ᵀ·dctx
		if err := p.headGemm(c, false, true, S, S, d, tok(a.attnDCtx), tok(a.attnV[i]), headOperand{ptr: a.attnDProbs, dtype: cudaR32F, scores: true}); err != nil {
			return err
		}
		if err := p.headGemm(c, true, false, S, d, S, probs, tok(a.attnDCtx), tok(a.attnDV)); err != nil {
			return err
		}
		// dS over P̃'s buffer
		if err := e.l.launch("attn_softmax_bwd", warpRowGrid(c.n*S), block1D, 0, a.attnScores, a.attnDProbs, a.keyMask,
			int32(c.p0), int32(c.n), int32(heads), int32(S), attnScale(d), drop.seed, drop.step, drop.site, drop.thr, drop.scale, a.attnProbs); err != nil {
			return err
		}
		// dq = dS·k, dk = dSᵀ·q
		if err := p.headGemm(c, false, false, S, d, S, probs, tok(a.attnK[i]), tok(a.attnDQ)); err != nil {
			return err
		}
		if err := p.headGemm(c, true, false, S, d, S, probs, tok(a.attnQ[i]), tok(a.attnDK)); err != nil {
			return err
		}
	}
	for j, pr := range p.attnProjections(i) {
		dproj := [3]DevPtr{a.attnDQ, a.attnDK, a.attnDV}[j]
		if err := p.colsum("g", dproj, 0, noDropout, T, H, e.param(e.grads, pr.b), 0, 0); err != nil {
			return err
		}
		if err := p.linearBackward(dproj, a.hiddenG[i], T, H, H, pr.w, dx, cudaR32F, true); err != nil {
			return err
		}
	}
	return nil
}
