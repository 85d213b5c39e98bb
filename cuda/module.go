package cuda

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

//go:embed kernels/*.cu
var kernelFiles embed.FS

// fnetKernelSource is every kernel file as one translation unit: fnet.cu
// first (it defines the bf16 helpers, dropout hash and reductions the
// others use), then the rest by name, each opened by a #line so that an
// NVRTC or host-compiler message names the file it is about.
var fnetKernelSource = joinKernelFiles(kernelFiles)

func joinKernelFiles(fsys embed.FS) string {
	entries, err := fsys.ReadDir("kernels")
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); n != "fnet.cu" && strings.HasSuffix(n, ".cu") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range append([]string{"fnet.cu"}, names...) {
		src, err := fsys.ReadFile("kernels/" + n)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "#line 1 \"%s\"\n", n)
		b.Write(src)
		if len(src) > 0 && src[len(src)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// kernelSource is the CUDA C compiled for one precision: the switch that
// selects the GEMM storage type, then the embedded kernels.
func kernelSource(p Precision) string {
	return fmt.Sprintf("#define GEMM_BF16 %d\n", p.bf16Define()) + fnetKernelSource
}

// cacheKey names a compiled image: it changes with the source, the
// compiler options, the NVRTC and driver versions and the device.
func cacheKey(src string, opts []string, nvrtcVersion string, driverVersion int, deviceName string, ccMajor, ccMinor int) string {
	h := sha256.New()
	fmt.Fprintf(h, "src:%d:%s\nopts:%q\nnvrtc:%s\ndriver:%d\ndevice:%s\ncc:%d.%d\n", len(src), src, opts, nvrtcVersion, driverVersion, deviceName, ccMajor, ccMinor)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// kernelCacheDir is where compiled images are kept: FNET_CUDA_CACHE, or
// fnet-tui/cuda under the user's cache directory; "" (no disk cache) when
// FNET_CUDA_CACHE=off or no cache directory exists.
func kernelCacheDir(env func(string) string, userCache func() (string, error)) string {
	switch v := env("FNET_CUDA_CACHE"); v {
	case "off", "0", "none":
		return ""
	case "":
	default:
		return v
	}
	d, err := userCache()
	if err != nil || d == "" {
		return ""
	}
	return filepath.Join(d, "fnet-tui", "cuda")
}

// module is a loaded kernel image and its functions.
type module struct {
	handle uintptr
	fns    map[string]uintptr
	// compiled says whether NVRTC ran (false: loaded from the disk cache).
	compiled bool
	arch     string
}

var (
	moduleMu    sync.Mutex
	moduleCache = map[string]*module{}
)

// loadModule compiles (or finds in the caches) the kernels for precision p
// on the runtime's device and loads them into its context, which must be
// current on this thread.
func loadModule(s *runtimeState, p Precision) (*module, error) {
	src := kernelSource(p)
	target, err := pickTarget(s.info.CCMajor, s.info.CCMinor, s.nvrtc.archs, s.nvrtc.getCUBIN != 0)
	if err != nil {
		return nil, err
	}
	opts := nvrtcOptions(target)
	key := cacheKey(src, opts, fmt.Sprintf("%d.%d", s.nvrtc.major, s.nvrtc.minor), s.driverVersion, s.info.Name, s.info.CCMajor, s.info.CCMinor)
	moduleMu.Lock()
	defer moduleMu.Unlock()
	if m, ok := moduleCache[key]; ok {
		return m, nil
	}
	dir := kernelCacheDir(os.Getenv, os.UserCacheDir)
	ext := ".ptx"
	if target.cubin {
		ext = ".cubin"
	}
	var img []byte
	compiled := false
	if dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, key+ext)); err == nil && len(b) > 0 {
			img = b
		}
	}
	var h uintptr
	if img != nil {
		if h, err = s.drv.moduleLoadData(img); err != nil {
			img = nil // a stale or damaged cache entry: compile afresh
		}
	}
	if img == nil {
		if img, _, err = s.nvrtc.compile(src, "fnet.cu", target); err != nil {
			return nil, err
		}
		compiled = true
		if h, err = s.drv.moduleLoadData(img); err != nil {
			return nil, fmt.Errorf("loading the kernels compiled for %s: %w", target.arch, err)
		}
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err == nil {
				_ = atomicfile.Write(filepath.Join(dir, key+ext), img, 0o644) // a cache: failing to write it is harmless
			}
		}
	}
	m := &module{handle: h, fns: map[string]uintptr{}, compiled: compiled, arch: target.arch}
	moduleCache[key] = m
	return m, nil
}

