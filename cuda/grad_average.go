package cuda

import (
	"fmt"
	"strings"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/fnet"
)

// Data parallel on the device: the engine averages its own flat gradient
// buffer over the ranks through an NCCL Collective, in place, with no host
// copy, overlapping the reductions with the rest of the backward (llm.c's
// placement: a layer's gradients are reduced as soon as the backward has
// finished them).
//
// The flat layout holds the trained parameters in Hugging Face order, so
// each group below is one contiguous range of the gradient buffer, and the
// groups tile [0, nTrained) in order:
//
//	embeddings (word, position, type, LN, projection) | layer 0 | … | layer L−1 | heads (pooler, MLM, NSP, classifier)
//
// The backward finishes them in the reverse order: the heads (whose
// masked-LM decoder also adds into the word embeddings' gradient, which
// sits in the embeddings group, the last one finished), then layers L−1 …
// 0, then the embeddings. On the step's last micro-batch (ArmGradientAverage
// before its ForwardBackward), as each group is finished the engine
// records an event on its compute stream, makes the communicator's stream
// wait for it and enqueues ncclAllReduce(ncclAvg, float32) of the group's
// range there; the backward goes on with the next layer meanwhile.
// AverageGradients then makes the compute stream wait for the last
// reduction (so Step's kernels, queued after it, see averaged gradients)
// and waits for it on the host, polling NCCL's asynchronous error.
//
// The buckets are float32, the gradients' own type: a bf16 bucket would
// halve the bytes but needs a cast kernel each way and rounds the average
// to 8 bits of mantissa (and the partial sums inside NCCL's ring with it),
// so that 2 ranks would no longer reproduce one rank's step; at FNet-Base
// the float32 average is a few milliseconds per step over NVLink (docs/SCALING.md).
//
// Every rank derives the same groups from the same configuration and
// issues them in the same order, so the NCCL calls match across ranks.

// gradGroup is one contiguous range of the gradient buffer reduced at once.
type gradGroup struct {
	name   string
	off, n int // elements
}

// gradGroups splits [0, nTrained) into the embeddings, each layer and the
// heads, in layout (Hugging Face) order; a group without trained
// parameters is absent. Alignment padding belongs to the parameter before it.
func (e *Engine) gradGroups() ([]gradGroup, error) {
	L := e.cfg.NumLayers
	groupOf := func(name string) int { // 0: embeddings, 1+i: layer i, L+1: heads
		for i := 0; i < L; i++ {
			if strings.HasPrefix(name, fnet.LayerParam(i, "")) {
				return 1 + i
			}
		}
		return -1
	}
	var groups []gradGroup
	last := 0
	for _, ps := range e.trained {
		g := groupOf(ps.Name)
		if g < 0 {
			if last == 0 {
				g = 0
			} else {
				g = L + 1
			}
		}
		if g < last {
			return nil, fmt.Errorf("cuda engine: parameter %s (group %d) follows group %d in the flat layout: the gradient groups would not be contiguous", ps.Name, g, last)
		}
		if len(groups) == 0 || g != last {
			name := "embeddings"
			switch {
			case g == L+1:
				name = "heads"
			case g > 0:
				name = fmt.Sprintf("layer %d", g-1)
			}
			off := e.offsets[ps.Name]
			if len(groups) > 0 {
				groups[len(groups)-1].n = off - groups[len(groups)-1].off
			}
			groups = append(groups, gradGroup{name: name, off: off})
		}
		last = g
	}
	if len(groups) > 0 {
		groups[len(groups)-1].n = e.nTrained - groups[len(groups)-1].off
	}
	return groups, nil
}

// gradAverage is the engine's state for averaging through one Collective.
type gradAverage struct {
	c      *Collective
	groups []gradGroup // in backward (issue) order: heads, layer L−1 … 0, embeddings
	events []uintptr   // per group: its gradients are final on the compute stream
	done   uintptr     // the last reduction, on the communicator's stream
	armed  bool
	issued int // groups enqueued in this step
}

