package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Emulator twins of the fused FFN paths (FuseGELU: kernels/ffn.cu;
// FuseEpilogue: the cuBLASLt epilogue GEMMs of cublaslt.go), so the whole
// engine with either path runs against the CPU engine and the reference
// fixtures without a GPU. The kernel twins check the preconditions the
// host promises the 16-byte kernels (whole vectors, aligned pointers); the
// cuBLASLt twin is a float64 GEMM over the operands exactly as the
// column-major call describes them (op, rows, cols, ld, type of each), then
// the epilogue as cuBLASLt documents it:
//
//	GELU_AUX_BIAS  z = α·op(A)·op(B) + β·C + bias[row]; aux = z; D = gelu(z)
//	DGELU_BGRAD    g = α·op(A)·op(B) + β·C; D = g·gelu'(aux); bias[row] = Σ_columns D
//	DGELU          the same without the bias gradient
//
// (rows of the column-major D are the row-major columns), computed in
// float32 after the float64 product, each store rounded to its buffer's type.

func init() {
	emuKernels["bias_gelu_v16"] = func(m *emu, a emuArgs, grid [3]uint32) {
		// u, b, rows, C, h
		u, b, rows, C, h := m.g(a.p(0)), m.f32(a.p(1)), a.l(2), a.i(3), m.g(a.p(4))
		m.checkVec("bias_gelu_v16", C, a.p(0), a.p(1), a.p(4))
		if vec := 16 / m.gemmBytes(); int(grid[0])*ffnVecBlock*vec < C || grid[1] < 1 {
			panic(fmt.Sprintf("emulator: bias_gelu_v16 grid %v does not cover %d columns", grid, C))
		}
		for i := 0; i < rows*C; i++ {
			h.set(i, geluF(u.get(i)+b[i%C]))
		}
	}
	emuKernels["gelu_bwd_colsum_v16"] = func(m *emu, a emuArgs, grid [3]uint32) {
		// dh, u, b, rows, C, rpc, du, part
		dh, u, b := m.g(a.p(0)), m.g(a.p(1)), m.f32(a.p(2))
		rows, C, rpc, du, part := a.i(3), a.i(4), a.i(5), m.g(a.p(6)), m.f32(a.p(7))
		m.checkVec("gelu_bwd_colsum_v16", C, a.p(0), a.p(1), a.p(2), a.p(6))
		if vec := 16 / m.gemmBytes(); int(grid[0])*32*vec < C || int(grid[1])*rpc < rows {
			panic(fmt.Sprintf("emulator: gelu_bwd_colsum_v16 grid %v does not cover [%d, %d] (rpc %d)", grid, rows, C, rpc))
		}
		for c := 0; c < int(grid[1]); c++ {
			for j := 0; j < C; j++ {
				var s float64
				for r := c * rpc; r < min(rows, (c+1)*rpc); r++ {
					d := dh.get(r*C+j) * geluGradF(u.get(r*C+j)+b[j])
					du.set(r*C+j, d)
					s += float64(d)
				}
				part[c*C+j] = float32(s)
			}
		}
	}
	emuKernels["g_to_f32"] = func(m *emu, a emuArgs, _ [3]uint32) {
		// src, n, dst
		src, dst := m.g(a.p(0)), m.f32(a.p(2))
		for i := 0; i < a.l(1); i++ {
			dst[i] = src.get(i)
		}
	}
	for _, ep := range []uint32{ltEpilogueGELUAuxBias, ltEpilogueDGELUBGrad, ltEpilogueDGELU} {
		emuKernels["cublasLt "+ltEpilogueName(ep)] = func(m *emu, a emuArgs, _ [3]uint32) {
			if err := m.ltMatmul(a[0].(ltCall)); err != nil {
				panic("emulator: " + err.Error())
			}
		}
	}
}

func (m *emu) gemmBytes() int {
	if m.bf16 {
		return 2
	}
	return 4
}

// checkVec panics unless a 16-byte kernel's columns are whole vectors and
// its pointers aligned (what ffnVecOK promises).
func (m *emu) checkVec(name string, C int, ptrs ...DevPtr) {
	if C%(16/m.gemmBytes()) != 0 {
		panic(fmt.Sprintf("emulator: %s over %d columns, not whole 16-byte vectors", name, C))
	}
	for _, p := range ptrs {
		if p%16 != 0 {
			panic(fmt.Sprintf("emulator: %s: %#x is not 16-byte aligned", name, uint64(p)))
		}
	}
}

// ltMatmul carries out one cuBLASLt call as described (see the file comment).
func (m *emu) ltMatmul(c ltCall) error {
	if err := c.validate(); err != nil {
		return err
	}
	// op(A) is m×k and op(B) k×n: check each layout against its op
	dims := func(what string, l ltLayout, op int32, rows, cols int) error {
		if op == opT {
			rows, cols = cols, rows
		}
		if l.rows != uint64(rows) || l.cols != uint64(cols) || l.ld < int64(l.rows) {
			return fmt.Errorf("cublasLt %s: %s layout %d×%d ld %d, op %d wants %d×%d", ltEpilogueName(c.epilogue), what, l.rows, l.cols, l.ld, op, rows, cols)
		}
		return nil
	}
	if err := dims("A", c.la, c.transA, c.m, c.k); err != nil {
		return err
	}
	if err := dims("B", c.lb, c.transB, c.k, c.n); err != nil {
		return err
	}
	if err := dims("D", c.lc, opN, c.m, c.n); err != nil {
		return err
	}
	if c.lc.dtype != c.la.dtype || c.lc.dtype != c.lb.dtype {
		return fmt.Errorf("cublasLt: operand types A %d B %d D %d differ (the engine uses one)", c.la.dtype, c.lb.dtype, c.lc.dtype)
	}
	bf := func(t int32) bool { return t == cudaR16BF }
	A, B, D := m.view(c.a, bf(c.la.dtype)), m.view(c.b, bf(c.lb.dtype)), m.view(c.c, bf(c.lc.dtype))
	aux := m.view(c.aux, bf(c.lc.dtype))
	var bias typed
	if c.bias != 0 {
		bias = m.view(c.bias, bf(c.biasType))
	}
	at := make([]float64, c.m*c.k) // op(A) row i
	for i := 0; i < c.m; i++ {
		for kk := 0; kk < c.k; kk++ {
			idx := i + kk*int(c.la.ld)
			if c.transA == opT {
				idx = kk + i*int(c.la.ld)
			}
			at[i*c.k+kk] = float64(A.get(idx))
		}
	}
	bt := make([]float64, c.n*c.k) // op(B) column j
	for j := 0; j < c.n; j++ {
		for kk := 0; kk < c.k; kk++ {
			idx := kk + j*int(c.lb.ld)
			if c.transB == opT {
				idx = j + kk*int(c.lb.ld)
			}
			bt[j*c.k+kk] = float64(B.get(idx))
		}
	}
	bsum := make([]float64, c.m)
	for j := 0; j < c.n; j++ {
		for i := 0; i < c.m; i++ {
			var s float64
			ar, br := at[i*c.k:(i+1)*c.k], bt[j*c.k:(j+1)*c.k]
			for kk, x := range ar {
				s += x * br[kk]
			}
			di, xi := i+j*int(c.lc.ld), i+j*int(c.auxLD)
			r := float64(c.alpha) * s
			if c.beta != 0 {
				r += float64(c.beta) * float64(D.get(di))
			}
			switch c.epilogue {
			case ltEpilogueGELUAuxBias:
				z := float32(r) + bias.get(i)
				aux.set(xi, z)
				D.set(di, geluF(z))
			case ltEpilogueDGELUBGrad, ltEpilogueDGELU:
				d := float32(r) * geluGradF(aux.get(xi))
				D.set(di, d)
				bsum[i] += float64(d)
			}
		}
	}
	if c.epilogue == ltEpilogueDGELUBGrad {
		for i, s := range bsum {
			bias.set(i, float32(s))
		}
	}
	return nil
}

// ffnFusions are this file's fused paths, alone and together.
var ffnFusions = []Fusion{FuseGELU, FuseEpilogue, FuseGELU | FuseEpilogue}

// ffnEmuEngine is emuEngine taking the fused paths f (set after the dry
// engine is built: the activations are planned at the first pass).
func ffnEmuEngine(t *testing.T, cfg fnet.Config, heads fnet.Heads, prec Precision, o Options, f Fusion, seed uint64, params map[string][]float32) (*Engine, *emu) {
	t.Helper()
	e, m := emuEngine(t, cfg, heads, prec, o, seed, params)
	e.fuse = f
	return e, m
}

// ffnPathFor is the path the engine takes with fusions f for F columns:
// the epilogue where its aux leading dimension F is a multiple of 8, the
// 16-byte kernels where F is a whole number of vectors, else the scalar ones.
func ffnPathFor(f Fusion, F int, prec Precision) Fusion {
	switch {
	case f.Has(FuseEpilogue) && F%ltAuxLDMultiple == 0:
		return FuseEpilogue
	case f.Has(FuseGELU) && F%(16/prec.gemmElemSize()) == 0:
		return FuseGELU
	}
	return 0
}

// ffnFusedOps counts the operations only a fused FFN path records.
func ffnFusedOps(d *dryRun) map[string]int {
	n := map[string]int{}
	for _, op := range d.ops {
		switch op.name {
		case "bias_gelu_v16", "gelu_bwd_colsum_v16", "cublasLt gelu_aux_bias", "cublasLt dgelu_bgrad",
			"bias_gelu", "gelu_bwd_colsum":
			n[op.name]++
		}
	}
	return n
}

// checkFFNPath asserts the pass took fusion f's operations and not the
// scalar ones (a silent fallback would pass the numeric checks unseen).
func checkFFNPath(t *testing.T, f Fusion, d *dryRun, train bool) {
	t.Helper()
	n := ffnFusedOps(d)
	want := map[string]bool{}
	switch {
	case f.Has(FuseEpilogue):
		want["cublasLt gelu_aux_bias"] = true
		if train {
			want["cublasLt dgelu_bgrad"] = true
		}
	case f.Has(FuseGELU):
		want["bias_gelu_v16"] = true
		if train {
			want["gelu_bwd_colsum_v16"] = true
		}
	default:
		want["bias_gelu"] = true
		if train {
			want["gelu_bwd_colsum"] = true
		}
	}
	for name, c := range n {
		if !want[name] {
			t.Errorf("fuse=%v: %d × %s", f, c, name)
		}
	}
	for name := range want {
		if n[name] == 0 {
			t.Errorf("fuse=%v: no %s", f, name)
		}
	}
}

// The fused FFN paths through the whole emulated engine against the CPU
// engine (losses, every gradient, the norm, the AdamW update, Evaluate,
// MaskedLMLogits), with the bounds the unfused path meets in
// TestEmulatedEngineMatchesCPUEngine, for FNet and the architectures whose
// FFN inputs differ (bert: no projection; ff_only; random+attention's
// fixed matrices), every head kind, fp32 and bf16.
func TestEmulatedFusedFFNMatchesCPUEngine(t *testing.T) {
	for _, arch := range []string{"fnet", "bert", "ff_only", "random+attention"} {
		for _, tc := range engineHeadCases {
			for _, v := range []struct {
				prec Precision
				o    Options
				tol  float64
			}{{FP32, Options{}, 1e-3}, {BF16, Options{}, 2e-2}, {FP32, Options{BatchMajor: true}, 1e-3}} {
				for _, f := range ffnFusions {
					if f == FuseGELU|FuseEpilogue && arch != "fnet" {
						continue // the epilogue wins where both are set: one architecture shows it
					}
					if testing.Short() && (v.prec != FP32 || v.o.BatchMajor || tc.name == "regression") {
						continue
					}
					t.Run(arch+"/"+tc.name+"/"+variantName(v.prec, v.o)+"/"+f.String(), func(t *testing.T) {
						cfg := archConfig(arch, tc.numLabels)
						if arch == "fnet" {
							cfg = smallConfig(tc.numLabels)
						}
						var runs []*dryRun
						matchCPUEngine(t, cfg, tc.heads, tc.numLabels, v.prec, v.tol, arch != "fnet",
							func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine {
								e, m := ffnEmuEngine(t, cfg, heads, v.prec, v.o, f, seed, params)
								runs = append(runs, m.d)
								return e
							})
						if len(runs) == 0 {
							t.Fatal("no engine built")
						}
						checkFFNPath(t, f, runs[0], true)
					})
				}
			}
		}
	}
}

// Every reference fixture through the emulated engine with each fused FFN
// path: loss, activations, gradients, AdamW update and loss curve against
// the PyTorch float64 reference, with checkParityReport's bounds.
func TestEmulatedFusedFFNParity(t *testing.T) {
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	for _, prefix := range fx {
		for _, f := range []Fusion{FuseGELU, FuseEpilogue} {
			for _, mode := range []Precision{FP32, BF16} {
				if testing.Short() && mode != FP32 {
					continue
				}
				t.Run(filepath.Base(prefix)+"/"+f.String()+"/"+mode.String(), func(t *testing.T) {
					var d *dryRun
					var F int
					rep, err := fnet.RunParityOn(prefix+".weights.safetensors", prefix+".expect.safetensors",
						func(cfg fnet.Config, heads fnet.Heads, opt fnet.AdamWConfig, params map[string][]float32) (*fnet.ParityTarget, error) {
							e, m := ffnEmuEngine(t, cfg, heads, mode, Options{}, f, 0, params)
							e.opt = opt
							d, F = m.d, cfg.IntermediateSize
							return &fnet.ParityTarget{Engine: e, Activations: e.Activations, Gradients: e.Gradients}, nil
						})
					checkParityReport(t, prefix, mode, false, false, rep, err)
					if d != nil && err == nil {
						checkFFNPath(t, ffnPathFor(f, F, mode), d, true)
					}
				})
			}
		}
	}
}

// The fused paths are taken where they apply and only there: FuseGELU
// needs whole 16-byte vectors and aligned pointers, FuseEpilogue an aux
// leading dimension (F) that is a multiple of 8; elsewhere the engine runs
// the scalar kernels, FuseEpilogue with one message saying why.
func TestFusedFFNPathChoice(t *testing.T) {
	var notices bytes.Buffer
	old := ltNoticeOut
	ltNoticeMu.Lock()
	ltNoticeOut, ltNoticeSeen = &notices, map[string]bool{}
	ltNoticeMu.Unlock()
	defer func() { ltNoticeMu.Lock(); ltNoticeOut = old; ltNoticeMu.Unlock() }()
	for _, tc := range []struct {
		F    int
		prec Precision
		f    Fusion
		want Fusion // the path taken
	}{
		{200, BF16, FuseGELU, FuseGELU},
		{200, FP32, FuseGELU, FuseGELU},
		{204, FP32, FuseGELU, FuseGELU}, // 51 float4s
		{204, BF16, FuseGELU, 0},        // 25.5 bf16 vectors
		{203, FP32, FuseGELU, 0},        // odd
		{200, BF16, FuseEpilogue, FuseEpilogue},
		{204, FP32, FuseEpilogue, 0}, // aux ld 204 is not a multiple of 8
		{204, FP32, FuseEpilogue | FuseGELU, FuseGELU},
	} {
		cfg := smallConfig(0)
		cfg.IntermediateSize = tc.F
		e, d := dryEngine(t, cfg, fnet.PretrainingHeads, tc.prec, Options{})
		e.fuse = tc.f
		b := randomBatch(newRNG(), cfg, 3, 6, 0)
		if _, err := e.ForwardBackward(b, 1, 1); err != nil {
			t.Fatalf("F=%d %v fuse=%v: %v", tc.F, tc.prec, tc.f, err)
		}
		t.Run(fmt.Sprintf("F%d/%v/%v", tc.F, tc.prec, tc.f), func(t *testing.T) { checkFFNPath(t, tc.want, d, true) })
	}
	msg := notices.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "fuse=epilogue") || !strings.Contains(msg, "F=204") ||
		!strings.Contains(msg, "multiple of 8") || !strings.Contains(msg, "unfused") {
		t.Errorf("the fallback notices (one per reason, twice the same reason above):\n%s", msg)
	}
	// a misaligned pointer takes the scalar kernel even with FuseGELU
	e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{})
	e.fuse = FuseGELU
	p := dryPass(t, e, randomBatch(newRNG(), smallConfig(0), 3, 6, 0), true)
	n0 := len(d.ops)
	if err := p.biasGELU(p.a.ffnPre[0]+2, e.param(e.params, fnet.LayerParam(0, fnet.FFInB)), 4, 200, p.a.ffnGelu[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.biasGELU(p.a.ffnPre[0], e.param(e.params, fnet.LayerParam(0, fnet.FFInB)), 4, 200, p.a.ffnGelu[0]); err != nil {
		t.Fatal(err)
	}
	if got := d.names()[n0:]; len(got) != 2 || got[0] != "bias_gelu" || got[1] != "bias_gelu_v16" {
		t.Errorf("misaligned then aligned: %v", got)
	}
}

// The column-major cuBLASLt calls for FNet-Base's FFN (T = 32·512 rows,
// H = 768, F = 3072), read off the row-major GEMMs as gemm.go maps them:
// D = Cᵀ is F×T with ld F, so the bias and its gradient run over D's F
// rows and aux has ld F; op(A)/op(B) are W1ᵀ… seen column-major.
func TestLtCallLayoutsForFNetBase(t *testing.T) {
	const T, H, F = 32 * 512, 768, 3072
	base := DevPtr(1 << 40)
	x, w1, pre, gl, b1 := base, base+1<<30, base+2<<30, base+3<<30, base+4<<30
	fwd, err := ltFromGemm(gemmCall{transB: true, m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: x, dtype: cudaR16BF, ld: H}, b: gemmOperand{ptr: w1, dtype: cudaR16BF, ld: H},
		c: gemmOperand{ptr: gl, dtype: cudaR16BF, ld: F}, compute: computeF32}, ltEpilogueGELUAuxBias, b1, cudaR32F, pre, F, base+5<<30, ltWorkspaceBytes)
	if err != nil {
		t.Fatal(err)
	}
	want := ltCall{epilogue: ltEpilogueGELUAuxBias, transA: opT, transB: opN, compute: computeF32, m: F, n: T, k: H, alpha: 1,
		a: w1, b: x, c: gl,
		la: ltLayout{cudaR16BF, H, F, H}, lb: ltLayout{cudaR16BF, H, T, H}, lc: ltLayout{cudaR16BF, F, T, F},
		bias: b1, biasType: cudaR32F, aux: pre, auxLD: F, workspace: base + 5<<30, workspaceBytes: ltWorkspaceBytes}
	if fwd != want {
		t.Errorf("forward:\n got  %+v\n want %+v", fwd, want)
	}
	dz, w2, dpre, bg := base+6<<30, base+7<<30, base+8<<30, base+9<<30
	bwd, err := ltFromGemm(gemmCall{m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: dz, dtype: cudaR16BF, ld: H}, b: gemmOperand{ptr: w2, dtype: cudaR16BF, ld: F},
		c: gemmOperand{ptr: dpre, dtype: cudaR16BF, ld: F}, compute: computeF32}, ltEpilogueDGELUBGrad, bg, cudaR32F, pre, F, base+5<<30, ltWorkspaceBytes)
	if err != nil {
		t.Fatal(err)
	}
	want = ltCall{epilogue: ltEpilogueDGELUBGrad, transA: opN, transB: opN, compute: computeF32, m: F, n: T, k: H, alpha: 1,
		a: w2, b: dz, c: dpre,
		la: ltLayout{cudaR16BF, F, H, F}, lb: ltLayout{cudaR16BF, H, T, H}, lc: ltLayout{cudaR16BF, F, T, F},
		bias: bg, biasType: cudaR32F, aux: pre, auxLD: F, workspace: base + 5<<30, workspaceBytes: ltWorkspaceBytes}
	if bwd != want {
		t.Errorf("backward:\n got  %+v\n want %+v", bwd, want)
	}
	// the documented constraints, as errors naming the field
	bad := fwd
	bad.auxLD = 3076 - 2
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "aux leading dimension 3074 must be a multiple of 8") {
		t.Errorf("aux ld 3074: %v", err)
	}
	bad = fwd
	bad.aux += 8
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "aux at") || !strings.Contains(err.Error(), "16-byte aligned") {
		t.Errorf("misaligned aux: %v", err)
	}
	if got := fwd.profileLabel(); got != "gemm 16384x3072x768 lt gelu_aux_bias" {
		t.Errorf("profile label %q (row-major M×N×K, counted with the GEMMs)", got)
	}
	bad = fwd
	bad.bias = 0
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "no bias") {
		t.Errorf("no bias: %v", err)
	}
	if _, err := ltFromGemm(gemmCall{m: T, n: F, k: H, a: gemmOperand{ld: H}, b: gemmOperand{ld: F}, c: gemmOperand{ld: F}, batch: 2}, ltEpilogueDGELUBGrad, bg, cudaR32F, pre, F, 0, 0); err == nil {
		t.Error("a batched GEMM mapped")
	}
}

