package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// attentionTwin is the textbook attention in float64, materialising every
// score and probability with plain loops, exactly as Hugging Face BERT
// writes it (scores + finfo(float32).min at pad keys, softmax, dropout,
// P̃·V), and its backward from the formulas:
//
//	dP̃ = D∘(dO Vᵀ); dS = P∘(dP̃ − rowsum(P∘dP̃)); dq = dS K/√d; dk = dSᵀ Q/√d; dv = P̃ᵀ dO
//
// with D[i,j] = keep(i·S+j)/(1−p) from the same counter hash. An example
// with no real key has constant scores: dS = 0 there (the documented choice).
func attentionTwin(q, k, v, mask, dctx []float32, B, S, H, nH int, drop AttentionDropout) (ctx, dq, dk, dv []float64) {
	d := H / nH
	n := B * S * H
	ctx, dq, dk, dv = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	at := func(x []float32, b, i, h, c int) float64 { return float64(x[(b*S+i)*H+h*d+c]) }
	inv := 1 / math.Sqrt(float64(d))
	for b := 0; b < B; b++ {
		allPad := true
		for j := 0; j < S; j++ {
			if mask[b*S+j] != 0 {
				allPad = false
			}
		}
		for h := 0; h < nH; h++ {
			P := make([][]float64, S)
			D := make([][]float64, S)
			for i := 0; i < S; i++ {
				P[i], D[i] = make([]float64, S), make([]float64, S)
				mx := math.Inf(-1)
				for j := 0; j < S; j++ {
					s := 0.0
					for c := 0; c < d; c++ {
						s += at(q, b, i, h, c) * at(k, b, j, h, c)
					}
					s *= inv
					if mask[b*S+j] == 0 {
						s += -math.MaxFloat32
					}
					P[i][j] = s
					mx = math.Max(mx, s)
				}
				sum := 0.0
				for j := range P[i] {
					P[i][j] = math.Exp(P[i][j] - mx)
					sum += P[i][j]
				}
				for j := range P[i] {
					P[i][j] /= sum
					D[i][j] = 1
					if drop.P > 0 {
						D[i][j] = 0
						if uint32(DropoutHash(drop.Seed, drop.Step, drop.Site(b, h), uint32(i*S+j))>>40) >= drop.Threshold {
							D[i][j] = 1 / (1 - drop.P)
						}
					}
				}
			}
			for i := 0; i < S; i++ {
				for c := 0; c < d; c++ {
					o := 0.0
					for j := 0; j < S; j++ {
						o += D[i][j] * P[i][j] * at(v, b, j, h, c)
					}
					ctx[(b*S+i)*H+h*d+c] = o
				}
			}
			if dctx == nil {
				continue
			}
			for i := 0; i < S; i++ {
				dPt := make([]float64, S)
				acc := 0.0
				for j := 0; j < S; j++ {
					for c := 0; c < d; c++ {
						dPt[j] += at(dctx, b, i, h, c) * at(v, b, j, h, c)
					}
					dPt[j] *= D[i][j]
					acc += P[i][j] * dPt[j]
				}
				for j := 0; j < S; j++ {
					dS := P[i][j] * (dPt[j] - acc)
					if allPad {
						dS = 0
					}
					for c := 0; c < d; c++ {
						dq[(b*S+i)*H+h*d+c] += dS * at(k, b, j, h, c) * inv
						dk[(b*S+j)*H+h*d+c] += dS * at(q, b, i, h, c) * inv
						dv[(b*S+j)*H+h*d+c] += D[i][j] * P[i][j] * at(dctx, b, i, h, c)
					}
				}
			}
		}
	}
	return
}

type attnCase struct {
	B, S, H, nH int
	pads        [][]int // per example, the pad positions
	tile        int     // attnTile for the fused run (0 = default)
}

func (c attnCase) String() string {
	return fmt.Sprintf("B%d_S%d_H%d_nH%d_tile%d", c.B, c.S, c.H, c.nH, c.tile)
}

func (c attnCase) mask() []float32 {
	m := make([]float32, c.B*c.S)
	for i := range m {
		m[i] = 1
	}
	for b, ps := range c.pads {
		for _, j := range ps {
			m[b*c.S+j] = 0
		}
	}
	return m
}

func attnTail(from, to int) []int {
	var r []int
	for j := from; j < to; j++ {
		r = append(r, j)
	}
	return r
}

