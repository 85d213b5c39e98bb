package cuda

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The feed-forward sublayer of layer i, forward beside backward:
//
//	ffnPre = mixLN·W1ᵀ, ffnGelu = gelu(ffnPre + b1)
//	hidden[i+1] = LayerNorm(mixLN + dropout(ffnGelu·W2ᵀ + b2))
//
// Three ways to run the GELU (Options.Fuse), the same function each:
//
//	default        GEMM, bias_gelu; backward GEMM, gelu_bwd_colsum (2- or 4-byte accesses)
//	FuseGELU       the same with bias_gelu_v16, gelu_bwd_colsum_v16 (16-byte accesses, kernels/ffn.cu)
//	FuseEpilogue   the GEMMs with cuBLASLt epilogues: GELU_AUX_BIAS writes ffnGelu and
//	               ffnPre = mixLN·W1ᵀ + b1 (the bias included); DGELU_BGRAD writes dFFNPre
//	               and b1's gradient (cublaslt.go). Variants, the first that cuBLASLt
//	               accepts (ffnLt): the bias read in float32, else from the GEMM-typed
//	               weight copy; the bias gradient written in float32, else in the GEMM
//	               type, else DGELU alone and colsum_g over dFFNPre. When none runs (no
//	               library, no algorithm, an aux leading dimension F not a multiple of 8)
//	               the engine says so once and takes the path above.

