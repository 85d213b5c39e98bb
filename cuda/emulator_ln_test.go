package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Emulator twins of kernels/layernorm.cu and kernels/optimizer.cu (the
// fused LayerNorm and optimizer paths), each a Go copy of its CUDA C's
// float32 arithmetic in the C's order: lanes, warps and blocks are loops,
// warp_sum and block_sum are the same butterfly and two-level trees, so
// the partial sums, chunking and vector/tail splits the engine's launch
// shapes select are the ones the emulated engine computes with.

// emuWarpSum is warp_sum: the xor butterfly over 32 lanes (every lane
// ends with the same value, since a + b = b + a in floating point).
func emuWarpSum(v *[32]float32) float32 {
	for o := 16; o > 0; o >>= 1 {
		var n [32]float32
		for l := range v {
			n[l] = v[l] + v[l^o]
		}
		*v = n
	}
	return v[0]
}

// emuBlockSum is block_sum for a block of nw·32 threads' values.
func emuBlockSum(v []float32) float32 {
	nw := len(v) / 32
	var warps [32]float32
	for w := 0; w < nw; w++ {
		var lanes [32]float32
		copy(lanes[:], v[32*w:32*w+32])
		warps[w] = emuWarpSum(&lanes)
	}
	return emuWarpSum(&warps)
}

// emuRsqrt is 1.f / sqrtf(x + eps) (sqrtf and the division correctly rounded).
func emuRsqrt(x float32) float32 { return 1 / float32(math.Sqrt(float64(x))) }

const emuWarpsPerBlock = threadsPerBlock / 32 // the fused kernels' launch: block1D

// lnBwdColsumTwin is ln_bwd_colsum_K.
func lnBwdColsumTwin(K int) func(m *emu, a emuArgs, grid [3]uint32) {
	return func(m *emu, a emuArgs, grid [3]uint32) {
		// dy, xhat, rstd, gamma, rows, H, rpc, dx, dx_g, seed, step, site, thr, dscale, dB, part
		rows, H, rpc := a.i(4), a.i(5), a.i(6)
		// the kernel's mapping: block c owns rows [c·rpc, (c+1)·rpc), lane
		// l columns l + 32k for k < K; rows or columns outside are never computed
		if rpc < 1 || int(grid[0])*rpc < rows || grid[1] != 1 || grid[2] != 1 || 32*K < H {
			panic(fmt.Sprintf("emulator: ln_bwd_colsum_%d grid %v does not cover [%d, %d] (rpc %d, %d columns per warp)", K, grid, rows, H, rpc, 32*K))
		}
		dy, xhat, rstd, gamma := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), m.f32(a.p(3))
		d, dB, part := a.drop(9), a.i(14), m.f32(a.p(15))
		var gl, xl [32][]float32 // a row's g = dy·γ and x̂ in each lane's registers
		for l := range gl {
			gl[l], xl[l] = make([]float32, K), make([]float32, K)
		}
		for c := 0; c < int(grid[0]); c++ {
			r0, r1 := c*rpc, min(rows, c*rpc+rpc)
			pa, pb := make([][32][]float32, emuWarpsPerBlock), make([][32][]float32, emuWarpsPerBlock)
			for w := range pa {
				for l := 0; l < 32; l++ {
					pa[w][l], pb[w][l] = make([]float32, K), make([]float32, K)
				}
				for row := r0 + w; row < r1; row += emuWarpsPerBlock {
					base, dbase := row*H, dropRow(row, dB, rows)*H
					var sg, sgx [32]float32
					for l := 0; l < 32; l++ {
						clear(gl[l])
						clear(xl[l])
						for k := 0; k < K; k++ {
							j := l + 32*k
							if j < H {
								dv := dy[base+j]
								xl[l][k] = xhat[base+j]
								gl[l][k] = dv * gamma[j]
								sg[l] += gl[l][k]
								sgx[l] += gl[l][k] * xl[l][k]
								pa[w][l][k] += dv * xl[l][k]
								pb[w][l][k] += dv
							}
						}
					}
					mg, mgx := emuWarpSum(&sg)/float32(H), emuWarpSum(&sgx)/float32(H)
					rs := rstd[row]
					for l := 0; l < 32; l++ {
						for k := 0; k < K; k++ {
							j := l + 32*k
							if j < H {
								v := rs * (gl[l][k] - mg - xl[l][k]*mgx)
								if a.nz(7) {
									m.f32(a.p(7))[base+j] = v
								}
								if a.nz(8) {
									m.g(a.p(8)).set(base+j, d.apply(v, uint64(dbase+j)))
								}
							}
						}
					}
				}
			}
			out := part[c*2*H:]
			for k := 0; k < K; k++ {
				for l := 0; l < 32; l++ {
					if j := l + 32*k; j < H {
						sa, sb := pa[0][l][k], pb[0][l][k]
						for w := 1; w < emuWarpsPerBlock; w++ {
							sa += pa[w][l][k]
							sb += pb[w][l][k]
						}
						out[j], out[H+j] = sa, sb
					}
				}
			}
		}
	}
}

