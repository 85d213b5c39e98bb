package cuda

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/fnet-tui/fnet-tui/dist"
)

func TestNCCLCandidates(t *testing.T) {
	env := map[string]string{"VIRTUAL_ENV": "/venv", "HOME": "/home/u", "FNET_CUDA_LIBDIR": "/extra"}
	get := func(k string) string { return env[k] }
	glob := func(p string) ([]string, error) {
		switch p {
		case "/venv/lib/python3*/site-packages/nvidia/nccl/lib":
			return []string{"/venv/lib/python3.12/site-packages/nvidia/nccl/lib"}, nil
		case "/home/u/.local/lib/python3*/site-packages/nvidia/nccl/lib":
			return []string{"/home/u/.local/lib/python3.11/site-packages/nvidia/nccl/lib"}, nil
		}
		return nil, nil
	}
	cands, ndirs := ncclCandidates(get, glob)
	want := []string{
		"libnccl.so.2", "libnccl.so",
		"/venv/lib/libnccl.so.2",
		"/venv/lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2",
		"/home/u/.local/lib/python3.11/site-packages/nvidia/nccl/lib/libnccl.so.2",
		"/extra/libnccl.so.2",
	}
	for i, w := range want {
		if i >= len(cands) || cands[i] != w {
			t.Fatalf("candidate %d: got %v, want %s first", i, cands[:min(len(cands), len(want))], w)
		}
	}
	if ndirs < 4 {
		t.Errorf("%d directories", ndirs)
	}
	// FNET_NCCL_LIB is the one file tried
	env["FNET_NCCL_LIB"] = "/opt/nccl/libnccl.so.2.27.3"
	if c, _ := ncclCandidates(get, glob); len(c) != 1 || c[0] != "/opt/nccl/libnccl.so.2.27.3" {
		t.Fatalf("with FNET_NCCL_LIB: %v", c)
	}
}

func TestNCCLNotFound(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libnccl.so.2")
	_, err := openNCCL(func(k string) string {
		if k == "FNET_NCCL_LIB" {
			return missing
		}
		return ""
	}, filepath.Glob)
	if err == nil || !strings.Contains(err.Error(), "NCCL not found: FNET_NCCL_LIB="+missing+" does not load") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("a missing FNET_NCCL_LIB: %v", err)
	}
	// nothing configured: only the loader path and the fixed directories
	n, err := openNCCL(func(string) string { return "" }, func(string) ([]string, error) { return nil, nil })
	if err == nil {
		t.Skipf("NCCL is installed here (%s %s): the not-found message cannot be checked", n.Path(), n.Version())
	}
	for _, s := range []string{"NCCL not found", "libnccl.so.2", "FNET_NCCL_LIB", "nvidia-nccl-cu12"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if info := ProbeNCCL(); info.Err == nil && info.Path == "" {
		t.Errorf("ProbeNCCL: neither a library nor an error: %+v", info)
	}
}

func TestNCCLVersionString(t *testing.T) {
	for code, want := range map[int]string{22304: "2.23.4", 22703: "2.27.3", 2708: "2.7.8", 21003: "2.10.3", 30001: "3.0.1"} {
		if got := ncclVersionString(code); got != want {
			t.Errorf("%d: %s, want %s", code, got, want)
		}
	}
}

func TestPollComm(t *testing.T) {
	spec := func(timeout, interval time.Duration) pollSpec { return pollSpec{timeout: timeout, interval: interval} }
	calls := 0
	done := func() (bool, error) { calls++; return calls == 3, nil }
	if err := pollComm(spec(time.Second, 0), done, func() error { return nil }); err != nil || calls != 3 {
		t.Fatalf("completes on the third poll: %v after %d", err, calls)
	}
	remote := errors.New("ncclRemoteError")
	err := pollComm(spec(time.Second, 0), func() (bool, error) { return false, nil }, func() error { return remote })
	if !errors.Is(err, remote) || !strings.Contains(err.Error(), "communicator failed") {
		t.Fatalf("async error: %v", err)
	}
	t0 := time.Now()
	err = pollComm(spec(50*time.Millisecond, time.Millisecond), func() (bool, error) { return false, nil }, func() error { return nil })
	if err == nil || !strings.Contains(err.Error(), "did not complete within 50ms") || time.Since(t0) > 2*time.Second {
		t.Fatalf("timeout: %v", err)
	}
	streamErr := errors.New("CUDA_ERROR_LAUNCH_FAILED")
	if err := pollComm(spec(time.Second, 0), func() (bool, error) { return false, streamErr }, func() error { return nil }); !errors.Is(err, streamErr) {
		t.Fatalf("the stream's error: %v", err)
	}
}