// The emulated cuBLASLt epilogues against a direct computation on a tiny
// odd shape: the row-major GEMMs of layer_ffn.go, bias per column,
// dgelu from the stored pre-activation, the bias gradient written (not
// added), in both GEMM types.
func TestEmulatorLtEpilogues(t *testing.T) {
	for _, prec := range []Precision{FP32, BF16} {
		e, d := dryEngine(t, smallConfig(0), fnet.MaskedLMHeads, prec, Options{})
		m := newEmu(e, d)
		const T, H, F = 5, 3, 8
		es := int64(prec.gemmElemSize())
		gt := prec.gemmType()
		reg := func(i int, n int64) DevPtr {
			p := DevPtr(uint64(100+i) << emuRegionBits)
			m.region(p, uint64(n))
			return p
		}
		x, w, gl, pre, b, dz, w2, dpre, bg := reg(0, es*T*H), reg(1, es*F*H), reg(2, es*T*F), reg(3, es*T*F), reg(4, 4*F), reg(5, es*T*H), reg(6, es*H*F), reg(7, es*T*F), reg(8, 4*F)
		rng := newRNG()
		fill := func(p DevPtr, n int, bf bool) []float32 {
			v, out := m.view(p, bf), make([]float32, n)
			for i := range out {
				v.set(i, float32(rng.NormFloat64()))
				out[i] = v.get(i)
			}
			return out
		}
		bf := prec == BF16
		xs, ws, bs, dzs, w2s := fill(x, T*H, bf), fill(w, F*H, bf), fill(b, F, false), fill(dz, T*H, bf), fill(w2, H*F, bf)
		m.f32(bg)[0] = 1e9 // written, not added
		c, err := ltFromGemm(gemmCall{transB: true, m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: x, dtype: gt, ld: H}, b: gemmOperand{ptr: w, dtype: gt, ld: H},
			c: gemmOperand{ptr: gl, dtype: gt, ld: F}, compute: computeF32}, ltEpilogueGELUAuxBias, b, cudaR32F, pre, F, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.ltMatmul(c); err != nil {
			t.Fatal(err)
		}
		c, err = ltFromGemm(gemmCall{m: T, n: F, k: H, alpha: 1, a: gemmOperand{ptr: dz, dtype: gt, ld: H}, b: gemmOperand{ptr: w2, dtype: gt, ld: F},
			c: gemmOperand{ptr: dpre, dtype: gt, ld: F}, compute: computeF32}, ltEpilogueDGELUBGrad, bg, cudaR32F, pre, F, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.ltMatmul(c); err != nil {
			t.Fatal(err)
		}
		tol := 1e-6
		if bf {
			tol = 1e-2 // one bf16 rounding of each stored value
		}
		near := func(what string, got, want float64) {
			if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
				t.Errorf("%v %s: %g, want %g", prec, what, got, want)
			}
		}
		G, P, DP := m.view(gl, bf), m.view(pre, bf), m.view(dpre, bf)
		for j := 0; j < F; j++ {
			var db float64
			for r := 0; r < T; r++ {
				var z, g float64
				for k := 0; k < H; k++ {
					z += float64(xs[r*H+k]) * float64(ws[j*H+k])
					g += float64(dzs[r*H+k]) * float64(w2s[k*F+j])
				}
				z += float64(bs[j])
				near(fmt.Sprintf("aux[%d,%d]", r, j), float64(P.get(r*F+j)), z)
				near(fmt.Sprintf("gelu[%d,%d]", r, j), float64(G.get(r*F+j)), float64(geluF(float32(z))))
				dp := g * float64(geluGradF(P.get(r*F+j)))
				near(fmt.Sprintf("dpre[%d,%d]", r, j), float64(DP.get(r*F+j)), dp)
				db += dp
			}
			near(fmt.Sprintf("bias grad[%d]", j), float64(m.f32(bg)[j]), db)
		}
	}
}

