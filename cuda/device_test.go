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

func (d *testDevice) f32(x []float32) DevPtr {
	p := d.alloc(4 * len(x))
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
	if err := d.s.drv.htod(p, unsafe.Pointer(&v[0]), 4*len(v), d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return p
}

// g uploads x in the GEMM type (rounded to bf16 in bf16 mode).
func (d *testDevice) g(x []float32) DevPtr {
	if d.prec != BF16 {
		return d.f32(x)
	}
	b := toBF16(x)
	p := d.alloc(2 * len(b))
	if err := d.s.drv.htod(p, unsafe.Pointer(&b[0]), 2*len(b), d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return p
}

func (d *testDevice) gOut(n int) DevPtr { return d.alloc(d.gsize * n) }

func (d *testDevice) read(p DevPtr, n int) []float32 {
	h := make([]float32, n)
	if err := d.s.drv.dtoh(unsafe.Pointer(&h[0]), p, 4*n, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return h
}

func (d *testDevice) readG(p DevPtr, n int) []float32 {
	if d.prec != BF16 {
		return d.read(p, n)
	}
	h := make([]uint16, n)
	if err := d.s.drv.dtoh(unsafe.Pointer(&h[0]), p, 2*n, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return fromBF16(h)
}

func (d *testDevice) readF64(p DevPtr, n int) []float64 {
	h := make([]float64, n)
	if err := d.s.drv.dtoh(unsafe.Pointer(&h[0]), p, 8*n, d.l.stream); err != nil {
		d.t.Fatal(err)
	}
	return h
}

func (d *testDevice) launch(name string, grid, block [3]uint32, args ...any) {
	d.t.Helper()
	if err := d.l.launch(name, grid, block, 0, args...); err != nil {
		d.t.Fatal(err)
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
