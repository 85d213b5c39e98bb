package cuda

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvrtcAPI holds NVRTC's entry points.
type nvrtcAPI struct {
	lib                                                      *library
	version, getNumSupportedArchs, getSupportedArchs         uintptr
	createProgram, compileProgram, destroyProgram            uintptr
	getProgramLogSize, getProgramLog, getCUBINSize, getCUBIN uintptr
	getPTXSize, getPTX, getErrorString                       uintptr
	major, minor                                             int
	archs                                                    []int // supported SM versions, e.g. 90
}

var (
	nvrtcOnce sync.Once
	nvrtcLib  *nvrtcAPI
	nvrtcErr  error
)

// nvrtcVersions lists NVRTC sonames to try; CUDA 11's carry a minor version.
func nvrtcVersions(driverMajor int) []string {
	var out []string
	for _, v := range libVersionOrder(driverMajor) {
		if v == "11" {
			out = append(out, "11.2", "11.1", "11.0")
			continue
		}
		out = append(out, v)
	}
	return out
}

func loadNVRTC(driverMajor int) (*nvrtcAPI, error) {
	nvrtcOnce.Do(func() {
		lib, err := openLibrary(libSpec{name: "NVRTC", stem: "libnvrtc", versions: nvrtcVersions(driverMajor), companions: []string{"libnvrtc-builtins"}})
		if err != nil {
			nvrtcErr = fmt.Errorf("NVRTC missing (needed to compile the kernels): %w", err)
			return
		}
		n := &nvrtcAPI{lib: lib}
		if err := lib.syms(map[string]*uintptr{
			"nvrtcVersion": &n.version, "nvrtcCreateProgram": &n.createProgram, "nvrtcCompileProgram": &n.compileProgram,
			"nvrtcDestroyProgram": &n.destroyProgram, "nvrtcGetProgramLogSize": &n.getProgramLogSize,
			"nvrtcGetProgramLog": &n.getProgramLog, "nvrtcGetPTXSize": &n.getPTXSize, "nvrtcGetPTX": &n.getPTX,
			"nvrtcGetErrorString": &n.getErrorString,
		}); err != nil {
			nvrtcErr = err
			return
		}
		// Optional: CUBIN output (11.1+) and the list of supported archs (11.2+).
		n.getCUBINSize, _ = lib.sym("nvrtcGetCUBINSize")
		n.getCUBIN, _ = lib.sym("nvrtcGetCUBIN")
		n.getNumSupportedArchs, _ = lib.sym("nvrtcGetNumSupportedArchs")
		n.getSupportedArchs, _ = lib.sym("nvrtcGetSupportedArchs")
		var maj, mnr int32
		if r, _, _ := purego.SyscallN(n.version, uintptr(unsafe.Pointer(&maj)), uintptr(unsafe.Pointer(&mnr))); r != 0 {
			nvrtcErr = n.check("nvrtcVersion", r)
			return
		}
		n.major, n.minor = int(maj), int(mnr)
		if n.getNumSupportedArchs != 0 && n.getSupportedArchs != 0 {
			var cnt int32
			if r, _, _ := purego.SyscallN(n.getNumSupportedArchs, uintptr(unsafe.Pointer(&cnt))); r == 0 && cnt > 0 {
				a := make([]int32, cnt)
				if r, _, _ := purego.SyscallN(n.getSupportedArchs, uintptr(unsafe.Pointer(&a[0]))); r == 0 {
					for _, x := range a {
						n.archs = append(n.archs, int(x))
					}
				}
			}
		}
		nvrtcLib = n
	})
	return nvrtcLib, nvrtcErr
}

func (n *nvrtcAPI) check(fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "NVRTC", Func: fn, Code: code, Name: statusName(nvrtcResultNames, "NVRTC_ERROR", code)}
	if p, _, _ := purego.SyscallN(n.getErrorString, uintptr(code)); p != 0 {
		e.Desc = goString(p)
	}
	return e
}

// compileTarget says what NVRTC should produce for a device: real machine
// code (CUBIN) for its own architecture when this NVRTC knows it, else PTX
// for the newest virtual architecture not above the device's, which the
// driver then compiles.
type compileTarget struct {
	arch  string // "sm_90" or "compute_86"
	cubin bool
}

