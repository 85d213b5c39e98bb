package kernels

import "math"

// AdamW applies one decoupled-weight-decay Adam update in place:
//
//	m ← β1·m + (1−β1)·g·gscale      v ← β2·v + (1−β2)·(g·gscale)²
//	p ← p − lr·( m̂/(√v̂ + eps) + wd·p ),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
//
// with t the 1-based step. This is flax.optim.Adam with weight_decay (the
// official FNet optimizer) and torch.optim.AdamW alike. gscale folds
// gradient clipping into the same pass.
func AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float64, t int, gscale float32) {
	c := AdamWCoefficients(lr, beta1, beta2, eps, wd, t)
	ParallelFor(len(p), 1<<15, func(lo, hi int) {
		adamwChunk(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], c.Beta1, c.Beta2, c.StepSize, c.InvSqrtBC2, c.Eps, c.Decay, gscale)
	})
}

// AdamWCoef holds one update's coefficients as the CPU and GPU kernels
// take them, with the bias corrections folded in:
//
//	m ← β1·m + (1−β1)·g      v ← β2·v + (1−β2)·g²
//	p ← p − StepSize·m/(√v·InvSqrtBC2 + Eps) − Decay·p
//
// which is p −= lr·(m̂/(√v̂ + eps) + wd·p). Both engines compute them here.
type AdamWCoef struct {
	Beta1, Beta2, Eps float32
	StepSize          float32 // lr / (1 − β1^t)
	InvSqrtBC2        float32 // 1 / √(1 − β2^t)
	Decay             float32 // lr · weight decay
}

// AdamWCoefficients returns the coefficients of update t (1-based).
func AdamWCoefficients(lr, beta1, beta2, eps, wd float64, t int) AdamWCoef {
	bc1 := 1 - math.Pow(beta1, float64(t))
	bc2 := 1 - math.Pow(beta2, float64(t))
	return AdamWCoef{
		Beta1: float32(beta1), Beta2: float32(beta2), Eps: float32(eps),
		StepSize: float32(lr / bc1), InvSqrtBC2: float32(1 / math.Sqrt(bc2)), Decay: float32(lr * wd),
	}
}

func adamwGo(p, g, m, v []float32, b1, b2, stepSize, invSqrtBC2, e, decay, gscale float32) {
	for i := range p {
		gi := g[i] * gscale
		mi := b1*m[i] + (1-b1)*gi
		vi := b2*v[i] + (1-b2)*gi*gi
		m[i], v[i] = mi, vi
		denom := sqrt32(vi)*invSqrtBC2 + e
		p[i] -= stepSize*mi/denom + decay*p[i]
	}
}

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// SumSquares returns Σ x² in float64 (for the global gradient norm).
func SumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
		s2 += float64(x[i+2]) * float64(x[i+2])
		s3 += float64(x[i+3]) * float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return s0 + s1 + s2 + s3
}
