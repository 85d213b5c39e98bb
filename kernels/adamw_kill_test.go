package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// adamw64 is the textbook AdamW in float64 (torch.optim.AdamW; flax Adam
// with weight_decay): one update t with learning rate lr. The moments
// decay by β rounded to float32, as the kernel holds them (1 − 0.999 is
// 1.3e-5 off in float32); the bias corrections use β exactly.
func adamw64(p, g, m, v []float64, lr, beta1, beta2, eps, wd float64, t int, gscale float64) {
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := 1 - math.Pow(beta2, float64(t))
	b1, b2 := float64(float32(beta1)), float64(float32(beta2))
	for i := range p {
		gi := g[i] * gscale
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		mh, vh := m[i]/bc1, v[i]/bc2
		p[i] -= lr * (mh/(math.Sqrt(vh)+eps) + wd*p[i])
	}
}

// closeTo is NaN-safe: a NaN or Inf on either side fails.
func closeTo(got float32, want, rel, abs float64) bool {
	d := math.Abs(float64(got) - want)
	return d <= abs+rel*math.Abs(want)
}

// TestAdamWManyStepsVaryingGradients: a fresh gradient every step (so the
// moments' decay rates matter: with one repeated gradient m̂ = g for any
// β1), a learning rate that changes per step as a schedule's does, moments
// that start from a previous run's state, and a vector long enough to be
// split over workers; parameters and both moments must follow the float64
// textbook update, for two sets of hyperparameters.
func TestAdamWManyStepsVaryingGradients(t *testing.T) {
	for _, hp := range []struct {
		name                   string
		b1, b2, eps, wd, scale float64
		start                  int // step number of the first update (a resumed run)
	}{
		{"official", 0.9, 0.999, 1e-6, 0.01, 0.7, 1},
		{"short memory, large eps, resumed", 0.6, 0.9, 1e-2, 0.1, 1, 4},
	} {
		t.Run(hp.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(41, 42))
			n := 70001 // > 2×32768: several ParallelFor chunks and a ragged last one
			p := randSlice(rng, n, 1)
			m, v := make([]float32, n), make([]float32, n)
			if hp.start > 1 { // the moments of earlier steps
				for i := range m {
					m[i] = float32(rng.NormFloat64() * 0.1)
					v[i] = float32(rng.Float64() * 0.02)
				}
			}
			p64, m64, v64 := to64(p), to64(m), to64(v)
			p0 := to64(p)
			for k := range 6 {
				step := hp.start + k
				lr := 1e-3 * float64(k+1) / 3
				g := randSlice(rng, n, 1+float64(k))
				AdamW(p, g, m, v, lr, hp.b1, hp.b2, hp.eps, hp.wd, step, float32(hp.scale))
				adamw64(p64, to64(g), m64, v64, lr, hp.b1, hp.b2, hp.eps, hp.wd, step, hp.scale)
			}
			for i := range p {
				if !closeTo(p[i], p64[i], 1e-5, 1e-6) || !closeTo(m[i], m64[i], 1e-5, 1e-5) || !closeTo(v[i], v64[i], 1e-5, 1e-6) {
					t.Fatalf("element %d: p %v m %v v %v, textbook p %v m %v v %v", i, p[i], m[i], v[i], p64[i], m64[i], v64[i])
				}
			}
			// the updates are well above the tolerance, so a wrong one shows
			moved := 0
			for i := range p {
				if math.Abs(p64[i]-p0[i]) > 1e-4 {
					moved++
				}
			}
			if moved < n/2 {
				t.Fatalf("only %d of %d parameters moved by more than 1e-4", moved, n)
			}
		})
	}
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// TestAdamWCoefficients: the folded coefficients both engines use, by hand
// for t = 1 and t = 3.
func TestAdamWCoefficients(t *testing.T) {
	for _, tc := range []struct {
		t                       int
		stepSize, invSqrt, beta float64
	}{
		{1, 2e-3 / (1 - 0.8), 1 / math.Sqrt(1-0.99), 0.8},
		{3, 2e-3 / (1 - 0.8*0.8*0.8), 1 / math.Sqrt(1-0.99*0.99*0.99), 0.8},
	} {
		c := AdamWCoefficients(2e-3, 0.8, 0.99, 1e-7, 0.05, tc.t)
		if !closeTo(c.StepSize, tc.stepSize, 1e-6, 0) || !closeTo(c.InvSqrtBC2, tc.invSqrt, 1e-6, 0) ||
			c.Beta1 != 0.8 || c.Beta2 != 0.99 || c.Eps != 1e-7 || !closeTo(c.Decay, 2e-3*0.05, 1e-6, 0) {
			t.Errorf("t=%d: %+v, want step %v inv√bc2 %v decay %v", tc.t, c, tc.stepSize, tc.invSqrt, 2e-3*0.05)
		}
	}
}

// TestSumSquaresAgainstFloat64: every length around the 4-way unrolling
// (0..13), and a long one, against a plain float64 sum.
func TestSumSquaresAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1001} {
		x := randSlice(rng, n, 3)
		for i := range x {
			x[i] += float32(i % 3) // no two lengths share a sum by luck
		}
		want := 0.0
		for _, v := range x {
			want += float64(v) * float64(v)
		}
		got := SumSquares(x)
		if d := math.Abs(got - want); !(d <= 1e-12*want) {
			t.Errorf("n=%d: SumSquares = %v, want %v", n, got, want)
		}
	}
}
