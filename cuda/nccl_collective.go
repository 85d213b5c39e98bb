package cuda

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/dist"
)

// Collective is one rank's dist.Collective over NCCL, on the GPU the
// rank's engine trains on. It owns a stream of its own (the
// communicator's): the host-buffer reductions (AllReduceAvg,
// AllReduceSum) copy through a device scratch buffer on it, and the CUDA
// engine's gradient average (grad_average.go) all-reduces the engine's
// flat gradient buffer on it, in place, overlapping the backward.
//
// Every wait for NCCL work polls the stream and ncclCommGetAsyncError
// (NCCLComm.Wait) until Timeout, and watches the stop request (the
// context JoinNCCL was given: the CLI cancels it on SIGINT/SIGTERM), so a
// peer that died fails this rank with an error instead of hanging it;
// after any failure the Collective refuses further work and Close aborts
// the communicator. On one node NCCL does not notice a dead peer by itself
// (no asynchronous error over P2P or SHM): the timeout, the stop request
// or the launcher's SIGTERM ends the wait.
type Collective struct {
	n          *NCCL
	comm       *NCCLComm
	dev        collDevice
	rank, size int
	stream     uintptr // the communicator's stream (CUstream)
	scratch    DevPtr  // host reductions' device copy
	scratchLen int     // bytes
	// Timeout bounds one wait for NCCL work. Rank 0 evaluates and
	// checkpoints while the other ranks wait inside the next step's first
	// reduction, so it is long (DefaultNCCLTimeout, or FNET_NCCL_TIMEOUT);
	// across nodes a dead peer is caught sooner, by the communicator's
	// asynchronous error; on one node only by this, the stop request or
	// the launcher.
	Timeout time.Duration
	// StopGrace is how long a wait still running when the stop request
	// comes (stop closed) may go on before it aborts: long enough for a
	// healthy peer to finish its step and reach the agreed stop, or for
	// rank 0 to evaluate and checkpoint while the others wait (under Slurm
	// every rank gets the SIGTERM). DefaultStopGrace when 0.
	StopGrace time.Duration
	stop      <-chan struct{} // the stop request (JoinNCCL's ctx); nil: none
	failed    error
	closed    bool
}

// DefaultNCCLTimeout is Collective.Timeout's default: longer than any
// evaluation or checkpoint rank 0 makes the others wait through.
const DefaultNCCLTimeout = 30 * time.Minute

// DefaultStopGrace is Collective.StopGrace's default, the grace the local
// launcher allows for past its SIGTERM (dist.StopGrace, + dist.KillMargin).
const DefaultStopGrace = dist.StopGrace

// NCCLTimeoutEnv sets Collective.Timeout for JoinNCCL (a Go duration: 45m, 2h).
const NCCLTimeoutEnv = "FNET_NCCL_TIMEOUT"

// ncclTimeoutFromEnv is FNET_NCCL_TIMEOUT's duration, DefaultNCCLTimeout when unset.
func ncclTimeoutFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv(NCCLTimeoutEnv)
	if v == "" {
		return DefaultNCCLTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive Go duration such as 45m or 2h (how long a rank waits for its peers in one NCCL operation; default %s)", NCCLTimeoutEnv, v, DefaultNCCLTimeout)
	}
	return d, nil
}

var _ dist.Collective = (*Collective)(nil)