func (p *pass) ffnForward(i int) error {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	if p.ffnEpilogue() {
		c, err := p.ffnInLt(i)
		if err != nil {
			return err
		}
		if err := e.ltMatmul(c); err != nil {
			return err
		}
	} else {
		if err := p.linear(a.mixLNG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.ffnPre[i], e.prec.gemmType()); err != nil {
			return err
		}
		if err := p.biasGELU(a.ffnPre[i], e.param(e.params, fnet.LayerParam(i, fnet.FFInB)), T, F, a.ffnGelu[i]); err != nil {
			return err
		}
	}
	if err := p.linear(a.ffnGelu[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.branch, cudaR32F); err != nil {
		return err
	}
	d := e.dropoutAt(p.train, p.dstep, fnet.DropoutSiteFFN(i))
	return p.ln(a.mixLN[i], a.branch, e.param(e.params, fnet.LayerParam(i, fnet.FFOutB)), d,
		fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
		T, a.outLNXhat[i], a.outLNRstd[i], a.hidden[i+1], p.gOrNil(a.hiddenG[i+1]), p.dB())
}

// ffnBackward takes the gradient at the layer's output hidden[i+1]
// (dLayerOut) to the gradient at the sublayer's input mixLN, in dMixLN (the
// residual's share plus the FFN's), adding the sublayer's parameter gradients.
func (p *pass) ffnBackward(i int) error {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	gt := e.prec.gemmType()
	// LayerNorm: dMixLN = d(mixLN + dropout(z)), dBranch = dropout(dMixLN) = dz (z = ffnGelu·W2ᵀ + b2)
	d := e.dropoutAt(true, p.dstep, fnet.DropoutSiteFFN(i))
	if err := p.lnBackward(a.dLayerOut, a.outLNXhat[i], a.outLNRstd[i], fnet.LayerParam(i, fnet.OutLNWeight), fnet.LayerParam(i, fnet.OutLNBias),
		T, a.dMixLN, a.dBranch, d, p.dB()); err != nil {
		return err
	}
	if err := p.colsum("f32", a.dMixLN, 0, d, T, H, e.param(e.grads, fnet.LayerParam(i, fnet.FFOutB)), 0, p.dB()); err != nil {
		return err
	}
	if p.ffnEpilogue() {
		// dW2 += dzᵀ·ffnGelu; then dFFNPre = (dz·W2) ∘ gelu'(ffnPre) and db1 in one GEMM
		if err := p.linearBackward(a.dBranch, a.ffnGelu[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), 0, gt, false); err != nil {
			return err
		}
		c, err := p.ffnOutDataLt(i)
		if err != nil {
			return err
		}
		if err := e.ltMatmul(c); err != nil {
			return err
		}
		if err := p.ffnBiasGradLt(i); err != nil {
			return err
		}
	} else {
		if err := p.linearBackward(a.dBranch, a.ffnGelu[i], T, F, H, fnet.LayerParam(i, fnet.FFOutW), a.dFFNGelu, gt, false); err != nil {
			return err
		}
		// ffnGelu = gelu(ffnPre + b1)
		if err := p.geluBackward(a.dFFNGelu, a.ffnPre[i], fnet.LayerParam(i, fnet.FFInB), T, F, a.dFFNPre); err != nil {
			return err
		}
	}
	// ffnPre = mixLN·W1ᵀ: dMixLN += dFFNPre·W1
	return p.linearBackward(a.dFFNPre, a.mixLNG[i], T, H, F, fnet.LayerParam(i, fnet.FFInW), a.dMixLN, cudaR32F, true)
}

// ffnVecBlock is the block of bias_gelu_v16: 128 threads of 8 bf16 columns
// cover FNet-Base's F = 3072 in three blocks with no idle thread.
const ffnVecBlock = 128

// ffnVecOK reports whether the 16-byte kernels may run over [rows, C]
// GEMM-typed tensors at ptrs: C a whole number of vectors, each pointer
// 16-byte aligned (float32 biases included, read four at a time).
func (e *Engine) ffnVecOK(C int, ptrs ...DevPtr) bool {
	if !e.fuse.Has(FuseGELU) || C%(16/e.prec.gemmElemSize()) != 0 {
		return false
	}
	for _, p := range ptrs {
		if p%16 != 0 {
			return false
		}
	}
	return true
}

// biasGELU writes h = gelu(u + b) over [rows, C].
func (p *pass) biasGELU(u, b DevPtr, rows, C int, h DevPtr) error {
	e := p.e
	if e.ffnVecOK(C, u, b, h) {
		cv := C / (16 / e.prec.gemmElemSize())
		grid := [3]uint32{uint32((cv + ffnVecBlock - 1) / ffnVecBlock), uint32(max(1, min(rows, 4096))), 1}
		return e.l.launch("bias_gelu_v16", grid, [3]uint32{ffnVecBlock, 1, 1}, 0, u, b, int64(rows), int32(C), h)
	}
	return e.l.launch("bias_gelu", rowColGrid(rows, C), block1D, 0, u, b, int64(rows), int32(C), h)
}

// geluBackward writes du = dh·gelu'(u + b) and adds its column sums (in
// float32, before rounding du) into the bias gradient, in one pass.
func (p *pass) geluBackward(dh, u DevPtr, bias string, rows, C int, du DevPtr) error {
	e, a := p.e, p.a
	chunks, rpc := colsumChunks(rows)
	b := e.param(e.params, bias)
	var err error
	if e.ffnVecOK(C, dh, u, b, du) {
		cv := C / (16 / e.prec.gemmElemSize())
		grid := [3]uint32{uint32((cv + 31) / 32), uint32(chunks), 1}
		err = e.l.launch("gelu_bwd_colsum_v16", grid, [3]uint32{32, 8, 1}, 0, dh, u, b, int32(rows), int32(C), int32(rpc), du, a.colsumPartials)
	} else {
		grid := [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}
		err = e.l.launch("gelu_bwd_colsum", grid, [3]uint32{32, 8, 1}, 0, dh, u, b, int32(rows), int32(C), int32(rpc), du, a.colsumPartials)
	}
	if err != nil {
		return err
	}
	fgrid := [3]uint32{uint32((C + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
	return e.l.launch("colsum_final", fgrid, block1D, 0, a.colsumPartials, int32(chunks), int32(C), int32(C), float32(1), e.param(e.grads, bias), int32(0), DevPtr(0))
}

// ffnInLt is layer i's FFN-in GEMM with GELU_AUX_BIAS: ffnGelu (D) =
// gelu(mixLN·W1ᵀ + b1), ffnPre (aux) = mixLN·W1ᵀ + b1, b1 read in
// float32 or from the GEMM-typed weight copy (ffnLt.biasType).
func (p *pass) ffnInLt(i int) (ltCall, error) {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	gt := e.prec.gemmType()
	g := gemmCall{transB: true, m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: a.mixLNG[i], dtype: gt, ld: H}, b: gemmOperand{ptr: e.gparam(fnet.LayerParam(i, fnet.FFInW)), dtype: gt, ld: H},
		c: gemmOperand{ptr: a.ffnGelu[i], dtype: gt, ld: F}, compute: e.prec.computeType()}
	bias := e.param(e.params, fnet.LayerParam(i, fnet.FFInB))
	if a.ltFFN.biasType != cudaR32F {
		bias = e.gparam(fnet.LayerParam(i, fnet.FFInB))
	}
	return ltFromGemm(g, ltEpilogueGELUAuxBias, bias, a.ltFFN.biasType, a.ffnPre[i], F, a.ltWorkspace, ltWorkspaceBytes)
}

// ffnOutDataLt is layer i's FFN-out data-gradient GEMM: dFFNPre (D) =
// (dBranch·W2) ∘ gelu'(ffnPre) with DGELU_BGRAD writing the bias gradient
// into ltBiasGrad (float32) or ltBiasGradG (GEMM type), or with DGELU alone.
func (p *pass) ffnOutDataLt(i int) (ltCall, error) {
	e, a := p.e, p.a
	H, F, T := e.cfg.HiddenSize, e.cfg.IntermediateSize, p.T
	gt := e.prec.gemmType()
	g := gemmCall{m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: a.dBranch, dtype: gt, ld: H}, b: gemmOperand{ptr: e.gparam(fnet.LayerParam(i, fnet.FFOutW)), dtype: gt, ld: F},
		c: gemmOperand{ptr: a.dFFNPre, dtype: gt, ld: F}, compute: e.prec.computeType()}
	switch a.ltFFN.bwd {
	case ltBGradG:
		return ltFromGemm(g, ltEpilogueDGELUBGrad, a.ltBiasGradG, gt, a.ffnPre[i], F, a.ltWorkspace, ltWorkspaceBytes)
	case ltDGELU:
		return ltFromGemm(g, ltEpilogueDGELU, 0, 0, a.ffnPre[i], F, a.ltWorkspace, ltWorkspaceBytes)
	}
	return ltFromGemm(g, ltEpilogueDGELUBGrad, a.ltBiasGrad, cudaR32F, a.ffnPre[i], F, a.ltWorkspace, ltWorkspaceBytes)
}

// ffnBiasGradLt adds b1's gradient after ffnOutDataLt's GEMM into the
// gradient buffer (which accumulates; the epilogue writes).
func (p *pass) ffnBiasGradLt(i int) error {
	e, a := p.e, p.a
	F, T := e.cfg.IntermediateSize, p.T
	db := e.param(e.grads, fnet.LayerParam(i, fnet.FFInB))
	switch a.ltFFN.bwd {
	case ltDGELU:
		return p.colsum("g", a.dFFNPre, 0, noDropout, T, F, db, 0, 0)
	case ltBGradG:
		if err := e.l.launch("g_to_f32", elementwiseGrid(int64(F)), block1D, 0, a.ltBiasGradG, int64(F), a.ltBiasGrad); err != nil {
			return err
		}
	}
	return e.l.launch("axpy_f32", elementwiseGrid(int64(F)), block1D, 0, a.ltBiasGrad, float32(1), int64(F), db)
}

// ltState is whether an activation set's FFN takes the cuBLASLt epilogues.
type ltState int8

const (
	ltUndecided ltState = iota
	ltOn
	ltOff
)

// ltBackward is how the backward epilogue delivers b1's gradient.
type ltBackward int8

const (
	ltBGradF32 ltBackward = iota // DGELU_BGRAD into ltBiasGrad (float32), as the unfused path sums it
	ltBGradG                     // DGELU_BGRAD into ltBiasGradG (the GEMM type), widened by g_to_f32
	ltDGELU                      // DGELU; colsum_g sums the GEMM-typed dFFNPre (rounded terms)
)

// ffnLt is what an activation set's FFN runs: decided once per batch
// shape by probing the variants in order of precision.
type ffnLt struct {
	state    ltState
	biasType int // the forward bias: cudaR32F (master weights) or the GEMM type (weight copy)
	bwd      ltBackward
}

// ffnEpilogue reports whether this pass's FFN layers run with the cuBLASLt
// epilogues: decided once per batch shape, before any layer runs, for the
// forward and the backward together (the forward's ffnPre holds the bias
// only on this path, so the two must agree) and for every layer at once,
// by preparing both calls of each layer (2·L heuristic calls, the plans
// kept for the run). The layers share shapes but not pointers, whose
// alignment the heuristic is given (a parameter of the bf16 weight copy
// may be only 128-byte aligned), so one layer's refusal, or its algorithm
// wanting more than the planned workspace, would otherwise fail a step
// midway: any refusal sends every layer down the unfused path.
func (p *pass) ffnEpilogue() bool {
	e, a := p.e, p.a
	if !e.fuse.Has(FuseEpilogue) {
		return false
	}
	if a.ltFFN.state == ltUndecided {
		a.ltFFN.state = ltOn
		if err := p.probeFFNLt(); err != nil {
			a.ltFFN = ffnLt{state: ltOff}
			ltNotice(fmt.Sprintf("cuda: the FFN's cuBLASLt epilogues (fuse=epilogue) cannot run for T=%d F=%d: %v; using the unfused GELU kernels", p.T, e.cfg.IntermediateSize, err))
		}
	}
	return a.ltFFN.state == ltOn
}

// probeFFNLt picks the first forward and the first backward variant that
// cuBLASLt accepts for every layer, or says why none runs.
func (p *pass) probeFFNLt() error {
	e, lt := p.e, &p.a.ltFFN
	if e.cfg.NumLayers == 0 {
		return fmt.Errorf("no layers")
	}
	try := func(call func(int) (ltCall, error)) error {
		for i := 0; i < e.cfg.NumLayers; i++ {
			c, err := call(i)
			if err == nil {
				err = e.ltProbe(c)
			}
			if err != nil {
				return fmt.Errorf("layer %d: %w", i, err)
			}
		}
		return nil
	}
	var refused []string
	biasTypes := []int{cudaR32F}
	if gt := e.prec.gemmType(); gt != cudaR32F {
		biasTypes = append(biasTypes, gt)
	}
	fwdOK := false
	for _, bt := range biasTypes {
		lt.biasType = bt
		err := try(p.ffnInLt)
		if err == nil {
			fwdOK = true
			break
		}
		refused = append(refused, err.Error())
	}
	if !fwdOK {
		return errors.New(strings.Join(refused, "; "))
	}
	bwds := []ltBackward{ltBGradF32, ltDGELU}
	if e.prec.gemmType() != cudaR32F {
		bwds = []ltBackward{ltBGradF32, ltBGradG, ltDGELU}
	}
	for _, b := range bwds {
		lt.bwd = b
		err := try(p.ffnOutDataLt)
		if err == nil {
			return nil
		}
		refused = append(refused, err.Error())
	}
	return errors.New(strings.Join(refused, "; "))
}
