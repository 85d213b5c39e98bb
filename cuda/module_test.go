package cuda

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

func TestKernelSourceSelectsPrecision(t *testing.T) {
	for _, p := range []Precision{BF16, TF32, FP32} {
		src := kernelSource(p)
		want := "#define GEMM_BF16 0\n"
		if p == BF16 {
			want = "#define GEMM_BF16 1\n"
		}
		if !strings.HasPrefix(src, want) {
			t.Errorf("%v: source starts %q", p, src[:30])
		}
	}
}

// The engine launches kernels by name; every name it uses must be an
// extern "C" __global__ function of the embedded source.
func TestEngineKernelNamesExistInSource(t *testing.T) {
	re := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`)
	defined := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(fnetKernelSource, -1) {
		defined[m[1]] = true
	}
	if len(defined) < 20 {
		t.Fatalf("found only %d kernels in the source", len(defined))
	}
	for _, name := range engineKernelNames {
		if !defined[name] {
			t.Errorf("engine uses kernel %q which the source does not define", name)
		}
	}
}

func TestCacheKeyChangesWithEveryInput(t *testing.T) {
	base := cacheKey("src", []string{"-a"}, "12.4", 12040, "H100", 9, 0)
	variants := []string{
		cacheKey("src2", []string{"-a"}, "12.4", 12040, "H100", 9, 0),
		cacheKey("src", []string{"-b"}, "12.4", 12040, "H100", 9, 0),
		cacheKey("src", []string{"-a"}, "12.5", 12040, "H100", 9, 0),
		cacheKey("src", []string{"-a"}, "12.4", 12050, "H100", 9, 0),
		cacheKey("src", []string{"-a"}, "12.4", 12040, "A100", 9, 0),
		cacheKey("src", []string{"-a"}, "12.4", 12040, "H100", 8, 0),
	}
	for i, v := range variants {
		if v == base {
			t.Errorf("variant %d has the same key", i)
		}
	}
	if base != cacheKey("src", []string{"-a"}, "12.4", 12040, "H100", 9, 0) {
		t.Error("key is not deterministic")
	}
}

func TestKernelCacheDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	uc := func() (string, error) { return "/home/u/.cache", nil }
	if d := kernelCacheDir(env(nil), uc); d != "/home/u/.cache/fnet-tui/cuda" {
		t.Errorf("default dir %q", d)
	}
	if d := kernelCacheDir(env(map[string]string{"FNET_CUDA_CACHE": "off"}), uc); d != "" {
		t.Errorf("off gave %q", d)
	}
	if d := kernelCacheDir(env(map[string]string{"FNET_CUDA_CACHE": "/tmp/k"}), uc); d != "/tmp/k" {
		t.Errorf("explicit dir gave %q", d)
	}
	if d := kernelCacheDir(env(nil), func() (string, error) { return "", errors.New("no home") }); d != "" {
		t.Errorf("no user cache gave %q", d)
	}
}

func TestPickTarget(t *testing.T) {
	cases := []struct {
		maj, min  int
		supported []int
		cubin     bool
		want      compileTarget
		err       bool
	}{
		{9, 0, []int{75, 80, 86, 89, 90}, true, compileTarget{"sm_90", true}, false},
		{10, 0, []int{75, 80, 86, 89, 90}, true, compileTarget{"compute_90", false}, false},
		{8, 6, nil, true, compileTarget{"sm_86", true}, false},
		{8, 6, nil, false, compileTarget{"compute_86", false}, false},
		{9, 0, []int{90, 80}, false, compileTarget{"compute_90", false}, false},
		{7, 0, []int{75, 80}, true, compileTarget{}, true},
	}
	for _, c := range cases {
		got, err := pickTarget(c.maj, c.min, c.supported, c.cubin)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("pickTarget(%d.%d, %v, %v) = %v, %v; want %v (error %v)", c.maj, c.min, c.supported, c.cubin, got, err, c.want, c.err)
		}
	}
	opts := nvrtcOptions(compileTarget{"sm_90", true})
	if opts[0] != "--gpu-architecture=sm_90" {
		t.Errorf("options %v", opts)
	}
	for _, o := range opts {
		if strings.Contains(o, "fast") {
			t.Errorf("fast-math option %q would break parity with the CPU", o)
		}
	}
}

func TestPackArgsLayout(t *testing.T) {
	k, err := packArgs(DevPtr(0x1234), int32(-5), uint32(7), float32(1.5), uint64(1<<40), int64(-2))
	if err != nil {
		t.Fatal(err)
	}
	if *(*uint64)(k.ptrs[0]) != 0x1234 || *(*int32)(k.ptrs[1]) != -5 || *(*uint32)(k.ptrs[2]) != 7 ||
		*(*float32)(k.ptrs[3]) != 1.5 || *(*uint64)(k.ptrs[4]) != 1<<40 || *(*int64)(k.ptrs[5]) != -2 {
		t.Fatal("packed values read back wrong")
	}
	if math.Float32bits(*(*float32)(unsafe.Pointer(&k.vals[3]))) != math.Float32bits(1.5) {
		t.Fatal("float packed wrong")
	}
	if _, err := packArgs(5); err == nil {
		t.Fatal("a plain Go int must be rejected (ambiguous C width)")
	}
}

func TestColsumChunksCoverRows(t *testing.T) {
	for _, rows := range []int{1, 31, 32, 33, 1000, 16384, 100000} {
		c, rpc := colsumChunks(rows)
		if c < 1 || c > 128 || rpc < 1 || c*rpc < rows || (c-1)*rpc >= rows {
			t.Errorf("rows %d: %d chunks of %d", rows, c, rpc)
		}
	}
}
