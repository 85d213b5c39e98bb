package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// DevPtr is a device address (CUdeviceptr).
type DevPtr uint64

// driverAPI holds libcuda's entry points.
type driverAPI struct {
	lib *library

	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName    uintptr
	cuDeviceGetAttribute, cuDeviceTotalMem, cuDeviceGetPCIBusId                   uintptr
	cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent          uintptr
	cuCtxSynchronize, cuStreamCreate, cuStreamDestroy, cuStreamSynchronize        uintptr
	cuMemAlloc, cuMemFree, cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemsetD32Async uintptr
	cuMemsetD8Async, cuMemGetInfo, cuModuleLoadData, cuModuleGetFunction          uintptr
	cuModuleUnload, cuLaunchKernel, cuGetErrorName, cuGetErrorString              uintptr
	cuEventCreate, cuEventRecord, cuEventSynchronize, cuEventElapsedTime          uintptr
	cuEventDestroy                                                                uintptr
}

var (
	driverOnce sync.Once
	drv        *driverAPI
	drvErr     error
)

// loadDriver opens libcuda.so.1 (the driver's soname has been .1 for every
// CUDA version) and resolves the functions the backend uses.
func loadDriver() (*driverAPI, error) {
	driverOnce.Do(func() {
		lib, err := openLibrary(libSpec{name: "libcuda (the NVIDIA driver)", stem: "libcuda", versions: []string{"1", ""}})
		if err != nil {
			drvErr = fmt.Errorf("no CUDA driver: %w", err)
			return
		}
		d := &driverAPI{lib: lib}
		err = lib.syms(map[string]*uintptr{
			"cuInit": &d.cuInit, "cuDriverGetVersion": &d.cuDriverGetVersion, "cuDeviceGetCount": &d.cuDeviceGetCount,
			"cuDeviceGet": &d.cuDeviceGet, "cuDeviceGetName": &d.cuDeviceGetName, "cuDeviceGetAttribute": &d.cuDeviceGetAttribute,
			"cuDeviceTotalMem_v2": &d.cuDeviceTotalMem, "cuDeviceGetPCIBusId": &d.cuDeviceGetPCIBusId,
			"cuDevicePrimaryCtxRetain": &d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRelease_v2": &d.cuDevicePrimaryCtxRelease,
			"cuCtxSetCurrent": &d.cuCtxSetCurrent, "cuCtxSynchronize": &d.cuCtxSynchronize,
			"cuStreamCreate": &d.cuStreamCreate, "cuStreamDestroy_v2": &d.cuStreamDestroy, "cuStreamSynchronize": &d.cuStreamSynchronize,
			"cuMemAlloc_v2": &d.cuMemAlloc, "cuMemFree_v2": &d.cuMemFree, "cuMemcpyHtoDAsync_v2": &d.cuMemcpyHtoDAsync,
			"cuMemcpyDtoHAsync_v2": &d.cuMemcpyDtoHAsync, "cuMemsetD32Async": &d.cuMemsetD32Async, "cuMemsetD8Async": &d.cuMemsetD8Async,
			"cuMemGetInfo_v2": &d.cuMemGetInfo, "cuModuleLoadData": &d.cuModuleLoadData, "cuModuleGetFunction": &d.cuModuleGetFunction,
			"cuModuleUnload": &d.cuModuleUnload, "cuLaunchKernel": &d.cuLaunchKernel,
			"cuGetErrorName": &d.cuGetErrorName, "cuGetErrorString": &d.cuGetErrorString,
			"cuEventCreate": &d.cuEventCreate, "cuEventRecord": &d.cuEventRecord, "cuEventSynchronize": &d.cuEventSynchronize,
			"cuEventElapsedTime": &d.cuEventElapsedTime, "cuEventDestroy_v2": &d.cuEventDestroy,
		})
		if err != nil {
			drvErr = fmt.Errorf("CUDA driver too old or broken: %w", err)
			return
		}
		drv = d
	})
	return drv, drvErr
}

// check turns a CUresult into an error naming the function.
func (d *driverAPI) check(fn string, r uintptr) error {
	code := int(int32(r))
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "CUDA", Func: fn, Code: code, Name: statusName(driverErrorNames, "CUDA_ERROR", code)}
	var p uintptr
	if rr, _, _ := purego.SyscallN(d.cuGetErrorName, uintptr(code), uintptr(unsafe.Pointer(&p))); rr == 0 && p != 0 {
		e.Name = goString(p)
	}
	p = 0
	if rr, _, _ := purego.SyscallN(d.cuGetErrorString, uintptr(code), uintptr(unsafe.Pointer(&p))); rr == 0 && p != 0 {
		e.Desc = goString(p)
	}
	return e
}

