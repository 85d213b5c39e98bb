package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
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
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ to run the kernel source on the host with")
	}
	harness, err := os.ReadFile(filepath.Join("testdata", "simt_ffn_check.cpp"))
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, name := range []string{"fnet.cu", "ffn.cu"} {
		b, err := kernelFiles.ReadFile("kernels/" + name)
		if err != nil {
			t.Fatal(err)
		}
		src.WriteString("#line 1 \"" + name + "\"\n")
		src.Write(b)
		src.WriteString("\n")
	}
	// fnet.cu's one asm statement is tanh_ffn's tanh.approx of x into y
	stub := strings.Replace(simtStub, "#define asm(...) ((void)0) /* tanh.approx in the bf16 FFN GELU: not run here */",
		"#define asm(...) (y = std::tanh(x)) /* tanh_ffn's tanh.approx.f32 y, x */", 1)
	if stub == simtStub {
		t.Fatal("simtStub no longer stubs asm as this test expects: update the replacement")
	}
	dir := t.TempDir()
	for _, bf16 := range []string{"1", "0"} {
		if testing.Short() && bf16 == "0" {
			continue // ~12 s each (a thread per CUDA thread); -short keeps the bf16 build
		}
		t.Run("GEMM_BF16="+bf16, func(t *testing.T) {
			cpp := filepath.Join(dir, "simt_ffn_"+bf16+".cpp")
			bin := filepath.Join(dir, "simt_ffn_"+bf16)
			code := "#define GEMM_BF16 " + bf16 + "\n" + stub + src.String() + "#line 1 \"simt_ffn_check.cpp\"\n" + string(harness)
			if err := os.WriteFile(cpp, []byte(code), 0o644); err != nil {
				t.Fatal(err)
			}
			// -ffp-contract=off: "bit for bit" compares the kernels' arithmetic, not the compiler's contractions
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
