package kernels

import "math"

// LayerNormForward normalises each of the n rows of x [n, h] and writes
// y = x̂·gamma + beta. When r is non-nil the row is x + r first (the fused
// post-LN residual). xhat [n, h] and rstd [n] are saved for the backward pass.
// y may alias x or r.
func LayerNormForward(x, r, gamma, beta, y, xhat, rstd []float32, n, h int, eps float32) {
	ParallelFor(n, 16, func(lo, hi int) { layerNormFwd(x, r, gamma, beta, y, xhat, rstd, lo, hi, h, eps) })
}

// LayerNormBackward writes dx and adds
// the parameter gradients into dgamma, dbeta. partial must hold 2·h·Workers
// floats of scratch for the per-worker parameter sums, which are combined in
// a fixed order so results do not depend on scheduling.
func LayerNormBackward(dy, xhat, rstd, gamma, dx, dgamma, dbeta, partial []float32, n, h int) {
	chunks := ParallelForWorker(n, 16, func(w, lo, hi int) {
		layerNormBwd(dy, xhat, rstd, gamma, dx, partial[2*h*w:2*h*w+h], partial[2*h*w+h:2*h*w+2*h], lo, hi, h)
	})
	for w := 0; w < chunks; w++ {
		pg, pb := partial[2*h*w:2*h*w+h], partial[2*h*w+h:2*h*w+2*h]
		for j := 0; j < h; j++ {
			dgamma[j] += pg[j]
			dbeta[j] += pb[j]
		}
	}
}

func layerNormFwdGo(x, r, gamma, beta, y, xhat, rstd []float32, lo, hi, h int, eps float32) {
	for i := lo; i < hi; i++ {
		xi := x[i*h : i*h+h]
		xh := xhat[i*h : i*h+h]
		var sum float32
		if r != nil {
			ri := r[i*h : i*h+h]
			for j, v := range xi {
				s := v + ri[j]
				xh[j] = s
				sum += s
			}
		} else {
			for j, v := range xi {
				xh[j] = v
				sum += v
			}
		}
		mean := sum / float32(h)
		var sq float32
		for j, v := range xh {
			d := v - mean
			xh[j] = d
			sq += d * d
		}
		rs := float32(1 / math.Sqrt(float64(sq/float32(h)+eps)))
		rstd[i] = rs
		yi := y[i*h : i*h+h]
		for j, d := range xh {
			nv := d * rs
			xh[j] = nv
			yi[j] = nv*gamma[j] + beta[j]
		}
	}
}

// layerNormBwdGo handles rows [lo, hi), overwriting pg/pb with their
// parameter-gradient sums.
func layerNormBwdGo(dy, xhat, rstd, gamma, dx, pg, pb []float32, lo, hi, h int) {
	clear(pg)
	clear(pb)
	for i := lo; i < hi; i++ {
		dyi := dy[i*h : i*h+h]
		xh := xhat[i*h : i*h+h]
		var sumG, sumGX float32
		for j, g := range dyi {
			pg[j] += g * xh[j]
			pb[j] += g
			gg := g * gamma[j]
			sumG += gg
			sumGX += gg * xh[j]
		}
		mG, mGX := sumG/float32(h), sumGX/float32(h)
		rs := rstd[i]
		dxi := dx[i*h : i*h+h]
		for j, g := range dyi {
			dxi[j] = rs * (g*gamma[j] - mG - xh[j]*mGX)
		}
	}
}
