package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// Linear and Random mixing (fnet.MixLinear, fnet.MixRandom; the CPU twin is
// fnet/op_mix_linear.go): each example X_b [S, H] becomes
//
//	Y_b = seq · X_b · hidden      hidden [H, H] stored [in, out], seq [S, S] stored [out, in]
//
// as two GEMMs: z = x·hidden over all T token
// rows (denseZ), then the sequence product. With seq-major rows (s·B + b)
// z and y are [S, B·H] matrices, so the sequence product of the whole batch
// is one GEMM y = seq·z with N = B·H; batch-major rows need a
// strided-batched GEMM over the examples. S is the model's seq_len (the
// matrices are S×S; passFor refuses other lengths).
//
// Backward, from dy, the gradient at y:
//
//	dz = seqᵀ·dy                     (one GEMM seq-major, strided-batched batch-major)
//	dseq += Σ_b dy_b·z_bᵀ            (seq-major: ONE GEMM dy·zᵀ with K = B·H; batch-major: one per example)
//	dhidden += xᵀ·dz,  dx += dz·hiddenᵀ
//
// Random's matrices are fixed (fnet.ParamSpec.Fixed): no dseq or dhidden
// GEMM, nothing of theirs in the gradient buffers (which do not hold
// them; Engine.layoutParams), and no z to keep for the backward.

// In bf16 mode these GEMMs follow the Fourier mixing's precision
// (Engine.mixTF32, the default there): float32 operands (the master
// weights, hidden[i], the float32 gradient) in TF32, so Random's fixed
// matrices keep more than bf16's 8 bits; with Options.MixBF16 they read
// the bf16 weight copy and the GEMM-typed activations instead.

// denseNames are layer i's hidden and sequence matrices and whether they are trained.
func (e *Engine) denseNames(i int) (hidden, seq string, trained bool) {
	k := e.cfg.LayerMixing(i)
	h, s := fnet.MixKernelNames(k)
	return fnet.LayerParam(i, h), fnet.LayerParam(i, s), k == fnet.MixLinear
}

// mixWeight is a mixing matrix in the mixing GEMMs' operand type.
func (e *Engine) mixWeight(name string) DevPtr {
	if e.mixTF32 {
		return e.param(e.params, name)
	}
	return e.gparam(name)
}

// denseZ is layer i's z = x·hidden: its own buffer for a linear layer
// (the seq kernel's gradient reads it), the shared randomZ for a random one.
func (p *pass) denseZ(i int) DevPtr {
	if z := p.a.denseZ[i]; z != 0 {
		return z
	}
	return p.a.randomZ
}

// denseGradInput is where the mixing backward wants the GEMM-typed copy of
// its input gradient: nowhere when it reads the float32 one.
func (p *pass) denseGradInput() DevPtr {
	if p.e.mixTF32 {
		return 0
	}
	return p.a.dBranch
}

// denseForward writes layer i's linear or random mixing of hidden[i] into out [T, H] (float32).
func (p *pass) denseForward(i int, out DevPtr) error {
	e, a := p.e, p.a
	H, S, B := e.cfg.HiddenSize, p.b.S, p.b.B
	dt, ct := e.mixDType(), e.mixCompute()
	x := a.hiddenG[i]
	if e.mixTF32 {
		x = a.hidden[i]
	}
	hidden, seq, _ := e.denseNames(i)
	z := p.denseZ(i)
	if err := e.gemm(false, false, p.T, H, H, 1, x, dt, H, e.mixWeight(hidden), dt, H, 0, z, dt, H, ct); err != nil {
		return err
	}
	if e.seqMajor {
		return e.gemm(false, false, S, B*H, S, 1, e.mixWeight(seq), dt, S, z, dt, B*H, 0, out, cudaR32F, B*H, ct)
	}
	return e.gemmCall(gemmCall{m: S, n: H, k: S, alpha: 1, beta: 0,
		a:     gemmOperand{ptr: e.mixWeight(seq), dtype: dt, ld: S},
		b:     gemmOperand{ptr: z, dtype: dt, ld: H, stride: int64(S * H)},
		c:     gemmOperand{ptr: out, dtype: cudaR32F, ld: H, stride: int64(S * H)},
		batch: B, compute: ct})
}

// denseBackward adds the gradient through layer i's mixing of the gradient
// at its output (dPre float32, dPreG its GEMM-typed copy) into dx
// (float32), and the matrices' gradients for a linear layer.
func (p *pass) denseBackward(i int, dPre, dPreG, dx DevPtr) error {
	e, a := p.e, p.a
	H, S, B, T := e.cfg.HiddenSize, p.b.S, p.b.B, p.T
	dt, ct := e.mixDType(), e.mixCompute()
	es := DevPtr(elemSize(dt))
	dy, x := dPreG, a.hiddenG[i]
	if e.mixTF32 {
		dy, x = dPre, a.hidden[i]
	}
	hidden, seq, trained := e.denseNames(i)
	// dz = seqᵀ·dy
	var err error
	if e.seqMajor {
		err = e.gemm(true, false, S, B*H, S, 1, e.mixWeight(seq), dt, S, dy, dt, B*H, 0, a.denseDZ, dt, B*H, ct)
	} else {
		err = e.gemmCall(gemmCall{transA: true, m: S, n: H, k: S, alpha: 1, beta: 0,
			a:     gemmOperand{ptr: e.mixWeight(seq), dtype: dt, ld: S},
			b:     gemmOperand{ptr: dy, dtype: dt, ld: H, stride: int64(S * H)},
			c:     gemmOperand{ptr: a.denseDZ, dtype: dt, ld: H, stride: int64(S * H)},
			batch: B, compute: ct})
	}
	if err != nil {
		return err
	}
	if trained {
		// dseq += Σ_b dy_b·z_bᵀ
		z := p.denseZ(i)
		if e.seqMajor {
			err = e.gemm(false, true, S, S, B*H, 1, dy, dt, B*H, z, dt, B*H, 1, e.param(e.grads, seq), cudaR32F, S, ct)
		} else {
			for b := 0; b < B && err == nil; b++ { // summed in example order, as the CPU engine does
				off := DevPtr(b*S*H) * es
				err = e.gemm(false, true, S, S, H, 1, dy+off, dt, H, z+off, dt, H, 1, e.param(e.grads, seq), cudaR32F, S, ct)
			}
		}
		if err != nil {
			return err
		}
		// dhidden += xᵀ·dz
		if err := e.gemm(true, false, H, H, T, 1, x, dt, H, a.denseDZ, dt, H, 1, e.param(e.grads, hidden), cudaR32F, H, ct); err != nil {
			return err
		}
	}
	// dx += dz·hiddenᵀ
	return e.gemm(false, true, T, H, H, 1, a.denseDZ, dt, H, e.mixWeight(hidden), dt, H, 1, dx, cudaR32F, H, ct)
}
