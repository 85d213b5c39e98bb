package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvmlAPI is NVIDIA's management library, for utilisation and memory
// figures that the CUDA API does not give.
type nvmlAPI struct {
	lib                                                  *library
	init, driverVersion, handleByBusID, utilization, mem uintptr
	errorString                                          uintptr
}

var (
	nvmlOnce sync.Once
	nvmlLib  *nvmlAPI
	nvmlErr  error
)

func loadNVML() (*nvmlAPI, error) {
	nvmlOnce.Do(func() {
		lib, err := openLibrary(libSpec{name: "NVML", stem: "libnvidia-ml", versions: []string{"1", ""}})
		if err != nil {
			nvmlErr = err
			return
		}
		n := &nvmlAPI{lib: lib}
		if err := lib.syms(map[string]*uintptr{
			"nvmlInit_v2": &n.init, "nvmlSystemGetDriverVersion": &n.driverVersion,
			"nvmlDeviceGetHandleByPciBusId_v2": &n.handleByBusID, "nvmlDeviceGetUtilizationRates": &n.utilization,
			"nvmlDeviceGetMemoryInfo": &n.mem, "nvmlErrorString": &n.errorString,
		}); err != nil {
			nvmlErr = err
			return
		}
		r, _, _ := purego.SyscallN(n.init)
		if err := n.check("nvmlInit_v2", r); err != nil {
			nvmlErr = err
			return
		}
		nvmlLib = n
	})
	return nvmlLib, nvmlErr
}

func (n *nvmlAPI) check(fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "NVML", Func: fn, Code: code, Name: statusName(nvmlReturnNames, "NVML_ERROR", code)}
	if p, _, _ := purego.SyscallN(n.errorString, uintptr(code)); p != 0 {
		e.Desc = goString(p)
	}
	return e
}

func (n *nvmlAPI) systemDriverVersion() (string, error) {
	buf := make([]byte, 96)
	r, _, _ := purego.SyscallN(n.driverVersion, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
	if err := n.check("nvmlSystemGetDriverVersion", r); err != nil {
		return "", err
	}
	return goString(uintptr(unsafe.Pointer(&buf[0]))), nil
}

// GPUUsage is one NVML reading for a device.
type GPUUsage struct {
	Util      float64 // fraction of the last sample period a kernel ran, 0..1
	MemUsed   uint64  // bytes in use on the device (all processes)
	MemTotal  uint64
	MemoryBus float64 // fraction of time device memory was read or written
}

// MemUsedGiB is MemUsed in GiB, as metrics.jsonl's gpu_mem_gib wants it.
func (u GPUUsage) MemUsedGiB() float64 { return float64(u.MemUsed) / (1 << 30) }

func (n *nvmlAPI) usage(pciBusID string) (GPUUsage, error) {
	var dev uintptr
	id := cString(pciBusID)
	r, _, _ := purego.SyscallN(n.handleByBusID, uintptr(unsafe.Pointer(&id[0])), uintptr(unsafe.Pointer(&dev)))
	if err := n.check("nvmlDeviceGetHandleByPciBusId_v2", r); err != nil {
		return GPUUsage{}, fmt.Errorf("NVML device %s: %w", pciBusID, err)
	}
	var util struct{ GPU, Memory uint32 }
	r, _, _ = purego.SyscallN(n.utilization, dev, uintptr(unsafe.Pointer(&util)))
	if err := n.check("nvmlDeviceGetUtilizationRates", r); err != nil {
		return GPUUsage{}, err
	}
	var mem struct{ Total, Free, Used uint64 }
	r, _, _ = purego.SyscallN(n.mem, dev, uintptr(unsafe.Pointer(&mem)))
	if err := n.check("nvmlDeviceGetMemoryInfo", r); err != nil {
		return GPUUsage{}, err
	}
	return GPUUsage{Util: float64(util.GPU) / 100, MemoryBus: float64(util.Memory) / 100, MemUsed: mem.Used, MemTotal: mem.Total}, nil
}