// lnColsumFinalTwin is ln_colsum_final: 16 lanes over the chunks, added in lane order.
func lnColsumFinalTwin(m *emu, a emuArgs, grid [3]uint32) {
	chunks, H := a.i(1), a.i(2)
	// the kernel's mapping: column j = 32·blockIdx.x + threadIdx.x over the 2H
	// partial columns (γ's, then β's); its 16 y-lanes cover any chunk count
	if int(grid[0])*32 < 2*H || grid[1] != 1 || grid[2] != 1 {
		panic(fmt.Sprintf("emulator: ln_colsum_final grid %v does not cover the %d partial columns", grid, 2*H))
	}
	part, dgamma, dbeta := m.f32(a.p(0)), m.f32(a.p(3)), m.f32(a.p(4))
	for j := 0; j < 2*H; j++ {
		var lanes [16]float32
		for y := range lanes {
			for c := y; c < chunks; c += 16 {
				lanes[y] += part[c*2*H+j]
			}
		}
		s := lanes[0]
		for y := 1; y < 16; y++ {
			s += lanes[y]
		}
		if j < H {
			dgamma[j] += s
		} else {
			dbeta[j-H] += s
		}
	}
}

// lnFwdVecTwin is ln_fwd_vec: lane l owns columns 4(l + 32k) … +3.
func lnFwdVecTwin(m *emu, a emuArgs, _ [3]uint32) {
	// res, add, bias, seed, step, site, thr, dscale, gamma, beta, rows, H, eps, xhat, rstd, out, out_g, dB
	d := a.drop(3)
	gamma, beta := m.f32(a.p(8)), m.f32(a.p(9))
	rows, H, eps, dB := a.i(10), a.i(11), a.f(12), a.i(17)
	add, xhat, rstd := m.f32(a.p(1)), m.f32(a.p(13)), m.f32(a.p(14))
	const K4 = 8 // LN_MAXK4
	v := make([]float32, H)
	for r := 0; r < rows; r++ {
		base, dbase := r*H, dropRow(r, dB, rows)*H
		var sum [32]float32
		for l := 0; l < 32; l++ {
			for k := 0; k < K4; k++ {
				j := 4 * (l + 32*k)
				if j >= H {
					continue
				}
				var x [4]float32
				for c := range x {
					x[c] = add[base+j+c]
					if a.nz(2) {
						x[c] += m.f32(a.p(2))[j+c]
					}
					x[c] = d.apply(x[c], uint64(dbase+j+c))
					if a.nz(0) {
						x[c] = m.f32(a.p(0))[base+j+c] + x[c]
					}
					v[j+c] = x[c]
				}
				sum[l] += (x[0] + x[1]) + (x[2] + x[3])
			}
		}
		mean := emuWarpSum(&sum) / float32(H)
		var sq [32]float32
		for l := 0; l < 32; l++ {
			for k := 0; k < K4; k++ {
				if j := 4 * (l + 32*k); j < H {
					d0, d1, d2, d3 := v[j]-mean, v[j+1]-mean, v[j+2]-mean, v[j+3]-mean
					sq[l] += (d0*d0 + d1*d1) + (d2*d2 + d3*d3)
				}
			}
		}
		rs := emuRsqrt(emuWarpSum(&sq)/float32(H) + eps)
		for j := 0; j < H; j++ {
			n := (v[j] - mean) * rs
			xhat[base+j] = n
			y := n*gamma[j] + beta[j]
			if a.nz(15) {
				m.f32(a.p(15))[base+j] = y
			}
			if a.nz(16) {
				m.g(a.p(16)).set(base+j, y)
			}
		}
		rstd[r] = rs
	}
}