// pickTarget chooses the target for compute capability major.minor given
// NVRTC's supported SM list (nil when this NVRTC cannot tell) and whether it
// can emit CUBIN.
func pickTarget(major, minor int, supported []int, canCUBIN bool) (compileTarget, error) {
	sm := major*10 + minor
	if len(supported) == 0 {
		if canCUBIN {
			return compileTarget{arch: fmt.Sprintf("sm_%d", sm), cubin: true}, nil
		}
		return compileTarget{arch: fmt.Sprintf("compute_%d", sm)}, nil
	}
	s := append([]int(nil), supported...)
	sort.Ints(s)
	for _, a := range s {
		if a == sm && canCUBIN {
			return compileTarget{arch: fmt.Sprintf("sm_%d", sm), cubin: true}, nil
		}
	}
	best := -1
	for _, a := range s {
		if a <= sm {
			best = a
		}
	}
	if best < 0 {
		return compileTarget{}, fmt.Errorf("NVRTC supports sm_%d..sm_%d, none at or below the device's sm_%d: install an older CUDA toolkit's NVRTC", s[0], s[len(s)-1], sm)
	}
	return compileTarget{arch: fmt.Sprintf("compute_%d", best)}, nil
}

// nvrtcOptions are the compiler options for a target. No fast-math: the
// kernels must match the CPU engine's expf/tanhf to float32 rounding.
func nvrtcOptions(t compileTarget) []string {
	return []string{
		"--gpu-architecture=" + t.arch,
		"--std=c++14",
		"--fmad=true",
		"--extra-device-vectorization",
		"-default-device",
		"-lineinfo",
	}
}

// compile turns CUDA C into an image the driver loads (CUBIN or PTX).
func (n *nvrtcAPI) compile(src, name string, t compileTarget) ([]byte, string, error) {
	csrc, cname := cString(src), cString(name)
	var prog uintptr
	r, _, _ := purego.SyscallN(n.createProgram, uintptr(unsafe.Pointer(&prog)), uintptr(unsafe.Pointer(&csrc[0])),
		uintptr(unsafe.Pointer(&cname[0])), 0, 0, 0)
	if err := n.check("nvrtcCreateProgram", r); err != nil {
		return nil, "", err
	}
	defer purego.SyscallN(n.destroyProgram, uintptr(unsafe.Pointer(&prog)))
	opts := nvrtcOptions(t)
	copts := make([][]byte, len(opts))
	ptrs := make([]uintptr, len(opts))
	for i, o := range opts {
		copts[i] = cString(o)
		ptrs[i] = uintptr(unsafe.Pointer(&copts[i][0]))
	}
	rc, _, _ := purego.SyscallN(n.compileProgram, prog, uintptr(len(ptrs)), uintptr(unsafe.Pointer(&ptrs[0])))
	runtime.KeepAlive(copts)
	log := n.programLog(prog)
	if err := n.check("nvrtcCompileProgram", rc); err != nil {
		return nil, log, fmt.Errorf("compiling %s for %s (%s): %w\n%s", name, t.arch, strings.Join(opts, " "), err, log)
	}
	sizeFn, getFn, what := n.getPTXSize, n.getPTX, "nvrtcGetPTX"
	if t.cubin {
		sizeFn, getFn, what = n.getCUBINSize, n.getCUBIN, "nvrtcGetCUBIN"
	}
	var size uint64
	r, _, _ = purego.SyscallN(sizeFn, prog, uintptr(unsafe.Pointer(&size)))
	if err := n.check(what+"Size", r); err != nil {
		return nil, log, err
	}
	img := make([]byte, size+1) // PTX must stay NUL-terminated for cuModuleLoadData
	r, _, _ = purego.SyscallN(getFn, prog, uintptr(unsafe.Pointer(&img[0])))
	if err := n.check(what, r); err != nil {
		return nil, log, err
	}
	return img, log, nil
}

func (n *nvrtcAPI) programLog(prog uintptr) string {
	var size uint64
	if r, _, _ := purego.SyscallN(n.getProgramLogSize, prog, uintptr(unsafe.Pointer(&size))); r != 0 || size <= 1 {
		return ""
	}
	buf := make([]byte, size)
	if r, _, _ := purego.SyscallN(n.getProgramLog, prog, uintptr(unsafe.Pointer(&buf[0]))); r != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00\n")
}
