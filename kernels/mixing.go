package kernels

import (
	"fmt"
	"math"
	"sync"
)

// MixMethod selects how the Fourier mixing is computed. Both give
// Y = Re(FFT2(X)) per example over (sequence, hidden), unnormalised.
type MixMethod int

const (
	// MixAuto picks the cheaper of the two for the shape (see ChooseMixMethod).
	MixAuto MixMethod = iota
	// MixFFT runs mixed-radix FFTs along both axes (any lengths).
	MixFFT
	// MixDFT multiplies by precomputed cos/sin DFT matrices on BLAS (the
	// official code's "TPU optimisation"): more flops, but GEMM-speed flops.
	MixDFT
)

func (m MixMethod) String() string {
	return [...]string{"auto", "fft", "dft"}[m]
}

// ParseMixMethod reads "auto", "fft" or "dft".
func ParseMixMethod(s string) (MixMethod, error) {
	switch s {
	case "", "auto":
		return MixAuto, nil
	case "fft":
		return MixFFT, nil
	case "dft", "matmul":
		return MixDFT, nil
	}
	return MixAuto, fmt.Errorf("unknown mixing method %q (want auto, fft or dft)", s)
}

// ChooseMixMethod picks FFT unless a length has a large prime factor, where
// the generic O(p²) butterfly makes the DFT matmul cheaper. Measured here
// (BenchmarkMix, 2 threads, OpenBLAS): the FFT beats the DFT matmul by
// 1.2x at B16 S128 H256, 1.6x at B8 S256 H512 and 1.6x at B2 S512 H768.
// The choice depends only on the shape, so runs and resumed runs are
// reproducible.
func ChooseMixMethod(S, H int) MixMethod {
	if largestPrimeFactor(S) > 13 || largestPrimeFactor(H) > 13 {
		return MixDFT
	}
	return MixFFT
}

func largestPrimeFactor(n int) int {
	worst := 1
	for n > 1 {
		r := smallestRadix(n)
		if r == 4 {
			r = 2
		}
		worst = max(worst, r)
		n /= r
	}
	return worst
}

// FourierMixer computes the FNet mixing for [B, S, H] tensors. It owns its
// plans, DFT matrices and per-worker scratch, so Mix does not allocate; it is
// safe for use by one goroutine at a time.
type FourierMixer struct {
	S, H   int
	Method MixMethod

	// FFT method
	planS, planH *fftPlan
	// DFT method
	dftH   []float32 // [H, 2·Hh]: cos then −sin columns, so X·dftH = [Re Z | Im Z]
	cosS   []float32 // [S, S]
	sinS   []float32 // [S, S]
	stage1 []float32 // [B·S, 2·Hh] grows with B

	mu      sync.Mutex
	scratch [][]complex64 // per worker
}

// NewFourierMixer prepares the mixing of [S, H] examples.
func NewFourierMixer(S, H int, method MixMethod) *FourierMixer {
	if method == MixAuto {
		method = ChooseMixMethod(S, H)
	}
	m := &FourierMixer{S: S, H: H, Method: method}
	switch method {
	case MixFFT:
		m.planS, m.planH = newFFTPlan(S), newFFTPlan(H)
	case MixDFT:
		Hh := H/2 + 1
		m.dftH = make([]float32, H*2*Hh)
		for n := 0; n < H; n++ {
			for k := 0; k < Hh; k++ {
				a := 2 * math.Pi * float64((n*k)%H) / float64(H)
				m.dftH[n*2*Hh+k] = float32(math.Cos(a))
				m.dftH[n*2*Hh+Hh+k] = float32(-math.Sin(a))
			}
		}
		m.cosS, m.sinS = make([]float32, S*S), make([]float32, S*S)
		for i := 0; i < S; i++ {
			for j := 0; j < S; j++ {
				a := 2 * math.Pi * float64((i*j)%S) / float64(S)
				m.cosS[i*S+j], m.sinS[i*S+j] = float32(math.Cos(a)), float32(math.Sin(a))
			}
		}
	default:
		panic("kernels: bad mix method")
	}
	return m
}

