package kernels

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
)

// Multi-head self-attention as one fused kernel, forward and backward, as
// Hugging Face BERT (and the official f_net code) compute it:
//
//	for every example b and head h (features h·d … (h+1)·d−1, d = H/nHeads):
//	  scores = q_h k_hᵀ / sqrt(d)                       [S, S]
//	  scores[:, j] = −MaxFloat32 for pad keys j        (HF adds finfo(float32).min)
//	  P      = softmax(scores) over keys (each row)    [S, S]
//	  P̃      = D ∘ P, D = keep/(1−p) (training only)   [S, S]
//	  ctx_h  = P̃ v_h                                   [S, d]
//
// Query rows are never masked: a pad query attends to the real keys like any
// other. q, k, v and ctx are [B·S, H] row-major (row b·S + s), so head h of
// example b is the [S, d] submatrix at offset b·S·H + h·d with row stride H,
// which BLAS reads in place: no transposes, no per-head copies.
//
// Memory. Nothing S×S survives the call. The forward keeps no probabilities
// and no softmax statistics; the backward recomputes the scores with the same
// GEMM and the softmax with the same row kernel, so it sees bit-for-bit the
// forward's P (FlashAttention's recomputation), and takes the softmax
// backward's row sums from the forward's output (dctx_i·ctx_i). Saving the
// row max and sum instead would make the backward's exp a scalar Go loop,
// 5x slower than softmaxRow's vectorised one, to save two passes. The only
// S-sized storage is per-worker scratch for attnTile query rows at a time,
// pooled across calls, so every layer of a graph shares it. The price is one
// more score GEMM and softmax per backward: forward+backward takes about
// 1.2x the time of a version that keeps P (BenchmarkAttention), which would
// hold B·nHeads·S² floats per layer until the backward.
//
// Keys after an example's last real key (the usual right padding) have
// probability exactly 0, so the GEMMs leave them out.
//
// An example whose keys are ALL pads (cannot happen with [CLS] first, which
// is never pad) gets what HF's addition gives: every score is −MaxFloat32,
// so P is uniform over all S keys, and no NaN. Its scores are then
// constants, so q and k get no gradient through them; v still does.
//
// Dropout is counter-based (see DropoutHash): P[i, j] of pair (b, h) is kept
// when the top 24 bits of DropoutHash(seed, step, Site(b, h), i·S + j) reach
// Threshold; survivors are scaled by 1/(1−p). Nothing is stored: the
// backward redraws the same bits.
//
// Work is parallel over the B·nHeads (b, h) pairs, each pair on one worker
// with single-threaded BLAS calls, so results do not depend on the number of
// workers.

// AttentionDropout is the dropout on the attention probabilities.
type AttentionDropout struct {
	P          float64               // drop probability; 0 = no dropout (nothing is hashed)
	Threshold  uint32                // keep when the hash's top 24 bits ≥ Threshold (fnet.DropoutThreshold(P))
	Seed, Step uint64                // the counter's seed and micro-step
	Site       func(b, h int) uint32 // the dropout site of example b, head h (fnet.DropoutSiteAttention)
}

// attnTile is how many query rows of one (b, h) pair are in flight at once:
// the scratch is two [attnTile, S] buffers per worker (512 KiB each at
// S = 512), which stays in L2 and bounds memory at long S. The tile is fixed,
// not derived from the worker count, so results are reproducible. Tests
// lower it to exercise the tiling.
var attnTile = 256

// maskedScore is what a pad key's score becomes: torch.finfo(float32).min,
// which HF adds to the scores (any score is absorbed by it in float32).
const maskedScore = -math.MaxFloat32

// attn is one call's shapes and operands.
type attn struct {
	q, k, v, keyMask []float32 // [B·S, H] ×3, [B·S]
	B, S, H, nH, d   int
	scale            float32 // 1/sqrt(d)
	drop             AttentionDropout
	dropScale        float32 // 1/(1−p)
}

