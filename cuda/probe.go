package cuda

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"github.com/fnet-tui/fnet-tui/dist"
)

// Minimum requirements: CUDA 11 drivers (cuBLAS GemmEx with compute types,
// NVRTC CUBIN output) and Volta or newer (7.0); bf16 mode needs Ampere (8.0).
const (
	minDriverVersion = 11000
	minCCMajor       = 7
)

// DeviceInfo describes one CUDA device.
type DeviceInfo struct {
	Ordinal      int
	Name         string
	CCMajor      int
	CCMinor      int
	SMs          int
	ClockMHz     int
	MemTotal     uint64
	PCIBusID     string
	MemFree      uint64 // from cuMemGetInfo on the selected device only
	Usage        *GPUUsage
	UsageProblem string
}

// Info is what `fnet-tui doctor` reports: the driver, devices and libraries,
// or why there are none.
type Info struct {
	DriverVersion int    // CUDA version the driver supports, e.g. 12040 for 12.4
	DriverRelease string // the driver's own version from NVML, e.g. "550.54.15"
	Devices       []DeviceInfo
	Selected      int // ordinal the engine uses (selectedOrdinal: FNET_CUDA_DEVICE, else the launcher's local rank, else 0)
	Libraries     map[string]string
	CUBLASVersion int
	NVRTCVersion  string
	NVRTCArchs    []int
	Notes         []string
	Err           error // nil when the engine can run
}

// runtimeState is the process-wide CUDA state: one device, its primary
// context, the libraries.
type runtimeState struct {
	drv     *driverAPI
	nvrtc   *nvrtcAPI
	cublas  *cublasAPI
	nvml    *nvmlAPI
	nvmlErr error

	driverVersion int
	ordinal       int
	dev           int32
	ctx           uintptr
	info          DeviceInfo
}

var (
	rtOnce sync.Once
	rt     *runtimeState
	rtErr  error
)

// selectedOrdinal is the device this process trains on, among count
// visible ones:
//
//   - FNET_CUDA_DEVICE when set (an explicit choice wins);
//   - else, under a launcher with more than one rank (dist.FromEnv), the
//     rank's local rank, so that the ranks of a node take one GPU each and
//     the NCCL communicator (JoinNCCL) lands on the engine's device;
//   - but 0 when only one device is visible: Slurm's per-task
//     CUDA_VISIBLE_DEVICES (--gpus-per-task=1) leaves each rank its own GPU
//     as ordinal 0, and several ranks sharing one GPU
//     (NCCL_MULTI_RANK_GPU_ENABLE) all use it;
//   - 0 without a launcher. A launcher environment that does not parse is
//     reported where the ranks are read (dist.FromEnv in the command), not
//     here: the device falls back to 0.
//
// A local rank beyond the visible devices is an error naming both.
func selectedOrdinal(env func(string) string, count int) (int, error) {
	if v := env("FNET_CUDA_DEVICE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("FNET_CUDA_DEVICE=%q is not a device ordinal", v)
		}
		if n >= count {
			return 0, fmt.Errorf("FNET_CUDA_DEVICE=%d but the driver reports %d device(s)", n, count)
		}
		return n, nil
	}
	w, err := dist.FromEnv(env)
	if err != nil {
		return 0, nil
	}
	return rankOrdinal(w, count)
}

// rankOrdinal is the device of a rank of w when FNET_CUDA_DEVICE is unset.
func rankOrdinal(w dist.World, count int) (int, error) {
	if w.IsSingle() || count == 1 {
		return 0, nil
	}
	if w.LocalRank >= count {
		return 0, fmt.Errorf("rank %d has local rank %d (%s) but %d CUDA device(s) are visible: give each rank of a node its own GPU, or set FNET_CUDA_DEVICE", w.Rank, w.LocalRank, w.Launcher, count)
	}
	return w.LocalRank, nil
}

func getRuntime() (*runtimeState, error) {
	rtOnce.Do(func() { rt, rtErr = initRuntime() })
	return rt, rtErr
}

func initRuntime() (*runtimeState, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("the CUDA backend supports Linux only (this is %s)", runtime.GOOS)
	}
	d, err := loadDriver()
	if err != nil {
		return nil, err
	}
	s := &runtimeState{drv: d}
	if err := d.init(); err != nil {
		return nil, fmt.Errorf("no usable CUDA device: %w", err)
	}
	if s.driverVersion, err = d.driverVersion(); err != nil {
		return nil, err
	}
	if s.driverVersion < minDriverVersion {
		return nil, fmt.Errorf("NVIDIA driver too old: it supports CUDA %s, the backend needs %s or newer", cudaVersionString(s.driverVersion), cudaVersionString(minDriverVersion))
	}
	n, err := d.deviceCount()
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("no CUDA device: the driver is installed but reports no GPU")
	}
	if s.ordinal, err = selectedOrdinal(os.Getenv, n); err != nil {
		return nil, err
	}
	if s.info, err = describeDevice(d, s.ordinal); err != nil {
		return nil, err
	}
	s.dev, _ = d.device(s.ordinal)
	if s.info.CCMajor < minCCMajor {
		return nil, fmt.Errorf("%s has compute capability %d.%d; the backend needs %d.0 or newer", s.info.Name, s.info.CCMajor, s.info.CCMinor, minCCMajor)
	}
	major := s.driverVersion / 1000
	if s.nvrtc, err = loadNVRTC(major); err != nil {
		return nil, err
	}
	if s.cublas, err = loadCUBLAS(major); err != nil {
		return nil, err
	}
	if s.ctx, err = d.primaryCtxRetain(s.dev); err != nil {
		return nil, err
	}
	s.nvml, s.nvmlErr = loadNVML()
	return s, nil
}