func attnRand(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func attnTestDrop(p float64, nH int) AttentionDropout {
	if p == 0 {
		return AttentionDropout{}
	}
	// the fnet site layout (fnet.DropoutSiteAttention) for layer 2
	return AttentionDropout{P: p, Threshold: uint32(p * (1 << 24)), Seed: 1234, Step: 7,
		Site: func(b, h int) uint32 { return 1<<30 | 2<<20 | uint32(b*nH+h) }}
}

// maxErr is max |got − want| over max(1, max |want|): the error relative to
// the tensor's scale.
func attnErr(got []float32, want []float64) float64 {
	var e, m float64
	for i, w := range want {
		e = math.Max(e, math.Abs(float64(got[i])-w))
		m = math.Max(m, math.Abs(w))
	}
	return e / math.Max(1, m)
}

var attnCases = []attnCase{
	{B: 2, S: 7, H: 18, nH: 3, pads: [][]int{nil, {5, 6}}},                           // odd heads, d = 6
	{B: 3, S: 13, H: 12, nH: 4, pads: [][]int{attnTail(8, 13), {3, 4, 11, 12}, nil}}, // pads inside a row too
	{B: 1, S: 5, H: 4, nH: 1}, // one head
	{B: 2, S: 37, H: 10, nH: 2, pads: [][]int{attnTail(20, 37), {0, 36}}, tile: 5},         // tiles of 5 rows, pad [CLS]
	{B: 2, S: 300, H: 16, nH: 2, pads: [][]int{attnTail(211, 300), nil}},                   // two default tiles (256 + 44 rows)
	{B: 3, S: 6, H: 6, nH: 3, pads: [][]int{nil, attnTail(0, 6), attnTail(1, 6)}, tile: 4}, // an example with no real key
}

// TestAttentionMatchesTwin compares the fused forward and all three
// gradients with the float64 twin, with and without padding and dropout,
// and checks the results do not depend on the worker count.
func TestAttentionMatchesTwin(t *testing.T) {
	defer func(w, tile int) { Workers, attnTile = w, tile }(Workers, attnTile)
	worst := map[string]float64{}
	for ci, c := range attnCases {
		for _, p := range []float64{0, 0.3} {
			name := fmt.Sprintf("%v/p%g", c, p)
			rng := rand.New(rand.NewPCG(uint64(ci), 5))
			n := c.B * c.S * c.H
			q, k, v, dctx := attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1)
			mask := c.mask()
			drop := attnTestDrop(p, c.nH)
			wctx, wdq, wdk, wdv := attentionTwin(q, k, v, mask, dctx, c.B, c.S, c.H, c.nH, drop)

			attnTile = 256
			if c.tile > 0 {
				attnTile = c.tile
			}
			var ref [4][]float32
			for _, workers := range []int{1, 3} {
				Workers = workers
				ctx, dq, dk, dv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range dk { // garbage: every output element must be written
					dq[i], dk[i], dv[i], ctx[i] = float32(math.NaN()), 1e9, -1e9, 7
				}
				AttentionForward(q, k, v, mask, ctx, c.B, c.S, c.H, c.nH, drop)
				AttentionBackward(q, k, v, mask, ctx, dctx, dq, dk, dv, c.B, c.S, c.H, c.nH, drop)
				for gi, g := range []struct {
					name string
					got  []float32
					want []float64
				}{{"ctx", ctx, wctx}, {"dq", dq, wdq}, {"dk", dk, wdk}, {"dv", dv, wdv}} {
					e := attnErr(g.got, g.want)
					if !(e < 1e-5) {
						t.Errorf("%s workers=%d: %s differs from the twin by %.3g", name, workers, g.name, e)
					}
					worst[g.name] = math.Max(worst[g.name], e)
					if ref[gi] == nil {
						ref[gi] = g.got
					} else {
						for i := range g.got {
							if math.Float32bits(g.got[i]) != math.Float32bits(ref[gi][i]) {
								t.Fatalf("%s: %s[%d] with 3 workers %v, with 1 %v: not reproducible", name, g.name, i, g.got[i], ref[gi][i])
							}
						}
					}
				}
				// pad keys take no gradient (except in an example with no real key)
				for b := 0; b < c.B; b++ {
					for _, j := range attnPadsOf(c, b) {
						for x := 0; x < c.H; x++ {
							if i := (b*c.S+j)*c.H + x; dk[i] != 0 || dv[i] != 0 {
								t.Fatalf("%s: pad key b=%d j=%d has dk %v dv %v", name, b, j, dk[i], dv[i])
							}
						}
					}
				}
			}
		}
	}
	t.Logf("worst error vs the float64 twin (relative to each tensor's max): %v", worst)
}

// padsOf is example b's pads when it has a real key (else nil).
func attnPadsOf(c attnCase, b int) []int {
	if b >= len(c.pads) || len(c.pads[b]) == c.S {
		return nil
	}
	return c.pads[b]
}