// TestPollCommStopGrace: after the stop request a wait has the grace to
// finish (a healthy peer reaching the agreed stop), then fails naming
// the ranks it waited on; without a stop request only the timeout counts.
func TestPollCommStopGrace(t *testing.T) {
	stop := make(chan struct{})
	close(stop)
	never := func() (bool, error) { return false, nil }
	healthy := func() error { return nil }
	t0 := time.Now()
	err := pollComm(pollSpec{timeout: time.Hour, interval: time.Millisecond, stop: stop, grace: 40 * time.Millisecond, peers: "rank 1"}, never, healthy)
	if err == nil || !strings.Contains(err.Error(), "the ranks it was waiting on (rank 1) did not answer within 40ms after the stop request") {
		t.Fatalf("a wait past the grace: %v", err)
	}
	if took := time.Since(t0); took < 40*time.Millisecond || took > 5*time.Second {
		t.Fatalf("failed after %v; want the 40ms grace, not the hour's timeout", took)
	}
	calls := 0
	late := func() (bool, error) { calls++; return calls == 20, nil } // ~20ms after the stop: within the grace
	if err := pollComm(pollSpec{timeout: time.Hour, interval: time.Millisecond, stop: stop, grace: 10 * time.Second, peers: "rank 1"}, late, healthy); err != nil {
		t.Fatalf("work finishing within the grace: %v", err)
	}
	// the stop request may come in the middle of a wait
	later := make(chan struct{})
	time.AfterFunc(30*time.Millisecond, func() { close(later) })
	t0 = time.Now()
	err = pollComm(pollSpec{timeout: time.Hour, interval: time.Millisecond, stop: later, grace: 30 * time.Millisecond}, never, healthy)
	if err == nil || !strings.Contains(err.Error(), "after the stop request") || time.Since(t0) < 60*time.Millisecond {
		t.Fatalf("a stop request during the wait: %v after %v", err, time.Since(t0))
	}
	if got := [...]string{otherRanks(0, 2), otherRanks(1, 4), otherRanks(3, 64), otherRanks(0, 1)}; got != [...]string{"rank 1", "ranks 0, 2, 3", "the other 63 ranks", "no other rank"} {
		t.Fatalf("otherRanks: %q", got)
	}
}

func TestNCCLTimeoutFromEnv(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if d, err := ncclTimeoutFromEnv(get); err != nil || d != DefaultNCCLTimeout {
		t.Fatalf("unset: %v %v", d, err)
	}
	env[NCCLTimeoutEnv] = "2h30m"
	if d, err := ncclTimeoutFromEnv(get); err != nil || d != 150*time.Minute {
		t.Fatalf("2h30m: %v %v", d, err)
	}
	for _, bad := range []string{"30", "soon", "-5m", "0s"} {
		env[NCCLTimeoutEnv] = bad
		if _, err := ncclTimeoutFromEnv(get); err == nil || !strings.Contains(err.Error(), "FNET_NCCL_TIMEOUT=\""+bad+"\"") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	// JoinNCCL refuses it before anything else (no GPU needed to see it)
	t.Setenv(NCCLTimeoutEnv, "soon")
	if _, err := JoinNCCL(context.Background(), dist.World{Rank: 1, Size: 2}, "r", dist.Options{}); err == nil || !strings.Contains(err.Error(), "rank 1: FNET_NCCL_TIMEOUT=\"soon\"") {
		t.Fatalf("JoinNCCL with a bad FNET_NCCL_TIMEOUT: %v", err)
	}
}

// buildFakeNCCL compiles testdata/fakenccl into a libnccl.so.2.
func buildFakeNCCL(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if cc, err = exec.LookPath("gcc"); err != nil {
			t.Skip("no C compiler to build the fake NCCL")
		}
	}
	lib := filepath.Join(t.TempDir(), "libnccl.so.2")
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-Wall", "-o", lib, "testdata/fakenccl/fakenccl.c").CombinedOutput()
	if err != nil {
		t.Fatalf("building the fake NCCL: %v\n%s", err, out)
	}
	return lib
}

