package kernels

import (
	"fmt"
	"math"
	"math/cmplx"
)

// fftPlan is a mixed-radix Stockham autosort FFT of one length: radices 4,
// 2, 3 and 5 have hand-written butterflies, any other prime factor p uses a
// generic O(p²) butterfly. There is no bit reversal: each stage reads one
// buffer and writes the other.
//
// The plan transforms "vectors": every element of the sequence is a row of
// `width` complex numbers, transformed independently. width 1 is an ordinary
// FFT; width W transforms W interleaved columns at once, which is how the
// sequence axis of the Fourier mixing runs (the inner loop is then a
// contiguous row, and twiddles are amortised over it).
type fftPlan struct {
	n      int
	stages []fftStage
}

type fftStage struct {
	radix int
	m     int         // n_stage / radix: butterflies per stride group
	tw    []complex64 // tw[p*(radix-1)+k-1] = ω_{n_stage}^{p·k}, k = 1..radix-1
	rootP []complex64 // generic radix: ω_radix^j, j = 0..radix-1
}

func newFFTPlan(n int) *fftPlan {
	if n < 1 {
		panic(fmt.Sprintf("fft: length %d", n))
	}
	p := &fftPlan{n: n}
	rest := n
	for rest > 1 {
		r := smallestRadix(rest)
		st := fftStage{radix: r, m: rest / r}
		st.tw = make([]complex64, st.m*(r-1))
		for q := 0; q < st.m; q++ {
			for k := 1; k < r; k++ {
				st.tw[q*(r-1)+k-1] = omega(rest, q*k)
			}
		}
		if r != 2 && r != 3 && r != 4 && r != 5 {
			st.rootP = make([]complex64, r)
			for j := range st.rootP {
				st.rootP[j] = omega(r, j)
			}
		}
		p.stages = append(p.stages, st)
		rest /= r
	}
	return p
}

// smallestRadix prefers 4, then 2, 3, 5, then the smallest prime factor.
func smallestRadix(n int) int {
	switch {
	case n%4 == 0:
		return 4
	case n%2 == 0:
		return 2
	case n%3 == 0:
		return 3
	case n%5 == 0:
		return 5
	}
	for f := 7; f*f <= n; f += 2 {
		if n%f == 0 {
			return f
		}
	}
	return n
}

// omega is e^{-2πi·k/n} computed in float64 and rounded once.
func omega(n, k int) complex64 {
	k %= n
	a := -2 * math.Pi * float64(k) / float64(n)
	return complex64(cmplx.Rect(1, a))
}

// useVecFFT selects the C stages where the build has them; tests turn it
// off to compare with the Go stages.
var useVecFFT = true

// transform computes the forward DFT (e^{-2πi nk/N}, unnormalised) of x,
// viewed as n rows of width complex values, in place; work must hold as many
// values as x.
func (p *fftPlan) transform(x, work []complex64, width int) {
	src, dst := x, work
	s := width // stride between consecutive elements of the current sub-sequences
	for _, st := range p.stages {
		if !useVecFFT || !st.applyVec(src, dst, s) {
			st.apply(src, dst, s)
		}
		src, dst = dst, src
		s *= st.radix
	}
	if len(p.stages)%2 == 1 {
		copy(x, src)
	}
}