// JoinNCCL makes this process rank w.Rank of a w.Size-rank NCCL communicator on the GPU the rank
// trains on (w.LocalRank unless FNET_CUDA_DEVICE says otherwise): rank 0 creates the id with
// ncclGetUniqueId and dist.Rendezvous (TCP at w.MasterAddr:w.MasterPort, or w.RendezvousFile)
// hands it to the others under runID; the returned *cuda.Collective implements dist.Collective.
//
// The device is the process's CUDA device (selectedOrdinal, read once from
// the environment): JoinNCCL refuses a w whose rank would train on another
// one, since the engine and the communicator must share it.
//
// ctx is also the run's stop request: once it is cancelled, a wait for
// NCCL work has StopGrace to finish (Collective.StopGrace). Timeout comes
// from FNET_NCCL_TIMEOUT (DefaultNCCLTimeout when unset).
func JoinNCCL(ctx context.Context, w dist.World, runID string, o dist.Options) (*Collective, error) {
	if w.Size < 1 || w.Rank < 0 || w.Rank >= w.Size {
		return nil, fmt.Errorf("rank %d: not a rank of a world of %d", w.Rank, w.Size)
	}
	timeout, err := ncclTimeoutFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	s, err := getRuntime()
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	count, err := s.drv.deviceCount()
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	want := s.ordinal
	if os.Getenv("FNET_CUDA_DEVICE") == "" {
		if want, err = rankOrdinal(w, count); err != nil {
			return nil, err
		}
	}
	if want != s.ordinal {
		return nil, fmt.Errorf("rank %d: its GPU is cuda:%d (local rank %d) but this process's CUDA engine uses cuda:%d (from the environment: %s): the engine and the communicator must share a device (set FNET_CUDA_DEVICE, or launch with the local rank in the environment)", w.Rank, want, w.LocalRank, s.ordinal, w)
	}
	n, err := LoadNCCL()
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	if err := n.Usable(); err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	c, err := joinWith(ctx, w, runID, o, n, driverDevice{s})
	if err != nil {
		return nil, err
	}
	c.Timeout = timeout
	return c, nil
}

// joinWith is JoinNCCL past the device checks: the rendezvous, the
// communicator's stream, the communicator.
func joinWith(ctx context.Context, w dist.World, runID string, o dist.Options, n *NCCL, dev collDevice) (*Collective, error) {
	id, err := dist.Rendezvous(ctx, w, runID, func() (dist.ID, error) {
		uid, err := n.UniqueID()
		return dist.ID(uid), err
	}, o)
	if err != nil {
		return nil, fmt.Errorf("rank %d: NCCL id rendezvous: %w", w.Rank, err)
	}
	unlock, err := dev.enter()
	if err != nil {
		return nil, fmt.Errorf("rank %d: %w", w.Rank, err)
	}
	defer unlock()
	stream, err := dev.streamCreate()
	if err != nil {
		return nil, fmt.Errorf("rank %d: the communicator's stream: %w", w.Rank, err)
	}
	comm, err := n.InitRank([NCCLUniqueIDBytes]byte(id), w.Size, w.Rank)
	if err != nil {
		_ = dev.streamDestroy(stream)
		return nil, err
	}
	return &Collective{n: n, comm: comm, dev: dev, rank: w.Rank, size: w.Size, stream: stream,
		Timeout: DefaultNCCLTimeout, StopGrace: DefaultStopGrace, stop: ctx.Done()}, nil
}

func (c *Collective) Rank() int { return c.rank }
func (c *Collective) Size() int { return c.size }

// usable refuses work after Close or a failure.
func (c *Collective) usable() error {
	switch {
	case c.closed:
		return fmt.Errorf("rank %d: the NCCL collective is closed", c.rank)
	case c.failed != nil:
		return fmt.Errorf("rank %d: the NCCL communicator failed earlier: %w", c.rank, c.failed)
	}
	return nil
}

// fail records the first failure (Close then aborts) and returns err.
func (c *Collective) fail(err error) error {
	if c.failed == nil {
		c.failed = err
	}
	return err
}

// AllReduceAvg replaces buf by the mean over the ranks (ncclAvg, float32),
// through the device scratch buffer.
func (c *Collective) AllReduceAvg(buf []float32) error {
	if len(buf) == 0 {
		return c.usable()
	}
	return c.hostReduce(unsafe.Pointer(&buf[0]), len(buf), 4, NCCLFloat32, NCCLAvg)
}