func (d *driverAPI) init() error {
	r, _, _ := purego.SyscallN(d.cuInit, 0)
	return d.check("cuInit", r)
}

func (d *driverAPI) driverVersion() (int, error) {
	var v int32
	r, _, _ := purego.SyscallN(d.cuDriverGetVersion, uintptr(unsafe.Pointer(&v)))
	return int(v), d.check("cuDriverGetVersion", r)
}

func (d *driverAPI) deviceCount() (int, error) {
	var n int32
	r, _, _ := purego.SyscallN(d.cuDeviceGetCount, uintptr(unsafe.Pointer(&n)))
	return int(n), d.check("cuDeviceGetCount", r)
}

func (d *driverAPI) device(ordinal int) (int32, error) {
	var dev int32
	r, _, _ := purego.SyscallN(d.cuDeviceGet, uintptr(unsafe.Pointer(&dev)), uintptr(ordinal))
	return dev, d.check("cuDeviceGet", r)
}

func (d *driverAPI) deviceName(dev int32) (string, error) {
	buf := make([]byte, 256)
	r, _, _ := purego.SyscallN(d.cuDeviceGetName, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(dev))
	if err := d.check("cuDeviceGetName", r); err != nil {
		return "", err
	}
	return goString(uintptr(unsafe.Pointer(&buf[0]))), nil
}

func (d *driverAPI) pciBusID(dev int32) (string, error) {
	buf := make([]byte, 64)
	r, _, _ := purego.SyscallN(d.cuDeviceGetPCIBusId, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(dev))
	if err := d.check("cuDeviceGetPCIBusId", r); err != nil {
		return "", err
	}
	return goString(uintptr(unsafe.Pointer(&buf[0]))), nil
}

// Device attributes (CUdevice_attribute).
const (
	attrMultiprocessorCount = 16
	attrClockRateKHz        = 13
	attrCCMajor             = 75
	attrCCMinor             = 76
)

func (d *driverAPI) attribute(dev int32, attr int) (int, error) {
	var v int32
	r, _, _ := purego.SyscallN(d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(attr), uintptr(dev))
	return int(v), d.check("cuDeviceGetAttribute", r)
}

func (d *driverAPI) totalMem(dev int32) (uint64, error) {
	var v uint64
	r, _, _ := purego.SyscallN(d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&v)), uintptr(dev))
	return v, d.check("cuDeviceTotalMem_v2", r)
}

func (d *driverAPI) primaryCtxRetain(dev int32) (uintptr, error) {
	var ctx uintptr
	r, _, _ := purego.SyscallN(d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&ctx)), uintptr(dev))
	return ctx, d.check("cuDevicePrimaryCtxRetain", r)
}

func (d *driverAPI) primaryCtxRelease(dev int32) error {
	r, _, _ := purego.SyscallN(d.cuDevicePrimaryCtxRelease, uintptr(dev))
	return d.check("cuDevicePrimaryCtxRelease_v2", r)
}

func (d *driverAPI) setCurrent(ctx uintptr) error {
	r, _, _ := purego.SyscallN(d.cuCtxSetCurrent, ctx)
	return d.check("cuCtxSetCurrent", r)
}

func (d *driverAPI) streamCreate() (uintptr, error) {
	var s uintptr
	const nonBlocking = 1
	r, _, _ := purego.SyscallN(d.cuStreamCreate, uintptr(unsafe.Pointer(&s)), nonBlocking)
	return s, d.check("cuStreamCreate", r)
}

func (d *driverAPI) streamDestroy(s uintptr) error {
	r, _, _ := purego.SyscallN(d.cuStreamDestroy, s)
	return d.check("cuStreamDestroy_v2", r)
}

func (d *driverAPI) streamSync(s uintptr) error {
	r, _, _ := purego.SyscallN(d.cuStreamSynchronize, s)
	return d.check("cuStreamSynchronize", r)
}

func (d *driverAPI) memAlloc(n uint64) (DevPtr, error) {
	var p uint64
	r, _, _ := purego.SyscallN(d.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(n))
	if err := d.check("cuMemAlloc_v2", r); err != nil {
		return 0, fmt.Errorf("allocating %.1f MiB on the GPU: %w", float64(n)/(1<<20), err)
	}
	return DevPtr(p), nil
}

