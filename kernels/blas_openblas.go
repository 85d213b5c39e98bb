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
	"os"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

// impl is the BLAS every matmul goes through: OpenBLAS via gonum's netlib
// cgo binding. OpenBLAS reads OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE and
// friends from the environment itself; we never set them.
var impl blas.Float32 = netlib.Implementation{}

// splitGemm is set when OpenBLAS runs single-threaded and Gemm splits rows
// over the workers instead.
var splitGemm bool

func init() {
	// gorgonia's own matmuls (none on the hot path, but any built-in op a
	// user graph adds) use the same library.
	gorgonia.Use(netlib.Implementation{})
	// OpenBLAS's thread pool spins (sched_yield) for a while after each
	// call, taking the cores from the element-wise kernels that run between
	// matmuls. Unless the user configured OpenBLAS's threads, run it
	// single-threaded and split each large matmul over our own workers.
	for _, v := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	C.openblas_set_num_threads(1)
	splitGemm = true
}

// BLASName describes the BLAS in use, e.g. "OpenBLAS 0.3.21 (Zen core)".
func BLASName() string {
	threads := fmt.Sprintf("%d threads", int(C.openblas_get_num_threads()))
	if splitGemm {
		threads = fmt.Sprintf("matmuls split over %d workers", Workers)
	}
	return fmt.Sprintf("%s (%s core, %s)", firstWords(C.GoString(C.openblas_get_config()), 2),
		C.GoString(C.openblas_get_corename()), threads)
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
	if !splitGemm {
		C.openblas_set_num_threads(C.int(n))
	}
}