// sumsqVecTwin is sumsq_vec: every thread's vectors (grid-stride) and tail
// element, then block_sum per block.
func sumsqVecTwin(m *emu, a emuArgs, grid [3]uint32) {
	g, n, part := m.f32(a.p(0)), a.l(1), m.f32(a.p(2))
	n4, stride := n/4, int(grid[0])*threadsPerBlock
	s := make([]float32, threadsPerBlock)
	for b := 0; b < int(grid[0]); b++ {
		for t := range s {
			tid := b*threadsPerBlock + t
			var acc float32
			for q := tid; q < n4; q += stride {
				x, y, z, w := g[4*q], g[4*q+1], g[4*q+2], g[4*q+3]
				acc += (x*x + y*y) + (z*z + w*w)
			}
			if i := 4*n4 + tid; i < n {
				acc += g[i] * g[i]
			}
			s[t] = acc
		}
		part[b] = emuBlockSum(s)
	}
}

// adamwVecTwin is adamw_vec: the norm from the partials as every block
// sums them, the clip, the skip on a non-finite norm, and the update of
// every vector and tail element.
func adamwVecTwin(m *emu, a emuArgs, grid [3]uint32) {
	p, g, mm, v := m.f32(a.p(0)), m.f32(a.p(1)), m.f32(a.p(2)), m.f32(a.p(3))
	n, b1, b2, eps, decay, stepSize, invSqrtBC2 := a.l(5), a.f(6), a.f(7), a.f(8), a.f(9), a.f(10), a.f(11)
	part, nparts, maxNorm, normOut := m.f32(a.p(12)), a.i(13), a.f(14), m.f32(a.p(15))
	s := make([]float32, threadsPerBlock)
	for t := range s {
		for i := t; i < nparts; i += threadsPerBlock {
			s[t] += part[i]
		}
	}
	norm := float32(math.Sqrt(float64(emuBlockSum(s))))
	normOut[0] = norm
	m.d.norm = norm // what Step reads back from a dry run
	n4, threads := n/4, int(grid[0])*threadsPerBlock
	if math.IsNaN(float64(norm)) || math.IsInf(float64(norm), 0) {
		for q := 0; q < n4; q++ {
			clear(g[4*q : 4*q+4])
		}
		for tid := 0; tid < threads && 4*n4+tid < n; tid++ {
			g[4*n4+tid] = 0
		}
		return
	}
	clip := float32(1)
	if maxNorm > 0 && norm > maxNorm {
		clip = maxNorm / norm
	}
	update := func(i int) {
		gi := g[i] * clip
		mi := b1*mm[i] + (1-b1)*gi
		vi := b2*v[i] + (1-b2)*gi*gi
		mm[i], v[i] = mi, vi
		pi := p[i]
		pi -= stepSize*mi/(float32(math.Sqrt(float64(vi)))*invSqrtBC2+eps) + decay*pi
		p[i] = pi
		g[i] = 0
		if a.nz(4) {
			m.g(a.p(4)).set(i, pi)
		}
	}
	for q := 0; q < n4; q++ {
		for c := 0; c < 4; c++ {
			update(4*q + c)
		}
	}
	for tid := 0; tid < threads && 4*n4+tid < n; tid++ {
		update(4*n4 + tid)
	}
}

func init() {
	for _, k := range []int{8, 16, 24, 32} {
		emuKernels["ln_bwd_colsum_"+strconv.Itoa(k)] = lnBwdColsumTwin(k)
	}
	emuKernels["ln_colsum_final"] = lnColsumFinalTwin
	emuKernels["ln_fwd_vec"] = lnFwdVecTwin
	emuKernels["sumsq_vec"] = sumsqVecTwin
	emuKernels["adamw_vec"] = adamwVecTwin
}

// lnFusions are the fused paths of this file's kernels, each alone and together.
var lnFusions = []Fusion{FuseLayerNormBackward, FuseLayerNormForward, FuseOptimizer,
	FuseLayerNormBackward | FuseLayerNormForward | FuseOptimizer}

// fusedEmuEngine is emuEngine with the fused paths f (the dry engine
// takes its fields from Options except Fuse, which is set here).
func fusedEmuEngine(t *testing.T, cfg fnet.Config, heads fnet.Heads, prec Precision, o Options, f Fusion, seed uint64, params map[string][]float32) (*Engine, *emu) {
	t.Helper()
	o.Fuse = f
	e, m := emuEngine(t, cfg, heads, prec, o, seed, params)
	e.fuse = f
	return e, m
}

func fusedEmuBuilder(prec Precision, o Options, f Fusion) engineBuilder {
	return func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine {
		e, _ := fusedEmuEngine(t, cfg, heads, prec, o, f, seed, params)
		return e
	}
}