// AllReduceSum replaces vals by the sum over the ranks (ncclSum, float64:
// counts stay exact).
func (c *Collective) AllReduceSum(vals []float64) error {
	if len(vals) == 0 {
		return c.usable()
	}
	return c.hostReduce(unsafe.Pointer(&vals[0]), len(vals), 8, NCCLFloat64, NCCLSum)
}

// hostReduce copies count elements at p to the scratch buffer, reduces
// them in place on the communicator's stream, waits, and copies them back.
func (c *Collective) hostReduce(p unsafe.Pointer, count, elem int, dt NCCLDataType, op NCCLRedOp) error {
	if err := c.usable(); err != nil {
		return err
	}
	unlock, err := c.dev.enter()
	if err != nil {
		return fmt.Errorf("rank %d: %w", c.rank, err)
	}
	defer unlock()
	bytes := count * elem
	if err := c.ensureScratch(bytes); err != nil {
		return c.fail(err)
	}
	if err := c.dev.htod(c.scratch, p, bytes, c.stream); err != nil {
		return c.fail(fmt.Errorf("rank %d: copying %d values to the device: %w", c.rank, count, err))
	}
	if err := c.comm.AllReduce(c.scratch, c.scratch, count, dt, op, c.stream); err != nil {
		return c.fail(err)
	}
	if err := c.wait(func() (bool, error) { return c.dev.streamDone(c.stream) }); err != nil {
		return err
	}
	if err := c.dev.dtoh(p, c.scratch, bytes, c.stream); err != nil {
		return c.fail(fmt.Errorf("rank %d: copying %d reduced values back: %w", c.rank, count, err))
	}
	return nil
}

// wait polls done (a stream or event query) and the communicator's
// asynchronous error until the work is done, for up to Timeout, or
// StopGrace once the stop request came; a failure aborts the
// communicator (NCCLComm.Wait) and is final.
func (c *Collective) wait(done func() (bool, error)) error {
	timeout, grace := c.Timeout, c.StopGrace
	if timeout <= 0 {
		timeout = DefaultNCCLTimeout
	}
	if grace <= 0 {
		grace = DefaultStopGrace
	}
	if err := c.comm.Wait(timeout, c.stop, grace, done); err != nil {
		return c.fail(err)
	}
	return nil
}

// ensureScratch grows the scratch buffer to hold n bytes.
func (c *Collective) ensureScratch(n int) error {
	if n <= c.scratchLen {
		return nil
	}
	if c.scratch != 0 {
		// the stream is idle here: every reduction waits before returning
		if err := c.dev.free(c.scratch); err != nil {
			return fmt.Errorf("rank %d: freeing the reduction buffer: %w", c.rank, err)
		}
		c.scratch, c.scratchLen = 0, 0
	}
	p, err := c.dev.alloc(uint64(n))
	if err != nil {
		return fmt.Errorf("rank %d: a %d-byte device buffer for host reductions: %w", c.rank, n, err)
	}
	c.scratch, c.scratchLen = p, n
	return nil
}

// Close leaves the communicator at the clean end of a run (or the agreed
// stop, every rank healthy): ncclCommDestroy when its work is done, which
// in NCCL is a collective of its own (every local rank meets at a
// barrier); ncclCommAbort after a failure or with work still queued (a
// peer that left never completes it). A rank that failed leaves with
// Abort instead: Destroy would wait for peers still inside a reduction.
func (c *Collective) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	unlock, err := c.dev.enter()
	if err != nil {
		if c.comm != nil {
			return errors.Join(fmt.Errorf("rank %d: %w", c.rank, err), c.comm.Abort())
		}
		return err
	}
	defer unlock()
	var errs []error
	idle, qerr := c.dev.streamDone(c.stream)
	if c.comm != nil {
		if c.failed != nil || qerr != nil || !idle {
			errs = append(errs, c.comm.Abort())
		} else {
			errs = append(errs, c.comm.Destroy())
		}
	}
	if c.scratch != 0 {
		errs = append(errs, c.dev.free(c.scratch))
		c.scratch, c.scratchLen = 0, 0
	}
	if c.stream != 0 {
		if idle || c.failed != nil {
			errs = append(errs, c.dev.streamDestroy(c.stream))
		}
		c.stream = 0
	}
	return errors.Join(errs...)
}