// The epilogue variants the engine falls back to when cuBLASLt refuses a
// more precise one (dryRun.ltRefuse stands in for the heuristic): a bias
// read from the GEMM-typed weight copy, the bias gradient written in the
// GEMM type and widened, DGELU alone with colsum_g; and the whole unfused
// path when no forward variant runs. Each against the CPU engine with the
// unfused path's bounds, and the operations each records.
func TestEmulatedFFNEpilogueVariants(t *testing.T) {
	refuse := func(ep uint32, biasType int) func(ltCall) error {
		return func(c ltCall) error {
			if c.epilogue == ep && (biasType < 0 || int(c.biasType) == biasType) {
				return fmt.Errorf("%w: refused by the test (%s, bias type %d)", errLtUnsupported, c.label(), c.biasType)
			}
			return nil
		}
	}
	var notices bytes.Buffer
	ltNoticeMu.Lock()
	old := ltNoticeOut
	ltNoticeOut, ltNoticeSeen = &notices, map[string]bool{}
	ltNoticeMu.Unlock()
	defer func() { ltNoticeMu.Lock(); ltNoticeOut = old; ltNoticeMu.Unlock() }()
	for _, tc := range []struct {
		name   string
		prec   Precision
		refuse func(ltCall) error
		want   []string // operations that must appear
		absent []string // and must not
		tol    float64
	}{
		{"bf16/f32-bias-refused", BF16, refuse(ltEpilogueGELUAuxBias, cudaR32F), []string{"cublasLt gelu_aux_bias", "cublasLt dgelu_bgrad"}, []string{"bias_gelu"}, 2e-2},
		{"fp32/f32-bias-refused", FP32, refuse(ltEpilogueGELUAuxBias, cudaR32F), []string{"bias_gelu", "gelu_bwd_colsum"}, []string{"cublasLt gelu_aux_bias"}, 1e-3},
		{"bf16/f32-bgrad-refused", BF16, refuse(ltEpilogueDGELUBGrad, cudaR32F), []string{"cublasLt dgelu_bgrad", "g_to_f32"}, []string{"cublasLt dgelu", "gelu_bwd_colsum"}, 2e-2},
		{"fp32/f32-bgrad-refused", FP32, refuse(ltEpilogueDGELUBGrad, cudaR32F), []string{"cublasLt dgelu", "colsum_g_partial"}, []string{"cublasLt dgelu_bgrad"}, 1e-3},
		{"bf16/bgrad-refused", BF16, refuse(ltEpilogueDGELUBGrad, -1), []string{"cublasLt gelu_aux_bias", "cublasLt dgelu", "colsum_g_partial"}, []string{"cublasLt dgelu_bgrad", "g_to_f32"}, 2e-2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d *dryRun
			var e *Engine
			matchCPUEngine(t, smallConfig(0), fnet.PretrainingHeads, 0, tc.prec, tc.tol, false,
				func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine {
					var m *emu
					e, m = ffnEmuEngine(t, cfg, heads, tc.prec, Options{}, FuseEpilogue, seed, params)
					d = m.d
					d.ltRefuse = tc.refuse
					return e
				})
			n := map[string]int{}
			for _, op := range d.ops {
				n[op.name]++
			}
			for _, w := range tc.want {
				if n[w] == 0 {
					t.Errorf("no %s", w)
				}
			}
			for _, w := range tc.absent {
				if n[w] != 0 {
					t.Errorf("%d × %s", n[w], w)
				}
			}
			if bt := e.act.ltFFN.biasType; tc.name == "bf16/f32-bias-refused" && bt != cudaR16BF {
				t.Errorf("forward bias type %d", bt)
			}
		})
	}
	// one notice per batch shape (matchCPUEngine runs two), only for the fp32 case without a forward variant
	msg := strings.TrimSpace(notices.String())
	lines := strings.Split(msg, "\n")
	for _, l := range lines {
		if !strings.Contains(l, "refused by the test (cublasLt gelu_aux_bias 200x") || !strings.Contains(l, "bias type 0)") || !strings.HasSuffix(l, "using the unfused GELU kernels") {
			t.Errorf("notice %q", l)
		}
	}
	if msg == "" || len(lines) > 2 {
		t.Errorf("the notices:\n%s", msg)
	}
}