// The fused LayerNorm and optimizer paths through the whole emulated
// engine against the CPU engine, with the bounds the unfused path meets
// (TestEmulatedEngineMatchesCPUEngine): every head kind, each path alone
// on FNet and all three together on every architecture, fp32 in both row
// layouts and bf16. -short keeps fp32 seq-major and the combined flags.
func TestEmulatedFusedLayerNormMatchesCPUEngine(t *testing.T) {
	archs := append([]string{"fnet"}, dryArchs...)
	for _, arch := range archs {
		for _, tc := range engineHeadCases {
			for _, f := range lnFusions {
				for _, v := range []struct {
					prec Precision
					o    Options
					tol  float64
				}{{FP32, Options{}, 1e-3}, {FP32, Options{BatchMajor: true}, 1e-3}, {BF16, Options{}, 2e-2}} {
					if testing.Short() && (v.prec != FP32 || v.o.BatchMajor || tc.name == "regression" || f != lnFusions[3]) {
						continue
					}
					if arch != "fnet" && f != lnFusions[3] {
						continue // each path alone on FNet; together on every architecture
					}
					t.Run(arch+"/"+tc.name+"/"+f.String()+"/"+variantName(v.prec, v.o), func(t *testing.T) {
						cfg := archConfig(arch, tc.numLabels)
						if arch == "fnet" {
							cfg = smallConfig(tc.numLabels)
						}
						matchCPUEngine(t, cfg, tc.heads, tc.numLabels, v.prec, v.tol, arch != "fnet", fusedEmuBuilder(v.prec, v.o, f))
					})
				}
			}
		}
	}
}

// Every reference fixture through the emulated engine with all three
// fused paths, as TestEmulatedParityWithReferenceFixtures checks the plain
// ones (same bounds, checkParityReport).
func TestEmulatedFusedLayerNormParity(t *testing.T) {
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	all := lnFusions[3]
	for _, prefix := range fx {
		for _, v := range []struct {
			mode       Precision
			mix, batch bool
		}{{FP32, false, false}, {BF16, false, false}, {FP32, false, true}} {
			if testing.Short() && (v.mode != FP32 || v.batch) {
				continue
			}
			rep, err := fnet.RunParityOn(prefix+".weights.safetensors", prefix+".expect.safetensors",
				func(cfg fnet.Config, heads fnet.Heads, opt fnet.AdamWConfig, params map[string][]float32) (*fnet.ParityTarget, error) {
					e, _ := fusedEmuEngine(t, cfg, heads, v.mode, Options{MixBF16: v.mix, BatchMajor: v.batch}, all, 0, params)
					e.opt = opt
					return &fnet.ParityTarget{Engine: e, Activations: e.Activations, Gradients: e.Gradients}, nil
				})
			checkParityReport(t, prefix, v.mode, v.mix, v.batch, rep, err)
		}
	}
}

// The fused paths are taken where they apply and only there: the launch
// names of a training step and Step with each flag, for hidden sizes that
// select each ln_bwd_colsum instance, one the vector forward cannot take
// (H % 4 != 0) and one beyond the register-resident kernels (H > 1024).
func TestFusedLayerNormKernelChoice(t *testing.T) {
	cases := []struct {
		H        int
		fwd, bwd string
	}{{72, "ln_fwd_vec", "ln_bwd_colsum_8"}, {300, "ln_fwd_vec", "ln_bwd_colsum_16"}, {768, "ln_fwd_vec", "ln_bwd_colsum_24"},
		{1024, "ln_fwd_vec", "ln_bwd_colsum_32"}, {258, "ln_fwd_reg", "ln_bwd_colsum_16"}, {1028, "ln_fwd", ""}}
	for _, tc := range cases {
		cfg := smallConfig(0)
		cfg.HiddenSize = tc.H
		e, _ := dryEngine(t, cfg, fnet.PretrainingHeads, FP32, Options{})
		if got := e.lnForwardKernel(); got != "ln_fwd_reg" && tc.H <= 1024 || got != "ln_fwd" && tc.H > 1024 {
			t.Errorf("H=%d without fusion: forward %s", tc.H, got)
		}
		if got := e.lnBackwardFusedKernel(); got != "" {
			t.Errorf("H=%d without fusion: fused backward %s", tc.H, got)
		}
		if s, a := e.optimizerKernels(); s != "sumsq_partial" || a != "adamw" {
			t.Errorf("without fusion: optimizer %s, %s", s, a)
		}
		e.fuse = FuseAll
		if got := e.lnForwardKernel(); got != tc.fwd {
			t.Errorf("H=%d: forward %s, want %s", tc.H, got, tc.fwd)
		}
		if got := e.lnBackwardFusedKernel(); got != tc.bwd {
			t.Errorf("H=%d: fused backward %q, want %q", tc.H, got, tc.bwd)
		}
		if s, a := e.optimizerKernels(); s != "sumsq_vec" || a != "adamw_vec" {
			t.Errorf("fused: optimizer %s, %s", s, a)
		}
	}
	// a whole step on the dry run launches the fused kernels and none of
	// the ones they replace
	e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{})
	e.fuse = lnFusions[3]
	runDryStep(t, e)
	count := map[string]int{}
	for _, op := range d.ops {
		count[op.name]++
	}
	for _, gone := range []string{"ln_fwd_reg", "ln_bwd_reg", "colsum_ln_partial", "sumsq_partial", "adamw"} {
		if count[gone] != 0 {
			t.Errorf("fused step still launches %s %d times", gone, count[gone])
		}
	}
	L := e.cfg.NumLayers
	// LayerNorms: the embeddings' (embed_ln_fwd, not a ln launch), 2 per
	// layer and the masked-LM head's; forward in ForwardBackward and Evaluate
	for name, want := range map[string]int{"ln_fwd_vec": 2 * (2*L + 1), "ln_bwd_colsum_8": 2*L + 2, "ln_colsum_final": 2*L + 2, "sumsq_vec": 1, "adamw_vec": 1} {
		if count[name] != want {
			t.Errorf("fused step launches %s %d times, want %d", name, count[name], want)
		}
	}
}

