package cuda

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// buildFakeCUBLASLt compiles testdata/fakecublaslt into dir/name (extra
// compiler flags: -DFAKE_NO_HEURISTIC) and returns its path.
func buildFakeCUBLASLt(t *testing.T, dir, name string, flags ...string) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler to build the fake cuBLASLt")
		}
	}
	lib := filepath.Join(dir, name)
	args := append([]string{"-shared", "-fPIC", "-O1", "-Wall", "-o", lib}, flags...)
	out, err := exec.Command(cc, append(args, "testdata/fakecublaslt/fakecublaslt.c")...).CombinedOutput()
	if err != nil {
		t.Fatalf("building the fake cuBLASLt: %v\n%s", err, out)
	}
	return lib
}

// fakeLt is the fake library bound as the engine binds cuBLASLt.
type fakeLt struct {
	t   *testing.T
	api *cublasLtAPI
}

func openFakeLt(t *testing.T) *fakeLt {
	t.Helper()
	dir := t.TempDir()
	buildFakeCUBLASLt(t, dir, "libcublasLt.so.13")
	// found beside the cuBLAS that was opened, as on a device
	api, err := openCUBLASLt(filepath.Join(dir, "libcublas.so.13"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "libcublasLt.so.13"); api.lib.path != want {
		t.Fatalf("opened %s, want %s", api.lib.path, want)
	}
	f := &fakeLt{t: t, api: api}
	f.call("fakeLtReset")
	return f
}

func (f *fakeLt) call(name string, args ...uintptr) uintptr {
	f.t.Helper()
	p, err := purego.Dlsym(f.api.lib.handle, name)
	if err != nil {
		f.t.Fatal(err)
	}
	r, _, _ := purego.SyscallN(p, args...)
	return r
}

func (f *fakeLt) log() []string {
	s := strings.TrimSpace(goStringLong(f.call("fakeLtLog")))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// goStringLong is goString without its 4 KiB cap (the fake's log is longer).
func goStringLong(p uintptr) string {
	if p == 0 {
		return ""
	}
	base := *(*unsafe.Pointer)(unsafe.Pointer(&p))
	var b []byte
	for i := 0; i < 1<<16; i++ {
		c := *(*byte)(unsafe.Add(base, i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

func (f *fakeLt) failNext(fn string, status int) {
	name := cString(fn)
	f.call("fakeLtFail", uintptr(unsafe.Pointer(&name[0])), uintptr(status))
}

// fnetBaseForward is the FFN-in call of FNet-Base (T = 16384, H 768, F 3072)
// at made-up, aligned addresses.
func fnetBaseLtCalls(t *testing.T) (fwd, bwd ltCall) {
	t.Helper()
	const T, H, F = 32 * 512, 768, 3072
	base := DevPtr(1 << 40)
	x, w1, pre, gl, b1, ws := base, base+1<<30, base+2<<30, base+3<<30, base+4<<30, base+5<<30
	fwd, err := ltFromGemm(gemmCall{transB: true, m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: x, dtype: cudaR16BF, ld: H}, b: gemmOperand{ptr: w1, dtype: cudaR16BF, ld: H},
		c: gemmOperand{ptr: gl, dtype: cudaR16BF, ld: F}, compute: computeF32}, ltEpilogueGELUAuxBias, b1, cudaR32F, pre, F, ws, ltWorkspaceBytes)
	if err != nil {
		t.Fatal(err)
	}
	dz, w2, dpre, bg := base+6<<30, base+7<<30, base+8<<30, base+9<<30
	bwd, err = ltFromGemm(gemmCall{m: T, n: F, k: H, alpha: 1,
		a: gemmOperand{ptr: dz, dtype: cudaR16BF, ld: H}, b: gemmOperand{ptr: w2, dtype: cudaR16BF, ld: F},
		c: gemmOperand{ptr: dpre, dtype: cudaR16BF, ld: F}, compute: computeF32}, ltEpilogueDGELUBGrad, bg, cudaR32F, pre, F, ws, ltWorkspaceBytes)
	if err != nil {
		t.Fatal(err)
	}
	return fwd, bwd
}

// Every binding through purego into a C library with cuBLASLt's
// signatures: the descriptor's attributes (id, byte size, value) for
// FNet-Base's forward and backward epilogue GEMMs, the three layouts in
// column-major terms, the workspace preference, the heuristic's
// arguments in order, the 16-argument cublasLtMatmul with the algorithm
// the heuristic returned, and every descriptor destroyed.
func TestCUBLASLtBindingsAgainstAFakeLibrary(t *testing.T) {
	f := openFakeLt(t)
	if n := f.call("fakeLtResultSize"); n != ltHeuristicResultSize || unsafe.Sizeof(ltHeuristicResult{}) != ltHeuristicResultSize {
		t.Fatalf("cublasLtMatmulHeuristicResult_t is %d bytes in C, %d in Go, want %d", n, unsafe.Sizeof(ltHeuristicResult{}), ltHeuristicResultSize)
	}
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	fwd, bwd := fnetBaseLtCalls(t)
	for i, tc := range []struct {
		c      ltCall
		transA int
		la     string
	}{{fwd, opT, "rows=768 cols=3072 ld=768"}, {bwd, opN, "rows=3072 cols=768 ld=3072"}} {
		f.call("fakeLtReset")
		p, err := f.api.prepare(h, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if p.algo.algo[0] != 0xA160 || p.algo.algo[7] != 0x7777 || p.algo.workspaceSize != 1<<20 || p.algo.wavesCount != 1.5 {
			t.Errorf("heuristic result read back as %+v", p.algo)
		}
		if err := f.api.run(h, p, tc.c, 0xBEEF); err != nil {
			t.Fatal(err)
		}
		f.api.release(p)
		c := tc.c
		want := []string{
			"descCreate D1 compute=68 scale=0",
			fmt.Sprintf("descAttr D1 3 size=4 value=%d", tc.transA),
			"descAttr D1 4 size=4 value=0",
			fmt.Sprintf("descAttr D1 7 size=4 value=%d", c.epilogue),
			fmt.Sprintf("descAttr D1 8 size=8 value=%d", uint64(c.bias)),
			"descAttr D1 26 size=4 value=0",
			fmt.Sprintf("descAttr D1 11 size=8 value=%d", uint64(c.aux)),
			"descAttr D1 12 size=8 value=3072",
			"layout L1 type=14 " + tc.la,
			"layout L2 type=14 rows=768 cols=16384 ld=768",
			"layout L3 type=14 rows=3072 cols=16384 ld=3072",
			"prefCreate P1",
			"prefAttr P1 1 size=8 value=33554432",
			"prefAttr P1 5 size=4 value=256", "prefAttr P1 6 size=4 value=256", "prefAttr P1 7 size=4 value=256", "prefAttr P1 8 size=4 value=256",
			"heuristic H1 D1 L1 L2 L3 L3 P1 requested=1",
			fmt.Sprintf("matmul H1 D1 alpha=1 A=%#x L1 B=%#x L2 beta=0 C=%#x L3 D=%#x L3 algo=a160/7777 ws=%#x wsSize=33554432 stream=0xbeef",
				uint64(c.a), uint64(c.b), uint64(c.c), uint64(c.c), uint64(c.workspace)),
			"prefDestroy P1", "layoutDestroy L1", "layoutDestroy L2", "layoutDestroy L3", "descDestroy D1",
		}
		got := f.log()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("call %d (%s):\n got\n  %s\n want\n  %s", i, c.label(), strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	f.api.destroyHandle(h)
}

// DGELU alone (the last backward variant) sets no bias attributes.
func TestCUBLASLtDGELUWithoutBias(t *testing.T) {
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	_, bwd := fnetBaseLtCalls(t)
	bwd.epilogue, bwd.bias, bwd.biasType = ltEpilogueDGELU, 0, 0
	f.call("fakeLtReset")
	p, err := f.api.prepare(h, bwd)
	if err != nil {
		t.Fatal(err)
	}
	f.api.release(p)
	var attrs []string
	for _, l := range f.log() {
		if fs := strings.Fields(l); fs[0] == "descAttr" {
			attrs = append(attrs, fs[2]+"="+strings.TrimPrefix(fs[4], "value="))
		}
	}
	if got := strings.Join(attrs, " "); got != "3=0 4=0 7=192 11="+fmt.Sprint(uint64(bwd.aux))+" 12=3072" {
		t.Errorf("attributes %s", got)
	}
	withBias := bwd
	withBias.bias = bwd.aux
	if err := withBias.validate(); err == nil || !strings.Contains(err.Error(), "does not use") {
		t.Errorf("dgelu with a bias: %v", err)
	}
}

// The library's answers mapped to errors: no algorithm or NOT_SUPPORTED
// is errLtUnsupported (the engine's fallback), a status names the
// function, its status and the attribute, a greedy algorithm names the
// workspace; whatever was created before a failure is destroyed.
func TestCUBLASLtErrors(t *testing.T) {
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := fnetBaseLtCalls(t)
	destroyedAll := func(what string) {
		t.Helper()
		log := strings.Join(f.log(), "\n")
		for _, o := range []string{"D1", "L1", "L2", "L3", "P1"} {
			if strings.Contains(log, " "+o+" ") && !strings.Contains(log, "Destroy "+o) {
				t.Errorf("%s: %s created and not destroyed:\n%s", what, o, log)
			}
		}
	}

	f.call("fakeLtReset")
	f.call("fakeLtSetHeuristic", 0, 1<<20)
	_, err = f.api.prepare(h, fwd)
	if !errors.Is(err, errLtUnsupported) || !strings.Contains(err.Error(), "returned 0 algorithms") || !strings.Contains(err.Error(), "cublasLt gelu_aux_bias 3072x16384x768") {
		t.Errorf("no algorithm: %v", err)
	}
	destroyedAll("no algorithm")

	f.call("fakeLtReset")
	f.call("fakeLtSetHeuristic", 1, 64<<20)
	if _, err = f.api.prepare(h, fwd); err == nil || !strings.Contains(err.Error(), "wants 67108864 workspace bytes, 33554432 planned") {
		t.Errorf("greedy workspace: %v", err)
	}
	destroyedAll("greedy workspace")

	f.call("fakeLtReset")
	f.failNext("cublasLtMatmulDescSetAttribute", 7)
	_, err = f.api.prepare(h, fwd)
	var le *Error
	if !errors.As(err, &le) || le.Lib != "cuBLASLt" || le.Code != 7 || !strings.Contains(err.Error(), "cublasLtMatmulDescSetAttribute failed: CUBLAS_STATUS_INVALID_VALUE (7)") ||
		!strings.Contains(err.Error(), "(attribute 3, 4 bytes)") || errors.Is(err, errLtUnsupported) {
		t.Errorf("attribute refused: %v", err)
	}
	destroyedAll("attribute refused")

	f.call("fakeLtReset")
	f.failNext("cublasLtMatmulAlgoGetHeuristic", 15)
	if _, err = f.api.prepare(h, fwd); !errors.Is(err, errLtUnsupported) || !strings.Contains(err.Error(), "CUBLAS_STATUS_NOT_SUPPORTED") {
		t.Errorf("heuristic NOT_SUPPORTED: %v", err)
	}

	f.call("fakeLtReset")
	p, err := f.api.prepare(h, fwd)
	if err != nil {
		t.Fatal(err)
	}
	f.failNext("cublasLtMatmul", 13)
	if err := f.api.run(h, p, fwd, 0); err == nil || !strings.Contains(err.Error(), "cublasLtMatmul failed: CUBLAS_STATUS_EXECUTION_FAILED (13)") || !strings.Contains(err.Error(), "gelu_aux_bias") {
		t.Errorf("matmul failure: %v", err)
	}
	f.api.release(p)

	// an invalid call never reaches the library
	f.call("fakeLtReset")
	bad := fwd
	bad.auxLD = 3074
	if _, err := f.api.prepare(h, bad); err == nil || !strings.Contains(err.Error(), "multiple of 8") || len(f.log()) != 0 {
		t.Errorf("invalid call: %v, library saw %q", err, f.log())
	}
}

// A call is prepared once (descriptors and heuristic), then only run; the
// cache is bounded.
func TestCUBLASLtPlansAreCached(t *testing.T) {
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	rt := newLtRuntime(f.api, h)
	e := &Engine{}
	fwd, bwd := fnetBaseLtCalls(t)
	f.call("fakeLtReset")
	for i := 0; i < 3; i++ {
		for _, c := range []ltCall{fwd, bwd} {
			p, err := rt.plan(e, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.api.run(rt.handle, p, c, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := map[string]int{}
	for _, l := range f.log() {
		n[strings.Fields(l)[0]]++
	}
	if n["heuristic"] != 2 || n["descCreate"] != 2 || n["matmul"] != 6 {
		t.Errorf("two calls three times: %v", n)
	}
	for i := 0; len(rt.plans[e]) < maxLtPlans; i++ {
		c := fwd
		c.workspace += DevPtr(256 * (i + 1))
		if _, err := rt.plan(e, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rt.plan(e, fwd); err != nil || len(rt.plans[e]) > maxLtPlans {
		t.Errorf("after the bound: %d plans, %v", len(rt.plans[e]), err)
	}
}

// Each engine has its own plans: one engine filling its cache past the
// bound (which empties it) never destroys another engine's plan, which
// may be between plan() and its run (two engines in one process); an
// engine's plans are destroyed when it closes, and only its own. The fake
// library refuses (and logs) any call handed a destroyed descriptor.
func TestCUBLASLtPlansPerEngine(t *testing.T) {
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	rt := newLtRuntime(f.api, h)
	a, b := &Engine{}, &Engine{}
	fwd, bwd := fnetBaseLtCalls(t)
	pb, err := rt.plan(b, bwd) // b is about to run it
	if err != nil {
		t.Fatal(err)
	}
	pa, err := rt.plan(a, fwd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxLtPlans+10; i++ { // a passes its bound: its cache is emptied once
		c := fwd
		c.workspace += DevPtr(256 * (i + 1))
		if _, err := rt.plan(a, c); err != nil {
			t.Fatal(err)
		}
	}
	if pa.desc != 0 || pb.desc == 0 {
		t.Errorf("after a's eviction: a's first plan %+v (want released), b's %+v (want kept)", *pa, *pb)
	}
	if n := len(rt.plans[a]); n != 11 || len(rt.plans[b]) != 1 {
		t.Errorf("a holds %d plans (want 11 after emptying at %d), b %d", n, maxLtPlans, len(rt.plans[b]))
	}
	f.call("fakeLtReset")
	if err := rt.api.run(rt.handle, pb, bwd, 0); err != nil {
		t.Fatalf("b's plan after a's eviction: %v\n%s", err, strings.Join(f.log(), "\n"))
	}
	// a closes: its 11 plans go (5 objects each), b's stays
	f.call("fakeLtReset")
	rt.drop(a)
	n := map[string]int{}
	for _, l := range f.log() {
		n[strings.Fields(l)[0]]++
	}
	if n["descDestroy"] != 11 || n["layoutDestroy"] != 33 || n["prefDestroy"] != 11 || len(n) != 3 {
		t.Errorf("dropping a: %v", n)
	}
	if _, ok := rt.plans[a]; ok || pb.desc == 0 {
		t.Errorf("after dropping a: a's cache %v, b's plan %+v", rt.plans[a], *pb)
	}
	if err := rt.api.run(rt.handle, pb, bwd, 0); err != nil {
		t.Fatalf("b's plan after a closed: %v", err)
	}
	// a plan destroyed and then run is what the fake refuses (the check
	// above can fail)
	f.call("fakeLtReset")
	stale := *pb
	rt.drop(b)
	if err := rt.api.run(rt.handle, &stale, bwd, 0); err == nil || !strings.Contains(strings.Join(f.log(), "\n"), "matmul dead D") {
		t.Errorf("a destroyed plan ran: %v\n%s", err, strings.Join(f.log(), "\n"))
	}
	if strings.Contains(strings.Join(f.log(), "\n"), "twice") {
		t.Errorf("a descriptor destroyed twice:\n%s", strings.Join(f.log(), "\n"))
	}
}

// Engine.Close drops the engine's plans from the process's cuBLASLt
// runtime, and only its own.
func TestEngineCloseDropsLtPlans(t *testing.T) {
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	rt := newLtRuntime(f.api, h)
	old := ltRT.Load()
	ltRT.Store(rt)
	defer ltRT.Store(old)
	e, _ := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{})
	other := &Engine{}
	fwd, bwd := fnetBaseLtCalls(t)
	for _, c := range []ltCall{fwd, bwd} {
		if _, err := rt.plan(e, c); err != nil {
			t.Fatal(err)
		}
	}
	po, err := rt.plan(other, fwd)
	if err != nil {
		t.Fatal(err)
	}
	f.call("fakeLtReset")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	log := strings.Join(f.log(), "\n")
	if _, ok := rt.plans[e]; ok || strings.Count(log, "descDestroy") != 2 || po.desc == 0 || len(rt.plans[other]) != 1 {
		t.Errorf("after Close: engine's cache %v, other's plan %+v, library saw:\n%s", rt.plans[e], *po, log)
	}
}

// cuBLASLt is looked for beside the cuBLAS that was opened, then by
// soname; a library without a function the engine calls is refused by name.
func TestCUBLASLtLibrary(t *testing.T) {
	if got := ltLibraryCandidates("/usr/local/cuda/lib64/libcublas.so.13"); strings.Join(got, " ") != "/usr/local/cuda/lib64/libcublasLt.so.13 libcublasLt.so.13" {
		t.Errorf("beside a path: %v", got)
	}
	if got := ltLibraryCandidates("libcublas.so.12"); strings.Join(got, " ") != "libcublasLt.so.12" {
		t.Errorf("a soname: %v", got)
	}
	dir := t.TempDir()
	buildFakeCUBLASLt(t, dir, "libcublasLt.so.11", "-DFAKE_NO_HEURISTIC")
	_, err := openCUBLASLt(filepath.Join(dir, "libcublas.so.11"))
	if err == nil || !strings.Contains(err.Error(), "cuBLASLt too old") || !strings.Contains(err.Error(), "no symbol cublasLtMatmulAlgoGetHeuristic") {
		t.Errorf("without the heuristic: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "libcublas.so.99")
	if _, err := openCUBLASLt(missing); err == nil || !strings.Contains(err.Error(), "cuBLASLt not found beside "+missing) {
		t.Errorf("nothing there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "libcublasLt.so.11")); err != nil {
		t.Fatal(err)
	}
}

// prefAlignments reads the MIN_ALIGNMENT_{A,B,C,D}_BYTES preferences
// (attributes 5–8, uint32) out of the fake's log, "" where one is unset.
func prefAlignments(t *testing.T, log []string) [4]string {
	t.Helper()
	var got [4]string
	for _, l := range log {
		fs := strings.Fields(l)
		if len(fs) < 5 || fs[0] != "prefAttr" {
			continue
		}
		var attr int
		fmt.Sscan(fs[2], &attr)
		if attr >= ltPrefMinAlignmentA && attr <= ltPrefMinAlignmentD {
			if fs[3] != "size=4" {
				t.Errorf("alignment preference %d: %s (a uint32)", attr, fs[3])
			}
			got[attr-ltPrefMinAlignmentA] = strings.TrimPrefix(fs[4], "value=")
		}
	}
	return got
}

// The heuristic is told each matrix pointer's actual alignment (it never
// sees the pointers and otherwise assumes 256 bytes): A, B, C and D (= C)
// in cuBLASLt's column-major terms, a power of two capped at 256. The
// bf16 weight copy's parameters are 128-byte aligned when a parameter has
// a multiple of 64 but not of 128 elements; the engine's own calls (a dry
// run of FNet's small test configuration) include such a pointer and each
// call's preferences match its pointers.
func TestCUBLASLtAlignmentPreferences(t *testing.T) {
	for _, c := range []struct {
		p    DevPtr
		want uint32
	}{{0, 256}, {1 << 40, 256}, {256 * 7, 256}, {128 * 3, 128}, {1<<40 + 64, 64}, {48, 16}, {8, 8}, {3, 1}} {
		if got := ltAlignment(c.p); got != c.want {
			t.Errorf("ltAlignment(%#x) = %d, want %d", uint64(c.p), got, c.want)
		}
	}
	f := openFakeLt(t)
	h, err := f.api.newHandle()
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := fnetBaseLtCalls(t)
	// column-major: A is W1 (fwd.a), B the activations, C = D the output
	w128 := fwd
	w128.a += 128 // a bf16 weight copy parameter after one of 64·odd elements
	mixed := w128
	mixed.b += 64
	mixed.c += 16
	mixed.aux += 32 // the epilogue's pointers are in the descriptor, not the preference
	for _, tc := range []struct {
		name string
		c    ltCall
		want [4]string
	}{
		{"aligned", fwd, [4]string{"256", "256", "256", "256"}},
		{"W1 128-byte aligned", w128, [4]string{"128", "256", "256", "256"}},
		{"mixed", mixed, [4]string{"128", "64", "16", "16"}},
	} {
		f.call("fakeLtReset")
		p, err := f.api.prepare(h, tc.c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		f.api.release(p)
		if got := prefAlignments(t, f.log()); got != tc.want {
			t.Errorf("%s: MIN_ALIGNMENT_{A,B,C,D}_BYTES %v, want %v\n%s", tc.name, got, tc.want, strings.Join(f.log(), "\n"))
		}
	}
	// plans are keyed by pointer: the two alignments are two plans
	rt := newLtRuntime(f.api, h)
	e := &Engine{}
	p1, err1 := rt.plan(e, fwd)
	p2, err2 := rt.plan(e, w128)
	if err1 != nil || err2 != nil || p1 == p2 || len(rt.plans[e]) != 2 {
		t.Errorf("an aligned and a 128-byte aligned call share a plan: %v %v", err1, err2)
	}

	// the engine's calls: bf16 weight copy, every layer's pair
	e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{Fuse: FuseEpilogue})
	var calls []ltCall
	d.ltRefuse = func(c ltCall) error { calls = append(calls, c); return nil }
	if _, err := e.ForwardBackward(randomBatch(newRNG(), smallConfig(0), 3, 6, 0), 1, 1); err != nil {
		t.Fatal(err)
	}
	below := 0
	for _, c := range calls {
		f.call("fakeLtReset")
		p, err := f.api.prepare(h, c)
		if err != nil {
			t.Fatal(err)
		}
		f.api.release(p)
		want := [4]string{fmt.Sprint(ltAlignment(c.a)), fmt.Sprint(ltAlignment(c.b)), fmt.Sprint(ltAlignment(c.c)), fmt.Sprint(ltAlignment(c.c))}
		if got := prefAlignments(t, f.log()); got != want {
			t.Errorf("%s: %v, want %v", c.label(), got, want)
		}
		if ltAlignment(c.a) < 256 || ltAlignment(c.b) < 256 {
			below++
		}
	}
	if len(calls) == 0 || below == 0 {
		t.Errorf("%d engine calls, %d with a weight below 256-byte alignment (the case this guards)", len(calls), below)
	}
}
