package tui

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestStopAsksFirstThenSignals stops a real process from the runs view:
// nothing happens until the confirmation is answered with y.
func TestStopAsksFirstThenSignals(t *testing.T) {
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	defer child.Process.Kill()

	root := filepath.Join(t.TempDir(), "runs")
	writeFixtureRun(t, root, fixtureSpec{id: "pretrain-pretrain-mini-20250601-115000", kind: "pretrain", state: "running",
		live: true, pid: child.Process.Pid, steps: 30, total: 100, start: fixtureNow.Add(-time.Minute), stepTime: time.Second, seed: 5})
	m := newTestModel(t, root, 80, 24)

	press(m, "s")
	if !strings.Contains(screen(m), "Stop mini 0601-1150? It checkpoints, then exits. [y/N]") {
		t.Fatalf("no confirmation:\n%s", screen(m))
	}
	if cmd := press(m, "n"); cmd != nil {
		t.Fatal("answering n must not run anything")
	}
	if m.confirm != nil || syscall.Kill(child.Process.Pid, 0) != nil {
		t.Fatal("n should cancel and leave the run alone")
	}
	press(m, "s")
	cmd := press(m, "y")
	if cmd == nil {
		t.Fatal("y should stop the run")
	}
	m.Update(cmd())
	select {
	case err := <-exited:
		if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
			t.Errorf("child ended with %v, want SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not signalled")
	}
	if !strings.Contains(screen(m), "sent SIGTERM") {
		t.Errorf("no feedback after stopping:\n%s", screen(m))
	}
}

// fakeTrainer is a shell script standing in for `fnet-tui pretrain`: it
// creates a run folder whose status names its own pid, then idles, so the
// dashboard's launch-and-follow path runs against a real detached process.
const fakeTrainer = `#!/bin/sh
runs=""
while [ $# -gt 0 ]; do [ "$1" = "--runs" ] && runs="$2"; shift; done
d="$runs/pretrain-pretrain-mini-20250601-120000"
mkdir -p "$d"
printf '{"state":"running","kind":"pretrain","pid":%d,"step":1,"total_steps":10,"started_at":"2025-06-01T12:00:00Z","updated_at":"2025-06-01T12:00:00Z"}\n' $$ > "$d/status.json.tmp"
mv "$d/status.json.tmp" "$d/status.json"
exec sleep 30
`

func TestDemoKeyLaunchesAndOpensTheRun(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fnet-tui")
	if err := os.WriteFile(exe, []byte(fakeTrainer), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	os.MkdirAll("configs", 0o755)
	m := New(Options{RunsDir: "runs", ConfigsDir: "configs", Exe: exe, NoColor: true})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	pollAll(m)
	if !strings.Contains(screen(m), "Press d to start the demo") {
		t.Fatal("no demo offer")
	}
	cmd := press(m, "d")
	msg := cmd().(launchedMsg)
	if msg.err != nil {
		t.Fatal(msg.err)
	}
	pid := msg.l.PID
	defer syscall.Kill(-pid, syscall.SIGKILL) // the child's own process group
	m.Update(msg)
	deadline := time.Now().Add(15 * time.Second)
	for m.view != viewRun && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		pollAll(m)
	}
	if m.view != viewRun || runOf(m).id != "pretrain-pretrain-mini-20250601-120000" {
		t.Fatalf("the demo's run did not open: view %d run %q\n%s", m.view, runOf(m).id, screen(m))
	}
	if r := m.store.get(runOf(m).id); r == nil || !r.Live || r.Status.PID != pid {
		t.Errorf("run %+v should be live with pid %d", r, pid)
	}
}

// TestProgramEndToEnd drives the real bubbletea program (teatest) over the
// recorded runs: open a run, see its panels, go to the REPL, quit. Screens
// are read from the model between messages (a program filter), since the
// renderer's byte stream only carries the cells that changed.
func TestProgramEndToEnd(t *testing.T) {
	root := standardFixtures(t)
	t.Chdir(filepath.Dir(root))
	m := New(Options{RunsDir: "runs", ConfigsDir: "configs", NoColor: true, PollEvery: 20 * time.Millisecond,
		Now: func() time.Time { return fixtureNow }})
	var shown atomic.Value
	shown.Store("")
	snap := tea.WithFilter(func(tm tea.Model, msg tea.Msg) tea.Msg {
		shown.Store(screen(tm.(*Model)))
		return msg
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24), teatest.WithProgramOptions(snap))
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(shown.Load().(string), what) {
			if time.Now().After(deadline) {
				t.Fatalf("screen never showed %q; last:\n%s", what, shown.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("small 0601-1130")
	tm.Send(keyMsg("enter"))
	waitFor("Throughput")
	waitFor("step-000000900")
	tm.Send(keyMsg("tab")) // Run -> Launch
	tm.Send(keyMsg("tab")) // Launch -> REPL
	waitFor("Pick a checkpoint")
	tm.Send(keyMsg("ctrl+c")) // q in a picker goes back; ctrl+c quits everywhere
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if final.view != viewREPL || !strings.HasPrefix(runOf(final).id, "pretrain-pretrain-small") {
		t.Errorf("final view %d run %q", final.view, runOf(final).id)
	}
	var out bytes.Buffer
	out.ReadFrom(tm.FinalOutput(t))
	if !bytes.Contains(out.Bytes(), []byte("Throughput")) {
		t.Error("the terminal never received the run view")
	}
}