// apply runs one Stockham stage: for each group p and offset q < s,
// y[q + s(r·p + k)] = ω^{pk} · Σ_j x[q + s(p + j·m)] ω_r^{jk}.
func (st *fftStage) apply(x, y []complex64, s int) {
	m := st.m
	switch st.radix {
	case 2:
		for p := 0; p < m; p++ {
			w := st.tw[p]
			x0, x1 := x[s*p:s*p+s], x[s*(p+m):s*(p+m)+s]
			y0, y1 := y[s*2*p:s*2*p+s], y[s*(2*p+1):s*(2*p+1)+s]
			for q := range x0 {
				a, b := x0[q], x1[q]
				y0[q] = a + b
				y1[q] = (a - b) * w
			}
		}
	case 4:
		for p := 0; p < m; p++ {
			w1, w2, w3 := st.tw[3*p], st.tw[3*p+1], st.tw[3*p+2]
			x0, x1, x2, x3 := x[s*p:s*p+s], x[s*(p+m):s*(p+m)+s], x[s*(p+2*m):s*(p+2*m)+s], x[s*(p+3*m):s*(p+3*m)+s]
			o := s * 4 * p
			y0, y1, y2, y3 := y[o:o+s], y[o+s:o+2*s], y[o+2*s:o+3*s], y[o+3*s:o+4*s]
			for q := range x0 {
				a, b, c, d := x0[q], x1[q], x2[q], x3[q]
				apc, amc := a+c, a-c
				bpd, bmd := b+d, b-d
				// multiply (b - d) by -i
				bmdI := complex(imag(bmd), -real(bmd))
				y0[q] = apc + bpd
				y1[q] = (amc + bmdI) * w1
				y2[q] = (apc - bpd) * w2
				y3[q] = (amc - bmdI) * w3
			}
		}
	case 3:
		const c1 = -0.5
		s3 := float32(math.Sqrt(3) / 2)
		for p := 0; p < m; p++ {
			w1, w2 := st.tw[2*p], st.tw[2*p+1]
			x0, x1, x2 := x[s*p:s*p+s], x[s*(p+m):s*(p+m)+s], x[s*(p+2*m):s*(p+2*m)+s]
			o := s * 3 * p
			y0, y1, y2 := y[o:o+s], y[o+s:o+2*s], y[o+2*s:o+3*s]
			for q := range x0 {
				a, b, c := x0[q], x1[q], x2[q]
				t := b + c
				u := a + t*c1
				d := b - c
				// -i·sin(2π/3)·(b - c)
				v := complex(s3*imag(d), -s3*real(d))
				y0[q] = a + t
				y1[q] = (u + v) * w1
				y2[q] = (u - v) * w2
			}
		}
	case 5:
		c1 := float32(math.Cos(2 * math.Pi / 5))
		c2 := float32(math.Cos(4 * math.Pi / 5))
		s1 := float32(math.Sin(2 * math.Pi / 5))
		s2 := float32(math.Sin(4 * math.Pi / 5))
		for p := 0; p < m; p++ {
			tw := st.tw[4*p : 4*p+4]
			o := s * 5 * p
			for q := 0; q < s; q++ {
				a := x[q+s*p]
				b, c, d, e := x[q+s*(p+m)], x[q+s*(p+2*m)], x[q+s*(p+3*m)], x[q+s*(p+4*m)]
				t1, t2 := b+e, c+d
				t3, t4 := b-e, c-d
				u1 := a + t1*complex(c1, 0) + t2*complex(c2, 0)
				u2 := a + t1*complex(c2, 0) + t2*complex(c1, 0)
				// -i·(s1·t3 + s2·t4) and -i·(s2·t3 - s1·t4)
				v1 := t3*complex(s1, 0) + t4*complex(s2, 0)
				v2 := t3*complex(s2, 0) - t4*complex(s1, 0)
				v1 = complex(imag(v1), -real(v1))
				v2 = complex(imag(v2), -real(v2))
				y[o+q] = a + t1 + t2
				y[o+s+q] = (u1 + v1) * tw[0]
				y[o+2*s+q] = (u2 + v2) * tw[1]
				y[o+3*s+q] = (u2 - v2) * tw[2]
				y[o+4*s+q] = (u1 - v1) * tw[3]
			}
		}
	default:
		r := st.radix
		for p := 0; p < m; p++ {
			o := s * r * p
			for k := 0; k < r; k++ {
				var w complex64 = 1
				if k > 0 {
					w = st.tw[p*(r-1)+k-1]
				}
				yk := y[o+s*k : o+s*k+s]
				for q := range yk {
					var acc complex64
					for j := 0; j < r; j++ {
						acc += x[q+s*(p+j*m)] * st.rootP[(j*k)%r]
					}
					yk[q] = acc * w
				}
			}
		}
	}
}