// runDryStep runs ForwardBackward, Step and Evaluate on a dry engine.
func runDryStep(t *testing.T, e *Engine) {
	t.Helper()
	b := randomBatch(rand.New(rand.NewPCG(5, 6)), e.cfg, 3, 6, e.cfg.NumLabels)
	if _, err := e.ForwardBackward(b, 3, 0.5); err != nil {
		t.Fatalf("ForwardBackward: %v", err)
	}
	if _, err := e.Step(1e-3, 1); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if _, _, err := e.Evaluate(b); err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
}

// The twins of ln_bwd_colsum_K and ln_colsum_final refuse a launch that
// leaves rows or columns to no thread (a host bug the twin would otherwise
// hide by looping over everything), as the FFN twins do; the engine's own
// launches pass (every emulated fused-LN test).
func TestLNTwinsCheckLaunchCoverage(t *testing.T) {
	panics := func(name string, f func()) (msg string) {
		defer func() {
			if r := recover(); r != nil {
				msg = fmt.Sprint(r)
			}
		}()
		f()
		return ""
	}
	bwd := func(K, rows, H, rpc int, grid [3]uint32) func() {
		args := emuArgs{DevPtr(0), DevPtr(0), DevPtr(0), DevPtr(0), int32(rows), int32(H), int32(rpc)}
		return func() { emuKernels["ln_bwd_colsum_"+strconv.Itoa(K)](nil, args, grid) }
	}
	final := func(chunks, H int, grid [3]uint32) func() {
		args := emuArgs{DevPtr(0), int32(chunks), int32(H), DevPtr(0), DevPtr(0)}
		return func() { emuKernels["ln_colsum_final"](nil, args, grid) }
	}
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"ln_bwd_colsum rows: 3 chunks of 32 for 97 rows", bwd(8, 97, 200, 32, [3]uint32{3, 1, 1})},
		{"ln_bwd_colsum columns: K 8 for H 300", bwd(8, 64, 300, 32, [3]uint32{2, 1, 1})},
		{"ln_bwd_colsum no rows per chunk", bwd(8, 64, 200, 0, [3]uint32{2, 1, 1})},
		{"ln_bwd_colsum a 2-D grid", bwd(8, 64, 200, 32, [3]uint32{2, 2, 1})},
		{"ln_colsum_final columns: 12 blocks for 2·200", final(5, 200, [3]uint32{12, 1, 1})},
		{"ln_colsum_final a 2-D grid", final(5, 200, [3]uint32{13, 2, 1})},
	} {
		if msg := panics(tc.name, tc.f); !strings.Contains(msg, "does not cover") {
			t.Errorf("%s: %q, want a coverage panic", tc.name, msg)
		}
	}
	// exactly covering launches get past the check (to the nil emulator)
	for _, f := range []func(){bwd(8, 96, 256, 32, [3]uint32{3, 1, 1}), final(5, 200, [3]uint32{13, 1, 1})} {
		if msg := panics("covered", f); strings.Contains(msg, "does not cover") {
			t.Errorf("a covering launch refused: %s", msg)
		}
	}
}
