//go:build !pure

package kernels

// #cgo LDFLAGS: -lopenblas
// extern char* openblas_get_corename(void);
// extern char* openblas_get_config(void);
// extern int openblas_get_num_threads(void);
// extern void openblas_set_num_threads(int);
import "C"

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

// impl is the BLAS every matmul goes through: OpenBLAS via gonum's netlib
// cgo binding. OpenBLAS reads OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE and
// friends from the environment itself; we never set them.
var impl blas.Float32 = netlib.Implementation{}

func init() {
	// gorgonia's own matmuls (none on the hot path, but any built-in op a
	// user graph adds) use the same library.
	gorgonia.Use(netlib.Implementation{})
}

// BLASName describes the BLAS in use, e.g. "OpenBLAS 0.3.21 (Zen, 2 threads)".
func BLASName() string {
	return fmt.Sprintf("%s (%s core, %d threads)", firstWords(C.GoString(C.openblas_get_config()), 2),
		C.GoString(C.openblas_get_corename()), int(C.openblas_get_num_threads()))
}

// PureGo reports whether this is the slower pure-Go build.
const PureGo = false

func firstWords(s string, n int) string {
	words, start := 0, -1
	for i, r := range s + " " {
		if r == ' ' {
			if start >= 0 {
				words++
				if words == n {
					return s[:i]
				}
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return s
}

// SetThreads sets how many threads the kernels and OpenBLAS use (the
// OPENBLAS_* environment variables are left as the user set them).
func SetThreads(n int) {
	if n < 1 {
		return
	}
	Workers = n
	C.openblas_set_num_threads(C.int(n))
}