// setupAverage prepares (once per Collective) the groups and the events.
func (e *Engine) setupAverage(c *Collective) error {
	if e.avg != nil && e.avg.c == c {
		return nil
	}
	if e.avg != nil {
		if e.avg.armed || e.avg.issued > 0 {
			return fmt.Errorf("cuda engine: switching collectives while a gradient average is pending")
		}
		e.releaseAverage()
	}
	groups, err := e.gradGroups()
	if err != nil {
		return err
	}
	for i, j := 0, len(groups)-1; i < j; i, j = i+1, j-1 {
		groups[i], groups[j] = groups[j], groups[i]
	}
	a := &gradAverage{c: c, groups: groups}
	for range len(groups) + 1 {
		ev, err := e.eventCreate()
		if err != nil {
			e.avg = a
			e.releaseAverage()
			return err
		}
		a.events = append(a.events, ev)
	}
	a.done = a.events[len(groups)]
	a.events = a.events[:len(groups)]
	e.avg = a
	return nil
}

// releaseAverage destroys the events (the Collective is the caller's).
func (e *Engine) releaseAverage() {
	if e.avg == nil {
		return
	}
	for _, ev := range append(e.avg.events, e.avg.done) {
		if ev != 0 {
			_ = e.eventDestroy(ev)
		}
	}
	e.avg = nil
}

// nccl is c as the engine's communicator, or nil when c is another
// Collective (one that cannot reach device memory).
func ncclOf(c dist.Collective) *Collective {
	nc, _ := c.(*Collective)
	return nc
}

// ArmGradientAverage makes the next ForwardBackward (the step's last
// micro-batch) all-reduce each group of gradients through c as soon as the
// backward has finished it, overlapping the rest of the backward; ok is
// false (and nothing changes) when c is not an NCCL Collective.
// AverageGradients must follow before Step.
func (e *Engine) ArmGradientAverage(c dist.Collective) (bool, error) {
	nc, unlock, err := e.beginAverage(c)
	if nc == nil || err != nil {
		return nc != nil, err
	}
	defer unlock()
	if e.avg.armed || e.avg.issued > 0 {
		return true, fmt.Errorf("cuda engine: rank %d: a gradient average is still pending (AverageGradients was not called after the last armed micro-batch)", nc.rank)
	}
	e.avg.armed = true
	return true, nil
}

// beginAverage is how ArmGradientAverage and AverageGradients start: c's
// NCCL Collective (nil, and nothing done, when c is not one), refused once
// it failed; the engine entered (the caller defers unlock when err is nil);
// the average's streams and groups set up.
func (e *Engine) beginAverage(c dist.Collective) (nc *Collective, unlock func(), err error) {
	if nc = ncclOf(c); nc == nil {
		return nil, nil, nil
	}
	if err := nc.usable(); err != nil {
		return nc, nil, err
	}
	if unlock, err = e.enter(); err != nil {
		return nc, nil, err
	}
	if err := e.setupAverage(nc); err != nil {
		unlock()
		return nc, nil, err
	}
	return nc, unlock, nil
}

// AverageGradients completes the average over c's ranks: after an armed
// ForwardBackward it checks that every group was enqueued; unarmed, it
// enqueues them all now (no overlap). Then the compute stream waits for
// the last reduction, and the host waits for it too, polling NCCL's
// asynchronous error, the collective's timeout and the stop request (a
// dead peer on another node fails here through the async error; on one
// node NCCL reports nothing, and the timeout or a stop request ends the
// wait). ok is false when c is not an NCCL Collective.
func (e *Engine) AverageGradients(c dist.Collective) (bool, error) {
	nc, unlock, err := e.beginAverage(c)
	if nc == nil || err != nil {
		return nc != nil, err
	}
	defer unlock()
	a := e.avg
	if a.armed && a.issued != len(a.groups) {
		n := a.issued
		a.armed, a.issued = false, 0
		return true, fmt.Errorf("cuda engine: rank %d: the armed backward enqueued %d of the %d gradient groups (a ForwardBackward failed, or did not run, since ArmGradientAverage)", nc.rank, n, len(a.groups))
	}
	for a.issued < len(a.groups) {
		if err := e.reduceGroup(a.issued); err != nil {
			return true, err
		}
	}
	a.armed, a.issued = false, 0
	if err := e.eventRecordOn(a.done, nc.stream, "comm"); err != nil {
		return true, nc.fail(err)
	}
	if err := e.streamWaitOn(e.stream, "compute", a.done); err != nil {
		return true, nc.fail(err)
	}
	if e.dry() != nil {
		return true, nil
	}
	return true, nc.wait(func() (bool, error) { return nc.dev.eventDone(a.done) })
}

