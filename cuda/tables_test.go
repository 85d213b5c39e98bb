package cuda

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

// hostMix applies the table formulation the GEMMs compute, in float64.
func hostMix(x []float64, S, H int) []float64 {
	hidden, cosS, negSinS := hostDFTTables(S, H)
	z := make([]float64, S*2*H)
	for s := 0; s < S; s++ {
		for j := 0; j < 2*H; j++ {
			var a float64
			for k := 0; k < H; k++ {
				a += x[s*H+k] * float64(hidden[k*2*H+j])
			}
			z[s*2*H+j] = a
		}
	}
	y := make([]float64, S*H)
	for i := 0; i < S; i++ {
		for j := 0; j < H; j++ {
			var a float64
			for s := 0; s < S; s++ {
				a += float64(cosS[i*S+s])*z[s*2*H+j] + float64(negSinS[i*S+s])*z[s*2*H+H+j]
			}
			y[i*H+j] = a
		}
	}
	return y
}

func TestDFTTablesGiveRealPartOfFFT2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	S, H := 6, 10
	x := make([]float64, S*H)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	got := hostMix(x, S, H)
	for k1 := 0; k1 < S; k1++ {
		for k2 := 0; k2 < H; k2++ {
			var want complex128
			for n1 := 0; n1 < S; n1++ {
				for n2 := 0; n2 < H; n2++ {
					ang := -2 * math.Pi * (float64(k1*n1)/float64(S) + float64(k2*n2)/float64(H))
					want += complex(x[n1*H+n2], 0) * cmplx.Exp(complex(0, ang))
				}
			}
			if d := math.Abs(got[k1*H+k2] - real(want)); d > 1e-5 {
				t.Fatalf("Y[%d,%d] = %g, Re(FFT2) = %g", k1, k2, got[k1*H+k2], real(want))
			}
		}
	}
}

func TestBF16RoundTrip(t *testing.T) {
	in := []float32{1, -2.5, 3.14159265, 1e-20, 65504, float32(math.Inf(1))}
	out := fromBF16(toBF16(in))
	for i := range in {
		rel := math.Abs(float64(out[i]-in[i])) / math.Max(math.Abs(float64(in[i])), 1e-30)
		if !math.IsInf(float64(in[i]), 0) && rel > 1.0/256 {
			t.Errorf("%g -> %g (rel %g)", in[i], out[i], rel)
		}
	}
	if out[0] != 1 || out[1] != -2.5 {
		t.Error("exactly representable values changed")
	}
	// Round to nearest even: 1 + 2^-8 is halfway between 1 and 1+2^-7.
	if got := fromBF16(toBF16([]float32{1 + 1.0/256}))[0]; got != 1 {
		t.Errorf("tie rounded to %g, want 1 (even)", got)
	}
	if nan := fromBF16(toBF16([]float32{float32(math.NaN())}))[0]; !math.IsNaN(float64(nan)) {
		t.Error("NaN did not stay NaN")
	}
}
