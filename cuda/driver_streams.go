package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The driver calls that order work between two streams (the engine's
// compute stream and a communicator's stream) and poll it without
// blocking: cuStreamWaitEvent, cuStreamQuery, cuEventQuery, and events
// without timing (cheaper to record). They are looked up on first use so
// that loadDriver's list, which every engine needs, stays as it is.

// cudaErrorNotReady is CUDA_ERROR_NOT_READY: a query's "not yet".
const cudaErrorNotReady = 600

// cuEventDisableTiming is CU_EVENT_DISABLE_TIMING.
const cuEventDisableTiming = 2

type streamAPI struct {
	cuStreamWaitEvent, cuStreamQuery, cuEventQuery uintptr
}

var (
	streamOnce sync.Once
	streamFns  streamAPI
	streamErr  error
)

func (d *driverAPI) streams() (*streamAPI, error) {
	streamOnce.Do(func() {
		streamErr = d.lib.syms(map[string]*uintptr{
			"cuStreamWaitEvent": &streamFns.cuStreamWaitEvent, "cuStreamQuery": &streamFns.cuStreamQuery,
			"cuEventQuery": &streamFns.cuEventQuery,
		})
		if streamErr != nil {
			streamErr = fmt.Errorf("CUDA driver too old or broken: %w", streamErr)
		}
	})
	return &streamFns, streamErr
}

// syncEventCreate makes an event for ordering only (no timestamps).
func (d *driverAPI) syncEventCreate() (uintptr, error) {
	var e uintptr
	r, _, _ := purego.SyscallN(d.cuEventCreate, uintptr(unsafe.Pointer(&e)), cuEventDisableTiming)
	return e, d.check("cuEventCreate", r)
}

// streamWaitEvent makes stream's later work wait until event's recorded work is done.
func (d *driverAPI) streamWaitEvent(stream, event uintptr) error {
	s, err := d.streams()
	if err != nil {
		return err
	}
	r, _, _ := purego.SyscallN(s.cuStreamWaitEvent, stream, event, 0)
	return d.check("cuStreamWaitEvent", r)
}

// streamQuery reports whether the stream's work has finished, without waiting.
func (d *driverAPI) streamQuery(stream uintptr) (bool, error) {
	s, err := d.streams()
	if err != nil {
		return false, err
	}
	r, _, _ := purego.SyscallN(s.cuStreamQuery, stream)
	return queryResult(d, "cuStreamQuery", r)
}

// eventQuery reports whether the event's recorded work has finished, without waiting.
func (d *driverAPI) eventQuery(event uintptr) (bool, error) {
	s, err := d.streams()
	if err != nil {
		return false, err
	}
	r, _, _ := purego.SyscallN(s.cuEventQuery, event)
	return queryResult(d, "cuEventQuery", r)
}

func queryResult(d *driverAPI, fn string, r uintptr) (bool, error) {
	if int32(r) == cudaErrorNotReady {
		return false, nil
	}
	if err := d.check(fn, r); err != nil {
		return false, err
	}
	return true, nil
}
