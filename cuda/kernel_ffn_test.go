package cuda

import (
	"fmt"
	"math"
	"testing"
)

// The fused FFN paths against the kernels and GEMMs they replace, on the
// GPU (skipped without one, as every kernel test) and on the emulator
// (which checks the tests' own logic and the twins). Outputs start as NaN
// (testDevice.alloc poisons), so an element a kernel leaves unwritten fails.

// ffnShapes: FNet-Base's F = 3072 (384 bf16 vectors: three blocks of 128,
// twelve warps of 32 in the backward) and awkward widths whose vector
// count is no multiple of a block or warp (200: 25 bf16 / 50 float32
// vectors; 204: 51 float32 vectors), over odd row counts.
var ffnShapes = []struct{ rows, F int }{{111, 200}, {1025, 3072}, {37, 204}}

// ulpDiff is how many representable values of the storage type (bf16 or
// float32) lie between a and b; NaN against anything is "infinitely" apart.
func ulpDiff(a, b float32, bf16 bool) int64 {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
		return math.MaxInt64
	}
	key := func(x float32) int64 {
		u := int64(math.Float32bits(x))
		if u&(1<<31) != 0 {
			u = -(u & (1<<31 - 1))
		}
		if bf16 {
			u /= 1 << 16
		}
		return u
	}
	d := key(a) - key(b)
	if d < 0 {
		d = -d
	}
	return d
}

// sameValues fails unless got and want agree to within one unit in the
// last place of the storage type everywhere (the kernels' arithmetic is
// the same; only FMA contraction could differ), and logs how many differ.
func sameValues(t *testing.T, what string, got, want []float32, bf16 bool) {
	t.Helper()
	differ, worst := 0, int64(0)
	for i := range want {
		d := ulpDiff(got[i], want[i], bf16)
		if d > 1 {
			t.Fatalf("%s[%d] = %v, want %v (%d ulp apart)", what, i, got[i], want[i], d)
		}
		if d != 0 {
			differ++
			worst = max(worst, d)
		}
	}
	t.Logf("%s: %d of %d values differ (at most %d ulp)", what, differ, len(want), worst)
}