// TestAttentionAllPadExample pins the no-real-key behaviour: uniform over
// all S keys (HF's finfo.min addition), finite, q and k without gradient.
func TestAttentionAllPadExample(t *testing.T) {
	B, S, H, nH := 1, 5, 4, 2
	rng := rand.New(rand.NewPCG(3, 3))
	n := B * S * H
	q, k, v, dctx := attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1)
	mask := make([]float32, B*S)
	ctx, dq, dk, dv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	AttentionForward(q, k, v, mask, ctx, B, S, H, nH, AttentionDropout{})
	AttentionBackward(q, k, v, mask, ctx, dctx, dq, dk, dv, B, S, H, nH, AttentionDropout{})
	for x := 0; x < H; x++ {
		mean := 0.0
		for j := 0; j < S; j++ {
			mean += float64(v[j*H+x]) / float64(S)
		}
		for i := 0; i < S; i++ {
			if got := ctx[i*H+x]; math.Abs(float64(got)-mean) > 1e-6 {
				t.Fatalf("ctx[%d,%d] = %v, want the mean of v %v", i, x, got, mean)
			}
		}
	}
	for i := range dq {
		if dq[i] != 0 || dk[i] != 0 || math.IsNaN(float64(dv[i])) || dv[i] == 0 {
			t.Fatalf("element %d: dq %v dk %v dv %v; want 0, 0, finite nonzero", i, dq[i], dk[i], dv[i])
		}
	}
}

// TestAttentionDropoutBits checks the contract the CUDA engine reproduces:
// with p > 0 and v = identity-like one-hot columns, ctx exposes P̃ directly,
// and P̃[i, j] is 0 exactly where DropoutHash(seed, step, Site(b,h), i·S+j)'s
// top 24 bits are below the threshold.
func TestAttentionDropoutBits(t *testing.T) {
	B, S, nH := 2, 8, 2
	H := nH * S // d = S: v_h = identity, so ctx_h = P̃_h
	n := B * S * H
	rng := rand.New(rand.NewPCG(9, 9))
	q, k := attnRand(rng, n, 0.3), attnRand(rng, n, 0.3)
	v := make([]float32, n)
	for b := 0; b < B; b++ {
		for h := 0; h < nH; h++ {
			for j := 0; j < S; j++ {
				v[(b*S+j)*H+h*S+j] = 1
			}
		}
	}
	mask := make([]float32, B*S)
	for i := range mask {
		mask[i] = 1
	}
	drop := attnTestDrop(0.4, nH)
	ctx := make([]float32, n)
	AttentionForward(q, k, v, mask, ctx, B, S, H, nH, drop)
	dropped := 0
	for b := 0; b < B; b++ {
		for h := 0; h < nH; h++ {
			site := 1<<30 | 2<<20 | uint32(b*nH+h)
			for i := 0; i < S; i++ {
				for j := 0; j < S; j++ {
					kept := uint32(DropoutHash(1234, 7, site, uint32(i*S+j))>>40) >= drop.Threshold
					got := ctx[(b*S+i)*H+h*S+j]
					if kept != (got != 0) {
						t.Fatalf("b=%d h=%d i=%d j=%d: P̃ = %v, hash says kept=%v", b, h, i, j, got, kept)
					}
					if !kept {
						dropped++
					}
				}
			}
		}
	}
	if f := float64(dropped) / float64(B*nH*S*S); math.Abs(f-0.4) > 0.1 {
		t.Errorf("dropped fraction %.3f, want about 0.4", f)
	}
}

// naiveAttention is the straightforward float32 version for the benchmark:
// the same BLAS calls and parallelism over (b, h), but it keeps P of
// every pair ([B·nH, S, S]) from the forward for the backward instead of
// recomputing it. No padding, no dropout.
type naiveAttention struct {
	P       []float32 // [B·nH, S, S] probabilities, saved by the forward
	dp      []float32 // [B·nH, S, S] dP, then dS
	B, S, H int
	nH      int
}

func (na *naiveAttention) forward(q, k, v, ctx []float32) {
	S, H, d := na.S, na.H, na.H/na.nH
	scale := float32(1 / math.Sqrt(float64(d)))
	ParallelFor(na.B*na.nH, 1, func(lo, hi int) {
		for pair := lo; pair < hi; pair++ {
			b, h := pair/na.nH, pair%na.nH
			off := b*S*H + h*d
			p := na.P[pair*S*S : (pair+1)*S*S]
			gemm1(false, true, S, S, d, scale, q[off:], H, k[off:], H, 0, p, S)
			for i := 0; i < S; i++ {
				softmaxRow(p[i*S:(i+1)*S], p[i*S:(i+1)*S])
			}
			gemm1(false, false, S, d, S, 1, p, S, v[off:], H, 0, ctx[off:], H)
		}
	})
}

