package cuda

import (
	"fmt"
	"math"
	"unsafe"
)

// The optimizer step: the global gradient norm in two deterministic
// stages (sumsq_partial, then the sum inside adamw), and AdamW with the clip
// factor computed on the device, which also zeroes the gradients and
// refreshes the GEMM-typed weight copy. The norm is the one value read back.

// normPartials is the number of sum-of-squares partials (sumsq_partial's blocks).
const normPartials = 1024

// Step clips the accumulated gradients to maxNorm (when > 0), applies one
// AdamW update and zeroes the gradients, all on the device; the gradient
// norm is the one value read back. Both kernels run over the trained
// parameters only (the first nTrained elements of the flat layout): the
// fixed ones after them get no update, no decay and no share of the norm.
func (e *Engine) Step(lr float64, maxNorm float64) (float64, error) {
	unlock, err := e.enter()
	if err != nil {
		return 0, err
	}
	defer unlock()
	if err := e.averagePending(); err != nil { // grad_average.go
		return 0, err
	}
	n := int64(e.nTrained)
	sumsq, adamw := e.optimizerKernels()
	if err := e.l.launch(sumsq, [3]uint32{normPartials, 1, 1}, block1D, 0, e.grads, n, e.normParts); err != nil {
		return 0, err
	}
	c := e.opt.Step(lr, e.step+1)
	var pg DevPtr
	if e.prec == BF16 {
		pg = e.shadow
	}
	grid := [3]uint32{uint32(e.s.info.SMs * 8), 1, 1}
	if err := e.l.launch(adamw, grid, block1D, 0, e.params, e.grads, e.m, e.v, pg, n,
		c.Beta1, c.Beta2, c.Eps, c.Decay, c.StepSize, c.InvSqrtBC2, e.normParts, int32(normPartials), float32(maxNorm), e.normOut); err != nil {
		return 0, err
	}
	var norm float32
	if err := e.readNorm(&norm); err != nil {
		return 0, err
	}
	if math.IsNaN(float64(norm)) || math.IsInf(float64(norm), 0) {
		// the kernel skipped the update and dropped the gradients
		return float64(norm), fmt.Errorf("cuda engine: gradient norm is %v", norm)
	}
	e.step++
	return float64(norm), nil
}

// readNorm copies the last gradient norm out (a dry run reads its norm).
func (e *Engine) readNorm(norm *float32) error {
	if err := e.dtoh(unsafe.Pointer(norm), e.normOut, 4); err != nil {
		return err
	}
	if d := e.dry(); d != nil {
		*norm = d.norm
	}
	return nil
}

// optimizerKernels are the sum-of-squares and AdamW kernels of the step:
// with FuseOptimizer sumsq_vec and adamw_vec (kernels/optimizer.cu, the
// same launches with 16-byte accesses), else sumsq_partial and adamw. Both
// pairs take the same arguments; kernels/optimizer.cu says why there are
// still two passes.
func (e *Engine) optimizerKernels() (sumsq, adamw string) {
	if e.fuse.Has(FuseOptimizer) {
		return "sumsq_vec", "adamw_vec"
	}
	return "sumsq_partial", "adamw"
}