// bias_gelu_v16 and gelu_bwd_colsum_v16 against bias_gelu and
// gelu_bwd_colsum on the same inputs, as layer_ffn.go launches them: the
// activations, the GELU gradient, the chunk partials and the bias
// gradient after colsum_final, within one ulp (expected: identical bits).
func TestKernelFusedGELUMatchesScalar(t *testing.T) {
	onDevices(t, func(t *testing.T, newDev func(Precision) *testDevice) {
		for _, prec := range []Precision{BF16, FP32} {
			dev := newDev(prec) // here, not in the subtests: without a GPU this skips the whole branch
			for _, sh := range ffnShapes {
				vec := 16 / prec.gemmElemSize()
				if sh.F%vec != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%v/rows%d/F%d", prec, sh.rows, sh.F), func(t *testing.T) {
					d := dev.in(t)
					rng := newRNG()
					rows, F := sh.rows, sh.F
					bf := prec == BF16
					u, dh := d.g(randn(rng, rows*F, 2)), d.g(randn(rng, rows*F, 1))
					b := d.f32(randn(rng, F, 0.5))
					cv := F / vec

					h0, h1 := d.gOut(rows*F), d.gOut(rows*F)
					d.launch("bias_gelu", rowColGrid(rows, F), block1D, u, b, int64(rows), int32(F), h0)
					d.launch("bias_gelu_v16", [3]uint32{uint32((cv + ffnVecBlock - 1) / ffnVecBlock), uint32(min(rows, 4096)), 1}, [3]uint32{ffnVecBlock, 1, 1},
						u, b, int64(rows), int32(F), h1)
					sameValues(t, "bias_gelu_v16", d.readG(h1, rows*F), d.readG(h0, rows*F), bf)

					chunks, rpc := colsumChunks(rows)
					du0, du1 := d.gOut(rows*F), d.gOut(rows*F)
					p0, p1 := d.alloc(4*chunks*F), d.alloc(4*chunks*F)
					d.launch("gelu_bwd_colsum", [3]uint32{uint32((F + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, dh, u, b, int32(rows), int32(F), int32(rpc), du0, p0)
					d.launch("gelu_bwd_colsum_v16", [3]uint32{uint32((cv + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, dh, u, b, int32(rows), int32(F), int32(rpc), du1, p1)
					sameValues(t, "gelu_bwd_colsum_v16 du", d.readG(du1, rows*F), d.readG(du0, rows*F), bf)
					sameValues(t, "gelu_bwd_colsum_v16 partials", d.read(p1, chunks*F), d.read(p0, chunks*F), false)
					db0, db1 := d.f32(make([]float32, F)), d.f32(make([]float32, F))
					fgrid := [3]uint32{uint32((F + threadsPerBlock - 1) / threadsPerBlock), 1, 1}
					d.launch("colsum_final", fgrid, block1D, p0, int32(chunks), int32(F), int32(F), float32(1), db0, int32(0), DevPtr(0))
					d.launch("colsum_final", fgrid, block1D, p1, int32(chunks), int32(F), int32(F), float32(1), db1, int32(0), DevPtr(0))
					relErr(t, "gelu_bwd_colsum_v16 bias gradient", d.read(db1, F), d.read(db0, F), 1e-6)
				})
			}
		}
	})
}

// in points the device's failures at subtest t until t ends (the device,
// its buffers and their cleanup stay the parent's).
func (d *testDevice) in(t *testing.T) *testDevice {
	parent := d.t
	d.t = t
	t.Cleanup(func() { d.t = parent })
	return d
}

// ltRun runs one cuBLASLt call on the test device (or the emulator's twin).
func (d *testDevice) ltRun(c ltCall) {
	d.t.Helper()
	if d.emu != nil {
		if err := d.emu.ltMatmul(c); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	rt, err := getCUBLASLt(d.s)
	if err != nil {
		d.t.Fatalf("cuBLASLt: %v (the engine would fall back to the unfused path)", err)
	}
	p, err := rt.plan(nil, c) // no engine: the test's own cache
	if err != nil {
		d.t.Fatalf("%v (the engine would fall back to the unfused path)", err)
	}
	if err := rt.api.run(rt.handle, p, c, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	if err := d.s.drv.streamSync(d.l.stream); err != nil {
		d.t.Fatal(err)
	}
}

// gemmRun runs one plain GEMM on the test device (or the emulator).
func (d *testDevice) gemmRun(g gemmCall) {
	d.t.Helper()
	if d.emu != nil {
		d.emu.gemm(g)
		return
	}
	if err := d.s.cublas.gemm(d.blas, g); err != nil {
		d.t.Fatal(err)
	}
	if err := d.s.drv.streamSync(d.l.stream); err != nil {
		d.t.Fatal(err)
	}
}

// The cuBLASLt epilogue GEMMs (layer_ffn.go's two calls) against the plain
// GEMM followed by the kernels they replace, same inputs:
//
//	forward   GELU_AUX_BIAS vs GEMM + bias_gelu: D = gelu(x·W1ᵀ + b1); aux = x·W1ᵀ + b1
//	backward  DGELU_BGRAD vs GEMM + gelu_bwd_colsum + colsum_final: D = (dz·W2)∘gelu'(pre), the bias gradient
//
// Tolerances (relative L2): fp32 1e-5 (cuBLASLt's own tanh and summation
// order); bf16 1e-2, because the plain path rounds x·W1ᵀ to bf16 before
// adding b1 and the epilogue rounds x·W1ᵀ + b1 once, and the bias
// gradient may be summed from bf16-rounded D (to be seen on a device:
// the log prints the measured errors). The backward runs twice: its
// outputs must be the same bits (a deterministic bias gradient).
func TestKernelLtEpiloguesMatchPlainGEMM(t *testing.T) {
	onDevices(t, func(t *testing.T, newDev func(Precision) *testDevice) {
		for _, prec := range []Precision{BF16, FP32} {
			d := newDev(prec)
			for _, sh := range []struct{ T, H, F int }{{111, 72, 200}, {1024, 768, 3072}} {
				if sh.F > 1000 && testing.Short() {
					continue
				}
				t.Run(fmt.Sprintf("%v/T%d/H%d/F%d", prec, sh.T, sh.H, sh.F), func(t *testing.T) {
					if d.emu != nil && sh.F > 1000 {
						t.Skip("FNet-Base's width only on a GPU (the emulator's float64 loops would take minutes)")
					}
					testLtEpilogues(t, d.in(t), prec, sh.T, sh.H, sh.F)
				})
			}
		}
	})
}

func testLtEpilogues(t *testing.T, d *testDevice, prec Precision, T, H, F int) {
	rng := newRNG()
	gt, bf := prec.gemmType(), prec == BF16
	tol := 1e-5
	if bf {
		tol = 1e-2
	}
	b1h := randn(rng, F, 0.5)
	x, w1, b1 := d.g(randn(rng, T*H, 1)), d.g(randn(rng, F*H, 1/math.Sqrt(float64(H)))), d.f32(b1h)
	dz, w2 := d.g(randn(rng, T*H, 1)), d.g(randn(rng, H*F, 1/math.Sqrt(float64(F))))
	ws := d.alloc(ltWorkspaceBytes)
	compute := int(prec.computeType())
	// variant runs c where cuBLASLt has it and says so; a refused variant
	// is logged (the engine probes the next one), a failed run is fatal.
	variant := func(what string, c ltCall, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if d.emu == nil {
			if _, err := ltPrepareOnDevice(d, c); err != nil {
				t.Logf("%s: refused: %v", what, err)
				return false
			}
		}
		d.ltRun(c)
		t.Logf("%s: runs", what)
		return true
	}

	// forward, plain: pre = x·W1ᵀ, h = gelu(pre + b1)
	pre, h := d.gOut(T*F), d.gOut(T*F)
	d.gemmRun(gemmCall{transB: true, m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: x, dtype: gt, ld: H}, b: gemmOperand{ptr: w1, dtype: gt, ld: H},
		c: gemmOperand{ptr: pre, dtype: gt, ld: F}, compute: compute})
	d.launch("bias_gelu", rowColGrid(T, F), block1D, pre, b1, int64(T), int32(F), h)
	preB := d.readG(pre, T*F)
	for i := range preB {
		preB[i] += b1h[i%F]
	}
	// forward, fused: the bias in float32, then from a GEMM-typed copy
	biases := []struct {
		name string
		p    DevPtr
		typ  int
	}{{"float32 bias", b1, cudaR32F}}
	if bf {
		biases = append(biases, struct {
			name string
			p    DevPtr
			typ  int
		}{"bf16 bias", d.g(b1h), gt})
	}
	var aux DevPtr
	for _, b := range biases {
		a, hl := d.gOut(T*F), d.gOut(T*F)
		c, err := ltFromGemm(gemmCall{transB: true, m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: x, dtype: gt, ld: H}, b: gemmOperand{ptr: w1, dtype: gt, ld: H},
			c: gemmOperand{ptr: hl, dtype: gt, ld: F}, compute: compute}, ltEpilogueGELUAuxBias, b.p, b.typ, a, F, ws, ltWorkspaceBytes)
		if !variant("gelu_aux_bias, "+b.name, c, err) {
			continue
		}
		relErr(t, "gelu_aux_bias D, "+b.name, d.readG(hl, T*F), d.readG(h, T*F), tol)
		relErr(t, "gelu_aux_bias aux (pre-activation with bias), "+b.name, d.readG(a, T*F), preB, tol)
		if aux == 0 {
			aux = a
		}
	}
	if aux == 0 {
		t.Fatal("cuBLASLt runs no GELU_AUX_BIAS variant: the engine would take the unfused path")
	}

	// backward, plain: dh = dz·W2, dpre = dh·gelu'(pre + b1), db = Σ rows
	dh, dpre := d.gOut(T*F), d.gOut(T*F)
	d.gemmRun(gemmCall{m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: dz, dtype: gt, ld: H}, b: gemmOperand{ptr: w2, dtype: gt, ld: F},
		c: gemmOperand{ptr: dh, dtype: gt, ld: F}, compute: compute})
	chunks, rpc := colsumChunks(T)
	part, db := d.alloc(4*chunks*F), d.f32(make([]float32, F))
	d.launch("gelu_bwd_colsum", [3]uint32{uint32((F + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, dh, pre, b1, int32(T), int32(F), int32(rpc), dpre, part)
	d.launch("colsum_final", [3]uint32{uint32((F + threadsPerBlock - 1) / threadsPerBlock), 1, 1}, block1D, part, int32(chunks), int32(F), int32(F), float32(1), db, int32(0), DevPtr(0))
	wantD, wantB := d.readG(dpre, T*F), d.read(db, F)
	gemm := func(c DevPtr) gemmCall {
		return gemmCall{m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: dz, dtype: gt, ld: H}, b: gemmOperand{ptr: w2, dtype: gt, ld: F},
			c: gemmOperand{ptr: c, dtype: gt, ld: F}, compute: compute}
	}
	// backward, fused (aux from the fused forward: the bias is in it):
	// DGELU_BGRAD with a float32 bias gradient (run twice: the same bits),
	// with a bf16 one, DGELU alone
	ran := 0
	var first []float32
	for run := 0; run < 2; run++ {
		dpl, bg := d.gOut(T*F), d.alloc(4*F)
		c, err := ltFromGemm(gemm(dpl), ltEpilogueDGELUBGrad, bg, cudaR32F, aux, F, ws, ltWorkspaceBytes)
		if !variant("dgelu_bgrad, float32 bias gradient", c, err) {
			break
		}
		got := append(d.readG(dpl, T*F), d.read(bg, F)...)
		if run == 0 {
			ran++
			relErr(t, "dgelu_bgrad D", got[:T*F], wantD, tol)
			relErr(t, "dgelu_bgrad float32 bias gradient", got[T*F:], wantB, tol)
			first = got
			continue
		}
		for i, v := range got {
			if math.Float32bits(v) != math.Float32bits(first[i]) {
				t.Fatalf("dgelu_bgrad is not deterministic: value %d %v then %v", i, first[i], v)
			}
		}
	}
	if bf {
		dpl, bgG := d.gOut(T*F), d.gOut(F)
		c, err := ltFromGemm(gemm(dpl), ltEpilogueDGELUBGrad, bgG, gt, aux, F, ws, ltWorkspaceBytes)
		if variant("dgelu_bgrad, bf16 bias gradient", c, err) {
			ran++
			relErr(t, "dgelu_bgrad D (bf16 bias gradient)", d.readG(dpl, T*F), wantD, tol)
			relErr(t, "dgelu_bgrad bf16 bias gradient", d.readG(bgG, F), wantB, tol)
		}
	}
	dpl := d.gOut(T * F)
	c, err := ltFromGemm(gemm(dpl), ltEpilogueDGELU, 0, 0, aux, F, ws, ltWorkspaceBytes)
	if variant("dgelu", c, err) {
		ran++
		relErr(t, "dgelu D", d.readG(dpl, T*F), wantD, tol)
	}
	if ran == 0 {
		t.Fatal("cuBLASLt runs no DGELU variant: the engine would take the unfused path")
	}
}

// ltPrepareOnDevice asks the device's cuBLASLt for c (the engine's probe).
func ltPrepareOnDevice(d *testDevice, c ltCall) (*ltPlan, error) {
	rt, err := getCUBLASLt(d.s)
	if err != nil {
		return nil, err
	}
	return rt.plan(nil, c)
}
