//go:build pure

package kernels

// The pure-Go build runs the Go versions of the element-wise kernels.

const vectorised = false

func geluFwd(x, y, t []float32)      { geluFwdGo(x, y, t) }
func geluBwd(dy, x, t, dx []float32) { geluBwdGo(dy, x, t, dx) }
func tanhFwd(x, y, t []float32)      { tanhFwdGo(x, y, t) }
func layerNormFwd(x, r, g, b, y, xhat, rstd []float32, lo, hi, h int, eps float32) {
	layerNormFwdGo(x, r, g, b, y, xhat, rstd, lo, hi, h, eps)
}
func layerNormBwd(dy, xhat, rstd, g, dx, pg, pb []float32, lo, hi, h int) {
	layerNormBwdGo(dy, xhat, rstd, g, dx, pg, pb, lo, hi, h)
}
func softmaxRow(row, pr []float32) (sum, mx float32) { return softmaxRowGo(row, pr) }
func addBias(y, b []float32, lo, hi, out int)        { addBiasGo(y, b, lo, hi, out) }
func colSums(d, acc []float32, lo, hi, out int)      { colSumsGo(d, acc, lo, hi, out) }
func adamwChunk(p, g, m, v []float32, b1, b2, stepSize, invSqrtBC2, eps, decay, gscale float32) {
	adamwGo(p, g, m, v, b1, b2, stepSize, invSqrtBC2, eps, decay, gscale)
}