func (na *naiveAttention) backward(q, k, v, dctx, dq, dk, dv []float32) {
	S, H, d := na.S, na.H, na.H/na.nH
	scale := float32(1 / math.Sqrt(float64(d)))
	ParallelFor(na.B*na.nH, 1, func(lo, hi int) {
		for pair := lo; pair < hi; pair++ {
			b, h := pair/na.nH, pair%na.nH
			off := b*S*H + h*d
			p, dp := na.P[pair*S*S:(pair+1)*S*S], na.dp[pair*S*S:(pair+1)*S*S]
			gemm1(true, false, S, d, S, 1, p, S, dctx[off:], H, 0, dv[off:], H)
			gemm1(false, true, S, S, d, 1, dctx[off:], H, v[off:], H, 0, dp, S)
			for i := 0; i < S; i++ {
				pr, dr := p[i*S:(i+1)*S], dp[i*S:(i+1)*S]
				var acc float32
				for j := range dr {
					acc += pr[j] * dr[j]
				}
				for j := range dr {
					dr[j] = pr[j] * (dr[j] - acc)
				}
			}
			gemm1(false, false, S, d, S, scale, dp, S, k[off:], H, 0, dq[off:], H)
			gemm1(true, false, S, d, S, scale, dp, S, q[off:], H, 0, dk[off:], H)
		}
	})
}

// TestNaiveAttentionMatchesTwin checks the benchmark's baseline.
func TestNaiveAttentionMatchesTwin(t *testing.T) {
	B, S, H, nH := 2, 9, 12, 3
	rng := rand.New(rand.NewPCG(4, 4))
	n := B * S * H
	q, k, v, dctx := attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1)
	na := &naiveAttention{P: make([]float32, B*nH*S*S), dp: make([]float32, B*nH*S*S), B: B, S: S, H: H, nH: nH}
	ctx, dq, dk, dv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	na.forward(q, k, v, ctx)
	na.backward(q, k, v, dctx, dq, dk, dv)
	mask := make([]float32, B*S)
	for i := range mask {
		mask[i] = 1
	}
	wctx, wdq, wdk, wdv := attentionTwin(q, k, v, mask, dctx, B, S, H, nH, AttentionDropout{})
	for _, g := range []struct {
		name string
		got  []float32
		want []float64
	}{{"ctx", ctx, wctx}, {"dq", dq, wdq}, {"dk", dk, wdk}, {"dv", dv, wdv}} {
		if e := attnErr(g.got, g.want); e > 2e-5 {
			t.Errorf("naive %s differs from the twin by %.3g", g.name, e)
		}
	}
}

// BenchmarkAttention times forward+backward at B=2, S=512, H=256, 4 heads:
// the fused recomputing kernels against the version that keeps P.
func BenchmarkAttention(b *testing.B) {
	B, S, H, nH := 2, 512, 256, 4
	rng := rand.New(rand.NewPCG(1, 1))
	n := B * S * H
	q, k, v, dctx := attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1), attnRand(rng, n, 1)
	ctx, dq, dk, dv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	mask := make([]float32, B*S)
	for i := range mask {
		mask[i] = 1
	}
	b.Run("fused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			AttentionForward(q, k, v, mask, ctx, B, S, H, nH, AttentionDropout{})
			AttentionBackward(q, k, v, mask, ctx, dctx, dq, dk, dv, B, S, H, nH, AttentionDropout{})
		}
	})
	b.Run("fused_pad25%_dropout0.1", func(b *testing.B) {
		m := append([]float32{}, mask...)
		for j := S * 3 / 4; j < S; j++ {
			m[j], m[S+j] = 0, 0
		}
		drop := attnTestDrop(0.1, nH)
		for i := 0; i < b.N; i++ {
			AttentionForward(q, k, v, m, ctx, B, S, H, nH, drop)
			AttentionBackward(q, k, v, m, ctx, dctx, dq, dk, dv, B, S, H, nH, drop)
		}
	})
	b.Run("naive_keeps_P", func(b *testing.B) {
		na := &naiveAttention{P: make([]float32, B*nH*S*S), dp: make([]float32, B*nH*S*S), B: B, S: S, H: H, nH: nH}
		for i := 0; i < b.N; i++ {
			na.forward(q, k, v, ctx)
			na.backward(q, k, v, dctx, dq, dk, dv)
		}
	})
}