func newAttn(q, k, v, keyMask []float32, B, S, H, nHeads int, drop AttentionDropout) *attn {
	if B < 1 || S < 1 || nHeads < 1 || H%nHeads != 0 {
		panic(fmt.Sprintf("kernels: attention B=%d S=%d H=%d heads=%d: need positive sizes and heads dividing H", B, S, H, nHeads))
	}
	n := B * S * H
	if len(q) != n || len(k) != n || len(v) != n || len(keyMask) != B*S {
		panic(fmt.Sprintf("kernels: attention B=%d S=%d H=%d: len q,k,v = %d,%d,%d (want %d), keyMask %d (want %d)",
			B, S, H, len(q), len(k), len(v), n, len(keyMask), B*S))
	}
	if drop.P > 0 && (drop.Site == nil || S > 1<<16 || drop.P >= 1) {
		panic(fmt.Sprintf("kernels: attention dropout p=%g needs p < 1, a Site function and S ≤ 65536 (element index i·S+j in 32 bits), S=%d", drop.P, S))
	}
	d := H / nHeads
	a := &attn{q: q, k: k, v: v, keyMask: keyMask, B: B, S: S, H: H, nH: nHeads, d: d,
		scale: float32(1 / math.Sqrt(float64(d))), drop: drop}
	if drop.P > 0 {
		a.dropScale = float32(1 / (1 - drop.P))
	}
	return a
}

// AttentionForward writes ctx [B·S, H], the attention output of q, k, v
// [B·S, H] (head h = columns h·d … (h+1)·d−1). keyMask [B·S] is nonzero for
// a real key and 0 for a pad, which no query attends to.
func AttentionForward(q, k, v, keyMask, ctx []float32, B, S, H, nHeads int, drop AttentionDropout) {
	a := newAttn(q, k, v, keyMask, B, S, H, nHeads, drop)
	if len(ctx) != B*S*H {
		panic(fmt.Sprintf("kernels: attention ctx has %d values, want %d", len(ctx), B*S*H))
	}
	scr := takeAttnScratch(S, false)
	defer putAttnScratch(scr)
	ParallelForWorker(B*nHeads, 1, func(w, lo, hi int) {
		for pair := lo; pair < hi; pair++ {
			a.forwardPair(&scr[w], pair/nHeads, pair%nHeads, ctx)
		}
	})
}

// AttentionBackward writes dq, dk, dv [B·S, H] from dctx [B·S, H], the
// forward's operands (the same q, k, v, keyMask and dropout) and its output
// ctx:
//
//	dP̃ = D ∘ (dctx_h v_hᵀ)                  gradient of P through the dropout
//	dS = P ∘ (dP̃ − rowsum(P ∘ dP̃))          softmax backward (pre-dropout P)
//	dq_h = dS k_h / sqrt(d),  dk_h = dSᵀ q_h / sqrt(d),  dv_h = P̃ᵀ dctx_h
//
// rowsum(P ∘ dP̃)_i = Σ_j P̃_ij (dctx_i·v_j) = dctx_i·ctx_i, a d-long dot
// instead of an S-long pass (FlashAttention-2's Δ); that is what ctx is for.
// Pad keys had probability 0, so their dk and dv rows are 0.
func AttentionBackward(q, k, v, keyMask, ctx, dctx, dq, dk, dv []float32, B, S, H, nHeads int, drop AttentionDropout) {
	a := newAttn(q, k, v, keyMask, B, S, H, nHeads, drop)
	if n := B * S * H; len(ctx) != n || len(dctx) != n || len(dq) != n || len(dk) != n || len(dv) != n {
		panic(fmt.Sprintf("kernels: attention backward: len ctx,dctx,dq,dk,dv = %d,%d,%d,%d,%d, want %d", len(ctx), len(dctx), len(dq), len(dk), len(dv), n))
	}
	scr := takeAttnScratch(S, true)
	defer putAttnScratch(scr)
	ParallelForWorker(B*nHeads, 1, func(w, lo, hi int) {
		for pair := lo; pair < hi; pair++ {
			a.backwardPair(&scr[w], pair/nHeads, pair%nHeads, ctx, dctx, dq, dk, dv)
		}
	})
}

// keyEnd is one past the last real key of an example: keys from there on are
// pads with probability exactly 0 (exp(−MaxFloat32 − max) underflows), so
// the GEMMs skip them. Pads usually end a row, which makes this the whole
// saving; pads elsewhere are masked in the rows. An example with no real key
// returns S (every key takes part: the uniform row).
func keyEnd(mask []float32) int {
	for j := len(mask) - 1; j >= 0; j-- {
		if mask[j] != 0 {
			return j + 1
		}
	}
	return len(mask)
}

