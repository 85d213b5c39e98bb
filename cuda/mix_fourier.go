package cuda

// Fourier mixing, FNet's token mixing (layer_mix.go reaches it through
// mixForward and mixBackward): Re(FFT2(x)) per sequence as GEMMs against
// the DFT tables (tables.go), with no parameters. The map is self-adjoint,
// so its backward is the same call on the gradient.

// fourierForward writes layer i's Fourier mixing of its input into out.
// The mixing reads the GEMM-typed input, or the float32 one when it runs
// in TF32 (bf16 mode's default, Engine.mixTF32).
func (p *pass) fourierForward(i int, out DevPtr) error {
	in := p.a.hiddenG[i]
	if p.e.mixTF32 {
		in = p.a.hidden[i]
	}
	return p.fourierMix(in, out, 0)
}

// fourierBackward adds the gradient through the mixing, mix(dPre), into dx
// (which may be dPre itself); dPreG is dPre's GEMM-typed copy.
func (p *pass) fourierBackward(dPre, dPreG, dx DevPtr) error {
	in := dPreG
	if p.e.mixTF32 {
		in = dPre
	}
	return p.fourierMix(in, dx, 1)
}

// fourierGradInput is where the mixing's backward wants the GEMM-typed
// copy of its input gradient: nowhere (0) when it reads the float32 one.
func (p *pass) fourierGradInput() DevPtr {
	if p.e.mixTF32 {
		return 0
	}
	return p.a.dBranch
}

// fourierMix computes out = Re(FFT2(in)) per sequence (+ β·out) as GEMMs.
//
// Seq-major rows: two GEMMs over the whole batch. mixZ = [Zc; Zs] = in·C_H and
// in·S_H (one batched call), each [S, B·H] when read seq-major, then
// out = [C_S | −S_S]·[Zc; Zs] with K = 2S and N = B·H.
//
// Batch-major rows: mixZ = Z = in·[C_H | S_H], then per sequence
// out_b = C_S·Z_b[:, :H] − S_S·Z_b[:, H:] (strided-batched, two calls).
func (p *pass) fourierMix(in DevPtr, out DevPtr, beta float32) error {
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
			c:     gemmOperand{ptr: a.mixZ, dtype: dt, ld: H, stride: int64(p.T * H)},
			batch: 2, compute: ct})
		if err != nil {
			return err
		}
		return e.gemm(false, false, S, B*H, 2*S, 1, t.seqCat, dt, 2*S, a.mixZ, dt, B*H, beta, out, cudaR32F, B*H, ct)
	}
	if err := e.gemm(false, false, p.T, 2*H, H, 1, in, dt, H, t.hidden, dt, 2*H, 0, a.mixZ, dt, 2*H, ct); err != nil {
		return err
	}
	for half, tab := range []DevPtr{t.cosS, t.negSinS} {
		bb := beta
		if half == 1 {
			bb = 1
		}
		err := e.gemmCall(gemmCall{m: S, n: H, k: S, alpha: 1, beta: bb,
			a:     gemmOperand{ptr: tab, dtype: dt, ld: S, stride: 0},
			b:     gemmOperand{ptr: a.mixZ + DevPtr(half*H*es), dtype: dt, ld: 2 * H, stride: int64(S * 2 * H)},
			c:     gemmOperand{ptr: out, dtype: cudaR32F, ld: H, stride: int64(S * H)},
			batch: B, compute: ct})
		if err != nil {
			return err
		}
	}
	return nil
}
