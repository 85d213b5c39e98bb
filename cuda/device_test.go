package cuda

import (
	"math"
	"runtime"
	"testing"
	"unsafe"
)

// testDevice runs single kernels for the kernel-vs-CPU checks. It needs a
// GPU: tests that use it skip with cuda.Available()'s reason elsewhere.
type testDevice struct {
	t     *testing.T
	s     *runtimeState
	l     *launcher
	prec  Precision
	bufs  []DevPtr
	blas  uintptr
	gsize int
	// emu, when set, is a host emulation instead of a GPU (newEmuTestDevice):
	// the launches run the emulator's twins of the kernels.
	emu *emu
}

// newEmuTestDevice is a testDevice on the dry run's emulator, for checking
// a kernel test's own logic (and the emulator's twin of the kernel) where
// there is no GPU.
func newEmuTestDevice(t *testing.T, p Precision) *testDevice {
	e := &Engine{prec: p}
	dr := &dryRun{next: 16 << 40}
	return &testDevice{t: t, l: &launcher{dry: dr}, prec: p, gsize: p.gemmElemSize(), emu: newEmu(e, dr)}
}

// onDevices runs a kernel test on the GPU (skipped without one) and on the
// emulator.
func onDevices(t *testing.T, f func(t *testing.T, newDev func(Precision) *testDevice)) {
	t.Run("gpu", func(t *testing.T) { f(t, func(p Precision) *testDevice { return newTestDevice(t, p) }) })
	t.Run("emulator", func(t *testing.T) { f(t, func(p Precision) *testDevice { return newEmuTestDevice(t, p) }) })
}

const poisonBits = 0x7fc00001 // a NaN: any element a kernel fails to write stays NaN

func requireGPU(t testing.TB) *runtimeState {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("no GPU: %v", err)
	}
	s, _ := getRuntime()
	return s
}

func newTestDevice(t *testing.T, p Precision) *testDevice {
	s := requireGPU(t)
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	if err := s.drv.setCurrent(s.ctx); err != nil {
		t.Fatal(err)
	}
	stream, err := s.drv.streamCreate()
	if err != nil {
		t.Fatal(err)
	}
	m, err := loadModule(s, p)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.cublas.newHandle(stream)
	if err != nil {
		t.Fatal(err)
	}
	d := &testDevice{t: t, s: s, l: &launcher{s: s, m: m, stream: stream}, prec: p, blas: h, gsize: p.gemmElemSize()}
	t.Cleanup(func() {
		_ = s.drv.streamSync(stream)
		for _, b := range d.bufs {
			_ = s.drv.memFree(b)
		}
		_ = s.drv.streamDestroy(stream)
	})
	return d
}

func (d *testDevice) alloc(bytes int) DevPtr {
	if d.emu != nil {
		n := uint64(max(bytes, 4))
		p, err := d.emu.d.alloc(n)
		if err != nil {
			d.t.Fatal(err)
		}
		d.emu.region(p, n)
		w := d.emu.i32(p)
		for i := range w {
			w[i] = poisonBits
		}
		return p
	}
	p, err := d.s.drv.memAlloc(uint64(max(bytes, 4)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.bufs = append(d.bufs, p)
	if err := d.s.drv.memsetD32(p, poisonBits, max(bytes, 4)/4, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// put copies n bytes at src to the device buffer p.
func (d *testDevice) put(p DevPtr, src unsafe.Pointer, n int) {
	if d.emu != nil {
		d.emu.write(p, unsafe.Slice((*byte)(src), n))
		return
	}
	if err := d.s.drv.htod(p, src, n, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
}

// get copies n bytes of the device buffer p to dst.
func (d *testDevice) get(dst unsafe.Pointer, p DevPtr, n int) {
	if d.emu != nil {
		d.emu.read(p, unsafe.Slice((*byte)(dst), n))
		return
	}
	if err := d.s.drv.dtoh(dst, p, n, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
}

func (d *testDevice) f32(x []float32) DevPtr {
	p := d.alloc(4 * len(x))
	if d.emu != nil {
		d.put(p, unsafe.Pointer(&x[0]), 4*len(x))
		return p
	}
	if err := d.s.drv.htod(p, unsafe.Pointer(&x[0]), 4*len(x), d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *testDevice) i32(x []int) DevPtr {
	v := make([]int32, len(x))
	for i, a := range x {
		v[i] = int32(a)
	}
	p := d.alloc(4 * len(v))
	d.put(p, unsafe.Pointer(&v[0]), 4*len(v))
	return p
}

// g uploads x in the GEMM type (rounded to bf16 in bf16 mode).
func (d *testDevice) g(x []float32) DevPtr {
	if d.prec != BF16 {
		return d.f32(x)
	}
	b := toBF16(x)
	p := d.alloc(2 * len(b))
	d.put(p, unsafe.Pointer(&b[0]), 2*len(b))
	return p
}

func (d *testDevice) gOut(n int) DevPtr { return d.alloc(d.gsize * n) }

func (d *testDevice) read(p DevPtr, n int) []float32 {
	h := make([]float32, n)
	d.get(unsafe.Pointer(&h[0]), p, 4*n)
	return h
}

func (d *testDevice) readG(p DevPtr, n int) []float32 {
	if d.prec != BF16 {
		return d.read(p, n)
	}
	h := make([]uint16, n)
	d.get(unsafe.Pointer(&h[0]), p, 2*n)
	return fromBF16(h)
}

func (d *testDevice) readF64(p DevPtr, n int) []float64 {
	h := make([]float64, n)
	d.get(unsafe.Pointer(&h[0]), p, 8*n)
	return h
}

func (d *testDevice) launch(name string, grid, block [3]uint32, args ...any) {
	d.t.Helper()
	if err := d.l.launch(name, grid, block, 0, args...); err != nil {
		d.t.Fatal(err)
	}
	if d.emu != nil {
		return
	}
	if err := d.s.drv.streamSync(d.l.stream); err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
}

// relErr is ||got − want|| / ||want||; any NaN (an unwritten element) fails.
func relErr(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var num, den float64
	for i := range got {
		if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v (unwritten or NaN)", what, i, got[i], want[i])
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	e := math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-30)
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: relative L2 error %.3e > %.1e", what, e, tol)
	} else {
		t.Logf("%s: relative L2 error %.3e (tol %.1e)", what, e, tol)
	}
}