// averagePending refuses an optimizer step on gradients an armed average
// has not finished (AverageGradients makes the compute stream wait for it;
// without that call Step would read gradients NCCL is still writing).
func (e *Engine) averagePending() error {
	if a := e.avg; a != nil && (a.armed || a.issued > 0) {
		return fmt.Errorf("cuda engine: rank %d: Step before AverageGradients: the gradients are still being averaged", a.c.rank)
	}
	return nil
}

// gradientsFinal is the backward's hook: the gradients of the named group
// (as gradGroups names it) are final on the compute stream. On an armed
// pass it enqueues that group's reduction; the hooks must come in issue
// order, which the check below holds the backward to.
func (p *pass) gradientsFinal(group string) error {
	a := p.e.avg
	if a == nil || !a.armed {
		return nil
	}
	if a.issued >= len(a.groups) || a.groups[a.issued].name != group {
		// a group without trained parameters has no entry: skip the hook
		for _, g := range a.groups[a.issued:] {
			if g.name == group {
				return fmt.Errorf("cuda engine: the gradients of %s were final before those of %s, which the backward finishes first", group, a.groups[a.issued].name)
			}
		}
		return nil
	}
	return p.e.reduceGroup(a.issued)
}

// reduceGroup enqueues group i's all-reduce on the communicator's stream,
// behind an event marking the compute stream's progress.
func (e *Engine) reduceGroup(i int) error {
	a := e.avg
	g, c := a.groups[i], a.c
	if err := e.eventRecordOn(a.events[i], e.stream, "compute"); err != nil {
		return c.fail(err)
	}
	if err := e.streamWaitOn(c.stream, "comm", a.events[i]); err != nil {
		return c.fail(err)
	}
	buf := e.grads + DevPtr(4*g.off)
	if d := e.dry(); d != nil {
		d.record(dryOp{name: "nccl_allreduce", args: []any{buf, int64(g.n), "float32", "avg", "comm"}})
	} else if err := c.comm.AllReduce(buf, buf, g.n, NCCLFloat32, NCCLAvg, c.stream); err != nil {
		return c.fail(fmt.Errorf("averaging the gradients of %s (%d values): %w", g.name, g.n, err))
	}
	a.issued = i + 1
	return nil
}

// The event operations, or their records in a dry run (stream names the
// stream for the listing: "compute" is the engine's, "comm" the
// communicator's).

func (e *Engine) eventCreate() (uintptr, error) {
	if d := e.dry(); d != nil {
		d.events++
		return uintptr(d.events), nil
	}
	return e.s.drv.syncEventCreate()
}

func (e *Engine) eventDestroy(ev uintptr) error {
	if e.dry() != nil {
		return nil
	}
	return e.s.drv.eventDestroy(ev)
}

func (e *Engine) eventRecordOn(ev, stream uintptr, name string) error {
	if d := e.dry(); d != nil {
		d.record(dryOp{name: "event_record", args: []any{fmt.Sprintf("event%d", ev), name}})
		return nil
	}
	return e.s.drv.eventRecord(ev, stream)
}

func (e *Engine) streamWaitOn(stream uintptr, name string, ev uintptr) error {
	if d := e.dry(); d != nil {
		d.record(dryOp{name: "stream_wait", args: []any{name, fmt.Sprintf("event%d", ev)}})
		return nil
	}
	return e.s.drv.streamWaitEvent(stream, ev)
}