// probabilities turns a tile of scores [t, nk] (query rows i0…i0+t−1) into
// P in place, pad keys masked, and returns whether the example has no real
// key. The backward calls it on the same scores and gets the same bits.
func (a *attn) probabilities(p []float32, mask []float32, t, nk int) (allPad bool) {
	allPad = true
	for _, m := range mask[:nk] {
		if m != 0 {
			allPad = false
			break
		}
	}
	holes := false
	for _, m := range mask[:nk] {
		if m == 0 {
			holes = true
			break
		}
	}
	for r := 0; r < t; r++ {
		row := p[r*nk : (r+1)*nk]
		if holes {
			for j, m := range mask[:nk] {
				if m == 0 {
					row[j] = maskedScore
				}
			}
		}
		softmaxRow(row, row)
		if holes && !allPad {
			// the vectorised exp clamps its argument at −87 (≈1.6e−38, not
			// 0); a pad key's probability is exactly 0, as in HF. The sum
			// (≥ 1, the max's term) absorbed those terms exactly.
			for j, m := range mask[:nk] {
				if m == 0 {
					row[j] = 0
				}
			}
		}
	}
	return allPad
}

// keep reports whether P[i, j] survives dropout, given site and base = i·S.
func (a *attn) keep(site, base uint32, j int) bool {
	return uint32(DropoutHash(a.drop.Seed, a.drop.Step, site, base+uint32(j))>>40) >= a.drop.Threshold
}

// dropRows applies the dropout to a tile of probabilities [t, nk] (query
// rows i0…i0+t−1): P̃ = keep·P/(1−p).
func (a *attn) dropRows(p []float32, site uint32, i0, t, nk int) {
	for r := 0; r < t; r++ {
		row, base := p[r*nk:(r+1)*nk], uint32((i0+r)*a.S)
		for j := range row {
			if a.keep(site, base, j) {
				row[j] *= a.dropScale
			} else {
				row[j] = 0
			}
		}
	}
}

// forwardPair computes ctx_h of example b.
func (a *attn) forwardPair(s *attnScratch, b, h int, ctx []float32) {
	S, H, d := a.S, a.H, a.d
	mask := a.keyMask[b*S : (b+1)*S]
	nk := keyEnd(mask)
	off := b*S*H + h*d // head h of example b: row i at off + i·H, d columns
	qh, kh, vh, oh := a.q[off:], a.k[off:], a.v[off:], ctx[off:]
	var site uint32
	if a.drop.P > 0 {
		site = a.drop.Site(b, h)
	}
	for i0 := 0; i0 < S; i0 += attnTile {
		t := min(attnTile, S-i0)
		p := s.p[:t*nk] // [t, nk]
		// scores = q[i0:i0+t] · k[:nk]ᵀ / sqrt(d)
		gemm1(false, true, t, nk, d, a.scale, qh[i0*H:], H, kh, H, 0, p, nk)
		a.probabilities(p, mask, t, nk)
		if a.drop.P > 0 {
			a.dropRows(p, site, i0, t, nk)
		}
		// ctx[i0:i0+t] = P̃ [t, nk] · v[:nk] [nk, d]
		gemm1(false, false, t, d, nk, 1, p, nk, vh, H, 0, oh[i0*H:], H)
	}
}