// Abort leaves the communicator at once (ncclCommAbort), without waiting
// for the peers: what a rank does after an error of its own, so that it
// never blocks in ncclCommDestroy's barrier while the peers sit in their
// next all-reduce. Across nodes the peers' waits fail with NCCL's remote
// error; on one node they learn it by their timeout, the stop request or
// the launcher. Every later call is refused; Close after Abort does
// nothing more. A nil Collective aborts nothing.
func (c *Collective) Abort() error {
	if c == nil || c.closed {
		return nil
	}
	if c.failed == nil {
		c.failed = fmt.Errorf("rank %d: this rank aborted the communicator", c.rank)
	}
	return c.Close()
}

// collDevice is what a Collective needs of its device: the context, one
// stream, memory, copies and a non-blocking completion check. On a GPU it
// is the driver (driverDevice); the tests against the fake NCCL library
// use host memory (nccl_collective_test.go), as the fake library does.
type collDevice interface {
	enter() (func(), error)
	streamCreate() (uintptr, error)
	streamDestroy(stream uintptr) error
	streamDone(stream uintptr) (bool, error)
	alloc(n uint64) (DevPtr, error)
	free(p DevPtr) error
	htod(dst DevPtr, src unsafe.Pointer, n int, stream uintptr) error
	dtoh(dst unsafe.Pointer, src DevPtr, n int, stream uintptr) error
	// event operations, for the engine's gradient average
	eventCreate() (uintptr, error)
	eventDestroy(ev uintptr) error
	eventRecord(ev, stream uintptr) error
	eventDone(ev uintptr) (bool, error)
	streamWaitEvent(stream, ev uintptr) error
}

// driverDevice is the process's CUDA device through the driver.
type driverDevice struct{ s *runtimeState }

// enter makes the primary context current on this goroutine's OS thread
// (NCCL and the driver calls use the thread's current context).
func (d driverDevice) enter() (func(), error) {
	runtime.LockOSThread()
	if err := d.s.drv.setCurrent(d.s.ctx); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	return runtime.UnlockOSThread, nil
}

func (d driverDevice) streamCreate() (uintptr, error)       { return d.s.drv.streamCreate() }
func (d driverDevice) streamDestroy(s uintptr) error        { return d.s.drv.streamDestroy(s) }
func (d driverDevice) streamDone(s uintptr) (bool, error)   { return d.s.drv.streamQuery(s) }
func (d driverDevice) alloc(n uint64) (DevPtr, error)       { return d.s.drv.memAlloc(n) }
func (d driverDevice) free(p DevPtr) error                  { return d.s.drv.memFree(p) }
func (d driverDevice) eventCreate() (uintptr, error)        { return d.s.drv.syncEventCreate() }
func (d driverDevice) eventDestroy(ev uintptr) error        { return d.s.drv.eventDestroy(ev) }
func (d driverDevice) eventRecord(ev, stream uintptr) error { return d.s.drv.eventRecord(ev, stream) }
func (d driverDevice) eventDone(ev uintptr) (bool, error)   { return d.s.drv.eventQuery(ev) }
func (d driverDevice) streamWaitEvent(stream, ev uintptr) error {
	return d.s.drv.streamWaitEvent(stream, ev)
}
func (d driverDevice) htod(dst DevPtr, src unsafe.Pointer, n int, s uintptr) error {
	return d.s.drv.htod(dst, src, n, s)
}
func (d driverDevice) dtoh(dst unsafe.Pointer, src DevPtr, n int, s uintptr) error {
	return d.s.drv.dtoh(dst, src, n, s)
}
