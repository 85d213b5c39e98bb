package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// RunRow is one run as `fnet-tui runs` and the plain mode print it.
type RunRow struct {
	ID         string  `json:"id"`
	Dir        string  `json:"dir"`
	State      string  `json:"state"`
	Kind       string  `json:"kind"`
	Task       string  `json:"task,omitempty"`
	Step       int     `json:"step"`
	TotalSteps int     `json:"total_steps"`
	Loss       float64 `json:"-"`
	TokensPerS float64 `json:"-"`
	ETASeconds float64 `json:"-"`
	Device     string  `json:"device"`
	WorldSize  int     `json:"world_size"` // ranks of a data-parallel run; 1 for one process
	AgeSeconds float64 `json:"age_s"`
	Error      string  `json:"error,omitempty"`
}

// MarshalJSON writes unknown numbers (NaN) as null, as the run contract does.
func (r RunRow) MarshalJSON() ([]byte, error) {
	type plain RunRow
	num := func(v float64) *float64 {
		if !finite(v) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		plain
		Loss       *float64 `json:"loss"`
		TokensPerS *float64 `json:"tokens_per_s"`
		ETASeconds *float64 `json:"eta_s"`
	}{plain(r), num(r.Loss), num(r.TokensPerS), num(r.ETASeconds)})
}

// tailMetrics is how many trailing metrics lines a one-shot listing reads
// to find the last loss and recent speed.
const tailMetrics = 64

// ScanRunRows summarises every run under root reading only the end of each
// metrics file, for a one-shot listing.
func ScanRunRows(root string, now time.Time) ([]RunRow, error) {
	entries, err := rundir.ScanRuns(root)
	if err != nil {
		return nil, err
	}
	rows := make([]RunRow, 0, len(entries))
	for _, e := range entries {
		r := newRunData(e.ID, e.Dir)
		r.Status, r.StatusErr, r.Live = e.Status, e.StatusErr, e.Status.Live()
		ms, err := rundir.LastMetrics(e.Dir, tailMetrics)
		if err != nil {
			r.LastError = err
		}
		r.addMetrics(ms)
		rows = append(rows, rowOf(r, now))
	}
	return rows, nil
}

func rowOf(r *runData, now time.Time) RunRow {
	row := RunRow{
		ID: r.ID, Dir: r.Dir, State: r.state(), Kind: r.Status.Kind, Task: r.Status.Task,
		Step: r.step(), TotalSteps: r.Status.TotalSteps, Loss: r.lastLoss(),
		TokensPerS: metricValue(r.lastTrain, "tokens_per_s"), ETASeconds: math.NaN(),
		Device: r.Status.Device, WorldSize: worldSize(r.Status, r.system), AgeSeconds: r.age(now).Seconds(), Error: r.Status.Error,
	}
	if d, ok := r.eta(); ok {
		row.ETASeconds = d.Seconds()
	}
	if r.StatusErr != nil && row.Error == "" {
		row.Error = r.StatusErr.Error()
	}
	return row
}

