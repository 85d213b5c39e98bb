//go:build !pure

package kernels

/*
#cgo CFLAGS: -O3
#pragma GCC optimize ("no-math-errno", "no-trapping-math", "no-signed-zeros", "cx-limited-range")
#include <complex.h>

// One Stockham stage of the FFT (see fftStage.apply in fft.go, which this
// mirrors): y[q + s(r·p + k)] = ω^{pk} · Σ_j x[q + s(p + j·m)] ω_r^{jk}.
// The inner loop runs over s contiguous complex values, which GCC
// vectorises (AVX2+FMA in the x86-64-v3 clone).

typedef float _Complex cf;
#define CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

CLONES static void fft_stage2(const cf *restrict x, cf *restrict y, const cf *restrict tw, long m, long s) {
	for (long p = 0; p < m; p++) {
		cf w = tw[p];
		const cf *restrict x0 = x + s*p, *restrict x1 = x + s*(p+m);
		cf *restrict y0 = y + s*2*p, *restrict y1 = y0 + s;
		for (long q = 0; q < s; q++) {
			cf a = x0[q], b = x1[q];
			y0[q] = a + b;
			y1[q] = (a - b) * w;
		}
	}
}

CLONES static void fft_stage4(const cf *restrict x, cf *restrict y, const cf *restrict tw, long m, long s) {
	for (long p = 0; p < m; p++) {
		cf w1 = tw[3*p], w2 = tw[3*p+1], w3 = tw[3*p+2];
		const cf *restrict x0 = x + s*p, *restrict x1 = x + s*(p+m), *restrict x2 = x + s*(p+2*m), *restrict x3 = x + s*(p+3*m);
		cf *restrict y0 = y + s*4*p, *restrict y1 = y0 + s, *restrict y2 = y1 + s, *restrict y3 = y2 + s;
		for (long q = 0; q < s; q++) {
			cf a = x0[q], b = x1[q], c = x2[q], d = x3[q];
			cf apc = a + c, amc = a - c, bpd = b + d, t = b - d;
			cf bmd = CMPLXF(cimagf(t), -crealf(t)); // -i(b - d)
			y0[q] = apc + bpd;
			y1[q] = (amc + bmd) * w1;
			y2[q] = (apc - bpd) * w2;
			y3[q] = (amc - bmd) * w3;
		}
	}
}

CLONES static void fft_stage3(const cf *restrict x, cf *restrict y, const cf *restrict tw, long m, long s) {
	const float c1 = -0.5f, s3 = 0.86602540378443864676f;
	for (long p = 0; p < m; p++) {
		cf w1 = tw[2*p], w2 = tw[2*p+1];
		const cf *restrict x0 = x + s*p, *restrict x1 = x + s*(p+m), *restrict x2 = x + s*(p+2*m);
		cf *restrict y0 = y + s*3*p, *restrict y1 = y0 + s, *restrict y2 = y1 + s;
		for (long q = 0; q < s; q++) {
			cf a = x0[q], b = x1[q], c = x2[q];
			cf t = b + c, u = a + t * c1, d = b - c;
			cf v = CMPLXF(s3 * cimagf(d), -s3 * crealf(d));
			y0[q] = a + t;
			y1[q] = (u + v) * w1;
			y2[q] = (u - v) * w2;
		}
	}
}

CLONES static void fft_stage5(const cf *restrict x, cf *restrict y, const cf *restrict tw, long m, long s) {
	const float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;
	const float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;
	for (long p = 0; p < m; p++) {
		const cf *restrict w = tw + 4*p;
		cf *restrict yo = y + s*5*p;
		for (long q = 0; q < s; q++) {
			cf a = x[q+s*p], b = x[q+s*(p+m)], c = x[q+s*(p+2*m)], d = x[q+s*(p+3*m)], e = x[q+s*(p+4*m)];
			cf t1 = b + e, t2 = c + d, t3 = b - e, t4 = c - d;
			cf u1 = a + t1*c1 + t2*c2, u2 = a + t1*c2 + t2*c1;
			cf v1 = t3*s1 + t4*s2, v2 = t3*s2 - t4*s1;
			v1 = CMPLXF(cimagf(v1), -crealf(v1));
			v2 = CMPLXF(cimagf(v2), -crealf(v2));
			yo[q] = a + t1 + t2;
			yo[s+q] = (u1 + v1) * w[0];
			yo[2*s+q] = (u2 + v2) * w[1];
			yo[3*s+q] = (u2 - v2) * w[2];
			yo[4*s+q] = (u1 - v1) * w[3];
		}
	}
}

// returns 0 when the radix has no C version (the Go generic butterfly runs)
static int fft_stage(int radix, const float *x, float *y, const float *tw, long m, long s) {
	switch (radix) {
	case 2: fft_stage2((const cf *)x, (cf *)y, (const cf *)tw, m, s); return 1;
	case 3: fft_stage3((const cf *)x, (cf *)y, (const cf *)tw, m, s); return 1;
	case 4: fft_stage4((const cf *)x, (cf *)y, (const cf *)tw, m, s); return 1;
	case 5: fft_stage5((const cf *)x, (cf *)y, (const cf *)tw, m, s); return 1;
	}
	return 0;
}
*/
import "C"

import "unsafe"

// applyVec runs a stage in C; false means the caller must use the Go code.
func (st *fftStage) applyVec(x, y []complex64, s int) bool {
	return C.fft_stage(C.int(st.radix), (*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])),
		(*C.float)(unsafe.Pointer(&st.tw[0])), C.long(st.m), C.long(s)) == 1
}
