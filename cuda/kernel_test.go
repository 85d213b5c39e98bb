package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

// Every kernel against a simple CPU version (the CPU engine's own kernels
// where they exist) on fresh random inputs, with outputs poisoned first.
// These run only where a GPU is; elsewhere they skip with the reason.

func randn(rng *rand.Rand, n int, std float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
	return x
}

func randInts(rng *rand.Rand, n, hi int) []int {
	x := make([]int, n)
	for i := range x {
		x[i] = rng.IntN(hi)
	}
	return x
}

func newRNG() *rand.Rand { s := rand.Uint64(); return rand.New(rand.NewPCG(s, s^0x5eed)) }

// Shapes deliberately not multiples of the block or warp sizes.
const (
	tB, tS, tH, tF, tV, tK = 3, 37, 72, 200, 301, 5
)

func TestKernelDropoutMatchesCPU(t *testing.T) {
	d := newTestDevice(t, FP32)
	rng := newRNG()
	seed, step, site := rng.Uint64(), rng.Uint64()>>8, uint32(rng.IntN(13))
	thr := fnet.DropoutThreshold(0.1)
	n := 100003
	out := d.alloc(4 * n)
	d.launch("dropout_mask", elementwiseGrid(int64(n)), block1D, seed, step, site, thr, int64(n), out)
	got := d.read(out, n)
	kept := 0
	for i, g := range got {
		want := fnet.DropoutKeep(seed, step, site, uint32(i), thr)
		if (g == 1) != want || (g != 0 && g != 1) {
			t.Fatalf("element %d: device %v, CPU keep=%v", i, g, want)
		}
		if want {
			kept++
		}
	}
	if r := float64(kept) / float64(n); math.Abs(r-0.9) > 0.01 {
		t.Errorf("keep rate %.4f, want 0.9", r)
	}
}

func TestKernelEmbedLN(t *testing.T) {
	for _, p := range []Precision{FP32, BF16} {
		d := newTestDevice(t, p)
		rng := newRNG()
		T := tB * tS
		word, pos, typ := randn(rng, tV*tH, 0.5), randn(rng, tS*tH, 0.5), randn(rng, 4*tH, 0.5)
		gamma, beta := randn(rng, tH, 1), randn(rng, tH, 1)
		ids, tt := randInts(rng, T, tV), randInts(rng, T, 4)
		xhat, rstd, out := d.alloc(4*T*tH), d.alloc(4*T), d.gOut(T*tH)
		wordP, posP, typP, gammaP, betaP := d.f32(word), d.f32(pos), d.f32(typ), d.f32(gamma), d.f32(beta)
		d.launch("embed_ln_fwd", warpRowGrid(T), block1D, d.i32(ids), d.i32(tt), wordP, posP, typP, gammaP, betaP,
			int32(T), int32(tS), int32(tH), float32(1e-12), xhat, rstd, out, int32(0))
		// seq-major rows: the same values, rows reordered
		xhatS, rstdS, outS := d.alloc(4*T*tH), d.alloc(4*T), d.gOut(T*tH)
		d.launch("embed_ln_fwd", warpRowGrid(T), block1D, d.i32(toSeqMajor(ids, tB, tS)), d.i32(toSeqMajor(tt, tB, tS)), wordP, posP, typP, gammaP, betaP,
			int32(T), int32(tS), int32(tH), float32(1e-12), xhatS, rstdS, outS, int32(tB))
		sum := make([]float32, T*tH)
		kernels.EmbeddingForward(word, pos, typ, ids, tt, sum, tB, tS, tH)
		wy, wx, wr := make([]float32, T*tH), make([]float32, T*tH), make([]float32, T)
		kernels.LayerNormForward(sum, nil, gamma, beta, wy, wx, wr, T, tH, 1e-12)
		tol := 1e-5
		if p == BF16 {
			tol = 5e-3
		}
		relErr(t, p.String()+" embed_ln_fwd out", d.readG(out, T*tH), wy, tol)
		relErr(t, "embed_ln_fwd xhat", d.read(xhat, T*tH), wx, 1e-5)
		relErr(t, "embed_ln_fwd rstd", d.read(rstd, T), wr, 1e-5)
		relErr(t, "embed_ln_fwd seq-major xhat", fromSeqMajor(d.read(xhatS, T*tH), tB, tS), wx, 1e-5)
		relErr(t, "embed_ln_fwd seq-major out", fromSeqMajor(d.readG(outS, T*tH), tB, tS), wy, tol)
	}
}

func TestKernelLayerNormResidualDropout(t *testing.T) {
	for _, suffix := range []string{"", "_reg"} {
		t.Run("ln"+suffix, func(t *testing.T) { testLayerNorm(t, suffix) })
	}
}

