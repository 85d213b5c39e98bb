package cuda

import (
	"fmt"
	"sort"
)

// profiler times every kernel launch and GEMM of the engine's stream with
// CUDA events, for the breakdown `go test -run TestBenchTrainStep` prints.
// Off by default: events cost host time, and the numbers say where a step
// goes, not how fast it is.
type profiler struct {
	drv    *driverAPI
	stream uintptr
	events []uintptr
	names  []string
	n      int
	totals map[string]*ProfileEntry
}

// ProfileEntry is the device time of one kind of operation.
type ProfileEntry struct {
	Name  string
	Count int
	Ms    float64
}

const profileEvents = 4096

func newProfiler(d *driverAPI, stream uintptr) (*profiler, error) {
	p := &profiler{drv: d, stream: stream, totals: map[string]*ProfileEntry{}}
	for i := 0; i < profileEvents; i++ {
		e, err := d.eventCreate()
		if err != nil {
			return nil, err
		}
		p.events = append(p.events, e)
	}
	p.names = make([]string, profileEvents/2)
	return p, nil
}

// begin records the start event of the next operation; false when the pool
// is used up (the rest of the step is then not profiled).
func (p *profiler) begin() bool {
	if 2*p.n+1 >= len(p.events) {
		return false
	}
	return p.drv.eventRecord(p.events[2*p.n], p.stream) == nil
}

func (p *profiler) end(name string) {
	if p.drv.eventRecord(p.events[2*p.n+1], p.stream) == nil {
		p.names[p.n] = name
		p.n++
	}
}

// collect waits for the recorded operations and adds their times up.
func (p *profiler) collect() error {
	for i := 0; i < p.n; i++ {
		ms, err := p.drv.eventElapsedMs(p.events[2*i], p.events[2*i+1])
		if err != nil {
			return err
		}
		t := p.totals[p.names[i]]
		if t == nil {
			t = &ProfileEntry{Name: p.names[i]}
			p.totals[p.names[i]] = t
		}
		t.Count++
		t.Ms += float64(ms)
	}
	p.n = 0
	return nil
}

func (p *profiler) report() []ProfileEntry {
	out := make([]ProfileEntry, 0, len(p.totals))
	for _, t := range p.totals {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ms > out[j].Ms })
	return out
}

func (p *profiler) close() {
	for _, e := range p.events {
		_ = p.drv.eventDestroy(e)
	}
}

// gemmLabel names a GEMM by its shape for the profile.
func gemmLabel(g gemmCall) string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	s := fmt.Sprintf("gemm %dx%dx%d %s%s", g.m, g.n, g.k, t(g.transA), t(g.transB))
	if g.batch > 1 {
		s += fmt.Sprintf(" x%d", g.batch)
	}
	return s
}

// SetProfiling turns the per-operation timing on or off.
func (e *Engine) SetProfiling(on bool) error {
	unlock, err := e.enter()
	if err != nil {
		return err
	}
	defer unlock()
	if !on {
		if e.prof != nil {
			e.prof.close()
		}
		e.prof, e.l.prof = nil, nil
		return nil
	}
	if e.prof == nil {
		p, err := newProfiler(e.s.drv, e.stream)
		if err != nil {
			return err
		}
		e.prof, e.l.prof = p, p
	}
	return nil
}

// Profile returns the device time per operation since profiling was turned
// on, largest first.
func (e *Engine) Profile() ([]ProfileEntry, error) {
	if e.prof == nil {
		return nil, fmt.Errorf("cuda engine: profiling is off")
	}
	unlock, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.prof.collect(); err != nil {
		return nil, err
	}
	return e.prof.report(), nil
}
