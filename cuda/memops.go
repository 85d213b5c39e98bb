package cuda

import "unsafe"

// The engine's memory operations on its stream. Each is the driver call,
// or, in a dry run, its host-only stand-in (see dryRun).

// dry is the engine's dry run, nil on a device.
func (e *Engine) dry() *dryRun {
	if e.l == nil {
		return nil
	}
	return e.l.dry
}

func (e *Engine) memAlloc(n uint64) (DevPtr, error) {
	var p DevPtr
	var err error
	if d := e.dry(); d != nil {
		p, err = d.alloc(n)
	} else {
		p, err = e.s.drv.memAlloc(n)
	}
	if err == nil {
		if e.allocs == nil {
			e.allocs = map[DevPtr]uint64{}
		}
		e.allocs[p] = n
		e.allocated += n
		e.peakAllocated = max(e.peakAllocated, e.allocated)
	}
	return p, err
}

func (e *Engine) memFree(p DevPtr) error {
	e.allocated -= e.allocs[p]
	delete(e.allocs, p)
	if e.dry() != nil {
		return nil
	}
	return e.s.drv.memFree(p)
}

// AllocatedBytes is the device memory the engine holds now and held at
// its peak (its own allocations: weights, optimizer state, activations,
// tables; not cuBLAS's workspace or the CUDA context).
func (e *Engine) AllocatedBytes() (now, peak uint64) { return e.allocated, e.peakAllocated }

func (e *Engine) streamSync() error {
	if e.dry() != nil {
		return nil
	}
	return e.s.drv.streamSync(e.stream)
}

// htod copies n bytes from the host to dst.
func (e *Engine) htod(dst DevPtr, src unsafe.Pointer, n int) error {
	if d := e.dry(); d != nil {
		d.record(dryOp{name: "htod", args: []any{dst, int64(n)}})
		if d.write != nil {
			d.write(dst, unsafe.Slice((*byte)(src), n))
		}
		return nil
	}
	return e.s.drv.htod(dst, src, n, e.stream)
}

// dtoh copies n bytes from src to the host (and waits for them).
func (e *Engine) dtoh(dst unsafe.Pointer, src DevPtr, n int) error {
	if d := e.dry(); d != nil {
		return d.read(dst, src, n)
	}
	return e.s.drv.dtoh(dst, src, n, e.stream)
}

// memsetD32 fills n 32-bit words on the stream.
func (e *Engine) memsetD32(p DevPtr, v uint32, n int) error {
	if d := e.dry(); d != nil {
		return d.run(dryOp{name: "memset", args: []any{p, v, int64(n)}})
	}
	return e.s.drv.memsetD32(p, v, n, e.stream)
}
