package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuBLAS enums (cublas_api.h, library_types.h).
const (
	cudaR32F  = 0
	cudaR16BF = 14

	computeF32         = 68
	computeF32FastTF32 = 77

	opN = 0
	opT = 1

	gemmDefault = -1

	mathDefault = 0
)

type cublasAPI struct {
	lib                                      *library
	create, destroy, setStream, setMathMode  uintptr
	getVersion, gemmEx, gemmStridedBatchedEx uintptr
	setWorkspace                             uintptr
}

var (
	cublasOnce sync.Once
	cublasLib  *cublasAPI
	cublasErr  error
)

func loadCUBLAS(driverMajor int) (*cublasAPI, error) {
	cublasOnce.Do(func() {
		lib, err := openLibrary(libSpec{name: "cuBLAS", stem: "libcublas", versions: libVersionOrder(driverMajor), companions: []string{"libcublasLt"}})
		if err != nil {
			cublasErr = fmt.Errorf("cuBLAS missing: %w", err)
			return
		}
		c := &cublasAPI{lib: lib}
		if err := lib.syms(map[string]*uintptr{
			"cublasCreate_v2": &c.create, "cublasDestroy_v2": &c.destroy, "cublasSetStream_v2": &c.setStream,
			"cublasSetMathMode": &c.setMathMode, "cublasGetVersion_v2": &c.getVersion,
			"cublasGemmEx": &c.gemmEx, "cublasGemmStridedBatchedEx": &c.gemmStridedBatchedEx,
		}); err != nil {
			cublasErr = fmt.Errorf("cuBLAS too old: %w", err)
			return
		}
		c.setWorkspace, _ = lib.sym("cublasSetWorkspace_v2")
		cublasLib = c
	})
	return cublasLib, cublasErr
}

func (c *cublasAPI) check(fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	return &Error{Lib: "cuBLAS", Func: fn, Code: code, Name: statusName(cublasStatusNames, "CUBLAS_STATUS", code)}
}

// newHandle creates a cuBLAS handle bound to stream (the context must be current).
func (c *cublasAPI) newHandle(stream uintptr) (uintptr, error) {
	var h uintptr
	r, _, _ := purego.SyscallN(c.create, uintptr(unsafe.Pointer(&h)))
	if err := c.check("cublasCreate_v2", r); err != nil {
		return 0, err
	}
	r, _, _ = purego.SyscallN(c.setStream, h, stream)
	if err := c.check("cublasSetStream_v2", r); err != nil {
		return 0, err
	}
	r, _, _ = purego.SyscallN(c.setMathMode, h, mathDefault)
	return h, c.check("cublasSetMathMode", r)
}

func (c *cublasAPI) destroyHandle(h uintptr) {
	purego.SyscallN(c.destroy, h)
}

func (c *cublasAPI) version(h uintptr) int {
	var v int32
	if r, _, _ := purego.SyscallN(c.getVersion, h, uintptr(unsafe.Pointer(&v))); r != 0 {
		return 0
	}
	return int(v)
}

// gemmOperand is a row-major matrix operand: device pointer, cudaDataType,
// leading dimension (row stride in elements), batch stride in elements.
type gemmOperand struct {
	ptr    DevPtr
	dtype  int
	ld     int
	stride int64
}

// gemmCall is one row-major GEMM: C[M,N] = alpha·op(A)[M,K]·op(B)[K,N] + beta·C,
// op(X) = Xᵀ when trans is set (then X is stored [K,M] resp. [N,K]).
type gemmCall struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        gemmOperand
	batch          int // > 1: strided batched
	compute        int
}

// colMajorArgs maps the row-major call onto cuBLAS's column-major one:
// a row-major C is a column-major Cᵀ, and Cᵀ = op(B)ᵀ·op(A)ᵀ, so the
// operands swap places and M and N swap.
func (g gemmCall) colMajorArgs() (opFirst, opSecond, m, n, k int, first, second gemmOperand) {
	opA, opB := opN, opN
	if g.transA {
		opA = opT
	}
	if g.transB {
		opB = opT
	}
	return opB, opA, g.n, g.m, g.k, g.b, g.a
}

// validate checks leading dimensions against the row-major shapes, so a
// wrong call fails here with the shapes rather than inside cuBLAS.
func (g gemmCall) validate() error {
	rowsA, colsA := g.m, g.k
	if g.transA {
		rowsA, colsA = g.k, g.m
	}
	rowsB, colsB := g.k, g.n
	if g.transB {
		rowsB, colsB = g.n, g.k
	}
	_ = rowsA
	_ = rowsB
	switch {
	case g.m <= 0 || g.n <= 0 || g.k <= 0:
		return fmt.Errorf("gemm: empty shape M=%d N=%d K=%d", g.m, g.n, g.k)
	case g.a.ld < colsA:
		return fmt.Errorf("gemm: lda %d < %d columns of A", g.a.ld, colsA)
	case g.b.ld < colsB:
		return fmt.Errorf("gemm: ldb %d < %d columns of B", g.b.ld, colsB)
	case g.c.ld < g.n:
		return fmt.Errorf("gemm: ldc %d < N=%d", g.c.ld, g.n)
	}
	return nil
}

func (c *cublasAPI) gemm(h uintptr, g gemmCall) error {
	if err := g.validate(); err != nil {
		return err
	}
	op1, op2, m, n, k, x, y := g.colMajorArgs()
	alpha, beta := g.alpha, g.beta
	algo := uintptr(uint32(0xFFFFFFFF)) // CUBLAS_GEMM_DEFAULT (-1) as a C int
	if g.batch <= 1 {
		r, _, _ := purego.SyscallN(c.gemmEx, h, uintptr(op1), uintptr(op2), uintptr(m), uintptr(n), uintptr(k),
			uintptr(unsafe.Pointer(&alpha)),
			uintptr(x.ptr), uintptr(x.dtype), uintptr(x.ld),
			uintptr(y.ptr), uintptr(y.dtype), uintptr(y.ld),
			uintptr(unsafe.Pointer(&beta)),
			uintptr(g.c.ptr), uintptr(g.c.dtype), uintptr(g.c.ld),
			uintptr(g.compute), algo)
		if err := c.check("cublasGemmEx", r); err != nil {
			return fmt.Errorf("%w (row-major M=%d N=%d K=%d transA=%v transB=%v)", err, g.m, g.n, g.k, g.transA, g.transB)
		}
		return nil
	}
	r, _, _ := purego.SyscallN(c.gemmStridedBatchedEx, h, uintptr(op1), uintptr(op2), uintptr(m), uintptr(n), uintptr(k),
		uintptr(unsafe.Pointer(&alpha)),
		uintptr(x.ptr), uintptr(x.dtype), uintptr(x.ld), uintptr(x.stride),
		uintptr(y.ptr), uintptr(y.dtype), uintptr(y.ld), uintptr(y.stride),
		uintptr(unsafe.Pointer(&beta)),
		uintptr(g.c.ptr), uintptr(g.c.dtype), uintptr(g.c.ld), uintptr(g.c.stride),
		uintptr(g.batch), uintptr(g.compute), algo)
	if err := c.check("cublasGemmStridedBatchedEx", r); err != nil {
		return fmt.Errorf("%w (row-major M=%d N=%d K=%d batch=%d)", err, g.m, g.n, g.k, g.batch)
	}
	return nil
}
