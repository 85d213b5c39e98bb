package tui

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// benchModel is a dashboard holding runs runs of lines train lines each
// (plus an eval line every 1000 steps), generated in memory.
func benchModel(b *testing.B, runs, lines int) *Model {
	b.Helper()
	m := New(Options{RunsDir: b.TempDir(), NoColor: false, Now: func() time.Time { return fixtureNow }})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	rng := rand.New(rand.NewSource(1))
	t0 := fixtureNow.Add(-48 * time.Hour)
	var marked []string
	for r := range runs {
		id := fmt.Sprintf("pretrain-bench-%02d-20250601-000000", r)
		rd := newRunData(id, id)
		rd.Status = rundir.Status{State: rundir.StateRunning, Kind: "pretrain", Step: lines, TotalSteps: 2 * lines,
			StartedAt: t0.Add(time.Duration(r) * time.Minute), UpdatedAt: fixtureNow, Device: "cpu"}
		ms := make([]rundir.Metric, 0, lines+lines/1000)
		for s := 1; s <= lines; s++ {
			loss := 2 + 8*math.Exp(-float64(s)/20000) + 0.3*rng.NormFloat64()
			ms = append(ms, rundir.Metric{T: t0.Add(time.Duration(s) * time.Second), Step: s, Split: "train",
				Values: map[string]float64{"loss": loss, "lr": 1e-4, "tokens_per_s": 12000, "step_ms": 170}})
			if s%1000 == 0 {
				ms = append(ms, rundir.Metric{T: t0.Add(time.Duration(s) * time.Second), Step: s, Split: "eval",
					Values: map[string]float64{"loss": loss, "mlm_acc": 0.5, "nsp_acc": 0.8}})
			}
		}
		rd.addMetrics(ms)
		m.store.runs[id] = rd
		marked = append(marked, id) // overlay every run on the chart
	}
	m.store.sortRuns()
	m.Update(overlayMsg{ids: marked})
	runtime.GC() // collect the generated lines before timing starts
	return m
}

// BenchmarkRedraw is one full redraw of the run view with 10 runs of 100k
// metric lines each overlaid on the chart (the heaviest screen), and of
// the runs table. The budget is 50 ms per redraw.
func BenchmarkRedraw(b *testing.B) {
	m := benchModel(b, 10, 100_000)
	for _, bc := range []struct {
		name string
		view viewID
		cold bool // every series changed since the last redraw: no cached downsampling
	}{{"Run", viewRun, false}, {"RunAllSeriesChanged", viewRun, true}, {"Runs", viewRuns, false}} {
		b.Run(bc.name, func(b *testing.B) {
			m.Update(openRunMsg{id: m.store.order[0]})
			m.Update(showViewMsg{view: bc.view})
			for b.Loop() {
				if bc.cold {
					for _, r := range m.store.runs {
						for _, c := range r.curves {
							c.cache = [numXAxes][2]sampleCache{}
						}
					}
				}
				if len(m.render()) == 0 {
					b.Fatal("empty screen")
				}
			}
		})
	}
}

// BenchmarkPollAppend is the cost of one poll of a run whose metrics file
// already holds 100k lines when 10 lines were appended: it must not depend
// on the file's size.
func BenchmarkPollAppend(b *testing.B) {
	root := b.TempDir()
	dir := filepath.Join(root, "pretrain-big-20250601-000000")
	os.MkdirAll(dir, 0o755)
	rundir.WriteStatus(dir, rundir.Status{State: rundir.StateRunning, Kind: "pretrain", TotalSteps: 1 << 30})
	line := func(s int) string {
		return fmt.Sprintf(`{"t":"2025-06-01T00:00:00Z","step":%d,"split":"train","loss":3.2,"mlm_loss":2.9,"nsp_loss":0.3,"mlm_acc":0.41,"nsp_acc":0.8,"lr":1e-4,"grad_norm":1.7,"tokens_per_s":12000,"examples_per_s":94,"step_ms":170,"data_wait":0.02,"elapsed_s":71.2}`+"\n", s)
	}
	var sb strings.Builder
	for s := 1; s <= 100_000; s++ {
		sb.WriteString(line(s))
	}
	path := filepath.Join(dir, rundir.MetricsFile)
	os.WriteFile(path, []byte(sb.String()), 0o644)
	p := newPoller(root, time.Now)
	st := newStore()
	start, polls := time.Now(), 0
	for { // catch up first
		msg := p.poll()
		st.apply(msg)
		polls++
		if !msg.More {
			break
		}
	}
	initialMs := float64(time.Since(start).Milliseconds())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	step := 100_000
	b.ResetTimer()
	for b.Loop() {
		var chunk strings.Builder
		for range 10 {
			step++
			chunk.WriteString(line(step))
		}
		f.WriteString(chunk.String())
		msg := p.poll()
		st.apply(msg)
		if len(msg.Runs) != 1 || len(msg.Runs[0].Metrics) != 10 {
			b.Fatalf("poll read %d lines, want 10", len(msg.Runs[0].Metrics))
		}
	}
	// Reading the existing 100k lines at first sight, in 4 MiB polls.
	b.ReportMetric(initialMs, "ms-initial-load")
	b.ReportMetric(float64(polls), "initial-polls")
}
