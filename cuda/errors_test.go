package cuda

import (
	"strings"
	"testing"
	"unsafe"
)

func TestErrorMessage(t *testing.T) {
	e := &Error{Lib: "CUDA", Func: "cuMemAlloc_v2", Code: 2, Name: statusName(driverErrorNames, "CUDA_ERROR", 2), Desc: "out of memory"}
	want := "CUDA: cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"
	if e.Error() != want {
		t.Fatalf("got %q, want %q", e.Error(), want)
	}
	e = &Error{Lib: "cuBLAS", Func: "cublasGemmEx", Code: 42, Name: statusName(cublasStatusNames, "CUBLAS_STATUS", 42)}
	if e.Error() != "cuBLAS: cublasGemmEx failed: CUBLAS_STATUS_42 (42)" {
		t.Fatalf("unknown code formatted as %q", e.Error())
	}
}

func TestStatusNamesAreConsistent(t *testing.T) {
	for table, prefix := range map[*map[int]string]string{&driverErrorNames: "CUDA_", &cublasStatusNames: "CUBLAS_STATUS_", &nvrtcResultNames: "NVRTC_", &nvmlReturnNames: "NVML_"} {
		for code, name := range *table {
			if !strings.HasPrefix(name, prefix) {
				t.Errorf("%d: %s lacks prefix %s", code, name, prefix)
			}
			if (code == 0) != strings.HasSuffix(name, "SUCCESS") {
				t.Errorf("%d: %s: only code 0 is success", code, name)
			}
		}
	}
}

func TestGoStringRoundTrip(t *testing.T) {
	b := cString("sm_90")
	if got := goString(uintptr(unsafe.Pointer(&b[0]))); got != "sm_90" {
		t.Fatalf("goString(cString) = %q", got)
	}
	if goString(0) != "" {
		t.Fatal("nil C string should read as empty")
	}
}