// backwardPair computes dq_h, dk_h, dv_h of example b, one query tile at a
// time: dq rows are per tile, dk and dv sum over the tiles.
func (a *attn) backwardPair(s *attnScratch, b, h int, ctx, dctx, dq, dk, dv []float32) {
	S, H, d := a.S, a.H, a.d
	mask := a.keyMask[b*S : (b+1)*S]
	nk := keyEnd(mask)
	off := b*S*H + h*d
	qh, kh, vh, oh, doh := a.q[off:], a.k[off:], a.v[off:], ctx[off:], dctx[off:]
	dqh, dkh, dvh := dq[off:], dk[off:], dv[off:]
	for j := nk; j < S; j++ { // trailing pad keys: never attended to
		clear(dkh[j*H : j*H+d])
		clear(dvh[j*H : j*H+d])
	}
	var site uint32
	if a.drop.P > 0 {
		site = a.drop.Site(b, h)
	}
	for i0 := 0; i0 < S; i0 += attnTile {
		t := min(attnTile, S-i0)
		p, dp := s.p[:t*nk], s.dp[:t*nk] // [t, nk] each
		gemm1(false, true, t, nk, d, a.scale, qh[i0*H:], H, kh, H, 0, p, nk)
		allPad := a.probabilities(p, mask, t, nk)
		// dP = dctx[i0:i0+t] · v[:nk]ᵀ, the gradient of P̃
		gemm1(false, true, t, nk, d, 1, doh[i0*H:], H, vh, H, 0, dp, nk)
		for r := 0; r < t; r++ {
			pr, dr := p[r*nk:(r+1)*nk], dp[r*nk:(r+1)*nk]
			// Δ = Σ_j P_ij dP̃_ij = dctx_i · ctx_i
			row := (i0 + r) * H
			var delta float32
			for c, g := range doh[row : row+d] {
				delta += g * oh[row+c]
			}
			if a.drop.P > 0 {
				// dS = P ∘ (D∘dP − Δ), and P becomes P̃ = D∘P for dv
				base := uint32((i0 + r) * S)
				for j := range dr {
					if a.keep(site, base, j) {
						dr[j] = pr[j] * (dr[j]*a.dropScale - delta)
						pr[j] *= a.dropScale
					} else {
						dr[j] = -pr[j] * delta
						pr[j] = 0
					}
				}
			} else {
				for j := range dr {
					dr[j] = pr[j] * (dr[j] - delta)
				}
			}
			if allPad { // constant scores: no gradient reaches q and k
				clear(dr)
			}
		}
		beta := float32(1) // dk, dv accumulate over query tiles
		if i0 == 0 {
			beta = 0
		}
		// dv[:nk] (+)= P̃ᵀ [nk, t] · dctx[i0:i0+t] [t, d]
		gemm1(true, false, nk, d, t, 1, p, nk, doh[i0*H:], H, beta, dvh, H)
		// dq[i0:i0+t] = dS [t, nk] · k[:nk] [nk, d] / sqrt(d)
		gemm1(false, false, t, d, nk, a.scale, dp, nk, kh, H, 0, dqh[i0*H:], H)
		// dk[:nk] (+)= dSᵀ [nk, t] · q[i0:i0+t] [t, d] / sqrt(d)
		gemm1(true, false, nk, d, t, a.scale, dp, nk, qh[i0*H:], H, beta, dkh, H)
	}
}

// gemm1 is Gemm on the calling goroutine: the attention kernels already run
// one (b, h) pair per worker, so splitting each product again would only
// oversubscribe the cores.
func gemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// attnScratch is one worker's scratch.
type attnScratch struct {
	p, dp []float32 // [attnTile, S]: a tile of scores/probabilities and of their gradient (backward only)
}

// attnPool holds scratch sets (one attnScratch per worker) between calls.
// A graph runs its ops one at a time, so one set serves every attention
// layer; concurrent callers (two engines, parallel tests) each take their own.
var attnPool struct {
	sync.Mutex
	free [][]attnScratch
}

// takeAttnScratch returns a set with one scratch per worker, sized for S
// (and for the backward when grad is set), growing pooled buffers on demand.
func takeAttnScratch(S int, grad bool) []attnScratch {
	attnPool.Lock()
	var set []attnScratch
	if n := len(attnPool.free); n > 0 {
		set, attnPool.free = attnPool.free[n-1], attnPool.free[:n-1]
	}
	attnPool.Unlock()
	if w := max(Workers, 1); len(set) < w {
		set = append(set, make([]attnScratch, w-len(set))...)
	}
	n := min(attnTile, S) * S
	for i := range set {
		s := &set[i]
		if len(s.p) < n {
			s.p = make([]float32, n)
		}
		if grad && len(s.dp) < n {
			s.dp = make([]float32, n)
		}
	}
	return set
}

func putAttnScratch(set []attnScratch) {
	attnPool.Lock()
	attnPool.free = append(attnPool.free, set)
	attnPool.Unlock()
}
