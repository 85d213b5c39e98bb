package cuda

// GEMMs on the engine's cuBLAS handle: the row-major wrapper and the
// linear layer (forward, and backward with the weight gradient).

// gemm runs a row-major GEMM C[M,N] = α·op(A)·op(B) + β·C on the engine's handle.
func (e *Engine) gemm(transA, transB bool, m, n, k int, alpha float32, a DevPtr, at, lda int, b DevPtr, bt, ldb int, beta float32, c DevPtr, ct, ldc int, compute int) error {
	return e.gemmCall(gemmCall{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: gemmOperand{ptr: a, dtype: at, ld: lda}, b: gemmOperand{ptr: b, dtype: bt, ld: ldb},
		c: gemmOperand{ptr: c, dtype: ct, ld: ldc}, compute: compute})
}

// gemmCall runs one cuBLAS call on the engine's handle (timed when profiling).
func (e *Engine) gemmCall(g gemmCall) error {
	if d := e.dry(); d != nil {
		if err := g.validate(); err != nil {
			d.record(dryOp{name: gemmLabel(g), gemm: &g})
			return err
		}
		return d.run(dryOp{name: gemmLabel(g), gemm: &g})
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

// gOrNil is the GEMM-typed output to write, or 0 when it aliases the float32 one.
func (p *pass) gOrNil(g DevPtr) DevPtr {
	if p.e.prec == BF16 {
		return g
	}
	return 0
}
