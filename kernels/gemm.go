// Package kernels holds the numeric kernels of the CPU engine: matmuls on
// BLAS, the Fourier mixing (FFT and DFT-as-matmul), fused LayerNorm, tanh
// GELU, softmax cross-entropy, embedding gather/scatter and AdamW. They work
// on row-major float32 slices and are written to be called from gorgonia ops
// without allocating. Each has a simple, obviously-correct twin in the tests.
package kernels

import "gonum.org/v1/gonum/blas"

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, with
// op(X) = Xᵀ when the trans flag is set. A is m×k after op, B is k×n after
// op, C is m×n; lda, ldb, ldc are the row strides of the stored matrices.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	// Split C over the workers (each a single-threaded BLAS call) when the
	// product is big enough to be worth it: by rows when C is tall, by
	// columns when it is wide (the MLM decoder's [B·K, V]).
	if !splitGemm || Workers < 2 || float64(m)*float64(n)*float64(k) < gemmMinWork || (m < 2*gemmMinRows && n < 2*gemmMinRows) {
		impl.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m >= n {
		ParallelFor(m, gemmBlock(m, Workers), func(lo, hi int) {
			aOff := lo * lda // op(A) row i is A row i
			if transA {
				aOff = lo // op(A) row i is A column i
			}
			impl.Sgemm(ta, tb, hi-lo, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
		})
		return
	}
	ParallelFor(n, gemmBlock(n, Workers), func(lo, hi int) {
		bOff := lo // op(B) column j is B column j
		if transB {
			bOff = lo * ldb // op(B) column j is B row j
		}
		impl.Sgemm(ta, tb, m, hi-lo, k, alpha, a, lda, b[bOff:], ldb, beta, c[lo:], ldc)
	})
}

const (
	gemmMinRows = 16
	gemmMinWork = 1 << 18 // multiply-adds below which one thread is faster
)

// gemmBlock is the chunk ParallelFor gets: an even share of the rows (or
// columns), rounded up to a multiple of 16 (OpenBLAS's kernels work in panels).
func gemmBlock(m, workers int) int {
	per := (m + workers - 1) / workers
	return (per + 15) / 16 * 16
}

// MatMulNT computes C[m×n] (=|+=) A[m×k] · B[n×k]ᵀ: the Linear layer forward
// with B a weight stored [out, in]. accumulate adds into C.
func MatMulNT(m, n, k int, a, b, c []float32, accumulate bool) {
	Gemm(false, true, m, n, k, 1, a, k, b, k, beta(accumulate), c, n)
}

// MatMulNN computes C[m×n] (=|+=) A[m×k] · B[k×n].
func MatMulNN(m, n, k int, a, b, c []float32, accumulate bool) {
	Gemm(false, false, m, n, k, 1, a, k, b, n, beta(accumulate), c, n)
}

// MatMulTN computes C[m×n] (=|+=) A[k×m]ᵀ · B[k×n]: weight gradients.
func MatMulTN(m, n, k int, a, b, c []float32, accumulate bool) {
	Gemm(true, false, m, n, k, 1, a, m, b, n, beta(accumulate), c, n)
}

func beta(accumulate bool) float32 {
	if accumulate {
		return 1
	}
	return 0
}
