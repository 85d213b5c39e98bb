package kernels

import "math"

// The exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)): BERT's "gelu" (Hugging
// Face's hidden_act = "gelu", which the hub's BERT checkpoints use). FNet
// uses the tanh approximation (GELUForward); the two differ by up to 1e-3,
// enough to matter when a checkpoint trained with one runs with the other.

const invSqrt2 = 0.7071067811865476

// GELUErfForward writes y = x·Φ(x) and saves Φ(x) in phi for the backward
// pass. y may alias x.
func GELUErfForward(x, y, phi []float32) {
	ParallelFor(len(x), 1<<13, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			p := 0.5 * (1 + math.Erf(v*invSqrt2))
			phi[i] = float32(p)
			y[i] = float32(v * p)
		}
	})
}

// GELUErfBackward computes dx = dy·(Φ(x) + x·φ(x)), φ the standard normal
// density, from x and the saved Φ(x). dx may alias dy.
func GELUErfBackward(dy, x, phi, dx []float32) {
	const invSqrt2Pi = 0.3989422804014327
	ParallelFor(len(x), 1<<13, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(x[i])
			d := float64(phi[i]) + v*invSqrt2Pi*math.Exp(-0.5*v*v)
			dx[i] = dy[i] * float32(d)
		}
	})
}