// fn returns the named kernel.
func (m *module) fn(s *runtimeState, name string) (uintptr, error) {
	if f, ok := m.fns[name]; ok {
		return f, nil
	}
	f, err := s.drv.moduleGetFunction(m.handle, name)
	if err != nil {
		return 0, err
	}
	m.fns[name] = f
	return f, nil
}

// kernelArgs packs launch arguments the way cuLaunchKernel reads them: an
// array of pointers, each to one argument's value. Only the C types the
// kernels use are accepted, so a Go int can never silently become a
// pointer-sized argument.
type kernelArgs struct {
	vals []uint64
	ptrs []unsafe.Pointer
}

func packArgs(args ...any) (*kernelArgs, error) {
	k := &kernelArgs{vals: make([]uint64, len(args)), ptrs: make([]unsafe.Pointer, len(args))}
	for i, a := range args {
		switch v := a.(type) {
		case DevPtr:
			k.vals[i] = uint64(v)
		case int32:
			*(*int32)(unsafe.Pointer(&k.vals[i])) = v
		case uint32:
			*(*uint32)(unsafe.Pointer(&k.vals[i])) = v
		case int64:
			k.vals[i] = uint64(v)
		case uint64:
			k.vals[i] = v
		case float32:
			*(*float32)(unsafe.Pointer(&k.vals[i])) = v
		default:
			return nil, fmt.Errorf("kernel argument %d has unsupported type %T", i, a)
		}
		k.ptrs[i] = unsafe.Pointer(&k.vals[i])
	}
	return k, nil
}

// launcher runs kernels of one module on one stream.
type launcher struct {
	s      *runtimeState
	m      *module
	stream uintptr
	prof   *profiler
	// dry, when set, makes launch only check the arguments and record the
	// launch (host-only tests of the engine, see dryRun).
	dry *dryRun
}

func (l *launcher) launch(name string, grid, block [3]uint32, shared uint32, args ...any) error {
	if err := checkArgs(name, args); err != nil {
		return err
	}
	if l.dry != nil {
		return l.dry.run(dryOp{name: name, grid: grid, block: block, args: args})
	}
	f, err := l.m.fn(l.s, name)
	if err != nil {
		return err
	}
	k, err := packArgs(args...)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", name, err)
	}
	var p unsafe.Pointer
	if len(k.ptrs) > 0 {
		p = unsafe.Pointer(&k.ptrs[0])
	}
	timed := l.prof != nil && l.prof.begin()
	err = l.s.drv.launch(f, grid, block, shared, l.stream, p)
	if timed {
		l.prof.end(name)
	}
	runtime.KeepAlive(k)
	if err != nil {
		return fmt.Errorf("kernel %s: %w", name, err)
	}
	return nil
}

// Launch shapes.
const threadsPerBlock = 256

// elementwiseGrid covers n elements with grid-stride loops, capped so huge
// tensors reuse threads rather than launch millions of blocks.
func elementwiseGrid(n int64) [3]uint32 {
	b := (n + threadsPerBlock - 1) / threadsPerBlock
	if b > 1<<16 {
		b = 1 << 16
	}
	if b < 1 {
		b = 1
	}
	return [3]uint32{uint32(b), 1, 1}
}

// rowColGrid covers a [rows, cols] tensor for the kernels with a
// per-column operand: x over columns, y striding over (at most 4096) rows.
func rowColGrid(rows, cols int) [3]uint32 {
	return [3]uint32{uint32((cols + threadsPerBlock - 1) / threadsPerBlock), uint32(max(1, min(rows, 4096))), 1}
}

// warpRowGrid gives one warp per row, 8 rows per block.
func warpRowGrid(rows int) [3]uint32 {
	per := threadsPerBlock / 32
	return [3]uint32{uint32((rows + per - 1) / per), 1, 1}
}

var block1D = [3]uint32{threadsPerBlock, 1, 1}

// colsumChunks splits rows into at most maxChunks chunks of at least 32
// rows: enough blocks to fill the GPU, few enough partials to add cheaply.
func colsumChunks(rows int) (chunks, rowsPerChunk int) {
	const maxChunks = 128
	chunks = (rows + 31) / 32
	if chunks > maxChunks {
		chunks = maxChunks
	}
	if chunks < 1 {
		chunks = 1
	}
	rowsPerChunk = (rows + chunks - 1) / chunks
	chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
	return
}