// The epilogue decision covers every layer before any runs: cuBLASLt
// refusing only a later layer's call (the dry run's stand-in for the
// heuristic, which is given each layer's pointer alignments), or its
// algorithm wanting more workspace than planned, sends every layer down
// the same variant or the unfused path, with one notice naming the layer,
// never a failure mid-step; the probe asks 2·L times per batch shape
// (every layer's forward and backward call), once.
func TestFFNEpilogueProbesEveryLayer(t *testing.T) {
	var notices bytes.Buffer
	ltNoticeMu.Lock()
	old := ltNoticeOut
	ltNoticeOut, ltNoticeSeen = &notices, map[string]bool{}
	ltNoticeMu.Unlock()
	defer func() { ltNoticeMu.Lock(); ltNoticeOut = old; ltNoticeMu.Unlock() }()
	const L, bad = 3, 1 // refuse the middle layer's calls only
	cfg := smallConfig(0)
	cfg.NumLayers = L
	for _, tc := range []struct {
		name   string
		prec   Precision
		ep     uint32
		bias   int // the refused bias type, -1 any
		err    error
		want   map[string]int // operations per step
		absent []string
		notice string
	}{
		{"fwd-refused", BF16, ltEpilogueGELUAuxBias, -1, errLtUnsupported,
			map[string]int{"bias_gelu": L, "gelu_bwd_colsum": L}, []string{"cublasLt gelu_aux_bias", "cublasLt dgelu_bgrad", "cublasLt dgelu"}, "layer 1: "},
		{"bwd-greedy", FP32, ltEpilogueDGELUBGrad, -1, errors.New("cublasLt: the algorithm wants 67108864 workspace bytes, 33554432 planned"),
			// DGELU alone is the next variant and is accepted everywhere
			map[string]int{"cublasLt gelu_aux_bias": L, "cublasLt dgelu": L}, []string{"cublasLt dgelu_bgrad", "bias_gelu"}, ""},
		{"all-bwd-refused", FP32, 0, -1, errLtUnsupported,
			map[string]int{"bias_gelu": L, "gelu_bwd_colsum": L}, []string{"cublasLt gelu_aux_bias", "cublasLt dgelu_bgrad", "cublasLt dgelu"}, "layer 1: "},
		{"f32-bias-refused", BF16, ltEpilogueGELUAuxBias, cudaR32F, errLtUnsupported,
			map[string]int{"cublasLt gelu_aux_bias": L, "cublasLt dgelu_bgrad": L}, []string{"bias_gelu", "g_to_f32"}, ""},
		{"f32-bgrad-refused", BF16, ltEpilogueDGELUBGrad, cudaR32F, errLtUnsupported,
			map[string]int{"cublasLt gelu_aux_bias": L, "cublasLt dgelu_bgrad": L, "g_to_f32": L}, []string{"bias_gelu", "cublasLt dgelu"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notices.Reset()
			ltNoticeMu.Lock()
			ltNoticeSeen = map[string]bool{}
			ltNoticeMu.Unlock()
			e, d := dryEngine(t, cfg, fnet.PretrainingHeads, tc.prec, Options{Fuse: FuseEpilogue})
			asked := 0
			d.ltRefuse = func(c ltCall) error {
				asked++
				backward := c.epilogue != ltEpilogueGELUAuxBias
				refused := c.epilogue == tc.ep || (tc.ep == 0 && backward)
				if c.aux == e.act.ffnPre[bad] && refused && (tc.bias < 0 || int(c.biasType) == tc.bias) {
					return fmt.Errorf("%w: refused by the test (%s)", tc.err, c.label())
				}
				return nil
			}
			b := randomBatch(newRNG(), cfg, 3, 6, 0)
			if _, err := e.ForwardBackward(b, 1, 1); err != nil {
				t.Fatalf("a later layer's refusal failed the step: %v", err)
			}
			probed := asked
			n0 := len(d.ops)
			if _, err := e.ForwardBackward(b, 1, 1); err != nil { // the same shape: decided already
				t.Fatal(err)
			}
			n := map[string]int{}
			for _, op := range d.ops[n0:] {
				n[op.name]++
				if !strings.HasPrefix(op.name, "cublasLt") {
					continue
				}
				if c, ok := op.args[0].(ltCall); ok {
					if tc.name == "f32-bias-refused" && c.epilogue == ltEpilogueGELUAuxBias && c.biasType != cudaR16BF {
						t.Errorf("%s: bias type %d, want the weight copy's bf16 in every layer", c.label(), c.biasType)
					}
					if tc.name == "f32-bgrad-refused" && c.epilogue == ltEpilogueDGELUBGrad && c.biasType != cudaR16BF {
						t.Errorf("%s: bias gradient type %d, want bf16 in every layer", c.label(), c.biasType)
					}
				}
			}
			for name, c := range tc.want {
				if n[name] != c {
					t.Errorf("%d × %s per step, want %d", n[name], name, c)
				}
			}
			for _, name := range tc.absent {
				if n[name] != 0 {
					t.Errorf("%d × %s", n[name], name)
				}
			}
			// the probe's questions, then one per cuBLASLt call run
			runs := n["cublasLt gelu_aux_bias"] + n["cublasLt dgelu_bgrad"] + n["cublasLt dgelu"]
			if asked-probed != runs {
				t.Errorf("the second step asked %d times for its %d cuBLASLt calls (a second probe?)", asked-probed, runs)
			}
			if runs > 0 && probed-runs < 2*L {
				t.Errorf("the probe asked %d times, want at least 2·L = %d", probed-runs, 2*L)
			}
			msg := strings.TrimSpace(notices.String())
			switch {
			case tc.notice == "" && msg != "":
				t.Errorf("a notice where a variant runs everywhere: %s", msg)
			case tc.notice != "" && (strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tc.notice) || !strings.Contains(msg, "refused by the test") ||
				!strings.HasSuffix(msg, "using the unfused GELU kernels")):
				t.Errorf("the notice (one, naming layer %d):\n%s", bad, msg)
			}
		})
	}
	// nothing refused: exactly 2·L questions for the decision
	e, d := dryEngine(t, cfg, fnet.PretrainingHeads, BF16, Options{Fuse: FuseEpilogue})
	asked := 0
	d.ltRefuse = func(ltCall) error { asked++; return nil }
	p := dryPass(t, e, randomBatch(newRNG(), cfg, 3, 6, 0), true)
	if !p.ffnEpilogue() || asked != 2*L || len(d.ops) != 0 {
		t.Errorf("the decision: %d questions (want 2·L = %d), %d operations", asked, 2*L, len(d.ops))
	}
}
