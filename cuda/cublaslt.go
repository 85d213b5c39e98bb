package cuda

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuBLASLt, bound at run time like cuBLAS, for the FFN GEMMs with a fused
// epilogue (Options.Fuse has FuseEpilogue, issue 16):
//
//	forward   ffnGelu = gelu(mixLN·W1ᵀ + b1), aux ffnPre = mixLN·W1ᵀ + b1   CUBLASLT_EPILOGUE_GELU_AUX_BIAS
//	backward  dFFNPre = (dz·W2) ∘ gelu'(ffnPre), db1 = Σ_rows dFFNPre        CUBLASLT_EPILOGUE_DGELU_BGRAD
//
// cuBLASLt's GELU is the tanh approximation 0.5x(1 + tanh(√(2/π)(x +
// 0.044715x³))) (cuBLASLt documentation, cublasLtEpilogue_t, footnote on
// GELU), the engine's and HF FNet's gelu_new; bf16 mode's kernels take
// the hardware tanh.approx for the same function.
//
// Every enum value and struct size below is from cublasLt.h (the NVIDIA
// header, "Copyright 1993-2021", CUDA 11.x: cublasLtMatmulDescAttributes_t,
// cublasLtEpilogue_t, cublasLtMatmulPreferenceAttributes_t,
// cublasLtMatmulHeuristicResult_t) except CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE
// (= 26), which CUDA 11.8 added, and CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*
// (5–8, in the CUDA 11.x header as in 12.x); the values are unchanged in the CUDA 12 and
// 13 headers. A device session confirms them (docs/GPU.md).
const (
	ltDescComputeType  = 0  // int32 cublasComputeType_t
	ltDescScaleType    = 1  // int32 cudaDataType
	ltDescTransA       = 3  // int32 cublasOperation_t
	ltDescTransB       = 4  // int32 cublasOperation_t
	ltDescEpilogue     = 7  // uint32 cublasLtEpilogue_t
	ltDescBiasPointer  = 8  // void*: bias (forward) or bias gradient (backward)
	ltDescAuxPointer   = 11 // void*: the GELU input (written forward, read backward)
	ltDescAuxLD        = 12 // int64: its leading dimension, a multiple of 8, ≥ rows of D
	ltDescBiasDataType = 26 // int32 cudaDataType of the bias vector (default: D's type)

	ltPrefMaxWorkspaceBytes = 1 // uint64
	// CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_{A,B,C,D}_BYTES: uint32, default
	// 256. The heuristic never sees the matrices' pointers, only these.
	ltPrefMinAlignmentA = 5
	ltPrefMinAlignmentB = 6
	ltPrefMinAlignmentC = 7
	ltPrefMinAlignmentD = 8

	ltEpilogueDefault     = 1
	ltEpilogueGELUAuxBias = 164 // GELU_AUX | BIAS = 32 | 128 | 4
	ltEpilogueDGELUBGrad  = 208 // DGELU | 16 = 64 | 128 | 16
	ltEpilogueDGELU       = 192 // 64 | 128: the GELU gradient alone (the bias gradient summed by the engine)

	// ltAuxLDMultiple is the documented constraint on CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD.
	ltAuxLDMultiple = 8

	// ltWorkspaceBytes is the workspace the engine plans for cuBLASLt in
	// its arena (NVIDIA's recommendation for Hopper is 32 MiB).
	ltWorkspaceBytes = 32 << 20
)

// ltHeuristicResult is cublasLtMatmulHeuristicResult_t: the algorithm
// (cublasLtMatmulAlgo_t, uint64_t data[8]), size_t workspaceSize,
// cublasStatus_t state, float wavesCount, int reserved[4]: 96 bytes.
type ltHeuristicResult struct {
	algo          [8]uint64
	workspaceSize uint64
	state         int32
	wavesCount    float32
	reserved      [4]int32
}

const ltHeuristicResultSize = 96

// ltEpilogueName names an epilogue in operation labels.
func ltEpilogueName(ep uint32) string {
	switch ep {
	case ltEpilogueDefault:
		return "default"
	case ltEpilogueGELUAuxBias:
		return "gelu_aux_bias"
	case ltEpilogueDGELUBGrad:
		return "dgelu_bgrad"
	case ltEpilogueDGELU:
		return "dgelu"
	}
	return fmt.Sprintf("epilogue_%d", ep)
}

