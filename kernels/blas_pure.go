//go:build pure

package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// impl is gonum's pure-Go BLAS: no cgo, a static binary, and several times
// slower matmuls than OpenBLAS.
var impl blas.Float32 = gonum.Implementation{}

// BLASName describes the BLAS in use.
func BLASName() string { return "pure-Go gonum BLAS (build tag pure: slower than OpenBLAS)" }

// gonum's BLAS parallelises internally.
const splitGemm = false

// PureGo reports whether this is the slower pure-Go build.
const PureGo = true

// SetThreads sets how many goroutines the kernels use (gonum's BLAS uses
// GOMAXPROCS).
func SetThreads(n int) {
	if n >= 1 {
		Workers = n
	}
}