func testLayerNorm(t *testing.T, suffix string) {
	d := newTestDevice(t, BF16)
	rng := newRNG()
	T := tB * tS
	res, add, bias := randn(rng, T*tH, 1), randn(rng, T*tH, 3), randn(rng, tH, 1)
	gamma, beta := randn(rng, tH, 1), randn(rng, tH, 1)
	seed, step := rng.Uint64(), uint64(rng.IntN(1000))
	p := 0.1
	thr, sc := fnet.DropoutThreshold(p), float32(1/(1-p))
	xhat, rstd, out, outG := d.alloc(4*T*tH), d.alloc(4*T), d.alloc(4*T*tH), d.gOut(T*tH)
	d.launch("ln_fwd"+suffix, warpRowGrid(T), block1D, d.f32(res), d.f32(add), d.f32(bias), seed, step, uint32(3), thr, sc,
		d.f32(gamma), d.f32(beta), int32(T), int32(tH), float32(1e-12), xhat, rstd, out, outG, int32(0))
	z := make([]float32, T*tH)
	for i := range z {
		z[i] = add[i] + bias[i%tH]
	}
	mask := make([]uint8, T*tH)
	kernels.DropoutForward(z, z, mask, seed, step, 3, thr, p)
	wy, wx, wr := make([]float32, T*tH), make([]float32, T*tH), make([]float32, T)
	kernels.LayerNormForward(res, z, gamma, beta, wy, wx, wr, T, tH, 1e-12)
	relErr(t, "ln_fwd out", d.read(out, T*tH), wy, 1e-5)
	relErr(t, "ln_fwd out (bf16)", d.readG(outG, T*tH), wy, 5e-3)
	relErr(t, "ln_fwd xhat", d.read(xhat, T*tH), wx, 1e-5)
	relErr(t, "ln_fwd rstd", d.read(rstd, T), wr, 1e-5)

	// backward, with the dropout mask on the GEMM-typed output, and the
	// parameter gradients through the two-stage column sums
	dy := randn(rng, T*tH, 1)
	dyp, xhp := d.f32(dy), d.f32(wx)
	dx, dxG := d.alloc(4*T*tH), d.gOut(T*tH)
	d.launch("ln_bwd"+suffix, warpRowGrid(T), block1D, dyp, xhp, d.f32(wr), d.f32(gamma), int32(T), int32(tH), dx, dxG, seed, step, uint32(3), thr, sc, int32(0))
	wdx, dg, db := make([]float32, T*tH), make([]float32, tH), make([]float32, tH)
	partial := make([]float32, 2*tH*max(kernels.Workers, 1))
	kernels.LayerNormBackward(dy, wx, wr, gamma, wdx, dg, db, partial, T, tH)
	relErr(t, "ln_bwd dx", d.read(dx, T*tH), wdx, 1e-5)
	wdxd := make([]float32, T*tH)
	kernels.DropoutBackward(wdx, wdxd, mask, p)
	relErr(t, "ln_bwd dropout(dx) (bf16)", d.readG(dxG, T*tH), wdxd, 5e-3)

	chunks, rpc := colsumChunks(T)
	part := d.alloc(4 * chunks * 2 * tH)
	d.launch("colsum_ln_partial", [3]uint32{uint32((tH + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, dyp, xhp, int32(T), int32(tH), int32(rpc), part)
	// start from a known gradient: the kernels add
	g0 := randn(rng, tH, 1)
	gp, bp := d.f32(g0), d.f32(g0)
	d.launch("colsum_final", [3]uint32{1, 1, 1}, block1D, part, int32(chunks), int32(2*tH), int32(tH), float32(1), gp, int32(tH), bp)
	for j := range dg {
		dg[j] += g0[j]
		db[j] += g0[j]
	}
	relErr(t, "colsum_ln dgamma", d.read(gp, tH), dg, 1e-5)
	relErr(t, "colsum_ln dbeta", d.read(bp, tH), db, 1e-5)

	// column sums of a dropped-out float32 source and of a GEMM-typed one
	C := tF
	src := randn(rng, T*C, 1)
	part2 := d.alloc(4 * chunks * C)
	d.launch("colsum_f32_partial", [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, d.f32(src), seed, step, uint32(5), thr, sc,
		int32(T), int32(C), int32(rpc), part2, int32(0))
	zero := make([]float32, C)
	o := d.f32(zero)
	d.launch("colsum_final", [3]uint32{1, 1, 1}, block1D, part2, int32(chunks), int32(C), int32(C), float32(0.5), o, int32(0), DevPtr(0))
	want := make([]float32, C)
	for i, v := range src {
		if fnet.DropoutKeep(seed, step, 5, uint32(i), thr) {
			want[i%C] += 0.5 * v * sc
		}
	}
	relErr(t, "colsum_f32 with dropout", d.read(o, C), want, 1e-5)
	oS := d.f32(zero)
	d.launch("colsum_f32_partial", [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, d.f32(toSeqMajor(src, tB, tS)), seed, step, uint32(5), thr, sc,
		int32(T), int32(C), int32(rpc), part2, int32(tB))
	d.launch("colsum_final", [3]uint32{1, 1, 1}, block1D, part2, int32(chunks), int32(C), int32(C), float32(0.5), oS, int32(0), DevPtr(0))
	relErr(t, "colsum_f32 with dropout, seq-major rows", d.read(oS, C), want, 1e-5)
	o2 := d.f32(zero)
	d.launch("colsum_g_partial", [3]uint32{uint32((C + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, d.g(src), int32(T), int32(C), int32(rpc), part2)
	d.launch("colsum_final", [3]uint32{1, 1, 1}, block1D, part2, int32(chunks), int32(C), int32(C), float32(1), o2, int32(0), DevPtr(0))
	rb := fromBF16(toBF16(src))
	clear(want)
	for i, v := range rb {
		want[i%C] += v
	}
	relErr(t, "colsum_g", d.read(o2, C), want, 1e-5)
}

func TestKernelElementwise(t *testing.T) {
	d := newTestDevice(t, BF16)
	rng := newRNG()
	T := tB * tS
	// bias + dropout, and its backward
	in, bias := randn(rng, T*tH, 1), randn(rng, tH, 1)
	seed, step := rng.Uint64(), uint64(7)
	p := 0.25
	thr, sc := fnet.DropoutThreshold(p), float32(1/(1-p))
	out, outG := d.alloc(4*T*tH), d.gOut(T*tH)
	d.launch("bias_dropout", rowColGrid(T, tH), block1D, d.f32(in), d.f32(bias), seed, step, uint32(0), thr, sc, int64(T), int32(tH), out, outG, int32(0))
	outS := d.alloc(4 * T * tH)
	d.launch("bias_dropout", rowColGrid(T, tH), block1D, d.f32(toSeqMajor(in, tB, tS)), d.f32(bias), seed, step, uint32(0), thr, sc, int64(T), int32(tH), outS, DevPtr(0), int32(tB))
	want := make([]float32, T*tH)
	for i := range want {
		want[i] = in[i] + bias[i%tH]
	}
	mask := make([]uint8, T*tH)
	kernels.DropoutForward(want, want, mask, seed, step, 0, thr, p)
	relErr(t, "bias_dropout", d.read(out, T*tH), want, 1e-6)
	relErr(t, "bias_dropout (bf16)", d.readG(outG, T*tH), want, 5e-3)
	relErr(t, "bias_dropout, seq-major rows", fromSeqMajor(d.read(outS, T*tH), tB, tS), want, 1e-6)
	dy := randn(rng, T*tH, 1)
	dg, df := d.gOut(T*tH), d.alloc(4*T*tH)
	d.launch("dropout_to_g", rowColGrid(T, tH), block1D, d.f32(dy), seed, step, uint32(0), thr, sc, int64(T), int32(tH), dg, df, int32(0))
	dfS := d.alloc(4 * T * tH)
	d.launch("dropout_to_g", rowColGrid(T, tH), block1D, d.f32(toSeqMajor(dy, tB, tS)), seed, step, uint32(0), thr, sc, int64(T), int32(tH), d.gOut(T*tH), dfS, int32(tB))
	kernels.DropoutBackward(dy, want, mask, p)
	relErr(t, "dropout_to_g", d.readG(dg, T*tH), want, 5e-3)
	relErr(t, "dropout_to_g (float32)", d.read(df, T*tH), want, 1e-7)
	relErr(t, "dropout_to_g, seq-major rows", fromSeqMajor(d.read(dfS, T*tH), tB, tS), want, 1e-7)

	// bias + GELU and its backward, GEMM-typed and float32 versions
	u, b := randn(rng, T*tF, 2), randn(rng, tF, 0.5)
	ub := fromBF16(toBF16(u))
	h := d.gOut(T * tF)
	up, bp := d.g(u), d.f32(b)
	d.launch("bias_gelu", rowColGrid(T, tF), block1D, up, bp, int64(T), int32(tF), h)
	wh, wd := make([]float32, T*tF), make([]float32, T*tF)
	dh := randn(rng, T*tF, 1)
	dhb := fromBF16(toBF16(dh))
	for i := range wh {
		x := float64(ub[i]) + float64(b[i%tF])
		wh[i] = float32(kernels.GELU64(x))
		wd[i] = float32(float64(dhb[i]) * (kernels.GELU64(x+1e-4) - kernels.GELU64(x-1e-4)) / 2e-4)
	}
	relErr(t, "bias_gelu", d.readG(h, T*tF), wh, 5e-3)
	du := d.gOut(T * tF)
	d.launch("gelu_bwd", rowColGrid(T, tF), block1D, d.g(dh), up, bp, int64(T), int32(tF), du)
	relErr(t, "gelu_bwd", d.readG(du, T*tF), wd, 5e-3)
	chunks, rpc := colsumChunks(T)
	du2, part := d.gOut(T*tF), d.alloc(4*chunks*tF)
	d.launch("gelu_bwd_colsum", [3]uint32{uint32((tF + 31) / 32), uint32(chunks), 1}, [3]uint32{32, 8, 1}, d.g(dh), up, bp, int32(T), int32(tF), int32(rpc), du2, part)
	relErr(t, "gelu_bwd_colsum du", d.readG(du2, T*tF), wd, 5e-3)
	db := d.f32(make([]float32, tF))
	d.launch("colsum_final", [3]uint32{1, 1, 1}, block1D, part, int32(chunks), int32(tF), int32(tF), float32(1), db, int32(0), DevPtr(0))
	wdb := make([]float32, tF)
	for i, v := range wd {
		wdb[i%tF] += v
	}
	relErr(t, "gelu_bwd_colsum bias gradient", d.read(db, tF), wdb, 3e-3) // hardware tanh in bf16 mode

	uf := d.f32(u)
	hf := d.alloc(4 * T * tF)
	d.launch("bias_gelu_f32", rowColGrid(T, tF), block1D, uf, bp, int64(T), int32(tF), hf)
	for i := range wh {
		x := float64(u[i]) + float64(b[i%tF])
		wh[i] = float32(kernels.GELU64(x))
		wd[i] = float32(float64(dh[i]) * (kernels.GELU64(x+1e-4) - kernels.GELU64(x-1e-4)) / 2e-4)
	}
	relErr(t, "bias_gelu_f32", d.read(hf, T*tF), wh, 1e-5)
	duf, dug := d.alloc(4*T*tF), d.gOut(T*tF)
	d.launch("gelu_bwd_f32", rowColGrid(T, tF), block1D, d.f32(dh), uf, bp, int64(T), int32(tF), duf, dug)
	relErr(t, "gelu_bwd_f32", d.read(duf, T*tF), wd, 1e-4)
	relErr(t, "gelu_bwd_f32 (bf16)", d.readG(dug, T*tF), wd, 5e-3)

	// conversions
	x := randn(rng, 1001, 10)
	g := d.gOut(1001)
	d.launch("f32_to_g", elementwiseGrid(1001), block1D, d.f32(x), int64(1001), g)
	relErr(t, "f32_to_g", d.readG(g, 1001), fromBF16(toBF16(x)), 0)
	back := d.alloc(4 * 1001)
	d.launch("g_to_f32", elementwiseGrid(1001), block1D, g, int64(1001), back)
	relErr(t, "g_to_f32", d.read(back, 1001), fromBF16(toBF16(x)), 0)
}

func TestKernelEmbeddingBackwardAndRows(t *testing.T) {
	d := newTestDevice(t, FP32)
	rng := newRNG()
	T := tB * tS
	dout := randn(rng, T*tH, 1)
	ids, tt := randInts(rng, T, 11), randInts(rng, T, 4) // few ids: many repeats
	w0, p0, y0 := randn(rng, tV*tH, 1), randn(rng, tS*tH, 1), randn(rng, 4*tH, 1)
	dw, dp, dy := d.f32(w0), d.f32(p0), d.f32(y0)
	d.launch("embed_bwd", [3]uint32{tS, 1, 1}, [3]uint32{96, 1, 1}, d.f32(dout), d.i32(ids), d.i32(tt), int32(tB), int32(tS), int32(tH), dw, dp, dy, int32(0))
	dwS, dpS, dyS := d.f32(w0), d.f32(p0), d.f32(y0)
	d.launch("embed_bwd", [3]uint32{tS, 1, 1}, [3]uint32{96, 1, 1}, d.f32(toSeqMajor(dout, tB, tS)), d.i32(toSeqMajor(ids, tB, tS)), d.i32(toSeqMajor(tt, tB, tS)),
		int32(tB), int32(tS), int32(tH), dwS, dpS, dyS, int32(1))
	kernels.EmbeddingBackward(dout, ids, tt, w0, p0, y0, tB, tS, tH)
	relErr(t, "embed_bwd word", d.read(dw, tV*tH), w0, 1e-5)
	relErr(t, "embed_bwd pos", d.read(dp, tS*tH), p0, 1e-5)
	relErr(t, "embed_bwd type", d.read(dy, 4*tH), y0, 1e-5)
	relErr(t, "embed_bwd word, seq-major rows", d.read(dwS, tV*tH), w0, 1e-5)
	relErr(t, "embed_bwd pos, seq-major rows", d.read(dpS, tS*tH), p0, 1e-5)
	relErr(t, "embed_bwd type, seq-major rows", d.read(dyS, 4*tH), y0, 1e-5)

	x := randn(rng, T*tH, 1)
	pos := make([]int, tB*tK)
	for i := range pos {
		pos[i] = rng.IntN(tS)
	}
	pos[1] = pos[0] // shared positions must add up
	gath := d.alloc(4 * tB * tK * tH)
	pp := d.i32(pos)
	d.launch("gather_rows", elementwiseGrid(int64(tB*tK*tH)), block1D, d.f32(x), pp, int32(tB), int32(tS), int32(tK), int32(tH), gath, int32(0))
	gathS := d.alloc(4 * tB * tK * tH)
	d.launch("gather_rows", elementwiseGrid(int64(tB*tK*tH)), block1D, d.f32(toSeqMajor(x, tB, tS)), pp, int32(tB), int32(tS), int32(tK), int32(tH), gathS, int32(1))
	want := make([]float32, tB*tK*tH)
	kernels.GatherRows(x, pos, want, tB, tS, tK, tH)
	relErr(t, "gather_rows", d.read(gath, tB*tK*tH), want, 0)
	relErr(t, "gather_rows, seq-major rows", d.read(gathS, tB*tK*tH), want, 0)
	dg := randn(rng, tB*tK*tH, 1)
	dx0 := randn(rng, T*tH, 1)
	dx, dxS := d.f32(dx0), d.f32(toSeqMajor(dx0, tB, tS))
	d.launch("scatter_add_rows", elementwiseGrid(int64(tB*tK*tH)), block1D, d.f32(dg), pp, int32(tB), int32(tS), int32(tK), int32(tH), dx, int32(0))
	d.launch("scatter_add_rows", elementwiseGrid(int64(tB*tK*tH)), block1D, d.f32(dg), pp, int32(tB), int32(tS), int32(tK), int32(tH), dxS, int32(1))
	kernels.ScatterAddRows(dg, pos, dx0, tB, tS, tK, tH)
	relErr(t, "scatter_add_rows", d.read(dx, T*tH), dx0, 1e-6)
	relErr(t, "scatter_add_rows, seq-major rows", fromSeqMajor(d.read(dxS, T*tH), tB, tS), dx0, 1e-6)
}

func TestKernelMaskedCrossEntropy(t *testing.T) {
	d := newTestDevice(t, FP32)
	rng := newRNG()
	M, V := 13, 4099
	logits, bias := randn(rng, M*V, 3), randn(rng, V, 1)
	labels := randInts(rng, M, V)
	w := make([]float32, M)
	for i := range w {
		if i%4 != 3 {
			w[i] = 1
		}
	}
	z := make([]float32, M*V)
	for i := range z {
		z[i] = logits[i] + bias[i%V]
	}
	labels[0] = argmax(z[:V]) // at least one correct prediction
	stats := d.alloc(8 * 8)
	if err := d.s.drv.memsetD32(stats, 0, 16, d.l.stream); err != nil {
		t.Fatal(err)
	}
	dl := d.gOut(M * V)
	gscale := float32(0.37)
	d.launch("mlm_xent", [3]uint32{uint32(M), 1, 1}, [3]uint32{512, 1, 1}, d.f32(logits), d.f32(bias), d.i32(labels), d.f32(w),
		int32(M), int32(V), gscale, stats, dl)
	probs := make([]float32, M*V)
	partial := make([]float64, 3*M)
	loss, wsum, correct := kernels.SoftmaxCrossEntropy(z, probs, labels, w, M, V, partial)
	st := d.readF64(stats, 3)
	if math.Abs(st[0]-loss) > 1e-4*math.Abs(loss) || st[1] != wsum || st[2] != correct {
		t.Errorf("stats %v, CPU loss %g weight %g correct %g", st, loss, wsum, correct)
	}
	if correct < 1 {
		t.Error("test meant at least one correct prediction")
	}
	want := make([]float32, M*V)
	kernels.SoftmaxCrossEntropyBackward(probs, labels, w, want, M, V, gscale)
	relErr(t, "mlm_xent dlogits", d.read(dl, M*V), want, 1e-5)
}

func argmax(x []float32) int {
	a := 0
	for i, v := range x {
		if v > x[a] {
			a = i
		}
	}
	return a
}

func TestKernelPoolerAndSequenceHeads(t *testing.T) {
	d := newTestDevice(t, FP32)
	rng := newRNG()
	T := tB * tS
	x := randn(rng, T*tH, 1)
	W, b := randn(rng, tH*tH, 0.2), randn(rng, tH, 0.2)
	pooled := d.alloc(4 * tB * tH)
	xp, Wp := d.f32(x), d.f32(W)
	d.launch("pooler_fwd", warpRowGrid(tB*tH), block1D, xp, int32(tS), int32(tH), Wp, d.f32(b), int32(tB), pooled)
	wp := make([]float32, tB*tH)
	for bb := 0; bb < tB; bb++ {
		for o := 0; o < tH; o++ {
			s := float64(b[o])
			for k := 0; k < tH; k++ {
				s += float64(W[o*tH+k]) * float64(x[bb*tS*tH+k])
			}
			wp[bb*tH+o] = float32(math.Tanh(s))
		}
	}
	relErr(t, "pooler_fwd", d.read(pooled, tB*tH), wp, 1e-5)

	for _, mode := range []int32{0, 1} {
		n := 3
		if mode == 1 {
			n = 1
		}
		Wc, bc := randn(rng, n*tH, 0.5), randn(rng, n, 0.5)
		labels := randInts(rng, tB, n)
		targets := randn(rng, tB, 1)
		stats := d.alloc(16)
		if err := d.s.drv.memsetD32(stats, 0, 4, d.l.stream); err != nil {
			t.Fatal(err)
		}
		logits, dlog := d.alloc(4*tB*n), d.alloc(4*tB*n)
		gs := float32(0.5)
		pp := d.f32(wp)
		Wcp := d.f32(Wc)
		d.launch("seq_head_fwd", warpRowGrid(tB), block1D, pp, Wcp, d.f32(bc), int32(tB), int32(tH), int32(n), d.i32(labels), d.f32(targets), mode, gs, stats, logits, dlog)
		wl, wdl := make([]float32, tB*n), make([]float32, tB*n)
		var wloss, wcorrect float64
		for bb := 0; bb < tB; bb++ {
			z := make([]float64, n)
			for o := 0; o < n; o++ {
				z[o] = float64(bc[o])
				for k := 0; k < tH; k++ {
					z[o] += float64(Wc[o*tH+k]) * float64(wp[bb*tH+k])
				}
				wl[bb*n+o] = float32(z[o])
			}
			if mode == 1 {
				e := z[0] - float64(targets[bb])
				wloss += e * e
				wdl[bb] = float32(float64(gs) * 2 * e)
				continue
			}
			mx, arg := z[0], 0
			for o := range z {
				if z[o] > mx {
					mx, arg = z[o], o
				}
			}
			var se float64
			for o := range z {
				se += math.Exp(z[o] - mx)
			}
			wloss += math.Log(se) + mx - z[labels[bb]]
			if arg == labels[bb] {
				wcorrect++
			}
			for o := range z {
				oh := 0.0
				if o == labels[bb] {
					oh = 1
				}
				wdl[bb*n+o] = float32(float64(gs) * (math.Exp(z[o]-mx)/se - oh))
			}
		}
		relErr(t, "seq_head_fwd logits", d.read(logits, tB*n), wl, 1e-5)
		relErr(t, "seq_head_fwd dlogits", d.read(dlog, tB*n), wdl, 1e-5)
		st := d.readF64(stats, 2)
		if math.Abs(st[0]-wloss) > 1e-4*math.Max(1, wloss) || st[1] != wcorrect {
			t.Errorf("mode %d stats %v, want loss %g correct %g", mode, st, wloss, wcorrect)
		}

		// backward through the head and the pooler
		dW0, db0 := randn(rng, n*tH, 1), randn(rng, n, 1)
		dWp, dbp := d.f32(dW0), d.f32(db0)
		d.launch("seq_head_bwd_w", elementwiseGrid(int64(n*tH)), block1D, dlog, pp, int32(tB), int32(tH), int32(n), dWp, dbp)
		dz := d.alloc(4 * tB * tH)
		d.launch("seq_head_bwd_x", elementwiseGrid(int64(tB*tH)), block1D, dlog, Wcp, pp, int32(tB), int32(tH), int32(n), dz)
		wdz := make([]float32, tB*tH)
		for bb := 0; bb < tB; bb++ {
			for o := 0; o < n; o++ {
				g := float64(wdl[bb*n+o])
				db0[o] += float32(g)
				for k := 0; k < tH; k++ {
					dW0[o*tH+k] += float32(g * float64(wp[bb*tH+k]))
					wdz[bb*tH+k] += float32(g * float64(Wc[o*tH+k]))
				}
			}
		}
		for i := range wdz {
			wdz[i] *= 1 - wp[i]*wp[i]
		}
		relErr(t, "seq_head_bwd_w dW", d.read(dWp, n*tH), dW0, 1e-5)
		relErr(t, "seq_head_bwd_w db", d.read(dbp, n), db0, 1e-5)
		relErr(t, "seq_head_bwd_x", d.read(dz, tB*tH), wdz, 1e-5)

		gW0, gb0, dx0 := randn(rng, tH*tH, 1), randn(rng, tH, 1), randn(rng, T*tH, 1)
		gWp, gbp, dxp := d.f32(gW0), d.f32(gb0), d.f32(dx0)
		d.launch("pooler_bwd_w", elementwiseGrid(int64(tH*tH)), block1D, dz, xp, int32(tS), int32(tH), int32(tB), gWp, gbp)
		d.launch("pooler_bwd_x", elementwiseGrid(int64(tB*tH)), block1D, dz, Wp, int32(tS), int32(tH), int32(tB), dxp)
		for bb := 0; bb < tB; bb++ {
			for o := 0; o < tH; o++ {
				g := float64(wdz[bb*tH+o])
				gb0[o] += float32(g)
				for k := 0; k < tH; k++ {
					gW0[o*tH+k] += float32(g * float64(x[bb*tS*tH+k]))
					dx0[bb*tS*tH+k] += float32(g * float64(W[o*tH+k]))
				}
			}
		}
		relErr(t, "pooler_bwd_w dW", d.read(gWp, tH*tH), gW0, 1e-5)
		relErr(t, "pooler_bwd_w db", d.read(gbp, tH), gb0, 1e-5)
		relErr(t, "pooler_bwd_x", d.read(dxp, T*tH), dx0, 1e-5)
	}
}

func TestKernelAdamWWithClipping(t *testing.T) {
	d := newTestDevice(t, BF16)
	rng := newRNG()
	n := 300007
	p, g, m := randn(rng, n, 1), randn(rng, n, 0.01), randn(rng, n, 0.001)
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Abs(rng.NormFloat64())) * 1e-5
	}
	pp, gp, mp, vp, pg := d.f32(p), d.f32(g), d.f32(m), d.f32(v), d.gOut(n)
	parts, norm := d.alloc(4*normPartials), d.alloc(4)
	d.launch("sumsq_partial", [3]uint32{normPartials, 1, 1}, block1D, gp, int64(n), parts)
	lr, b1, b2, eps, wd, step := 1e-3, 0.9, 0.999, 1e-6, 0.01, 7
	bc1, bc2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
	wantNorm := math.Sqrt(kernels.SumSquares(g))
	maxNorm := wantNorm / 2
	d.launch("adamw", [3]uint32{264, 1, 1}, block1D, pp, gp, mp, vp, pg, int64(n), float32(b1), float32(b2), float32(eps), float32(lr*wd),
		float32(lr/bc1), float32(1/math.Sqrt(bc2)), parts, int32(normPartials), float32(maxNorm), norm)
	gotNorm := float64(d.read(norm, 1)[0])
	if math.Abs(gotNorm-wantNorm) > 1e-5*wantNorm {
		t.Errorf("gradient norm %g, want %g", gotNorm, wantNorm)
	}
	kernels.AdamW(p, g, m, v, lr, b1, b2, eps, wd, step, float32(maxNorm/wantNorm))
	relErr(t, "adamw p", d.read(pp, n), p, 1e-6)
	relErr(t, "adamw m", d.read(mp, n), m, 1e-5)
	relErr(t, "adamw v", d.read(vp, n), v, 1e-5)
	relErr(t, "adamw bf16 copy", d.readG(pg, n), fromBF16(toBF16(p)), 1e-2)
	for i, x := range d.read(gp, n) {
		if x != 0 {
			t.Fatalf("gradient %d not zeroed: %g", i, x)
		}
	}
}

// adamwTwin is the adamw kernel's contract on the host: the gradient norm
// from the sum-of-squares partials; a NaN or Inf norm leaves p, m and v (and
// the GEMM-typed copy) as they are and zeroes g; otherwise g is clipped to
// maxNorm (when > 0), p, m, v take one update and g is zeroed.
func adamwTwin(p, g, m, v, parts []float32, c kernels.AdamWCoef, maxNorm float32) float32 {
	var s float64
	for _, x := range parts {
		s += float64(x)
	}
	norm := float32(math.Sqrt(s))
	defer clear(g)
	if math.IsNaN(float64(norm)) || math.IsInf(float64(norm), 0) {
		return norm
	}
	clip := float32(1)
	if maxNorm > 0 && norm > maxNorm {
		clip = maxNorm / norm
	}
	for i := range p {
		gi := g[i] * clip
		m[i] = c.Beta1*m[i] + (1-c.Beta1)*gi
		v[i] = c.Beta2*v[i] + (1-c.Beta2)*gi*gi
		p[i] -= c.StepSize*m[i]/(float32(math.Sqrt(float64(v[i])))*c.InvSqrtBC2+c.Eps) + c.Decay*p[i]
	}
	return norm
}

// A non-finite gradient norm (a NaN or Inf among the partial sums, as a
// NaN gradient gives) makes adamw skip the update: weights, moments and
// the bf16 weight copy stay bit for bit, the gradients are zeroed and the
// norm written is the non-finite one (Engine.Step then reports it). A finite
// case checks the twin against the kernel too.
func TestKernelAdamWSkipsNonFiniteNorm(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		name   string
		gradAt float32 // poison one gradient with this (0: none)
		partAt float32 // or one uploaded partial sum (0: none)
	}{{"NaN gradient", nan, 0}, {"NaN partial sum", 0, nan}, {"Inf partial sum", 0, inf}, {"finite", 0, 0}}
	for _, tc := range cases {
		d := newTestDevice(t, BF16)
		rng := newRNG()
		n := 300007
		p, g, m := randn(rng, n, 1), randn(rng, n, 0.01), randn(rng, n, 0.001)
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Abs(rng.NormFloat64())) * 1e-5
		}
		if tc.gradAt != 0 {
			g[rng.IntN(n)] = tc.gradAt
		}
		pp, gp, mp, vp, pg := d.f32(p), d.f32(g), d.f32(m), d.f32(v), d.g(p)
		parts, norm := d.alloc(4*normPartials), d.alloc(4)
		d.launch("sumsq_partial", [3]uint32{normPartials, 1, 1}, block1D, gp, int64(n), parts)
		hostParts := d.read(parts, normPartials)
		if tc.partAt != 0 {
			hostParts[rng.IntN(normPartials)] = tc.partAt
			parts = d.f32(hostParts)
		}
		c := fnet.DefaultAdamW.Step(1e-3, 3)
		maxNorm := float32(0.5)
		d.launch("adamw", [3]uint32{264, 1, 1}, block1D, pp, gp, mp, vp, pg, int64(n), c.Beta1, c.Beta2, c.Eps, c.Decay, c.StepSize, c.InvSqrtBC2,
			parts, int32(normPartials), maxNorm, norm)
		p0, m0, v0 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
		wantNorm := adamwTwin(p, g, m, v, hostParts, c, maxNorm)
		gotNorm := d.read(norm, 1)[0]
		for i, x := range d.read(gp, n) {
			if x != 0 {
				t.Fatalf("%s: gradient %d not zeroed: %g", tc.name, i, x)
			}
		}
		if tc.name == "finite" {
			if math.Abs(float64(gotNorm-wantNorm)) > 1e-5*float64(wantNorm) {
				t.Errorf("finite: norm %g, twin %g", gotNorm, wantNorm)
			}
			relErr(t, "adamw p", d.read(pp, n), p, 1e-6)
			relErr(t, "adamw m", d.read(mp, n), m, 1e-5)
			relErr(t, "adamw v", d.read(vp, n), v, 1e-5)
			continue
		}
		if !math.IsNaN(float64(gotNorm)) && !math.IsInf(float64(gotNorm), 0) {
			t.Errorf("%s: norm %g written, want the non-finite one (twin %g)", tc.name, gotNorm, wantNorm)
		}
		same := func(what string, got, want []float32) {
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: %s[%d] changed: %g, was %g", tc.name, what, i, got[i], want[i])
				}
			}
		}
		same("twin p", p, p0) // the twin skipped too
		same("p", d.read(pp, n), p0)
		same("m", d.read(mp, n), m0)
		same("v", d.read(vp, n), v0)
		same("bf16 copy", d.readG(pg, n), fromBF16(toBF16(p0)))
	}
}

// The GEMM wrapper's row-major mapping, for every transpose combination
// and for the strided-batched form, against a float64 product.
func TestGemmRowMajorMapping(t *testing.T) {
	for _, prec := range []Precision{FP32, BF16} {
		d := newTestDevice(t, prec)
		rng := newRNG()
		M, N, K := 37, 53, 29
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			a, b := randn(rng, M*K, 1), randn(rng, K*N, 1)
			c0 := randn(rng, M*N, 1)
			lda, ldb := K, N
			if tr[0] {
				lda = M
			}
			if tr[1] {
				ldb = K
			}
			cp := d.f32(c0)
			err := d.s.cublas.gemm(d.blas, gemmCall{transA: tr[0], transB: tr[1], m: M, n: N, k: K, alpha: 0.5, beta: 2,
				a: gemmOperand{ptr: d.g(a), dtype: prec.gemmType(), ld: lda}, b: gemmOperand{ptr: d.g(b), dtype: prec.gemmType(), ld: ldb},
				c: gemmOperand{ptr: cp, dtype: cudaR32F, ld: N}, compute: prec.computeType()})
			if err != nil {
				t.Fatal(err)
			}
			ar, br := a, b
			if prec == BF16 {
				ar, br = fromBF16(toBF16(a)), fromBF16(toBF16(b))
			}
			want := make([]float32, M*N)
			for i := 0; i < M; i++ {
				for j := 0; j < N; j++ {
					var s float64
					for k := 0; k < K; k++ {
						av := ar[i*K+k]
						if tr[0] {
							av = ar[k*M+i]
						}
						bv := br[k*N+j]
						if tr[1] {
							bv = br[j*K+k]
						}
						s += float64(av) * float64(bv)
					}
					want[i*N+j] = float32(0.5*s + 2*float64(c0[i*N+j]))
				}
			}
			relErr(t, prec.String()+" gemm", d.read(cp, M*N), want, 1e-5)
		}
	}
}