// ltLayout is one cublasLtMatrixLayout_t: column-major rows × cols with
// leading dimension ld, elements of type dtype.
type ltLayout struct {
	dtype int32
	rows  uint64
	cols  uint64
	ld    int64
}

// ltCall is one cublasLtMatmul as cuBLASLt sees it (column-major):
// D[m, n] = epilogue(α·op(A)[m, k]·op(B)[k, n] + β·C), with D = C in place.
// The bias vector has m elements of type biasType (GELU_AUX_BIAS reads it,
// DGELU_BGRAD writes the bias gradient Σ_columns D there); aux is an m × n
// matrix of D's type with leading dimension auxLD (GELU_AUX_BIAS writes the
// GELU input there, DGELU_BGRAD reads it). It is comparable, so it keys
// the prepared descriptors.
type ltCall struct {
	epilogue       uint32
	transA, transB int32
	compute        int32
	m, n, k        int
	alpha, beta    float32
	a, b, c        DevPtr
	la, lb, lc     ltLayout
	bias           DevPtr
	biasType       int32
	aux            DevPtr
	auxLD          int64
	workspace      DevPtr
	workspaceBytes uint64
}

// ltFromGemm maps a row-major GEMM onto the column-major cuBLASLt call as
// gemm.go maps it onto cuBLAS (row-major C is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ),
// with an epilogue over D's rows, i.e. the row-major columns: the bias has
// g.n elements, aux is row-major [g.m, g.n] with row stride auxLD.
func ltFromGemm(g gemmCall, epilogue uint32, bias DevPtr, biasType int, aux DevPtr, auxLD int, ws DevPtr, wsBytes uint64) (ltCall, error) {
	if err := g.validate(); err != nil {
		return ltCall{}, err
	}
	if g.batch > 1 {
		return ltCall{}, fmt.Errorf("cublasLt: batched GEMMs are not mapped (batch %d)", g.batch)
	}
	op1, op2, m, n, k, first, second := g.colMajorArgs()
	layout := func(o gemmOperand, op, rows, cols int) ltLayout {
		if op == opT {
			rows, cols = cols, rows
		}
		return ltLayout{dtype: int32(o.dtype), rows: uint64(rows), cols: uint64(cols), ld: int64(o.ld)}
	}
	c := ltCall{epilogue: epilogue, transA: int32(op1), transB: int32(op2), compute: int32(g.compute),
		m: m, n: n, k: k, alpha: g.alpha, beta: g.beta,
		a: first.ptr, b: second.ptr, c: g.c.ptr,
		la: layout(first, op1, m, k), lb: layout(second, op2, k, n),
		lc:   ltLayout{dtype: int32(g.c.dtype), rows: uint64(m), cols: uint64(n), ld: int64(g.c.ld)},
		bias: bias, biasType: int32(biasType), aux: aux, auxLD: int64(auxLD), workspace: ws, workspaceBytes: wsBytes}
	return c, c.validate()
}

// validate checks what cuBLASLt documents for these epilogues, so an
// impossible call fails here with its shapes (and in a dry run) rather
// than inside the library.
func (c ltCall) validate() error {
	name := ltEpilogueName(c.epilogue)
	switch c.epilogue {
	case ltEpilogueGELUAuxBias, ltEpilogueDGELUBGrad:
		if c.bias == 0 {
			return fmt.Errorf("cublasLt %s: no bias vector", name)
		}
	case ltEpilogueDGELU:
		if c.bias != 0 {
			return fmt.Errorf("cublasLt %s: a bias vector, which this epilogue does not use", name)
		}
	default:
		return fmt.Errorf("cublasLt %s: only gelu_aux_bias, dgelu_bgrad and dgelu are used", name)
	}
	switch {
	case c.aux == 0:
		return fmt.Errorf("cublasLt %s: no aux (GELU input) matrix", name)
	case c.auxLD < int64(c.m) || c.auxLD%ltAuxLDMultiple != 0:
		return fmt.Errorf("cublasLt %s: aux leading dimension %d must be a multiple of %d and at least the %d rows of D", name, c.auxLD, ltAuxLDMultiple, c.m)
	case c.lc.ld < int64(c.m):
		return fmt.Errorf("cublasLt %s: ldd %d < %d rows", name, c.lc.ld, c.m)
	case c.workspaceBytes > 0 && c.workspace == 0:
		return fmt.Errorf("cublasLt %s: %d workspace bytes at a nil pointer", name, c.workspaceBytes)
	}
	for _, p := range []struct {
		what string
		p    DevPtr
	}{{"A", c.a}, {"B", c.b}, {"D", c.c}, {"aux", c.aux}, {"bias", c.bias}, {"workspace", c.workspace}} {
		if p.p%16 != 0 {
			return fmt.Errorf("cublasLt %s: %s at %#x is not 16-byte aligned", name, p.what, uint64(p.p))
		}
	}
	return nil
}

