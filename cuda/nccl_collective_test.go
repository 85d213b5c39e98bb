package cuda

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/fnet-tui/fnet-tui/dist"
)

// hostDevice is a collDevice in host memory, for the Collective's tests
// against the fake NCCL library (which reads "device" pointers as host
// memory and completes every all-reduce inside the call). pending makes
// the next stream or event queries report "not done" that many times, so
// the waits poll; it records the stream and event operations in order.
type hostDevice struct {
	mu      sync.Mutex
	mem     map[DevPtr][]byte
	pending int
	log     []string
	nextEv  uintptr
	freed   int
}

func newHostDevice() *hostDevice { return &hostDevice{mem: map[DevPtr][]byte{}} }

func (h *hostDevice) enter() (func(), error)         { return func() {}, nil }
func (h *hostDevice) streamCreate() (uintptr, error) { return 0x5CA1AB1E, nil }
func (h *hostDevice) streamDestroy(s uintptr) error {
	h.note("streamDestroy")
	return nil
}
func (h *hostDevice) streamDone(uintptr) (bool, error) { return h.poll(), nil }
func (h *hostDevice) poll() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending > 0 {
		h.pending--
		return false
	}
	return true
}
func (h *hostDevice) note(s string) {
	h.mu.Lock()
	h.log = append(h.log, s)
	h.mu.Unlock()
}
func (h *hostDevice) alloc(n uint64) (DevPtr, error) {
	b := make([]byte, n)
	p := DevPtr(uintptr(unsafe.Pointer(&b[0])))
	h.mu.Lock()
	h.mem[p] = b
	h.mu.Unlock()
	return p, nil
}
func (h *hostDevice) free(p DevPtr) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.mem[p]; !ok {
		return fmt.Errorf("free of %#x, not allocated", p)
	}
	delete(h.mem, p)
	h.freed++
	return nil
}
func (h *hostDevice) buf(p DevPtr, n int) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.mem[p]
	if !ok || len(b) < n {
		panic(fmt.Sprintf("host device: %d bytes at %#x not allocated", n, p))
	}
	return b[:n]
}
func (h *hostDevice) htod(dst DevPtr, src unsafe.Pointer, n int, _ uintptr) error {
	copy(h.buf(dst, n), unsafe.Slice((*byte)(src), n))
	return nil
}
func (h *hostDevice) dtoh(dst unsafe.Pointer, src DevPtr, n int, _ uintptr) error {
	copy(unsafe.Slice((*byte)(dst), n), h.buf(src, n))
	return nil
}
func (h *hostDevice) eventCreate() (uintptr, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextEv++
	return h.nextEv, nil
}
func (h *hostDevice) eventDestroy(ev uintptr) error {
	h.note(fmt.Sprintf("eventDestroy %d", ev))
	return nil
}
func (h *hostDevice) eventRecord(ev, s uintptr) error {
	h.note(fmt.Sprintf("eventRecord %d %#x", ev, s))
	return nil
}
func (h *hostDevice) eventDone(uintptr) (bool, error) { return h.poll(), nil }
func (h *hostDevice) streamWaitEvent(s, ev uintptr) error {
	h.note(fmt.Sprintf("streamWaitEvent %#x %d", s, ev))
	return nil
}

