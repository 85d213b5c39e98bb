package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// cxxStub declares what kernels/fnet.cu takes from CUDA, so a host C++
// compiler can check the source's syntax and types where NVRTC is not
// installed (a kernel source that NVRTC refuses fails every GPU test of a
// device session, so it is worth catching here).
const cxxStub = `#include <cmath>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
struct dim3s { unsigned x, y, z; };
extern dim3s threadIdx, blockIdx, blockDim, gridDim;
float __shfl_xor_sync(unsigned, float, int);
int __shfl_xor_sync(unsigned, int, int);
void __syncthreads();
float atomicAdd(float*, float);
double atomicAdd(double*, double);
unsigned __float_as_uint(float);
float __uint_as_float(unsigned);
using std::isfinite;
inline int min(int a, int b) { return a < b ? a : b; }
`

// The kernel source, in both GEMM_BF16 modes, through a host C++
// compiler's syntax and type check (g++ or clang++; skipped when neither is
// installed). NVRTC still compiles it for real on a device.
func TestKernelSourceParsesAsCxx(t *testing.T) {
	var cxx string
	for _, c := range []string{"g++", "clang++"} {
		if p, err := exec.LookPath(c); err == nil {
			cxx = p
			break
		}
	}
	if cxx == "" {
		t.Skip("no g++ or clang++ to check the kernel source with")
	}
	dir := t.TempDir()
	for _, p := range []Precision{FP32, BF16} {
		f := filepath.Join(dir, "fnet_"+p.String()+".cpp")
		if err := os.WriteFile(f, []byte(cxxStub+kernelSource(p)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(cxx, "-std=c++17", "-fsyntax-only", "-Wall", "-Wno-unknown-pragmas", "-Wno-unused-function", f).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("%s (%v): %v\n%s", filepath.Base(cxx), p, err, out)
		}
	}
}