// label names the call in profiles and dry runs.
func (c ltCall) label() string {
	return fmt.Sprintf("cublasLt %s %dx%dx%d", ltEpilogueName(c.epilogue), c.m, c.n, c.k)
}

// cublasLtAPI is the bound library.
type cublasLtAPI struct {
	lib                                       *library
	create, destroy                           uintptr
	descCreate, descSetAttribute, descDestroy uintptr
	layoutCreate, layoutDestroy               uintptr
	prefCreate, prefSetAttribute, prefDestroy uintptr
	heuristic, matmul                         uintptr
}

// errLtUnsupported marks a call cuBLASLt has no algorithm for (the engine
// then keeps the unfused path).
var errLtUnsupported = errors.New("cuBLASLt has no algorithm for this epilogue")

// bindCUBLASLt looks up every function the engine calls.
func bindCUBLASLt(lib *library) (*cublasLtAPI, error) {
	l := &cublasLtAPI{lib: lib}
	if err := lib.syms(map[string]*uintptr{
		"cublasLtCreate": &l.create, "cublasLtDestroy": &l.destroy,
		"cublasLtMatmulDescCreate": &l.descCreate, "cublasLtMatmulDescSetAttribute": &l.descSetAttribute,
		"cublasLtMatmulDescDestroy":  &l.descDestroy,
		"cublasLtMatrixLayoutCreate": &l.layoutCreate, "cublasLtMatrixLayoutDestroy": &l.layoutDestroy,
		"cublasLtMatmulPreferenceCreate": &l.prefCreate, "cublasLtMatmulPreferenceSetAttribute": &l.prefSetAttribute,
		"cublasLtMatmulPreferenceDestroy": &l.prefDestroy,
		"cublasLtMatmulAlgoGetHeuristic":  &l.heuristic, "cublasLtMatmul": &l.matmul,
	}); err != nil {
		return nil, fmt.Errorf("cuBLASLt too old: %w", err)
	}
	return l, nil
}

// ltLibraryCandidates are the files tried for cuBLASLt: the companion
// beside the cuBLAS that was opened (same directory and soname version:
// lib.go's openCompanions already loaded it there), then its soname on the
// loader path (where cuBLAS's own dependency resolved it).
func ltLibraryCandidates(cublasPath string) []string {
	dir, base := filepath.Split(cublasPath)
	version := strings.TrimPrefix(base, "libcublas.so")
	name := "libcublasLt.so" + version
	if dir == "" {
		return []string{name}
	}
	return []string{filepath.Join(dir, name), name}
}

