package cuda

import (
	"strings"
	"testing"
)

// The CUDA C of the 16-byte FFN kernels (kernels/ffn.cu) executed on the
// host by a host C++ compiler against the scalar kernels they replace
// (kernels/fnet.cu), in both GEMM_BF16 modes: bias_gelu_v16's output,
// gelu_bwd_colsum_v16's du and chunk partials bit for bit equal to
// bias_gelu's and gelu_bwd_colsum's, every element written (outputs start
// as NaN), for F = 3072 and widths whose vector count fills no block or
// warp, odd rows, several row chunks. The harness
// (testdata/simt_ffn_check.cpp) runs each block's threads as std::threads
// behind simtStub (kernel_ln_host_test.go); the bf16 path's tanh.approx
// becomes the host's tanh (the same function in both kernels). This runs
// the kernels' own source, not on a GPU: TestKernelFusedGELUMatchesScalar
// does that.
func TestFFNKernelsOnHostSIMT(t *testing.T) {
	// fnet.cu's one asm statement is tanh_ffn's tanh.approx of x into y
	stub := strings.Replace(simtStub, "#define asm(...) ((void)0) /* tanh.approx in the bf16 FFN GELU: not run here */",
		"#define asm(...) (y = std::tanh(x)) /* tanh_ffn's tanh.approx.f32 y, x */", 1)
	if stub == simtStub {
		t.Fatal("simtStub no longer stubs asm as this test expects: update the replacement")
	}
	runSIMTHarness(t, "simt_ffn_check.cpp", stub, "fnet.cu", "ffn.cu")
}
