package cuda

import (
	"fmt"
	"math"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The fused LayerNorm and optimizer kernels (kernels/layernorm.cu,
// kernels/optimizer.cu) against the kernels they replace, on the same
// inputs with every output poisoned with NaN first (testDevice.alloc), on
// shapes that are not multiples of anything the kernels tile by: H = 72,
// 100 (not a multiple of 8), 130 (not of 4: backward only), 768 and 1024
// (FNet-Base, BERT-large), rows not a multiple of the fused backward's
// 32-row chunk or of its 8 warps. On a GPU they check the CUDA C; on the
// emulator (onDevices) the tests' own logic and the twins.
//
// Tolerances (relative L2):
//   - dx of the fused backward, dropout(dx) and the forward's outputs:
//     1e-6 (float32), 1e-4 in bf16 (ln_bwd_colsum does ln_bwd_reg's
//     arithmetic in the same order, so dx is expected bit for bit, but the
//     forward's lanes add in another order: a last-bit change can flip a
//     bf16 rounding, 2^-8 relative, on a few elements);
//   - the γ/β gradients: 1e-5 (the same float32 sums in another order:
//     per chunk and warp instead of per 8-row lane);
//   - AdamW's p, m, v and the weight copy: 1e-6 (elementwise, the same
//     expression), the gradient zeroed exactly, the norm's partials'
//     total to 1e-6.

var lnTestShapes = []struct{ rows, H int }{{1, 72}, {111, 72}, {261, 100}, {97, 130}, {333, 768}, {150, 1024}}

func TestKernelLayerNormBackwardFused(t *testing.T) {
	onDevices(t, func(t *testing.T, newDev func(Precision) *testDevice) {
		for _, prec := range []Precision{FP32, BF16} {
			d := newDev(prec) // without a GPU this skips the test's gpu half
			for _, sh := range lnTestShapes {
				for _, seqMajor := range []bool{false, true} {
					if seqMajor && sh.rows%3 != 0 {
						continue
					}
					testLNBackwardFused(t, d, fmt.Sprintf("%v rows=%d H=%d seq-major=%v: ", prec, sh.rows, sh.H, seqMajor), sh.rows, sh.H, seqMajor)
				}
			}
		}
	})
}

func testLNBackwardFused(t *testing.T, d *testDevice, name string, rows, H int, seqMajor bool) {
	rng := newRNG()
	dy, xhat, gamma := randn(rng, rows*H, 1), randn(rng, rows*H, 1), randn(rng, H, 1)
	rstd := make([]float32, rows)
	for i := range rstd {
		rstd[i] = 0.5 + rng.Float32()
	}
	gInit := randn(rng, 2*H, 1) // γ then β gradients before the call: both paths add into them
	seed, step := rng.Uint64(), uint64(rng.IntN(1000))
	p := 0.1
	thr, sc := fnet.DropoutThreshold(p), float32(1/(1-p))
	dB := int32(0)
	if seqMajor {
		dB = 3
	}
	dyP, xhP, rsP, gaP := d.f32(dy), d.f32(xhat), d.f32(rstd), d.f32(gamma)

	// the plain path: ln_bwd_reg, then colsum_ln_partial and colsum_final
	chunks, rpc := colsumChunks(rows)
	dx0, dxG0, grad0 := d.alloc(4*rows*H), d.gOut(rows*H), d.f32(gInit)
	d.launch("ln_bwd_reg", warpRowGrid(rows), block1D, dyP, xhP, rsP, gaP, int32(rows), int32(H), dx0, dxG0, seed, step, uint32(5), thr, sc, dB)
	parts0 := d.alloc(4 * chunks * 2 * H)
	d.launch("colsum_ln_partial", [3]uint32{uint32((H + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, dyP, xhP, int32(rows), int32(H), int32(rpc), parts0)
	d.launch("colsum_final", [3]uint32{uint32((2*H + threadsPerBlock - 1) / threadsPerBlock), 1, 1}, block1D, parts0, int32(chunks), int32(2*H), int32(H),
		float32(1), grad0, int32(H), grad0+DevPtr(4*H))
	wantDx, wantDxG, wantGrad := d.read(dx0, rows*H), d.readG(dxG0, rows*H), d.read(grad0, 2*H)

	e := &Engine{cfg: fnet.Config{HiddenSize: H}, fuse: FuseLayerNormBackward}
	kernel := e.lnBackwardFusedKernel()
	// a roomy scratch (32-row chunks) and a tight one (few, long chunks)
	for _, capFloats := range []int{1 << 22, 3 * 2 * H} {
		fc, frpc := lnColsumChunks(rows, H, capFloats)
		dx, dxG, grad, parts := d.alloc(4*rows*H), d.gOut(rows*H), d.f32(gInit), d.alloc(4*fc*2*H)
		d.launch(kernel, [3]uint32{uint32(fc), 1, 1}, block1D, dyP, xhP, rsP, gaP, int32(rows), int32(H), int32(frpc),
			dx, dxG, seed, step, uint32(5), thr, sc, dB, parts)
		d.launch("ln_colsum_final", [3]uint32{uint32((2*H + 31) / 32), 1, 1}, [3]uint32{32, 16, 1}, parts, int32(fc), int32(H), grad, grad+DevPtr(4*H))
		what := fmt.Sprintf("%s (%d chunks of %d rows)", kernel, fc, frpc)
		relErr(t, name+what+" dx", d.read(dx, rows*H), wantDx, 1e-6)
		gtol := 1e-6
		if d.prec == BF16 {
			gtol = 1e-4
		}
		relErr(t, name+what+" dropout(dx) "+d.prec.String(), d.readG(dxG, rows*H), wantDxG, gtol)
		got := d.read(grad, 2*H)
		relErr(t, name+what+" γ grad", got[:H], wantGrad[:H], 1e-5)
		relErr(t, name+what+" β grad", got[H:], wantGrad[H:], 1e-5)
	}
	// dx and dx_g are optional: nil outputs leave only the gradients
	fc, frpc := lnColsumChunks(rows, H, 1<<22)
	grad, parts := d.f32(gInit), d.alloc(4*fc*2*H)
	d.launch(kernel, [3]uint32{uint32(fc), 1, 1}, block1D, dyP, xhP, rsP, gaP, int32(rows), int32(H), int32(frpc),
		DevPtr(0), DevPtr(0), seed, step, uint32(5), thr, sc, dB, parts)
	d.launch("ln_colsum_final", [3]uint32{uint32((2*H + 31) / 32), 1, 1}, [3]uint32{32, 16, 1}, parts, int32(fc), int32(H), grad, grad+DevPtr(4*H))
	relErr(t, name+kernel+" without dx: γ/β grads", d.read(grad, 2*H), wantGrad, 1e-5)
}

func TestKernelLayerNormForwardVec(t *testing.T) {
	onDevices(t, func(t *testing.T, newDev func(Precision) *testDevice) {
		for _, prec := range []Precision{FP32, BF16} {
			d := newDev(prec)
			for _, sh := range lnTestShapes {
				if sh.H%4 != 0 {
					continue // ln_fwd_vec's precondition; the engine keeps ln_fwd_reg there
				}
				for _, full := range []bool{true, false} {
					testLNForwardVec(t, d, fmt.Sprintf("%v rows=%d H=%d residual=%v: ", prec, sh.rows, sh.H, full), sh.rows, sh.H, full)
				}
			}
		}
	})
}

// testLNForwardVec compares ln_fwd_vec with ln_fwd_reg: with full, as the
// sublayers call it (residual, bias, dropout, seq-major rows when they
// divide, both outputs); without, as the masked-LM head does (input only,
// GEMM-typed output only).
func testLNForwardVec(t *testing.T, d *testDevice, name string, rows, H int, full bool) {
	rng := newRNG()
	res, add, bias := randn(rng, rows*H, 1), randn(rng, rows*H, 3), randn(rng, H, 1)
	gamma, beta := randn(rng, H, 1), randn(rng, H, 1)
	seed, step := rng.Uint64(), uint64(rng.IntN(1000))
	p := 0.1
	thr, sc := fnet.DropoutThreshold(p), float32(1/(1-p))
	resP, biasP, dB := d.f32(res), d.f32(bias), int32(0)
	if !full {
		resP, biasP, thr = 0, 0, 0
	} else if rows%3 == 0 {
		dB = 3
	}
	addP, gaP, beP := d.f32(add), d.f32(gamma), d.f32(beta)
	run := func(kernel string) (xhat, rstd, out, outG []float32) {
		xh, rs, o, og := d.alloc(4*rows*H), d.alloc(4*rows), DevPtr(0), d.gOut(rows*H)
		if full {
			o = d.alloc(4 * rows * H)
		}
		d.launch(kernel, warpRowGrid(rows), block1D, resP, addP, biasP, seed, step, uint32(7), thr, sc, gaP, beP,
			int32(rows), int32(H), float32(1e-12), xh, rs, o, og, dB)
		if full {
			out = d.read(o, rows*H)
		}
		return d.read(xh, rows*H), d.read(rs, rows), out, d.readG(og, rows*H)
	}
	wx, wr, wo, wg := run("ln_fwd_reg")
	gx, gr, gout, gg := run("ln_fwd_vec")
	relErr(t, name+"ln_fwd_vec xhat", gx, wx, 1e-6)
	relErr(t, name+"ln_fwd_vec rstd", gr, wr, 1e-6)
	if full {
		relErr(t, name+"ln_fwd_vec out", gout, wo, 1e-6)
	}
	gtol := 1e-6
	if d.prec == BF16 {
		gtol = 1e-4
	}
	relErr(t, name+"ln_fwd_vec out_g "+d.prec.String(), gg, wg, gtol)
}

func TestKernelOptimizerVec(t *testing.T) {
	onDevices(t, func(t *testing.T, newDev func(Precision) *testDevice) {
		for _, prec := range []Precision{FP32, BF16} {
			d := newDev(prec)
			// n: a 3-element tail, whole vectors, fewer elements than a vector
			for _, n := range []int{300007, 1 << 18, 3} {
				for _, poison := range []bool{false, true} {
					testOptimizerVec(t, d, fmt.Sprintf("%v n=%d NaN gradient=%v: ", prec, n, poison), n, poison)
				}
			}
		}
	})
}

// testOptimizerVec runs sumsq_partial + adamw and sumsq_vec + adamw_vec on
// the same state with clipping active (max norm half the norm); with
// poison one gradient is NaN, and both must skip the update (p, m, v and
// the weight copy bit for bit as they were) and zero the gradients.
func testOptimizerVec(t *testing.T, d *testDevice, name string, n int, poison bool) {
	rng := newRNG()
	p, g, m := randn(rng, n, 1), randn(rng, n, 0.01), randn(rng, n, 0.001)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Abs(rng.NormFloat64())) * 1e-5
	}
	if poison {
		g[rng.IntN(n)] = float32(math.NaN())
	}
	c := fnet.DefaultAdamW.Step(1e-3, 7)
	var sq float64
	for _, x := range g {
		sq += float64(x) * float64(x)
	}
	maxNorm := float32(math.Sqrt(sq) / 2)
	if poison {
		maxNorm = 1
	}
	type result struct {
		p, g, m, v, pg []float32
		partsSum       float64
		norm           float32
	}
	run := func(sumsq, adamw string) result {
		pp, gp, mp, vp := d.f32(p), d.f32(g), d.f32(m), d.f32(v)
		pg := DevPtr(0)
		if d.prec == BF16 {
			pg = d.g(p)
		}
		parts, norm := d.alloc(4*normPartials), d.alloc(4)
		d.launch(sumsq, [3]uint32{normPartials, 1, 1}, block1D, gp, int64(n), parts)
		var r result
		for _, x := range d.read(parts, normPartials) {
			r.partsSum += float64(x)
		}
		d.launch(adamw, [3]uint32{264, 1, 1}, block1D, pp, gp, mp, vp, pg, int64(n), c.Beta1, c.Beta2, c.Eps, c.Decay, c.StepSize, c.InvSqrtBC2,
			parts, int32(normPartials), maxNorm, norm)
		r.p, r.g, r.m, r.v, r.norm = d.read(pp, n), d.read(gp, n), d.read(mp, n), d.read(vp, n), d.read(norm, 1)[0]
		if pg != 0 {
			r.pg = d.readG(pg, n)
		}
		return r
	}
	want, got := run("sumsq_partial", "adamw"), run("sumsq_vec", "adamw_vec")
	for i, x := range got.g {
		if x != 0 {
			t.Fatalf(name+"adamw_vec left gradient %d = %g (want 0)", i, x)
		}
	}
	if poison {
		if !math.IsNaN(float64(got.norm)) {
			t.Errorf(name+"norm %g with a NaN gradient, want NaN", got.norm)
		}
		same := func(what string, got, want []float32) {
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf(name+"skipped step changed %s[%d]: %g, was %g", what, i, got[i], want[i])
				}
			}
		}
		same("p", got.p, p)
		same("m", got.m, m)
		same("v", got.v, v)
		if got.pg != nil {
			same("weight copy", got.pg, fromBF16(toBF16(p)))
		}
		return
	}
	if e := math.Abs(got.partsSum-want.partsSum) / want.partsSum; e > 1e-6 {
		t.Errorf(name+"sumsq_vec partials add to %g, sumsq_partial's to %g (relative %.2e > 1e-6)", got.partsSum, want.partsSum, e)
	}
	if e := math.Abs(float64(got.norm-want.norm)) / float64(want.norm); e > 1e-6 {
		t.Errorf(name+"adamw_vec norm %g, adamw %g", got.norm, want.norm)
	}
	relErr(t, name+"adamw_vec p", got.p, want.p, 1e-6)
	relErr(t, name+"adamw_vec m", got.m, want.m, 1e-6)
	relErr(t, name+"adamw_vec v", got.v, want.v, 1e-6)
	if got.pg != nil {
		relErr(t, name+"adamw_vec weight copy", got.pg, want.pg, 1e-6)
	}
}