func openCUBLASLt(cublasPath string) (*cublasLtAPI, error) {
	var firstErr error
	for _, c := range ltLibraryCandidates(cublasPath) {
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil && h != 0 {
			return bindCUBLASLt(&library{name: "cuBLASLt", path: c, handle: h})
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("cuBLASLt not found beside %s: %v", cublasPath, firstErr)
}

func (l *cublasLtAPI) check(fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	err := &Error{Lib: "cuBLASLt", Func: fn, Code: code, Name: statusName(cublasStatusNames, "CUBLAS_STATUS", code)}
	if code == 15 { // CUBLAS_STATUS_NOT_SUPPORTED
		return fmt.Errorf("%w: %w", errLtUnsupported, err)
	}
	return err
}

func (l *cublasLtAPI) newHandle() (uintptr, error) {
	var h uintptr
	r, _, _ := purego.SyscallN(l.create, uintptr(unsafe.Pointer(&h)))
	return h, l.check("cublasLtCreate", r)
}

func (l *cublasLtAPI) destroyHandle(h uintptr) { purego.SyscallN(l.destroy, h) }

// ltPlan is a prepared call: its descriptors and the heuristic's algorithm.
type ltPlan struct {
	desc, la, lb, lc, pref uintptr
	algo                   ltHeuristicResult
}

// descAttr sets one matmul descriptor attribute from a value of its C type.
func (l *cublasLtAPI) descAttr(desc uintptr, attr int, p unsafe.Pointer, size uintptr) error {
	r, _, _ := purego.SyscallN(l.descSetAttribute, desc, uintptr(attr), uintptr(p), size)
	if err := l.check("cublasLtMatmulDescSetAttribute", r); err != nil {
		return fmt.Errorf("%w (attribute %d, %d bytes)", err, attr, size)
	}
	return nil
}

// prepare builds the descriptors of c and asks the heuristic for an
// algorithm; release frees them.
func (l *cublasLtAPI) prepare(h uintptr, c ltCall) (*ltPlan, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	p := &ltPlan{}
	fail := func(err error) (*ltPlan, error) {
		l.release(p)
		return nil, fmt.Errorf("%w (%s)", err, c.label())
	}
	r, _, _ := purego.SyscallN(l.descCreate, uintptr(unsafe.Pointer(&p.desc)), uintptr(c.compute), uintptr(cudaR32F))
	if err := l.check("cublasLtMatmulDescCreate", r); err != nil {
		return fail(err)
	}
	transA, transB, epilogue := c.transA, c.transB, c.epilogue
	bias, aux, auxLD, biasType := uint64(c.bias), uint64(c.aux), c.auxLD, c.biasType
	type attr struct {
		attr int
		p    unsafe.Pointer
		size uintptr
	}
	attrs := []attr{
		{ltDescTransA, unsafe.Pointer(&transA), 4},
		{ltDescTransB, unsafe.Pointer(&transB), 4},
		{ltDescEpilogue, unsafe.Pointer(&epilogue), 4},
	}
	if c.bias != 0 { // DGELU has none
		attrs = append(attrs, attr{ltDescBiasPointer, unsafe.Pointer(&bias), 8}, attr{ltDescBiasDataType, unsafe.Pointer(&biasType), 4})
	}
	attrs = append(attrs, attr{ltDescAuxPointer, unsafe.Pointer(&aux), 8}, attr{ltDescAuxLD, unsafe.Pointer(&auxLD), 8})
	for _, a := range attrs {
		if err := l.descAttr(p.desc, a.attr, a.p, a.size); err != nil {
			return fail(err)
		}
	}
	for _, x := range []struct {
		dst *uintptr
		lay ltLayout
	}{{&p.la, c.la}, {&p.lb, c.lb}, {&p.lc, c.lc}} {
		r, _, _ := purego.SyscallN(l.layoutCreate, uintptr(unsafe.Pointer(x.dst)), uintptr(x.lay.dtype), uintptr(x.lay.rows), uintptr(x.lay.cols), uintptr(x.lay.ld))
		if err := l.check("cublasLtMatrixLayoutCreate", r); err != nil {
			return fail(err)
		}
	}
	r, _, _ = purego.SyscallN(l.prefCreate, uintptr(unsafe.Pointer(&p.pref)))
	if err := l.check("cublasLtMatmulPreferenceCreate", r); err != nil {
		return fail(err)
	}
	ws := c.workspaceBytes
	r, _, _ = purego.SyscallN(l.prefSetAttribute, p.pref, ltPrefMaxWorkspaceBytes, uintptr(unsafe.Pointer(&ws)), 8)
	if err := l.check("cublasLtMatmulPreferenceSetAttribute", r); err != nil {
		return fail(err)
	}
	// The heuristic assumes 256-byte aligned matrices unless told otherwise,
	// and a bf16 weight copy's parameter may be only 128-byte aligned
	// (alignElems pads to 64 elements): each pointer's actual alignment, as
	// PyTorch's gemm_and_bias sets them. The plan is keyed by the pointers.
	for _, x := range []struct {
		attr int
		ptr  DevPtr
	}{{ltPrefMinAlignmentA, c.a}, {ltPrefMinAlignmentB, c.b}, {ltPrefMinAlignmentC, c.c}, {ltPrefMinAlignmentD, c.c}} {
		align := ltAlignment(x.ptr)
		r, _, _ = purego.SyscallN(l.prefSetAttribute, p.pref, uintptr(x.attr), uintptr(unsafe.Pointer(&align)), 4)
		if err := l.check("cublasLtMatmulPreferenceSetAttribute", r); err != nil {
			return fail(fmt.Errorf("%w (preference %d)", err, x.attr))
		}
	}
	var found int32
	// D is C (in place): the same layout for both.
	r, _, _ = purego.SyscallN(l.heuristic, h, p.desc, p.la, p.lb, p.lc, p.lc, p.pref, 1, uintptr(unsafe.Pointer(&p.algo)), uintptr(unsafe.Pointer(&found)))
	if err := l.check("cublasLtMatmulAlgoGetHeuristic", r); err != nil {
		return fail(err)
	}
	if found < 1 || p.algo.state != 0 {
		return fail(fmt.Errorf("%w: cublasLtMatmulAlgoGetHeuristic returned %d algorithms (state %d)", errLtUnsupported, found, p.algo.state))
	}
	if p.algo.workspaceSize > c.workspaceBytes {
		return fail(fmt.Errorf("cublasLt: the algorithm wants %d workspace bytes, %d planned", p.algo.workspaceSize, c.workspaceBytes))
	}
	return p, nil
}

// ltAlignment is p's alignment in bytes, the largest power of two up to
// 256 dividing it (256 for nil: D is C, never nil in a valid call).
func ltAlignment(p DevPtr) uint32 {
	a := uint32(256)
	for a > 1 && uint64(p)%uint64(a) != 0 {
		a /= 2
	}
	return a
}

func (l *cublasLtAPI) release(p *ltPlan) {
	if p.pref != 0 {
		purego.SyscallN(l.prefDestroy, p.pref)
	}
	for _, lay := range []uintptr{p.la, p.lb, p.lc} {
		if lay != 0 {
			purego.SyscallN(l.layoutDestroy, lay)
		}
	}
	if p.desc != 0 {
		purego.SyscallN(l.descDestroy, p.desc)
	}
	*p = ltPlan{}
}

// run launches a prepared call on stream.
func (l *cublasLtAPI) run(h uintptr, p *ltPlan, c ltCall, stream uintptr) error {
	alpha, beta := c.alpha, c.beta
	r, _, _ := purego.SyscallN(l.matmul, h, p.desc, uintptr(unsafe.Pointer(&alpha)),
		uintptr(c.a), p.la, uintptr(c.b), p.lb, uintptr(unsafe.Pointer(&beta)),
		uintptr(c.c), p.lc, uintptr(c.c), p.lc,
		uintptr(unsafe.Pointer(&p.algo.algo)), uintptr(c.workspace), uintptr(c.workspaceBytes), stream)
	if err := l.check("cublasLtMatmul", r); err != nil {
		return fmt.Errorf("%w (%s)", err, c.label())
	}
	return nil
}

// ltRuntime is the process's cuBLASLt: one handle for the one context (as
// the kernels stay loaded for later engines) and the prepared calls, keyed
// by the whole call (pointers included: the preference carries their
// alignment), one cache per engine. A plan is only ever used by the engine
// that asked for it, between plan() and the run, and an Engine is not safe
// for concurrent use, so an engine's own calls never overlap: evicting its
// cache when full (in plan) or dropping it (Close, ltDropPlans) cannot
// destroy descriptors another call is using, whatever other engines of
// the process do meanwhile. (cuBLASLt reads the descriptors while
// cublasLtMatmul enqueues the GEMM, not when it runs on the stream.)
type ltRuntime struct {
	api    *cublasLtAPI
	handle uintptr
	mu     sync.Mutex
	plans  map[*Engine]map[ltCall]*ltPlan
}

var (
	ltOnce sync.Once
	ltRT   atomic.Pointer[ltRuntime] // set once cuBLASLt is open (ltDropPlans reads it without opening it)
	ltErr  error
)

// maxLtPlans bounds an engine's prepared calls (two per layer and batch shape).
const maxLtPlans = 1024

// getCUBLASLt opens cuBLASLt and creates its handle (the context must be current).
func getCUBLASLt(s *runtimeState) (*ltRuntime, error) {
	ltOnce.Do(func() {
		if s.cublas == nil || s.cublas.lib == nil {
			ltErr = errors.New("cuBLAS is not loaded")
			return
		}
		api, err := openCUBLASLt(s.cublas.lib.path)
		if err != nil {
			ltErr = err
			return
		}
		h, err := api.newHandle()
		if err != nil {
			ltErr = err
			return
		}
		ltRT.Store(newLtRuntime(api, h))
	})
	return ltRT.Load(), ltErr
}

func newLtRuntime(api *cublasLtAPI, h uintptr) *ltRuntime {
	return &ltRuntime{api: api, handle: h, plans: map[*Engine]map[ltCall]*ltPlan{}}
}

// plan returns engine e's prepared call c, preparing it on first use (e
// nil: a caller outside any engine, the GPU tests). A full cache is
// emptied first: only e's plans, none of which is in use while e is here.
func (rt *ltRuntime) plan(e *Engine, c ltCall) (*ltPlan, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	plans := rt.plans[e]
	if p, ok := plans[c]; ok {
		return p, nil
	}
	if plans == nil || len(plans) >= maxLtPlans {
		rt.releaseLocked(plans)
		plans = map[ltCall]*ltPlan{}
		rt.plans[e] = plans
	}
	p, err := rt.api.prepare(rt.handle, c)
	if err != nil {
		return nil, err
	}
	plans[c] = p
	return p, nil
}

// drop releases engine e's plans (it is closing).
func (rt *ltRuntime) drop(e *Engine) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.releaseLocked(rt.plans[e])
	delete(rt.plans, e)
}

func (rt *ltRuntime) releaseLocked(plans map[ltCall]*ltPlan) {
	for _, p := range plans {
		rt.api.release(p)
	}
}

// ltDropPlans releases engine e's prepared cuBLASLt calls, if cuBLASLt
// was opened (Engine.Close).
func ltDropPlans(e *Engine) {
	if rt := ltRT.Load(); rt != nil {
		rt.drop(e)
	}
}

// ltMatmul runs one cuBLASLt call on the engine's stream, or records it in
// a dry run (where the emulator carries it out).
func (e *Engine) ltMatmul(c ltCall) error {
	if d := e.dry(); d != nil {
		op := dryOp{name: "cublasLt " + ltEpilogueName(c.epilogue), args: []any{c}}
		if err := c.validate(); err != nil {
			d.record(op)
			return err
		}
		if d.ltRefuse != nil {
			// as on a device, where a call not prepared by the probe is
			// prepared here and its refusal fails the step
			if err := d.ltRefuse(c); err != nil {
				d.record(op)
				return err
			}
		}
		return d.run(op)
	}
	rt, err := getCUBLASLt(e.s)
	if err != nil {
		return err
	}
	p, err := rt.plan(e, c)
	if err != nil {
		return err
	}
	timed := e.prof != nil && e.prof.begin()
	err = rt.api.run(rt.handle, p, c, e.stream)
	if timed {
		e.prof.end(c.profileLabel())
	}
	return err
}

// profileLabel names the call in the event profile as a GEMM (the
// benchmark sums "gemm…" entries as GEMM time), row-major M×N×K as
// gemmLabel writes them, with its epilogue.
func (c ltCall) profileLabel() string {
	return fmt.Sprintf("gemm %dx%dx%d lt %s", c.n, c.m, c.k, ltEpilogueName(c.epilogue))
}

// ltProbe reports whether cuBLASLt can run c: in a dry run whether the
// call is valid, on a device whether the library loads and its heuristic
// has an algorithm (the prepared call is kept for the run).
func (e *Engine) ltProbe(c ltCall) error {
	if err := c.validate(); err != nil {
		return err
	}
	if d := e.dry(); d != nil {
		if d.ltRefuse != nil {
			return d.ltRefuse(c)
		}
		return nil
	}
	rt, err := getCUBLASLt(e.s)
	if err != nil {
		return err
	}
	_, err = rt.plan(e, c)
	return err
}

// ltNotices are printed once per process each: the fused epilogue falling
// back to the unfused FFN path is a message, never a silent change.
var (
	ltNoticeOut  io.Writer = os.Stderr
	ltNoticeMu   sync.Mutex
	ltNoticeSeen = map[string]bool{}
)

func ltNotice(msg string) {
	ltNoticeMu.Lock()
	defer ltNoticeMu.Unlock()
	if ltNoticeSeen[msg] {
		return
	}
	ltNoticeSeen[msg] = true
	fmt.Fprintln(ltNoticeOut, msg)
}
