package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestScreenshots writes each view, in colour, at 80x24 and 160x48 as
// ANSI text under $FNET_SCREENSHOTS (scripts/screenshots.sh turns them
// into docs/img/*.png with charm's freeze). Skipped otherwise.
func TestScreenshots(t *testing.T) {
	out := os.Getenv("FNET_SCREENSHOTS")
	if out == "" {
		t.Skip("set FNET_SCREENSHOTS=DIR (scripts/screenshots.sh does)")
	}
	out, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	root := standardFixtures(t)
	writeBenchJSON(t, root, sampleBench)
	dir := writeFixtureRun(t, root, fixtureSpec{id: "finetune-glue-rte-20250601-115000", kind: "finetune", task: "rte",
		state: rundir.StateDone, steps: 300, total: 300, evalEvery: 50, ckptEvery: 50, start: fixtureNow.Add(-20 * time.Minute), stepTime: 2 * time.Second, seed: 4})
	best := filepath.Join(dir, rundir.CheckpointsDir, "step-000000250")
	os.WriteFile(filepath.Join(best, rundir.TrainerFile), []byte(`{"step":250,"metric":"accuracy","score":0.8333}`), 0o644)
	os.Symlink("step-000000250", filepath.Join(dir, rundir.CheckpointsDir, rundir.BestLink))
	const dataParallel = "pretrain-pretrain-base-20250601-080000" // 4 ranks (docs/SCALING.md)
	writeFixtureRun(t, root, fixtureSpec{id: dataParallel, kind: "pretrain", state: rundir.StateDone, steps: 400, total: 400,
		evalEvery: 100, ckptEvery: 100, gpu: true, ranks: 4, start: fixtureNow.Add(-4 * time.Hour), stepTime: time.Second, seed: 8})
	for _, id := range []string{"pretrain-pretrain-mini-20250601-100000", liveRun} {
		arch := map[bool]string{true: "fnet", false: "bert"}[id == liveRun]
		os.WriteFile(filepath.Join(root, id, rundir.ConfigFile), []byte(fmt.Sprintf(
			"[model]\narch = %q\nlayers = 4\nhidden = 256\n[train]\nlr = 1e-4\nsteps = %d\nwarmup = 100\n[data]\nseq_len = 128\nbatch_size = 32\n",
			arch, map[bool]int{true: 3000, false: 600}[id == liveRun])), 0o644)
	}
	shots := []struct {
		name string
		keys func(m *Model)
	}{
		{"runs", func(m *Model) {}},
		{"run", func(m *Model) {
			runsOf(m).cursor = indexOf(runsOf(m).visible(), liveRun)
			press(m, "enter")
		}},
		{"run-overlay", func(m *Model) {
			rv := runsOf(m)
			for _, id := range []string{"pretrain-pretrain-mini-20250601-100000", "pretrain-pretrain-base-20250601-110000"} {
				rv.cursor = indexOf(rv.visible(), id)
				press(m, "space")
			}
			rv.cursor = indexOf(rv.visible(), liveRun)
			press(m, "enter")
		}},
		{"run-grid", func(m *Model) {
			runsOf(m).cursor = indexOf(runsOf(m).visible(), liveRun)
			press(m, "enter", "g")
		}},
		{"run-finetune", func(m *Model) {
			rv := runsOf(m)
			rv.cursor = indexOf(rv.visible(), "finetune-glue-rte-20250601-115000")
			press(m, "enter", "m")
			for m.views[viewRun].(*runView).metricName() != "accuracy" {
				press(m, "m")
			}
		}},
		{"config-diff", func(m *Model) {
			rv := runsOf(m)
			rv.cursor = indexOf(rv.visible(), "pretrain-pretrain-mini-20250601-100000")
			press(m, "space")
			rv.cursor = indexOf(rv.visible(), liveRun)
			press(m, "c")
		}},
		{"run-ranks", func(m *Model) {
			runsOf(m).cursor = indexOf(runsOf(m).visible(), dataParallel)
			press(m, "enter")
		}},
		{"launch", func(m *Model) { press(m, "n") }},
		{"repl", func(m *Model) { m.focus(viewREPL) }},
		{"bench", func(m *Model) { press(m, "b") }},
		{"help", func(m *Model) { press(m, "?") }},
	}
	for _, sz := range [][2]int{{80, 24}, {160, 48}} {
		for _, sh := range shots {
			os.RemoveAll(filepath.Join(root, stateDir)) // marks from the last shot
			m := newTestModel(t, root, sz[0], sz[1], func(o *Options) { o.NoColor = false })
			sh.keys(m)
			s := m.render()
			path := filepath.Join(out, fmt.Sprintf("%s-%dx%d.ansi", sh.name, sz[0], sz[1]))
			if err := os.WriteFile(path, []byte(s+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if n := len(strings.Split(s, "\n")); n != sz[1] {
				t.Errorf("%s at %dx%d is %d lines", sh.name, sz[0], sz[1], n)
			}
		}
	}
}