func (d *driverAPI) memFree(p DevPtr) error {
	r, _, _ := purego.SyscallN(d.cuMemFree, uintptr(p))
	return d.check("cuMemFree_v2", r)
}

func (d *driverAPI) memGetInfo() (free, total uint64, err error) {
	r, _, _ := purego.SyscallN(d.cuMemGetInfo, uintptr(unsafe.Pointer(&free)), uintptr(unsafe.Pointer(&total)))
	return free, total, d.check("cuMemGetInfo_v2", r)
}

// htod copies n bytes from host memory at src (pageable: the call returns
// once the source has been consumed) to dst on the stream.
func (d *driverAPI) htod(dst DevPtr, src unsafe.Pointer, n int, stream uintptr) error {
	if n == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.cuMemcpyHtoDAsync, uintptr(dst), uintptr(src), uintptr(n), stream)
	return d.check("cuMemcpyHtoDAsync_v2", r)
}

// dtoh copies n bytes from the device to host memory and waits for the stream.
func (d *driverAPI) dtoh(dst unsafe.Pointer, src DevPtr, n int, stream uintptr) error {
	if n == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.cuMemcpyDtoHAsync, uintptr(dst), uintptr(src), uintptr(n), stream)
	if err := d.check("cuMemcpyDtoHAsync_v2", r); err != nil {
		return err
	}
	return d.streamSync(stream)
}

func (d *driverAPI) memsetD32(p DevPtr, v uint32, n int, stream uintptr) error {
	if n == 0 {
		return nil
	}
	r, _, _ := purego.SyscallN(d.cuMemsetD32Async, uintptr(p), uintptr(v), uintptr(n), stream)
	return d.check("cuMemsetD32Async", r)
}

func (d *driverAPI) moduleLoadData(image []byte) (uintptr, error) {
	var m uintptr
	r, _, _ := purego.SyscallN(d.cuModuleLoadData, uintptr(unsafe.Pointer(&m)), uintptr(unsafe.Pointer(&image[0])))
	return m, d.check("cuModuleLoadData", r)
}

func (d *driverAPI) moduleGetFunction(m uintptr, name string) (uintptr, error) {
	var f uintptr
	cname := cString(name)
	r, _, _ := purego.SyscallN(d.cuModuleGetFunction, uintptr(unsafe.Pointer(&f)), m, uintptr(unsafe.Pointer(&cname[0])))
	if err := d.check("cuModuleGetFunction", r); err != nil {
		return 0, fmt.Errorf("kernel %s: %w", name, err)
	}
	return f, nil
}

func (d *driverAPI) moduleUnload(m uintptr) error {
	r, _, _ := purego.SyscallN(d.cuModuleUnload, m)
	return d.check("cuModuleUnload", r)
}

// launch starts f on the stream. params points at an array of pointers to
// the argument values, as cuLaunchKernel wants.
func (d *driverAPI) launch(f uintptr, grid, block [3]uint32, shared uint32, stream uintptr, params unsafe.Pointer) error {
	r, _, _ := purego.SyscallN(d.cuLaunchKernel, f,
		uintptr(grid[0]), uintptr(grid[1]), uintptr(grid[2]),
		uintptr(block[0]), uintptr(block[1]), uintptr(block[2]),
		uintptr(shared), stream, uintptr(params), 0)
	return d.check("cuLaunchKernel", r)
}

func (d *driverAPI) eventCreate() (uintptr, error) {
	var e uintptr
	r, _, _ := purego.SyscallN(d.cuEventCreate, uintptr(unsafe.Pointer(&e)), 0)
	return e, d.check("cuEventCreate", r)
}

func (d *driverAPI) eventRecord(e, stream uintptr) error {
	r, _, _ := purego.SyscallN(d.cuEventRecord, e, stream)
	return d.check("cuEventRecord", r)
}

func (d *driverAPI) eventElapsedMs(start, end uintptr) (float32, error) {
	r, _, _ := purego.SyscallN(d.cuEventSynchronize, end)
	if err := d.check("cuEventSynchronize", r); err != nil {
		return 0, err
	}
	var ms float32
	r, _, _ = purego.SyscallN(d.cuEventElapsedTime, uintptr(unsafe.Pointer(&ms)), start, end)
	return ms, d.check("cuEventElapsedTime", r)
}

func (d *driverAPI) eventDestroy(e uintptr) error {
	r, _, _ := purego.SyscallN(d.cuEventDestroy, e)
	return d.check("cuEventDestroy_v2", r)
}
