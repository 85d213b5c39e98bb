//go:build !pure

package kernels

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
// cgo allows few -f flags; these let GCC vectorise the float reductions
// (sums in a different order) without -ffast-math's finite-math assumptions.
#pragma GCC optimize ("no-math-errno", "no-trapping-math", "associative-math", "no-signed-zeros")
#include <math.h>
#include <stdint.h>

// Element-wise kernels the compiler vectorises (AVX2+FMA where the CPU has
// it, chosen at load time by GCC's target_clones; SSE2 otherwise). They
// compute the same functions as the Go versions in gelu.go, layernorm.go,
// softmax.go and adamw.go, which the pure-Go build uses and the tests
// compare them against.

#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

static inline float tanh_r(float x) {
	const float clamp = 7.90531110763549805f;
	x = x > clamp ? clamp : x;
	x = x < -clamp ? -clamp : x;
	float x2 = x * x;
	float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
	p = x2 * p + -8.60467152213735e-11f;
	p = x2 * p + 5.12229709037114e-08f;
	p = x2 * p + 1.48572235717979e-05f;
	p = x2 * p + 6.37261928875436e-04f;
	p = x2 * p + 4.89352455891786e-03f;
	p = x * p;
	float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
	q = x2 * q + 2.26843463243900e-03f;
	q = x2 * q + 4.89352518554385e-03f;
	return p / q;
}

CLONES static void c_gelu_fwd(const float *x, float *y, float *t, long n) {
	const float c = 0.7978845608028654f, a = 0.044715f;
	for (long i = 0; i < n; i++) {
		float v = x[i];
		float th = tanh_r(c * (v + a * v * v * v));
		t[i] = th;
		y[i] = 0.5f * v * (1.0f + th);
	}
}

CLONES static void c_gelu_bwd(const float *dy, const float *x, const float *t, float *dx, long n) {
	const float c = 0.7978845608028654f, a3 = 3.0f * 0.044715f;
	for (long i = 0; i < n; i++) {
		float v = x[i], th = t[i];
		float d = 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * c * (1.0f + a3 * v * v);
		dx[i] = dy[i] * d;
	}
}

CLONES static void c_tanh_fwd(const float *x, float *y, float *t, long n) {
	for (long i = 0; i < n; i++) {
		float th = tanh_r(x[i]);
		t[i] = th;
		y[i] = th;
	}
}

// rows [lo, hi) of an [n, h] LayerNorm(x + r)
CLONES static void c_layernorm_fwd(const float *x, const float *r, const float *g, const float *b,
		float *y, float *xhat, float *rstd, long lo, long hi, long h, float eps) {
	for (long i = lo; i < hi; i++) {
		const float *xi = x + i * h;
		float *xh = xhat + i * h, *yi = y + i * h;
		float sum = 0;
		if (r) {
			const float *ri = r + i * h;
			for (long j = 0; j < h; j++) { float s = xi[j] + ri[j]; xh[j] = s; sum += s; }
		} else {
			for (long j = 0; j < h; j++) { xh[j] = xi[j]; sum += xi[j]; }
		}
		float mean = sum / (float)h, sq = 0;
		for (long j = 0; j < h; j++) { float d = xh[j] - mean; xh[j] = d; sq += d * d; }
		float rs = 1.0f / sqrtf(sq / (float)h + eps);
		rstd[i] = rs;
		for (long j = 0; j < h; j++) { float nv = xh[j] * rs; xh[j] = nv; yi[j] = nv * g[j] + b[j]; }
	}
}

// rows [lo, hi): dx, and this chunk's sums of dgamma/dbeta into pg/pb (overwritten)
CLONES static void c_layernorm_bwd(const float *dy, const float *xhat, const float *rstd, const float *g,
		float *dx, float *pg, float *pb, long lo, long hi, long h) {
	for (long j = 0; j < h; j++) { pg[j] = 0; pb[j] = 0; }
	for (long i = lo; i < hi; i++) {
		const float *dyi = dy + i * h, *xh = xhat + i * h;
		float sg = 0, sgx = 0;
		for (long j = 0; j < h; j++) {
			float gd = dyi[j];
			pg[j] += gd * xh[j];
			pb[j] += gd;
			float gg = gd * g[j];
			sg += gg;
			sgx += gg * xh[j];
		}
		float mg = sg / (float)h, mgx = sgx / (float)h, rs = rstd[i];
		float *dxi = dx + i * h;
		for (long j = 0; j < h; j++) dxi[j] = rs * (dyi[j] * g[j] - mg - xh[j] * mgx);
	}
}