// Mix writes y = Re(FFT2(x)) for each of the B examples of x [B, S, H].
// x and y must not overlap. Because the map is self-adjoint, the same call
// computes the gradient: dx = Mix(dy).
func (m *FourierMixer) Mix(x, y []float32, B int) {
	n := B * m.S * m.H
	if len(x) < n || len(y) < n {
		panic(fmt.Sprintf("kernels: Mix needs %d values, got x %d y %d", n, len(x), len(y)))
	}
	if m.Method == MixDFT {
		m.mixDFT(x, y, B)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	per := m.fftScratchLen()
	if len(m.scratch) < Workers {
		m.scratch = make([][]complex64, Workers)
	}
	ParallelForWorker(B, 1, func(w, lo, hi int) {
		if len(m.scratch[w]) < per {
			m.scratch[w] = make([]complex64, per)
		}
		ws := m.scratch[w]
		ex := m.S * m.H
		for b := lo; b < hi; b++ {
			m.mixFFT(x[b*ex:(b+1)*ex], y[b*ex:(b+1)*ex], ws)
		}
	})
}

func (m *FourierMixer) fftScratchLen() int {
	S, H := m.S, m.H
	P := (S + 1) / 2
	Hh := H/2 + 1
	return H*P + S*Hh + max(H*P, S*Hh)
}

// mixFFT transforms one [S, H] example. Both passes are "vectorised": the
// hidden-axis FFT runs on all row pairs at once (rows packed two to a complex
// number), the sequence-axis FFT on all Hh frequency columns at once.
func (m *FourierMixer) mixFFT(x, y []float32, ws []complex64) {
	S, H := m.S, m.H
	P := (S + 1) / 2 // row pairs
	Hh := H/2 + 1
	// scratch: c [H][P] | z [S][Hh] | work for either transform
	c, z, work := ws[:H*P], ws[H*P:H*P+S*Hh], ws[H*P+S*Hh:]
	// pass 1: c[h][j] = x[2j][h] + i·x[2j+1][h]; FFT along h for every j.
	for j := 0; j < P; j++ {
		r0 := x[2*j*H : 2*j*H+H]
		if 2*j+1 < S {
			r1 := x[(2*j+1)*H : (2*j+1)*H+H]
			for h := 0; h < H; h++ {
				c[h*P+j] = complex(r0[h], r1[h])
			}
		} else {
			for h := 0; h < H; h++ {
				c[h*P+j] = complex(r0[h], 0)
			}
		}
	}
	m.planH.transform(c, work, P)
	// unpack the two real rows' spectra into z[s][k], k < Hh:
	// A = (C[k] + conj(C[-k]))/2, B = (C[k] - conj(C[-k]))/(2i).
	for k := 0; k < Hh; k++ {
		ck := c[k*P : k*P+P]
		nk := (H - k) % H
		cn := c[nk*P : nk*P+P]
		for j := 0; j < P; j++ {
			a, b := ck[j], conj64(cn[j])
			sum, diff := (a+b)*0.5, (a-b)*0.5
			z[2*j*Hh+k] = sum
			if 2*j+1 < S {
				z[(2*j+1)*Hh+k] = complex(imag(diff), -real(diff)) // diff / i
			}
		}
	}
	// pass 2: FFT along s for all Hh columns.
	m.planS.transform(z, work, Hh)
	// y[n][k] = Re W[n][k]; the other half from Hermitian symmetry:
	// y[n][H-k] = Re W[-n][k].
	for n := 0; n < S; n++ {
		row := y[n*H : n*H+H]
		wn := z[n*Hh : n*Hh+Hh]
		for k := 0; k < Hh; k++ {
			row[k] = real(wn[k])
		}
		wneg := z[((S-n)%S)*Hh : ((S-n)%S)*Hh+Hh]
		for k := 1; k <= H-Hh; k++ {
			row[H-k] = real(wneg[k])
		}
	}
}

func conj64(c complex64) complex64 { return complex(real(c), -imag(c)) }

// mixDFT: stage 1 is one GEMM over all B·S rows, [Re Z | Im Z] = X·[C_H | −S_H];
// stage 2 per example: P = C_S·Re Z, Q = S_S·Im Z, and Re W = P + Q for
// k < Hh, Re W[n][H−k] = (P − Q)[n][k] by symmetry (C_S even, S_S odd in n).
func (m *FourierMixer) mixDFT(x, y []float32, B int) {
	S, H := m.S, m.H
	Hh := H/2 + 1
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.stage1) < B*S*2*Hh {
		m.stage1 = make([]float32, B*S*2*Hh)
	}
	t := m.stage1[:B*S*2*Hh]
	MatMulNN(B*S, 2*Hh, H, x, m.dftH, t, false)
	if len(m.scratch) < 1 {
		m.scratch = make([][]complex64, 1)
	}
	// P and Q for one example, kept as float32 in a complex64 buffer's memory
	need := (2*S*Hh + 1) / 2
	if len(m.scratch[0]) < need {
		m.scratch[0] = make([]complex64, need)
	}
	pq := complexAsFloats(m.scratch[0][:need])
	p, q := pq[:S*Hh], pq[S*Hh:2*S*Hh]
	for b := 0; b < B; b++ {
		tb := t[b*S*2*Hh:]
		Gemm(false, false, S, Hh, S, 1, m.cosS, S, tb, 2*Hh, 0, p, Hh)
		Gemm(false, false, S, Hh, S, 1, m.sinS, S, tb[Hh:], 2*Hh, 0, q, Hh)
		yb := y[b*S*H : (b+1)*S*H]
		ParallelFor(S, 32, func(lo, hi int) {
			for n := lo; n < hi; n++ {
				row := yb[n*H : n*H+H]
				pr, qr := p[n*Hh:n*Hh+Hh], q[n*Hh:n*Hh+Hh]
				for k := 0; k < Hh; k++ {
					row[k] = pr[k] + qr[k]
				}
				for k := 1; k <= H-Hh; k++ {
					row[H-k] = pr[k] - qr[k]
				}
			}
		})
	}
}
