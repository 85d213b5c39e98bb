package cuda

import (
	"fmt"
	"unsafe"
)

// dryRun stands in for the device in host-only tests of the engine (no
// GPU needed): every kernel launch and GEMM still checks its arguments
// (against the kernel's C signature, the GEMM's shapes) and is recorded with
// them, memory operations are recorded too, allocations hand out made-up
// addresses, and device-to-host copies return zeros (or what fill writes),
// except the gradient norm, which reads norm. An engine whose launcher has
// one runs its whole public API — ForwardBackward, Evaluate, Step,
// HiddenStates, Params — without a device.
type dryRun struct {
	ops []dryOp
	// next is the address the next allocation gets.
	next DevPtr
	// norm is the gradient norm Step reads back (NaN tests the refusal).
	norm float32
	// readErr, when set, fails every device-to-host copy.
	readErr error
	// fill, when set, writes what a device-to-host copy of src returns.
	fill func(src DevPtr, dst []byte)
	// write, when set, sees what a host-to-device copy to dst carries.
	write func(dst DevPtr, src []byte)
	// exec, when set, carries out each launch, GEMM and memset after it
	// is checked and recorded (a host emulation of the device, in tests).
	exec func(op dryOp) error
	// ltRefuse, when set, stands in for cuBLASLt's heuristic when the
	// engine probes a call (Engine.ltProbe) and when it runs one
	// (Engine.ltMatmul, which on a device prepares a call the probe did
	// not): a non-nil error refuses it, as a library without an algorithm
	// would (tests of the fallbacks; a refusal at run time fails the step).
	ltRefuse func(c ltCall) error
	// events counts the events handed out (grad_average.go's; their
	// records and stream waits are ops "event_record", "stream_wait",
	// with the all-reduces as "nccl_allreduce")
	events int
}

// dryOp is one recorded operation: a kernel launch (name, grid, block,
// args), a GEMM (name "gemm …", gemm), a cuBLASLt GEMM with an epilogue
// (name "cublasLt <epilogue>", args: the one ltCall with every operand,
// layout and epilogue pointer, cublaslt.go), or a memory operation
// ("memset", "htod", "dtoh"; args: address, then value and words or bytes).
type dryOp struct {
	name        string
	grid, block [3]uint32
	args        []any
	gemm        *gemmCall
}

func (d *dryRun) record(op dryOp) { d.ops = append(d.ops, op) }

// run records an operation and carries it out when the dry run emulates.
func (d *dryRun) run(op dryOp) error {
	d.record(op)
	if d.exec != nil {
		return d.exec(op)
	}
	return nil
}

// names lists the recorded operations' names in order.
func (d *dryRun) names() []string {
	out := make([]string, len(d.ops))
	for i, op := range d.ops {
		out[i] = op.name
	}
	return out
}

// dryAllocStride spaces the made-up allocations (no test allocates more).
const dryAllocStride = 1 << 36

func (d *dryRun) alloc(n uint64) (DevPtr, error) {
	if n >= dryAllocStride {
		return 0, fmt.Errorf("dry run: allocation of %d bytes", n)
	}
	p := d.next
	d.next += dryAllocStride
	return p, nil
}

func (d *dryRun) read(dst unsafe.Pointer, src DevPtr, n int) error {
	d.record(dryOp{name: "dtoh", args: []any{src, int64(n)}})
	if d.readErr != nil {
		return d.readErr
	}
	b := unsafe.Slice((*byte)(dst), n)
	clear(b)
	if d.fill != nil {
		d.fill(src, b)
	}
	return nil
}