// TestNCCLBindingsAgainstAFakeLibrary runs every binding through purego
// into a C library with NCCL's signatures: arguments in order, the id by
// pointer, 7-argument ncclAllReduce, results and error strings.
func TestNCCLBindingsAgainstAFakeLibrary(t *testing.T) {
	path := buildFakeNCCL(t)
	n, err := openNCCL(func(k string) string {
		if k == "FNET_NCCL_LIB" {
			return path
		}
		return ""
	}, filepath.Glob)
	if err != nil {
		t.Fatal(err)
	}
	hook := func(name string) uintptr {
		p, err := purego.Dlsym(n.lib.handle, name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if n.Path() != path || n.Version() != "2.23.4" || n.Usable() != nil {
		t.Fatalf("loaded %s version %s, usable: %v", n.Path(), n.Version(), n.Usable())
	}

	id, err := n.UniqueID()
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range id {
		if b != byte(i*7+3) {
			t.Fatalf("id byte %d = %d, want %d", i, b, byte(i*7+3))
		}
	}
	id[0], id[127] = 0xAA, 0x55 // the id that arrives must be this one
	comm, err := n.InitRank(id, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got [NCCLUniqueIDBytes]byte
	purego.SyscallN(hook("fakeCommID"), comm.h, uintptr(unsafe.Pointer(&got[0])))
	rank, _, _ := purego.SyscallN(hook("fakeCommRank"), comm.h)
	size, _, _ := purego.SyscallN(hook("fakeCommSize"), comm.h)
	if got != id || rank != 2 || size != 4 {
		t.Fatalf("the library got rank %d of %d, id equal: %v", rank, size, got == id)
	}

	// float32 sum and average; float64 sum; the stream argument arrives
	buf := []float32{1, -2, 3.5}
	out := make([]float32, 3)
	ptr := func(p unsafe.Pointer) DevPtr { return DevPtr(uintptr(p)) }
	if err := comm.AllReduce(ptr(unsafe.Pointer(&buf[0])), ptr(unsafe.Pointer(&out[0])), 3, NCCLFloat32, NCCLSum, 0xBEEF); err != nil {
		t.Fatal(err)
	}
	if out[0] != 4 || out[1] != -8 || out[2] != 14 {
		t.Fatalf("sum over 4 ranks: %v", out)
	}
	if s, _, _ := purego.SyscallN(hook("fakeLastStream")); s != 0xBEEF {
		t.Fatalf("stream %#x reached the library", s)
	}
	if err := comm.AllReduce(ptr(unsafe.Pointer(&buf[0])), ptr(unsafe.Pointer(&buf[0])), 3, NCCLFloat32, NCCLAvg, 0); err != nil || buf[2] != 3.5 {
		t.Fatalf("in-place average: %v %v", buf, err)
	}
	d := []float64{0.25, 1e300}
	if err := comm.AllReduce(ptr(unsafe.Pointer(&d[0])), ptr(unsafe.Pointer(&d[0])), 2, NCCLFloat64, NCCLSum, 0); err != nil || d[0] != 1 || d[1] != 4e300 {
		t.Fatalf("float64 sum: %v %v", d, err)
	}

	// an error names the rank, the function, NCCL's code and text, and its last error
	err = comm.AllReduce(ptr(unsafe.Pointer(&buf[0])), ptr(unsafe.Pointer(&buf[0])), 3, NCCLDataType(99), NCCLSum, 0)
	var re *RankError
	var ce *Error
	if !errors.As(err, &re) || re.Rank != 2 || !errors.As(err, &ce) || ce.Code != 4 {
		t.Fatalf("bad data type: %v", err)
	}
	for _, s := range []string{"rank 2", "ncclAllReduce", "ncclInvalidArgument", "invalid argument (run with NCCL_DEBUG=WARN", "fake: unsupported data type"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}

	// a dead peer: the async error fails Wait, which aborts the communicator
	if err := comm.AsyncError(); err != nil {
		t.Fatalf("healthy communicator: %v", err)
	}
	purego.SyscallN(hook("fakeSetAsync"), comm.h, 6)
	if err := comm.AsyncError(); err == nil || !strings.Contains(err.Error(), "ncclRemoteError") || !strings.Contains(err.Error(), "rank 2") {
		t.Fatalf("async error: %v", err)
	}
	err = comm.Wait(time.Second, nil, 0, func() (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "rank 2: NCCL communicator failed") || !strings.Contains(err.Error(), "remote process exited") {
		t.Fatalf("Wait on a failed communicator: %v", err)
	}
	if a, _, _ := purego.SyscallN(hook("fakeAborted")); a != 1 {
		t.Fatalf("Wait should abort the communicator (aborted %d)", a)
	}
	if err := comm.Destroy(); err != nil {
		t.Fatalf("destroying an aborted communicator is a no-op: %v", err)
	}

	// a timeout aborts too; a healthy one is destroyed
	comm, err = n.InitRank(id, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := comm.Wait(20*time.Millisecond, nil, 0, func() (bool, error) { return false, nil }); err == nil || !strings.Contains(err.Error(), "rank 0: NCCL operation did not complete within 20ms") {
		t.Fatalf("timeout: %v", err)
	}
	comm, _ = n.InitRank(id, 2, 1)
	if err := comm.Wait(time.Second, nil, 0, func() (bool, error) { return true, nil }); err != nil {
		t.Fatal(err)
	}
	if err := comm.Destroy(); err != nil {
		t.Fatal(err)
	}
	if dn, _, _ := purego.SyscallN(hook("fakeDestroyed")); dn != 1 {
		t.Fatalf("destroyed %d", dn)
	}

	// bad arguments are refused before NCCL sees them
	if _, err := n.InitRank(id, 2, 2); err == nil || !strings.Contains(err.Error(), "rank 2: not a rank of a communicator of 2") {
		t.Fatalf("rank beyond size: %v", err)
	}

	// a release before 2.23 is reported as unusable, with why
	purego.SyscallN(hook("fakeSetVersion"), 22105)
	old, err := openNCCL(func(k string) string {
		if k == "FNET_NCCL_LIB" {
			return path
		}
		return ""
	}, filepath.Glob)
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.InitRank(id, 2, 1)
	if old.Version() != "2.21.5" || err == nil || !strings.Contains(err.Error(), "rank 1: NCCL 2.21.5") || !strings.Contains(err.Error(), "by value") {
		t.Fatalf("NCCL 2.21.5: %v", err)
	}
	purego.SyscallN(hook("fakeSetVersion"), 22304)
	_ = os.Remove(path)
}
