package kernels

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func naiveDFT(x []complex128) []complex128 {
	n := len(x)
	y := make([]complex128, n)
	for k := range y {
		for j, v := range x {
			y[k] += v * cmplx.Rect(1, -2*math.Pi*float64((j*k)%n)/float64(n))
		}
	}
	return y
}

func TestFFTPlanMatchesNaiveDFT(t *testing.T) {
	for _, vec := range []bool{true, false} { // the C stages (default build) and the Go ones
		useVecFFT = vec
		testFFTPlan(t)
	}
	useVecFFT = true
}

func testFFTPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 25, 32, 49, 60, 64, 77, 97, 128, 243, 768} {
		for _, width := range []int{1, 3} {
			x := make([]complex64, n*width)
			for i := range x {
				x[i] = complex(float32(rng.NormFloat64()), float32(rng.NormFloat64()))
			}
			want := make([][]complex128, width)
			for c := 0; c < width; c++ {
				col := make([]complex128, n)
				for i := 0; i < n; i++ {
					col[i] = complex128(x[i*width+c])
				}
				want[c] = naiveDFT(col)
			}
			newFFTPlan(n).transform(x, make([]complex64, n*width), width)
			var num, den float64
			for c := 0; c < width; c++ {
				for i := 0; i < n; i++ {
					d := complex128(x[i*width+c]) - want[c][i]
					num += real(d)*real(d) + imag(d)*imag(d)
					den += real(want[c][i])*real(want[c][i]) + imag(want[c][i])*imag(want[c][i])
				}
			}
			if rel := math.Sqrt(num / den); rel > 2e-6 {
				t.Errorf("n=%d width=%d vectorised=%v: relative L2 error %.3g", n, width, useVecFFT, rel)
			}
		}
	}
}

// dftMatrixMix is the direct formulation Y = C_S X C_H − S_S X S_H in float64.
func dftMatrixMix(x []float32, S, H int) []float64 {
	cs := func(n, a, b int) (float64, float64) {
		ang := 2 * math.Pi * float64((a*b)%n) / float64(n)
		return math.Cos(ang), math.Sin(ang)
	}
	// T1 = X C_H, T2 = X S_H
	t1, t2 := make([]float64, S*H), make([]float64, S*H)
	for s := 0; s < S; s++ {
		for k := 0; k < H; k++ {
			var a, b float64
			for h := 0; h < H; h++ {
				c, sn := cs(H, h, k)
				a += float64(x[s*H+h]) * c
				b += float64(x[s*H+h]) * sn
			}
			t1[s*H+k], t2[s*H+k] = a, b
		}
	}
	y := make([]float64, S*H)
	for n := 0; n < S; n++ {
		for k := 0; k < H; k++ {
			var v float64
			for s := 0; s < S; s++ {
				c, sn := cs(S, n, s)
				v += c*t1[s*H+k] - sn*t2[s*H+k]
			}
			y[n*H+k] = v
		}
	}
	return y
}

func relL2(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	return math.Sqrt(num / den)
}

func TestMixMatchesDFTMatrixFormulation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shapes := [][2]int{{1, 1}, {2, 2}, {1, 7}, {7, 1}, {3, 5}, {4, 6}, {5, 4}, {8, 16}, {9, 12}, {13, 11}, {16, 60}, {32, 64}, {17, 96}, {12, 768}}
	for _, sh := range shapes {
		S, H := sh[0], sh[1]
		for _, method := range []MixMethod{MixFFT, MixDFT} {
			B := 3
			x := make([]float32, B*S*H)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			y := make([]float32, B*S*H)
			m := NewFourierMixer(S, H, method)
			m.Mix(x, y, B)
			for b := 0; b < B; b++ {
				want := dftMatrixMix(x[b*S*H:(b+1)*S*H], S, H)
				if rel := relL2(y[b*S*H:(b+1)*S*H], want); rel > 3e-6 {
					t.Errorf("%v S=%d H=%d example %d: relative L2 error %.3g", method, S, H, b, rel)
				}
			}
		}
	}
}

// TestMixIsSelfAdjoint checks <Mix(x), g> = <x, Mix(g)>, which is why the
// backward pass is the same operation applied to the gradient.
func TestMixIsSelfAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, method := range []MixMethod{MixFFT, MixDFT} {
		S, H, B := 10, 24, 2
		x, g := make([]float32, B*S*H), make([]float32, B*S*H)
		for i := range x {
			x[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		mx, mg := make([]float32, len(x)), make([]float32, len(x))
		m := NewFourierMixer(S, H, method)
		m.Mix(x, mx, B)
		m.Mix(g, mg, B)
		var a, b float64
		for i := range x {
			a += float64(mx[i]) * float64(g[i])
			b += float64(x[i]) * float64(mg[i])
		}
		if math.Abs(a-b) > 1e-4*math.Abs(a) {
			t.Errorf("%v: <Mx,g> = %v, <x,Mg> = %v", method, a, b)
		}
	}
}

func TestChooseMixMethodIsDeterministic(t *testing.T) {
	for _, sh := range [][2]int{{128, 256}, {256, 512}, {512, 768}, {512, 1024}, {509, 768}} {
		a, b := ChooseMixMethod(sh[0], sh[1]), ChooseMixMethod(sh[0], sh[1])
		if a != b || a == MixAuto {
			t.Errorf("S=%d H=%d: %v then %v", sh[0], sh[1], a, b)
		}
	}
	if ChooseMixMethod(128, 256) != MixFFT || ChooseMixMethod(512, 768) != MixFFT || ChooseMixMethod(509, 768) != MixDFT {
		t.Error("smooth lengths should use the FFT, a length with a large prime factor the DFT matmul")
	}
	if _, err := ParseMixMethod("bogus"); err == nil {
		t.Error("bad method accepted")
	}
}

func BenchmarkMix(b *testing.B) {
	for _, sh := range [][3]int{{16, 128, 256}, {8, 256, 512}, {2, 512, 768}} {
		B, S, H := sh[0], sh[1], sh[2]
		for _, method := range []MixMethod{MixFFT, MixDFT} {
			b.Run(fmt.Sprintf("%v/B%d_S%d_H%d", method, B, S, H), func(b *testing.B) {
				x, y := make([]float32, B*S*H), make([]float32, B*S*H)
				for i := range x {
					x[i] = float32(i%17) - 8
				}
				m := NewFourierMixer(S, H, method)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m.Mix(x, y, B)
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
			})
		}
	}
}
