package cuda

import (
	"strings"
	"testing"
)

func TestParseSignatures(t *testing.T) {
	sigs, err := parseSignatures(`extern "C" __global__ void k(const float* x, long long n, int C, u32 thr, u64 seed, float s, gemm_t* out) {}
extern "C" __global__ void
  other() {}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []argKind{argPtr, argI64, argI32, argI32, argI64, argF32, argPtr}
	got := sigs["k"]
	if len(got) != len(want) {
		t.Fatalf("k: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("k param %d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parseSignatures(`extern "C" __global__ void bad(double x) {}`); err == nil {
		t.Error("a double parameter was accepted")
	}
}

func TestEmbeddedKernelSignaturesParse(t *testing.T) {
	sigs, err := kernelSignatures()
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs["adamw"]) != 16 || len(sigs["ln_fwd_reg"]) != 18 {
		t.Errorf("adamw has %d parameters, ln_fwd_reg %d", len(sigs["adamw"]), len(sigs["ln_fwd_reg"]))
	}
}

func TestCheckArgsCatchesMismatches(t *testing.T) {
	if err := checkArgs("f32_to_g", []any{DevPtr(1), int64(5), DevPtr(2)}); err != nil {
		t.Errorf("a correct launch was refused: %v", err)
	}
	if err := checkArgs("f32_to_g", []any{DevPtr(1), int32(5), DevPtr(2)}); err == nil {
		t.Error("an int32 for a long long parameter was accepted")
	}
	if err := checkArgs("f32_to_g", []any{DevPtr(1), int64(5)}); err == nil || !strings.Contains(err.Error(), "takes 3 arguments") {
		t.Errorf("a short launch gave %v", err)
	}
	if err := checkArgs("no_such_kernel", nil); err == nil {
		t.Error("an unknown kernel was accepted")
	}
}