static inline float exp_r(float x) {
	// Cody-Waite reduction and a degree-6 polynomial, as Exp32; x <= 0 here
	x = x < -87.0f ? -87.0f : x;
	float n = floorf(x * 1.4426950408889634f + 0.5f);
	float r = x - n * 0.693359375f - n * -2.12194440e-4f;
	float p = 1.0f / 720;
	p = p * r + 1.0f / 120;
	p = p * r + 1.0f / 24;
	p = p * r + 1.0f / 6;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	union { int32_t i; float f; } u;
	u.i = ((int32_t)n + 127) << 23;
	return p * u.f;
}

// one row: writes probabilities, returns the sum of exp(x - max) and the max
// (by value: a Go pointer to a result would escape and allocate per call)
typedef struct { float sum, max; } softmax_stats;
CLONES static softmax_stats c_softmax_row(const float *row, float *pr, long v) {
	float mx = row[0];
	for (long j = 1; j < v; j++) mx = row[j] > mx ? row[j] : mx;
	float sum = 0;
	for (long j = 0; j < v; j++) { float e = exp_r(row[j] - mx); pr[j] = e; sum += e; }
	float inv = 1.0f / sum;
	for (long j = 0; j < v; j++) pr[j] *= inv;
	softmax_stats r = {sum, mx};
	return r;
}

CLONES static void c_add_bias(float *y, const float *b, long lo, long hi, long out) {
	for (long i = lo; i < hi; i++) {
		float *row = y + i * out;
		for (long j = 0; j < out; j++) row[j] += b[j];
	}
}

// column sums of rows [lo, hi) of d [n, out] into acc (added)
CLONES static void c_col_sums(const float *d, float *acc, long lo, long hi, long out) {
	for (long i = lo; i < hi; i++) {
		const float *row = d + i * out;
		for (long j = 0; j < out; j++) acc[j] += row[j];
	}
}

CLONES static void c_adamw(float *p, const float *g, float *m, float *v, long n,
		float b1, float b2, float step_size, float inv_sqrt_bc2, float eps, float decay, float gscale) {
	for (long i = 0; i < n; i++) {
		float gi = g[i] * gscale;
		float mi = b1 * m[i] + (1.0f - b1) * gi;
		float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) * inv_sqrt_bc2 + eps;
		p[i] -= step_size * mi / denom + decay * p[i];
	}
}
*/
import "C"

import "unsafe"

// vectorised reports that the C kernels are compiled in.
const vectorised = true

func fp(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func geluFwd(x, y, t []float32) { C.c_gelu_fwd(fp(x), fp(y), fp(t), C.long(len(x))) }
func geluBwd(dy, x, t, dx []float32) {
	C.c_gelu_bwd(fp(dy), fp(x), fp(t), fp(dx), C.long(len(x)))
}
func tanhFwd(x, y, t []float32) { C.c_tanh_fwd(fp(x), fp(y), fp(t), C.long(len(x))) }

func layerNormFwd(x, r, g, b, y, xhat, rstd []float32, lo, hi, h int, eps float32) {
	C.c_layernorm_fwd(fp(x), fp(r), fp(g), fp(b), fp(y), fp(xhat), fp(rstd), C.long(lo), C.long(hi), C.long(h), C.float(eps))
}

func layerNormBwd(dy, xhat, rstd, g, dx, pg, pb []float32, lo, hi, h int) {
	C.c_layernorm_bwd(fp(dy), fp(xhat), fp(rstd), fp(g), fp(dx), fp(pg), fp(pb), C.long(lo), C.long(hi), C.long(h))
}

func softmaxRow(row, pr []float32) (sum, mx float32) {
	r := C.c_softmax_row(fp(row), fp(pr), C.long(len(row)))
	return float32(r.sum), float32(r.max)
}

func addBias(y, b []float32, lo, hi, out int) {
	C.c_add_bias(fp(y), fp(b), C.long(lo), C.long(hi), C.long(out))
}

func colSums(d, acc []float32, lo, hi, out int) {
	C.c_col_sums(fp(d), fp(acc), C.long(lo), C.long(hi), C.long(out))
}

func adamwChunk(p, g, m, v []float32, b1, b2, stepSize, invSqrtBC2, eps, decay, gscale float32) {
	C.c_adamw(fp(p), fp(g), fp(m), fp(v), C.long(len(p)), C.float(b1), C.float(b2), C.float(stepSize), C.float(invSqrtBC2), C.float(eps), C.float(decay), C.float(gscale))
}