func describeDevice(d *driverAPI, ordinal int) (DeviceInfo, error) {
	dev, err := d.device(ordinal)
	if err != nil {
		return DeviceInfo{}, err
	}
	info := DeviceInfo{Ordinal: ordinal}
	if info.Name, err = d.deviceName(dev); err != nil {
		return info, err
	}
	info.CCMajor, _ = d.attribute(dev, attrCCMajor)
	info.CCMinor, _ = d.attribute(dev, attrCCMinor)
	info.SMs, _ = d.attribute(dev, attrMultiprocessorCount)
	khz, _ := d.attribute(dev, attrClockRateKHz)
	info.ClockMHz = khz / 1000
	info.MemTotal, _ = d.totalMem(dev)
	info.PCIBusID, _ = d.pciBusID(dev)
	return info, nil
}

func cudaVersionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, (v%1000)/10) }

// Available reports whether the CUDA engine can run here: nil, or the exact
// reason it cannot (no libcuda, no device, driver too old, NVRTC or cuBLAS
// missing, ...). The first call loads the libraries; later calls are free.
func Available() error {
	_, err := getRuntime()
	return err
}

// CountDevices is how many GPUs this process may use (those
// CUDA_VISIBLE_DEVICES leaves), read without creating a context: the local
// launcher of --gpus N counts its ranks' GPUs with it, and a context of its
// own would hold memory on GPU 0 for the whole run (and, in
// exclusive-process mode, keep rank 0 off that GPU).
func CountDevices() (int, error) {
	d, err := loadDriver()
	if err != nil {
		return 0, err
	}
	if err := d.init(); err != nil {
		return 0, fmt.Errorf("no usable CUDA device: %w", err)
	}
	return d.deviceCount()
}

// Probe gathers everything `fnet-tui doctor` shows. It never fails: what it
// could not find is in Info.Err and Info.Notes.
func Probe() Info {
	info := Info{Libraries: map[string]string{}}
	d, err := loadDriver()
	if err != nil {
		info.Err = err
		return info
	}
	info.Libraries["libcuda"] = d.lib.path
	s, err := getRuntime()
	if nv, nerr := loadNVML(); nerr == nil {
		info.Libraries["NVML"] = nv.lib.path
		if v, err := nv.systemDriverVersion(); err == nil {
			info.DriverRelease = v
		}
	} else {
		info.Notes = append(info.Notes, "NVML unavailable (no GPU utilisation/memory metrics): "+nerr.Error())
	}
	if v, verr := d.driverVersion(); verr == nil {
		info.DriverVersion = v
	}
	if n, cerr := d.deviceCount(); cerr == nil {
		for i := 0; i < n; i++ {
			if di, derr := describeDevice(d, i); derr == nil {
				info.Devices = append(info.Devices, di)
			}
		}
	}
	if nv, _ := loadNVRTC(info.DriverVersion / 1000); nv != nil {
		info.Libraries["NVRTC"] = nv.lib.path
		info.NVRTCVersion = fmt.Sprintf("%d.%d", nv.major, nv.minor)
		info.NVRTCArchs = nv.archs
	}
	if cb, _ := loadCUBLAS(info.DriverVersion / 1000); cb != nil {
		info.Libraries["cuBLAS"] = cb.lib.path
	}
	if err != nil {
		info.Err = err
		return info
	}
	info.Selected = s.ordinal
	runtime.LockOSThread() // the context is current per OS thread
	defer runtime.UnlockOSThread()
	if err := s.drv.setCurrent(s.ctx); err == nil {
		if h, herr := s.cublas.newHandle(0); herr == nil {
			info.CUBLASVersion = s.cublas.version(h)
			s.cublas.destroyHandle(h)
		} else {
			info.Notes = append(info.Notes, "cuBLAS handle: "+herr.Error())
		}
		if free, _, merr := s.drv.memGetInfo(); merr == nil {
			for i := range info.Devices {
				if info.Devices[i].Ordinal == s.ordinal {
					info.Devices[i].MemFree = free
				}
			}
		}
	}
	if s.nvml != nil {
		for i := range info.Devices {
			u, uerr := s.nvml.usage(info.Devices[i].PCIBusID)
			if uerr != nil {
				info.Devices[i].UsageProblem = uerr.Error()
				continue
			}
			info.Devices[i].Usage = &u
		}
	}
	return info
}
