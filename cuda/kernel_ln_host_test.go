package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// simtStub gives kernels/*.cu what they take from CUDA so that a host C++
// compiler can build and run them: testdata/simt_ln_check.cpp defines the
// barriers and shuffles behind these declarations and runs each block's
// threads as std::threads.
const simtStub = `#include <algorithm>
#include <cmath>
#include <cstring>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define asm(...) ((void)0) /* tanh.approx in the bf16 FFN GELU: not run here */
struct dim3s { unsigned x, y, z; };
thread_local dim3s threadIdx, blockIdx;
dim3s blockDim, gridDim;
void __syncthreads();
float __shfl_xor_sync(unsigned, float, int);
int __shfl_xor_sync(unsigned, int, int);
inline float atomicAdd(float* p, float v) { float o = *p; *p += v; return o; }
inline double atomicAdd(double* p, double v) { double o = *p; *p += v; return o; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
using std::isfinite;
inline int min(int a, int b) { return a < b ? a : b; }
`

// The CUDA C of the fused LayerNorm and optimizer kernels, executed on the
// host by a host C++ compiler against the kernels it replaces (both from
// the embedded source: fnet.cu, layernorm.cu, optimizer.cu), in both
// GEMM_BF16 modes: ln_bwd_colsum_K's dx and dropout(dx) bit for bit equal
// to ln_bwd_reg's and its γ/β gradients within 1e-6 of colsum_ln's (another
// summation order), for every K, awkward H and rows, seq-major dropout rows
// and a split into few long chunks; ln_fwd_vec within 1e-6 of ln_fwd_reg
// (its lanes add in another order); sumsq_vec's partials' total within 1e-6
// of sumsq_partial's; adamw_vec's p, m, v, zeroed g and weight copy bit for
// bit adamw's from the same partials, also on a NaN gradient (skipped step).
// This runs the kernels' own source (unlike the emulator's Go twins), but
// not on a GPU: the kernel tests (kernel_ln_test.go) do that.
func TestFusedKernelsOnHostSIMT(t *testing.T) {
	runSIMTHarness(t, "simt_ln_check.cpp", simtStub, "fnet.cu", "layernorm.cu", "optimizer.cu")
}

// runSIMTHarness compiles kernel files (from kernels/, in order) under stub
// with a host harness from testdata, in both GEMM_BF16 modes (-short: bf16
// only, each build runs a thread per CUDA thread for 10-15 s), runs it, and
// fails on a FAIL line or a run that does not end in PASS; the bf16 build
// also checks the runtime's own exited-thread aborts (checkSIMTSelftest).
func runSIMTHarness(t *testing.T, harnessName, stub string, kernels ...string) {
	t.Helper()
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ to run the kernel source on the host with")
	}
	harness, err := os.ReadFile(filepath.Join("testdata", harnessName))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, name := range kernels {
		b, err := kernelFiles.ReadFile("kernels/" + name)
		if err != nil {
			t.Fatal(err)
		}
		src.WriteString("#line 1 \"" + name + "\"\n")
		src.Write(b)
		src.WriteString("\n")
	}
	dir, base := t.TempDir(), strings.TrimSuffix(harnessName, ".cpp")
	for _, bf16 := range []string{"1", "0"} {
		if testing.Short() && bf16 == "0" {
			continue
		}
		t.Run("GEMM_BF16="+bf16, func(t *testing.T) {
			cpp := filepath.Join(dir, base+"_"+bf16+".cpp")
			bin := filepath.Join(dir, base+"_"+bf16)
			code := "#define GEMM_BF16 " + bf16 + "\n" + stub + src.String() + "#line 1 \"" + harnessName + "\"\n" + string(harness)
			if err := os.WriteFile(cpp, []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
			// -ffp-contract=off: no fused multiply-adds, so "bit for bit"
			// compares the kernels' arithmetic, not the compiler's choices
			out, err := exec.Command(cxx, "-std=c++20", "-O1", "-ffp-contract=off", "-fno-strict-aliasing", "-pthread", "-I", testdataDir(t), "-o", bin, cpp).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", cxx, err, out)
			}
			out, err = exec.Command(bin).CombinedOutput()
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if strings.HasPrefix(line, "FAIL") {
					t.Error(line)
				} else {
					t.Log(line)
				}
			}
			if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
				t.Errorf("host run: %v", err)
			}
			if bf16 == "1" {
				checkSIMTSelftest(t, bin)
			}
		})
	}
}

// checkSIMTSelftest runs a SIMT harness binary's own check of its
// runtime: a __syncthreads after some threads of the block returned and a
// full-warp shuffle after one lane returned (both undefined on a GPU) must
// abort naming the kernel; threads returning after their last barrier and
// shuffle, a whole warp before the other's shuffles, must not.
func checkSIMTSelftest(t *testing.T, bin string) {
	t.Helper()
	for _, c := range []struct{ arg, want string }{
		{"sync", "kernel simt_selftest_sync, block (0,0,0): __syncthreads reached after 24 thread(s) of the block exited"},
		{"shfl", "kernel simt_selftest_shfl, block (0,0,0): a full-warp shuffle reached after 1 thread(s) of warp 0 exited"},
	} {
		out, err := exec.Command(bin, c.arg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "SIMT ABORT: "+c.want) {
			t.Errorf("the SIMT runtime let %s pass: %v\n%s", c.arg, err, out)
		}
	}
	if out, err := exec.Command(bin, "ok").CombinedOutput(); err != nil || !strings.Contains(string(out), "simt_selftest ok: no abort") {
		t.Errorf("the SIMT runtime refused a defined kernel: %v\n%s", err, out)
	}
}

// testdataDir is the absolute testdata folder: the harnesses include the
// SIMT runtime they share (testdata/simt_runtime.inc) from it, compiled
// from a temporary folder.
func testdataDir(t *testing.T) string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
