package cuda

import (
	"math"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

// The kernels the other architectures added, on a GPU, against float64
// CPU twins (skipped without a device, like every kernel test).

// softmaxTwin is attn_softmax_fwd and attn_softmax_bwd's contract in
// float64 for pairs [pair0, pair0+n): P = softmax(scale·scores) over the
// real keys (a pad key's probability 0; an all-pad example uniform), P̃ =
// keep·P/(1−p) with keep = fnet.DropoutKeep(seed, step, site + pair,
// i·S + j), and ds = scale·P∘(g − Σ P∘g) with g = keep·dpd/(1−p), 0 at pad
// keys.
func softmaxTwin(scores, dpd []float32, mask []int, pair0, n, heads, S int, scale float64, seed, step uint64, site uint32, p float64) (P, Pd, dS []float64) {
	P, Pd, dS = make([]float64, n*S*S), make([]float64, n*S*S), make([]float64, n*S*S)
	thr := fnet.DropoutThreshold(p)
	for lp := 0; lp < n; lp++ {
		pair := pair0 + lp
		b := pair / heads
		real := 0
		for j := 0; j < S; j++ {
			real += mask[b*S+j]
		}
		for i := 0; i < S; i++ {
			row := (lp*S + i) * S
			keep := func(j int) float64 {
				if p == 0 || fnet.DropoutKeep(seed, step, site+uint32(pair), uint32(i*S+j), thr) {
					return 1 / (1 - p)
				}
				return 0
			}
			mx := math.Inf(-1)
			for j := 0; j < S; j++ {
				if mask[b*S+j] != 0 || real == 0 {
					mx = math.Max(mx, scale*float64(scores[row+j]))
				}
			}
			var se float64
			for j := 0; j < S; j++ {
				switch {
				case real == 0:
					P[row+j] = 1
				case mask[b*S+j] != 0:
					P[row+j] = math.Exp(scale*float64(scores[row+j]) - mx)
				}
				se += P[row+j]
			}
			var delta float64
			for j := 0; j < S; j++ {
				P[row+j] /= se
				Pd[row+j] = keep(j) * P[row+j]
				delta += P[row+j] * keep(j) * float64(dpd[row+j])
			}
			for j := 0; j < S; j++ {
				if mask[b*S+j] != 0 {
					dS[row+j] = scale * P[row+j] * (keep(j)*float64(dpd[row+j]) - delta)
				}
			}
		}
	}
	return
}

func f64to32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// attn_softmax_fwd and attn_softmax_bwd on a chunk of pairs that starts
// mid-batch, S not a multiple of 32, pad keys at the end and inside a row,
// and an example with no real key: P and P̃ (and the dropout pattern, bit
// for bit) and dS against softmaxTwin; pad keys exactly 0, the all-pad
// example's rows uniform and its dS 0; P written in place over the scores.
func TestKernelAttentionSoftmax(t *testing.T) { onDevices(t, testAttentionSoftmax) }

func testAttentionSoftmax(t *testing.T, newDev func(Precision) *testDevice) {
	for _, prec := range []Precision{FP32, BF16} {
		d := newDev(prec)
		rng := newRNG()
		const B, heads, S = 4, 3, 37
		pair0, n := 2, 9 // pairs 2…10: examples 0 (heads 2), 1, 2, 3 (heads 0, 1)
		mask := make([]int, B*S)
		for b := 0; b < B; b++ {
			for j := 0; j < S; j++ {
				mask[b*S+j] = 1
			}
		}
		for j := S - 9; j < S; j++ {
			mask[1*S+j] = 0 // trailing pads
		}
		mask[1*S+4] = 0 // a pad inside the row
		for j := 0; j < S; j++ {
			mask[2*S+j] = 0 // no real key at all
		}
		scores := randn(rng, n*S*S, 3)
		dpd := randn(rng, n*S*S, 1)
		seed, step, p := rng.Uint64(), uint64(rng.IntN(1000)), 0.1
		site := fnet.DropoutSiteAttention(3, 0, 0, heads)
		scale := 1 / math.Sqrt(24)
		thr, dscale := fnet.DropoutThreshold(p), float32(1/(1-p))
		P, Pd, dS := softmaxTwin(scores, dpd, mask, pair0, n, heads, S, scale, seed, step, site, p)

		km, sp := d.i32(mask), d.f32(scores)
		pd := d.gOut(n * S * S)
		grid := warpRowGrid(n * S)
		d.launch("attn_softmax_fwd", grid, block1D, sp, km, int32(pair0), int32(n), int32(heads), int32(S), float32(scale),
			seed, step, site, thr, dscale, DevPtr(0), pd)
		gotPd := d.readG(pd, n*S*S)
		// in place: P over the scores
		d.launch("attn_softmax_fwd", grid, block1D, sp, km, int32(pair0), int32(n), int32(heads), int32(S), float32(scale),
			seed, step, site, thr, dscale, sp, pd)
		gotP := d.read(sp, n*S*S)
		tol := 1e-6
		if prec == BF16 {
			tol = 5e-3
		}
		relErr(t, prec.String()+" attn_softmax_fwd P", gotP, f64to32(P), 1e-6)
		relErr(t, prec.String()+" attn_softmax_fwd P̃", gotPd, f64to32(Pd), tol)
		for k := range P {
			lp, j := k/(S*S), k%S
			b := (pair0 + lp) / heads
			if (gotPd[k] == 0) != (Pd[k] == 0) {
				t.Fatalf("%v: P̃[%d] = %g, twin %g: the dropout pattern differs", prec, k, gotPd[k], Pd[k])
			}
			if b != 2 && mask[b*S+j] == 0 && gotP[k] != 0 {
				t.Fatalf("%v: pad key %d of example %d has probability %g", prec, j, b, gotP[k])
			}
			if b == 2 && math.Abs(float64(gotP[k])-1.0/S) > 1e-7 {
				t.Fatalf("%v: all-pad example: P = %g, want uniform %g", prec, gotP[k], 1.0/S)
			}
		}

		ds := d.gOut(n * S * S)
		d.launch("attn_softmax_bwd", grid, block1D, sp, d.f32(dpd), km, int32(pair0), int32(n), int32(heads), int32(S), float32(scale),
			seed, step, site, thr, dscale, ds)
		gotDS := d.readG(ds, n*S*S)
		// against the twin's dS from the device's own P (so only the
		// backward's arithmetic is measured)
		_, _, dS2 := softmaxTwinFromP(gotP, dpd, mask, pair0, n, heads, S, scale, seed, step, site, p)
		relErr(t, prec.String()+" attn_softmax_bwd dS", gotDS, f64to32(dS2), tol)
		relErr(t, prec.String()+" attn_softmax_bwd dS (twin's P)", gotDS, f64to32(dS), math.Max(tol, 1e-5))
		for k, v := range gotDS {
			lp, j := k/(S*S), k%S
			b := (pair0 + lp) / heads
			if mask[b*S+j] == 0 && v != 0 {
				t.Fatalf("%v: dS at pad key %d of example %d is %g", prec, j, b, v)
			}
		}
		// no dropout (thr 0): P̃ = P
		d.launch("attn_softmax_fwd", grid, block1D, d.f32(scores), km, int32(pair0), int32(n), int32(heads), int32(S), float32(scale),
			uint64(0), uint64(0), uint32(0), uint32(0), float32(1), DevPtr(0), pd)
		relErr(t, prec.String()+" attn_softmax_fwd without dropout", d.readG(pd, n*S*S), f64to32(P), tol)
	}
}

// softmaxTwinFromP is softmaxTwin's backward from given probabilities.
func softmaxTwinFromP(P32, dpd []float32, mask []int, pair0, n, heads, S int, scale float64, seed, step uint64, site uint32, p float64) (P, Pd, dS []float64) {
	dS = make([]float64, n*S*S)
	thr := fnet.DropoutThreshold(p)
	for lp := 0; lp < n; lp++ {
		pair := pair0 + lp
		b := pair / heads
		for i := 0; i < S; i++ {
			row := (lp*S + i) * S
			g := make([]float64, S)
			var delta float64
			for j := range g {
				if p == 0 || fnet.DropoutKeep(seed, step, site+uint32(pair), uint32(i*S+j), thr) {
					g[j] = float64(dpd[row+j]) / (1 - p)
				}
				delta += float64(P32[row+j]) * g[j]
			}
			for j := range g {
				if mask[b*S+j] != 0 {
					dS[row+j] = scale * float64(P32[row+j]) * (g[j] - delta)
				}
			}
		}
	}
	return nil, nil, dS
}

// embed_ln_drop_fwd (BERT's embeddings: no projection, dropout on the
// LayerNorm's output) against the CPU kernels, batch- and seq-major rows;
// the dropout indices are the batch-major ones either way.
func TestKernelEmbedLNDropout(t *testing.T) { onDevices(t, testEmbedLNDropout) }

func testEmbedLNDropout(t *testing.T, newDev func(Precision) *testDevice) {
	for _, prec := range []Precision{FP32, BF16} {
		d := newDev(prec)
		rng := newRNG()
		T := tB * tS
		word, pos, typ := randn(rng, tV*tH, 0.5), randn(rng, tS*tH, 0.5), randn(rng, 4*tH, 0.5)
		gamma, beta := randn(rng, tH, 1), randn(rng, tH, 1)
		ids, tt := randInts(rng, T, tV), randInts(rng, T, 4)
		seed, step, p := rng.Uint64(), uint64(rng.IntN(1000)), 0.1
		thr, sc := fnet.DropoutThreshold(p), float32(1/(1-p))
		sum := make([]float32, T*tH)
		kernels.EmbeddingForward(word, pos, typ, ids, tt, sum, tB, tS, tH)
		wy, wx, wr := make([]float32, T*tH), make([]float32, T*tH), make([]float32, T)
		kernels.LayerNormForward(sum, nil, gamma, beta, wy, wx, wr, T, tH, 1e-12)
		mask := make([]uint8, T*tH)
		kernels.DropoutForward(wy, wy, mask, seed, step, fnet.DropoutSiteEmbeddings, thr, p)
		wordP, posP, typP, gammaP, betaP := d.f32(word), d.f32(pos), d.f32(typ), d.f32(gamma), d.f32(beta)
		for _, seqMajor := range []bool{false, true} {
			idsD, ttD, dB := ids, tt, int32(0)
			if seqMajor {
				idsD, ttD, dB = toSeqMajor(ids, tB, tS), toSeqMajor(tt, tB, tS), tB
			}
			xhat, rstd, out, outG := d.alloc(4*T*tH), d.alloc(4*T), d.alloc(4*T*tH), d.gOut(T*tH)
			d.launch("embed_ln_drop_fwd", warpRowGrid(T), block1D, d.i32(idsD), d.i32(ttD), wordP, posP, typP, gammaP, betaP,
				int32(T), int32(tS), int32(tH), float32(1e-12), seed, step, uint32(fnet.DropoutSiteEmbeddings), thr, sc, xhat, rstd, out, outG, dB)
			back := func(x []float32) []float32 {
				if seqMajor {
					return fromSeqMajor(x, tB, tS)
				}
				return x
			}
			gotOut := back(d.read(out, T*tH))
			relErr(t, prec.String()+" embed_ln_drop_fwd out", gotOut, wy, 1e-5)
			relErr(t, prec.String()+" embed_ln_drop_fwd out (GEMM type)", back(d.readG(outG, T*tH)), wy, map[bool]float64{true: 5e-3, false: 1e-5}[prec == BF16])
			relErr(t, "embed_ln_drop_fwd xhat", back(d.read(xhat, T*tH)), wx, 1e-5)
			relErr(t, "embed_ln_drop_fwd rstd", back(d.read(rstd, T)), wr, 1e-5)
			for i, m := range mask {
				if (m == 0) != (gotOut[i] == 0) {
					t.Fatalf("seq-major %v: element %d: device %g, CPU mask %d", seqMajor, i, gotOut[i], m)
				}
			}
		}
	}
}

// axpy_f32, in place (the FF-only backward: dx = 2·dpre) and not.
func TestKernelAxpy(t *testing.T) { onDevices(t, testAxpy) }

func testAxpy(t *testing.T, newDev func(Precision) *testDevice) {
	d := newDev(FP32)
	rng := newRNG()
	n := 100003
	x, y := randn(rng, n, 1), randn(rng, n, 1)
	xp, yp := d.f32(x), d.f32(y)
	d.launch("axpy_f32", elementwiseGrid(int64(n)), block1D, xp, float32(-0.5), int64(n), yp)
	want := make([]float32, n)
	for i := range want {
		want[i] = y[i] - 0.5*x[i]
	}
	relErr(t, "axpy_f32", d.read(yp, n), want, 1e-7)
	d.launch("axpy_f32", elementwiseGrid(int64(n)), block1D, xp, float32(1), int64(n), xp)
	for i := range want {
		want[i] = 2 * x[i]
	}
	relErr(t, "axpy_f32 in place", d.read(xp, n), want, 0)
}