// loadFakeNCCL builds and opens the fake NCCL (a fresh copy per test: its
// counters are the library's globals) and returns a symbol lookup into it.
func loadFakeNCCL(t *testing.T) (*NCCL, func(string) uintptr) {
	t.Helper()
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
	return n, func(name string) uintptr {
		p, err := purego.Dlsym(n.lib.handle, name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// TestCollectiveWorldOfOne: a world of one makes its id itself, and the
// host reductions go through the scratch buffer and NCCL unchanged
// (average of one rank) or summed (the fake sums nranks copies).
func TestCollectiveWorldOfOne(t *testing.T) {
	n, _ := loadFakeNCCL(t)
	dev := newHostDevice()
	c, err := joinWith(context.Background(), dist.World{Size: 1}, "run-1", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("rank %d of %d", c.Rank(), c.Size())
	}
	g := []float32{1.5, -2, 3}
	if err := c.AllReduceAvg(g); err != nil || g[0] != 1.5 || g[1] != -2 || g[2] != 3 {
		t.Fatalf("average over one rank: %v %v", g, err)
	}
	v := []float64{4, 1e-300}
	dev.pending = 3 // the wait polls until the stream reports done
	if err := c.AllReduceSum(v); err != nil || v[0] != 4 || v[1] != 1e-300 {
		t.Fatalf("sum over one rank: %v %v", v, err)
	}
	if dev.pending != 0 {
		t.Fatalf("the reduction returned before its stream was done (%d polls left)", dev.pending)
	}
	// a larger buffer grows the scratch (the old one is freed)
	big := make([]float32, 1000)
	big[999] = 7
	if err := c.AllReduceAvg(big); err != nil || big[999] != 7 || c.scratchLen != 4000 || dev.freed != 2 { // 12 bytes, then 16, then 4000
		t.Fatalf("grown scratch: %v, %d bytes, %d freed", err, c.scratchLen, dev.freed)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if len(dev.mem) != 0 {
		t.Fatalf("Close left %d device buffers", len(dev.mem))
	}
	if err := c.AllReduceSum(v); err == nil || !strings.Contains(err.Error(), "rank 0: the NCCL collective is closed") {
		t.Fatalf("after Close: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestCollectiveTwoRanksMeetOverTCP: two ranks (goroutines) join through
// the TCP rendezvous; both communicators carry rank 0's id, with their own
// rank and the world size, and Close destroys both.
func TestCollectiveTwoRanksMeetOverTCP(t *testing.T) {
	n, hook := loadFakeNCCL(t)
	port := freePort(t)
	var wg sync.WaitGroup
	colls := make([]*Collective, 2)
	errs := make([]error, 2)
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := dist.World{Rank: r, Size: 2, LocalRank: r, MasterAddr: "127.0.0.1", MasterPort: port}
			colls[r], errs[r] = joinWith(context.Background(), w, "job-7", dist.Options{Timeout: 20 * time.Second, Retry: 10 * time.Millisecond, Bind: "127.0.0.1"}, n, newHostDevice())
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	var ids [2][NCCLUniqueIDBytes]byte
	for r, c := range colls {
		purego.SyscallN(hook("fakeCommID"), c.comm.h, uintptr(unsafe.Pointer(&ids[r][0])))
		rank, _, _ := purego.SyscallN(hook("fakeCommRank"), c.comm.h)
		size, _, _ := purego.SyscallN(hook("fakeCommSize"), c.comm.h)
		if int(rank) != r || size != 2 || c.Rank() != r || c.Size() != 2 {
			t.Fatalf("rank %d's communicator: rank %d of %d", r, rank, size)
		}
	}
	if ids[0] != ids[1] || ids[0][5] != byte(5*7+3) {
		t.Fatalf("the ranks hold different ids (or not ncclGetUniqueId's)")
	}
	// the fake sums nranks copies of the rank's own buffer: the stream argument is the collective's
	v := []float64{1.25}
	if err := colls[1].AllReduceSum(v); err != nil || v[0] != 2.5 {
		t.Fatalf("sum: %v %v", v, err)
	}
	if s, _, _ := purego.SyscallN(hook("fakeLastStream")); s != colls[1].stream {
		t.Fatalf("ncclAllReduce ran on stream %#x, not the collective's %#x", s, colls[1].stream)
	}
	for _, c := range colls {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if d, _, _ := purego.SyscallN(hook("fakeDestroyed")); d != 2 {
		t.Fatalf("destroyed %d communicators, want 2", d)
	}
	if a, _, _ := purego.SyscallN(hook("fakeAborted")); a != 0 {
		t.Fatalf("aborted %d healthy communicators", a)
	}
}

// TestCollectiveFailureIsFinal: a peer that died (the communicator's async
// error) fails the waiting reduction with the rank and NCCL's text, aborts
// the communicator, and every later call is refused with that cause.
func TestCollectiveFailureIsFinal(t *testing.T) {
	n, hook := loadFakeNCCL(t)
	dev := newHostDevice()
	c, err := joinWith(context.Background(), dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	purego.SyscallN(hook("fakeSetAsync"), c.comm.h, 6) // ncclRemoteError
	dev.pending = 1 << 30                              // the stream never finishes: only the async error ends the wait
	err = c.AllReduceSum([]float64{1})
	var re *RankError
	if !errors.As(err, &re) || re.Rank != 0 || !strings.Contains(err.Error(), "remote process exited") || !strings.Contains(err.Error(), "ncclRemoteError") {
		t.Fatalf("a dead peer: %v", err)
	}
	if a, _, _ := purego.SyscallN(hook("fakeAborted")); a != 1 {
		t.Fatalf("the failed wait aborted %d communicators, want 1", a)
	}
	err = c.AllReduceAvg([]float32{1})
	if err == nil || !strings.Contains(err.Error(), "rank 0: the NCCL communicator failed earlier") || !strings.Contains(err.Error(), "remote process exited") {
		t.Fatalf("after the failure: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := purego.SyscallN(hook("fakeDestroyed")); d != 0 {
		t.Fatalf("a failed communicator was destroyed (%d) instead of aborted", d)
	}

	// a timeout (a stuck peer) fails the same way
	c, err = joinWith(context.Background(), dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 20 * time.Millisecond
	if err := c.AllReduceSum([]float64{1}); err == nil || !strings.Contains(err.Error(), "rank 0: NCCL operation did not complete within 20ms") {
		t.Fatalf("a stuck peer: %v", err)
	}
	if a, _, _ := purego.SyscallN(hook("fakeAborted")); a != 2 {
		t.Fatalf("the timed-out wait aborted %d communicators in all, want 2", a)
	}
	_ = c.Close()
}

// TestCloseAbortsWithWorkQueued: a rank that leaves while its stream still
// holds NCCL work (the trainer closing after an error) aborts rather than
// destroys: ncclCommDestroy would wait for peers that may never come.
func TestCloseAbortsWithWorkQueued(t *testing.T) {
	n, hook := loadFakeNCCL(t)
	dev := newHostDevice()
	c, err := joinWith(context.Background(), dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	dev.pending = 1
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	a, _, _ := purego.SyscallN(hook("fakeAborted"))
	d, _, _ := purego.SyscallN(hook("fakeDestroyed"))
	if a != 1 || d != 0 {
		t.Fatalf("aborted %d, destroyed %d; want the abort", a, d)
	}
}

func TestJoinNCCLRefusesABadWorld(t *testing.T) {
	_, err := JoinNCCL(context.Background(), dist.World{Rank: 2, Size: 2}, "r", dist.Options{})
	if err == nil || !strings.Contains(err.Error(), "rank 2: not a rank of a world of 2") {
		t.Fatalf("%v", err)
	}
}

// TestSelectedOrdinal pins the device rule: FNET_CUDA_DEVICE, else the
// launcher's local rank when several devices are visible, else 0.
func TestSelectedOrdinal(t *testing.T) {
	torchrun := func(rank, local int) map[string]string {
		return map[string]string{"RANK": fmt.Sprint(rank), "WORLD_SIZE": "4", "LOCAL_RANK": fmt.Sprint(local), "LOCAL_WORLD_SIZE": "2",
			"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
	}
	slurm := map[string]string{"SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LOCALID": "1", "MASTER_ADDR": "n1", "MASTER_PORT": "29500"}
	cases := []struct {
		name  string
		env   map[string]string
		count int
		want  int
		err   string
	}{
		{"no launcher", map[string]string{}, 8, 0, ""},
		{"FNET_CUDA_DEVICE", map[string]string{"FNET_CUDA_DEVICE": "3"}, 8, 3, ""},
		{"FNET_CUDA_DEVICE beyond the devices", map[string]string{"FNET_CUDA_DEVICE": "3"}, 2, 0, "FNET_CUDA_DEVICE=3 but the driver reports 2 device(s)"},
		{"FNET_CUDA_DEVICE not a number", map[string]string{"FNET_CUDA_DEVICE": "gpu1"}, 2, 0, `FNET_CUDA_DEVICE="gpu1" is not a device ordinal`},
		{"torchrun local rank", torchrun(3, 1), 2, 1, ""},
		{"FNET_CUDA_DEVICE wins over the local rank", merge(torchrun(3, 1), map[string]string{"FNET_CUDA_DEVICE": "0"}), 2, 0, ""},
		{"slurm, every GPU of the node visible", slurm, 4, 1, ""},
		{"slurm, one GPU per task (CUDA_VISIBLE_DEVICES)", slurm, 1, 0, ""},
		{"local rank beyond the devices", torchrun(3, 1), 1, 0, ""}, // one device: every rank shares it
		{"local rank beyond several devices", merge(torchrun(3, 2), map[string]string{"LOCAL_WORLD_SIZE": "4"}), 2, 0, "rank 3 has local rank 2 (torchrun) but 2 CUDA device(s) are visible"},
		{"a broken launcher environment is dist's to report", map[string]string{"RANK": "1"}, 4, 0, ""},
	}
	for _, c := range cases {
		got, err := selectedOrdinal(func(k string) string { return c.env[k] }, c.count)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %d, %v; want the error %q", c.name, got, err, c.err)
			}
		case err != nil || got != c.want:
			t.Errorf("%s: %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestQueryResult: a stream or event query's CUDA_ERROR_NOT_READY is "not
// yet", not an error (the waits poll on it); CUDA_SUCCESS is "done".
func TestQueryResult(t *testing.T) {
	var d driverAPI // neither result reaches the driver's error strings
	if done, err := queryResult(&d, "cuStreamQuery", cudaErrorNotReady); done || err != nil {
		t.Fatalf("not ready: %v %v", done, err)
	}
	if done, err := queryResult(&d, "cuEventQuery", 0); !done || err != nil {
		t.Fatalf("success: %v %v", done, err)
	}
}

// TestAbortLeavesAHealthyCommunicatorWithoutDestroy: a rank that failed
// on its own leaves with ncclCommAbort even though its communicator is
// idle and healthy (ncclCommDestroy would wait at NCCL's intra-node
// barrier for peers sitting in their next all-reduce); afterwards every
// call is refused and Close does nothing more.
func TestAbortLeavesAHealthyCommunicatorWithoutDestroy(t *testing.T) {
	n, hook := loadFakeNCCL(t)
	dev := newHostDevice()
	c, err := joinWith(context.Background(), dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AllReduceSum([]float64{1}); err != nil { // idle and healthy afterwards
		t.Fatal(err)
	}
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	a, _, _ := purego.SyscallN(hook("fakeAborted"))
	d, _, _ := purego.SyscallN(hook("fakeDestroyed"))
	if a != 1 || d != 0 {
		t.Fatalf("aborted %d, destroyed %d; want the abort alone", a, d)
	}
	if len(dev.mem) != 0 {
		t.Fatalf("Abort left %d device buffers", len(dev.mem))
	}
	if err := c.AllReduceAvg([]float32{1}); err == nil || !strings.Contains(err.Error(), "rank 0: the NCCL collective is closed") {
		t.Fatalf("after Abort: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	a, _, _ = purego.SyscallN(hook("fakeAborted"))
	d, _, _ = purego.SyscallN(hook("fakeDestroyed"))
	if a != 1 || d != 0 {
		t.Fatalf("Close and Abort after Abort: aborted %d, destroyed %d", a, d)
	}
	var none *Collective
	if err := none.Abort(); err != nil {
		t.Fatal(err)
	}
}

// TestStopRequestDuringAWait: once JoinNCCL's context is cancelled (the
// CLI's SIGTERM), a reduction that completes within StopGrace succeeds
// (the agreed stop of healthy ranks, which then destroy as before); one
// whose peers never answer fails after the grace, saying so, and aborts
// the communicator, long before Timeout.
func TestStopRequestDuringAWait(t *testing.T) {
	n, hook := loadFakeNCCL(t)
	counts := func() (uintptr, uintptr) {
		a, _, _ := purego.SyscallN(hook("fakeAborted"))
		d, _, _ := purego.SyscallN(hook("fakeDestroyed"))
		return a, d
	}

	// healthy: the peer finishes its step and reaches the agreed stop
	ctx, cancel := context.WithCancel(context.Background())
	dev := newHostDevice()
	c, err := joinWith(ctx, dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	if c.StopGrace != DefaultStopGrace || c.Timeout != DefaultNCCLTimeout {
		t.Fatalf("defaults: grace %v, timeout %v", c.StopGrace, c.Timeout)
	}
	c.StopGrace = 5 * time.Second
	cancel()
	dev.pending = 30 // ~30 ms of polls after the stop request
	v := []float64{2}
	if err := c.AllReduceSum(v); err != nil || v[0] != 2 {
		t.Fatalf("a reduction completing within the grace: %v %v", v, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if a, d := counts(); a != 0 || d != 1 {
		t.Fatalf("the agreed stop: aborted %d, destroyed %d; want it destroyed", a, d)
	}

	// a dead peer: the wait never completes
	ctx, cancel = context.WithCancel(context.Background())
	dev = newHostDevice()
	c, err = joinWith(ctx, dist.World{Size: 1}, "r", dist.Options{}, n, dev)
	if err != nil {
		t.Fatal(err)
	}
	c.StopGrace = 50 * time.Millisecond
	dev.pending = 1 << 30
	errc := make(chan error, 1)
	t0 := time.Now()
	go func() { errc <- c.AllReduceSum([]float64{1}) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err = <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("the wait went on after the stop request's grace")
	}
	if err == nil || !strings.Contains(err.Error(), "rank 0: the ranks it was waiting on") || !strings.Contains(err.Error(), "did not answer within 50ms after the stop request") {
		t.Fatalf("after the grace: %v", err)
	}
	if took := time.Since(t0); took < 70*time.Millisecond {
		t.Fatalf("failed after %v, before the stop request's grace ran out", took)
	}
	if a, _ := counts(); a != 1 {
		t.Fatalf("aborted %d communicators, want 1", a)
	}
	if err := c.AllReduceSum([]float64{1}); err == nil || !strings.Contains(err.Error(), "after the stop request") {
		t.Fatalf("a later call: %v", err)
	}
	_ = c.Close()
	if _, d := counts(); d != 1 {
		t.Fatalf("the failed communicator was destroyed (%d destroys in all)", d)
	}
}