// WriteRunsTable prints rows as an aligned plain-text table.
func WriteRunsTable(w io.Writer, rows []RunRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATE\tKIND\tSTEP\tLOSS\tTOK/S\tETA\tDEVICE\tAGE")
	for _, r := range rows {
		kind := r.Kind
		if r.Task != "" {
			kind += "/" + r.Task
		}
		step := fmt.Sprint(r.Step)
		if r.TotalSteps > 0 {
			step = fmt.Sprintf("%d/%d", r.Step, r.TotalSteps)
		}
		eta := "-"
		if finite(r.ETASeconds) {
			eta = fmtDuration(secondsDuration(r.ETASeconds))
		}
		dev := withWorld(r.Device, r.WorldSize)
		if dev == "" {
			dev = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, orDash(kind), step,
			fmtFloat(r.Loss), fmtSI(r.TokensPerS), eta, dev, fmtDuration(secondsDuration(r.AgeSeconds)))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressLine is one run's progress as the plain mode prints it.
func progressLine(r *runData, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s step %d", now.Format("15:04:05"), r.ID, r.state(), r.step())
	if t := r.Status.TotalSteps; t > 0 {
		fmt.Fprintf(&b, "/%d (%.0f%%)", t, 100*float64(r.step())/float64(t))
	}
	fmt.Fprintf(&b, " loss %s", fmtFloat(r.lastLoss()))
	if v := metricValue(r.lastTrain, "tokens_per_s"); finite(v) {
		fmt.Fprintf(&b, " tok/s %s", fmtSI(v))
	}
	if d, ok := r.eta(); ok {
		fmt.Fprintf(&b, " eta %s", fmtDuration(d))
	}
	if len(r.evals) > 0 {
		e := r.evals[len(r.evals)-1]
		for _, k := range []string{"loss", "mlm_acc", "nsp_acc", "accuracy"} {
			if v, ok := e.Values[k]; ok {
				fmt.Fprintf(&b, " eval_%s %s", k, fmtFloat(v))
			}
		}
	}
	if r.Status.Error != "" {
		fmt.Fprintf(&b, " error: %s", r.Status.Error)
	}
	return b.String()
}

// RunPlain is the dashboard without a screen: it prints the runs table,
// then a line whenever a live run moves, until no run is live (or ctx
// ends). With opts.Demo it starts the demo first and follows it.
func RunPlain(ctx context.Context, opts Options, w io.Writer) error {
	opts.defaults()
	now := opts.Now()
	rows, err := ScanRunRows(opts.RunsDir, now)
	if err != nil {
		return err
	}
	if len(rows) == 0 && !opts.Demo {
		fmt.Fprintf(w, "no runs in %s yet; start the demo with: fnet-tui --demo\n", opts.RunsDir)
		return nil
	}
	if len(rows) > 0 {
		if err := WriteRunsTable(w, rows); err != nil {
			return err
		}
	}
	var launched *Launched
	var exited chan error
	if opts.Demo {
		l, err := opts.Launch(DemoSpec(opts.ConfigsDir))
		if err != nil {
			return err
		}
		launched = l
		fmt.Fprintf(w, "started the demo: pid %d, output in %s\n", l.PID, l.LogPath)
		exited = make(chan error, 1)
		go func() { exited <- l.Wait() }()
	}
	p := newPoller(opts.RunsDir, opts.Now)
	s := newStore()
	// Report changes since the table above.
	lastStep := map[string]int{}
	lastState := map[string]string{}
	for _, r := range rows {
		lastStep[r.ID], lastState[r.ID] = r.Step, r.State
	}
	for {
		msg := p.poll()
		if msg.Err != nil {
			return msg.Err
		}
		s.apply(msg)
		if msg.More {
			continue
		}
		anyLive := false
		for _, r := range s.list() {
			st := r.state()
			if prev, ok := lastState[r.ID]; ok && prev != st {
				fmt.Fprintf(w, "%s %s %s -> %s\n", opts.Now().Format("15:04:05"), r.ID, prev, st)
			}
			if r.Live && (r.step() != lastStep[r.ID] || lastState[r.ID] == "") {
				fmt.Fprintln(w, progressLine(r, opts.Now()))
			}
			lastStep[r.ID], lastState[r.ID] = r.step(), st
			anyLive = anyLive || r.Live
		}
		waiting := launched != nil && !anyPID(s, launched.PID)
		if !anyLive && !waiting {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-exited:
			exited = nil // a nil channel never fires again
			if waiting && !anyPID(s, launched.PID) {
				// Let one more poll find a run it may have written meanwhile.
				if s.apply(p.poll()); !anyPID(s, launched.PID) {
					return fmt.Errorf("the demo exited before creating its run (%v); see %s", err, launched.LogPath)
				}
			}
		case <-time.After(opts.PollEvery):
		}
	}
}

func anyPID(s *store, pid int) bool {
	for _, r := range s.list() {
		if r.Status.PID == pid {
			return true
		}
	}
	return false
}
