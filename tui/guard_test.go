package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// A second demo while one runs is asked about first; no starts nothing.
func TestSecondDemoAsksFirst(t *testing.T) {
	root := standardFixtures(t)
	writeFixtureRun(t, root, fixtureSpec{id: "pretrain-pretrain-mini-20250601-115900", kind: "pretrain",
		state: rundir.StateRunning, live: true, steps: 10, total: 3000, start: fixtureNow.Add(-time.Minute), stepTime: time.Second, seed: 9})
	// The fixture's status names configs/pretrain.toml; the demo's config is pretrain-mini.toml.
	st := filepath.Join(root, "pretrain-pretrain-mini-20250601-115900", rundir.StatusFile)
	b, _ := os.ReadFile(st)
	os.WriteFile(st, []byte(strings.Replace(string(b), `"configs/pretrain.toml"`, `"configs/pretrain-mini.toml"`, 1)), 0o644)

	launches := 0
	m := newTestModel(t, root, 100, 30, func(o *Options) {
		o.Launch = func(LaunchSpec) (*Launched, error) { launches++; return nil, os.ErrPermission }
	})
	if cmd := press(m, "d"); cmd != nil {
		if msg := cmd(); msg != nil {
			if _, ok := msg.(launchedMsg); ok {
				t.Fatal("a second demo started without asking")
			}
		}
	}
	if !strings.Contains(screen(m), "The demo is already running") {
		t.Fatalf("no question:\n%s", screen(m))
	}
	press(m, "n")
	if launches != 0 || m.confirm != nil {
		t.Fatalf("no must start nothing (launches %d)", launches)
	}
	press(m, "d")
	cmd := press(m, "y")
	msg := cmd() // startMsg
	_, cmd = m.Update(msg)
	runBatch(m, cmd)
	if launches != 1 {
		t.Errorf("yes started %d demos, want 1", launches)
	}
}

// runBatch runs a command's messages through the model, one level deep
// (what the program would do), skipping ticks.
func runBatch(m *Model, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			if c != nil {
				if inner := c(); inner != nil {
					if _, isPoll := inner.(pollMsg); !isPoll {
						m.Update(inner)
					}
				}
			}
		}
	case nil:
	default:
		m.Update(msg)
	}
}

// p on a finetune run says why it cannot be queried, and the REPL picker
// lists pretraining checkpoints only.
func TestREPLOnlyOffersMaskedLMCheckpoints(t *testing.T) {
	root := standardFixtures(t)
	writeFixtureRun(t, root, fixtureSpec{id: "finetune-glue-rte-20250601-090000", kind: "finetune", task: "rte",
		state: rundir.StateDone, steps: 40, total: 40, evalEvery: 20, ckptEvery: 20, start: fixtureNow.Add(-3 * time.Hour), stepTime: time.Second, seed: 5})
	m := newTestModel(t, root, 120, 30)
	i := indexOf(runsOf(m).visible(), "finetune-glue-rte-20250601-090000")
	runsOf(m).cursor = i
	press(m, "p")
	if m.view != viewRuns || !strings.Contains(screen(m), "no masked-LM head") {
		t.Fatalf("p on a finetune run:\n%s", screen(m))
	}
	m.focus(viewREPL)
	s := screen(m)
	if strings.Contains(s, "rte") {
		t.Errorf("the picker offers a finetune checkpoint:\n%s", s)
	}
	if !strings.Contains(s, "step 900") {
		t.Errorf("the picker lost the pretraining checkpoints:\n%s", s)
	}
}

func indexOf(rs []*runData, id string) int {
	for i, r := range rs {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// A run's message goes when another run is selected, and any message when
// another view is focused.
func TestMessagesGoWithTheirRunAndView(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 120, 30)
	i := indexOf(runsOf(m).visible(), "finetune-glue-sst2-20250601-101500")
	press(m, "esc")
	for range i {
		press(m, "down")
	}
	press(m, "p")
	if !strings.Contains(screen(m), "no masked-LM head") {
		t.Fatalf("no message:\n%s", screen(m))
	}
	press(m, "up")
	if strings.Contains(screen(m), "no masked-LM head") {
		t.Errorf("the message stayed on another run:\n%s", screen(m))
	}
	press(m, "down")
	m.setFlash("about the Runs view", false)
	press(m, "tab")
	if strings.Contains(screen(m), "about the Runs view") {
		t.Errorf("the message followed to another view:\n%s", screen(m))
	}
}

// The launch form keeps overrides per config, shows a launch's outcome
// only under its own config, and picks checkpoints by folder.
func TestLaunchFormStateBelongsToItsConfig(t *testing.T) {
	root := standardFixtures(t)
	var got LaunchSpec
	m := newTestModel(t, root, 120, 40, func(o *Options) {
		o.Launch = func(s LaunchSpec) (*Launched, error) { got = s; return nil, os.ErrPermission }
	})
	press(m, "n")
	lv := launchOf(m)
	names := []string{}
	for _, c := range lv.configs {
		names = append(names, c.Name)
	}
	if len(names) < 2 {
		t.Fatalf("configs %v", names)
	}
	press(m, "f")
	for _, k := range "train.steps=7" {
		press(m, string(k))
	}
	press(m, "esc") // back to the configs
	press(m, "enter")
	cmd := m.start(got, false)
	_ = cmd
	msg := launchedMsg{spec: LaunchSpec{Config: lv.configs[lv.cursor].Path}, err: os.ErrPermission}
	m.Update(msg)
	if !strings.Contains(screen(m), "permission denied") {
		t.Fatalf("no outcome under its config:\n%s", screen(m))
	}
	first := lv.cursor
	press(m, "down")
	if lv.cursor == first {
		t.Fatal("cursor did not move")
	}
	s := screen(m)
	if strings.Contains(s, "permission denied") {
		t.Errorf("another config shows the first one's outcome:\n%s", s)
	}
	if v := lv.overrides.Value(); v != "" {
		t.Errorf("another config shows the first one's overrides %q", v)
	}
	press(m, "up")
	if v := lv.overrides.Value(); v != "train.steps=7" {
		t.Errorf("coming back, overrides %q, want train.steps=7", v)
	}
}

func TestCheckpointPickSurvivesArrivals(t *testing.T) {
	root := standardFixtures(t)
	m := newTestModel(t, root, 120, 40)
	press(m, "n")
	lv := launchOf(m)
	for i, c := range lv.configs {
		if c.needsCheckpoint() {
			lv.pick(i)
		}
	}
	press(m, "f", "enter") // overrides, then the checkpoint list
	if lv.field != fieldCheckpoint {
		t.Fatalf("field %d", lv.field)
	}
	press(m, "down")
	spec, err := lv.spec()
	if err != nil {
		t.Fatal(err)
	}
	// A newer checkpoint arrives in the newest run: the list shifts.
	r := m.store.get("pretrain-pretrain-small-20250601-113000")
	n := len(r.Checkpoints)
	r.Checkpoints = append(r.Checkpoints, rundir.Checkpoint{Step: 1200, Dir: filepath.Join(r.Dir, "checkpoints", "step-000001200")})
	after, err := lv.spec()
	if err != nil {
		t.Fatal(err)
	}
	if after.From != spec.From {
		t.Errorf("picked %s, a new checkpoint made it %s", spec.From, after.From)
	}
	r.Checkpoints = r.Checkpoints[:n]
}

// A launch whose process exits before writing its run folder is a failed
// row in Runs and a message in the form, with its last output line.
func TestLaunchThatDiesAtOnceIsAFailedRow(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "fnet-tui")
	script := "#!/bin/sh\necho 'fnet-tui: --set train.batch_size: unknown key train.batch_size' >&2\nexit 2\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	os.MkdirAll("configs", 0o755)
	os.WriteFile("configs/pretrain-mini.toml", []byte("# test\n"), 0o644)
	m := New(Options{RunsDir: "runs", ConfigsDir: "configs", Exe: exe, NoColor: true, Now: func() time.Time { return fixtureNow }})
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 30})
	pollAll(m)
	press(m, "n")
	msg := m.start(LaunchSpec{Kind: "pretrain", Config: "configs/pretrain-mini.toml", Overrides: []string{"train.batch_size=8"}}, false)().(launchedMsg)
	if msg.err != nil {
		t.Fatal(msg.err)
	}
	m.Update(msg)
	err := msg.l.Wait()
	m.Update(exitedMsg{pid: msg.l.PID, err: err, log: msg.l.LogPath})
	s := screen(m)
	if !strings.Contains(s, "unknown key train.batch_size") || strings.Contains(s, "appears in Runs once") {
		t.Errorf("the form does not say the launch failed:\n%s", s)
	}
	pollAll(m) // a poll must not drop the row
	m.focus(viewRuns)
	s = screen(m)
	if !strings.Contains(s, "failed") || !strings.Contains(s, "launch-pretrain-mini") {
		t.Errorf("no failed row in Runs:\n%s", s)
	}
	press(m, "r")
	if !strings.Contains(screen(m), "never started") {
		t.Errorf("resume of a failed launch:\n%s", screen(m))
	}
}

func TestQuitNoteListsRunningRuns(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	running := m.StillRunning()
	if len(running) != 1 || !strings.Contains(running[0], "pretrain-pretrain-small-20250601-113000 (pid ") {
		t.Fatalf("still running %v", running)
	}
	note := quitNote(running)
	if !strings.Contains(note, "1 run(s) still running") || !strings.Contains(note, "pretrain-small") {
		t.Errorf("quit note %q", note)
	}
	if quitNote(nil) != "" {
		t.Error("a note with nothing running")
	}
}

// A run's message shows in the Run view however it was opened: with tab
// (the Run view asks Runs for the selection) as with enter.
func TestRunMessageShowsInARunViewOpenedWithTab(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 120, 30, func(o *Options) {
		o.Stop = func(rundir.Status) error { return nil }
	})
	runsOf(m).cursor = indexOf(runsOf(m).visible(), liveRun)
	press(m, "tab")
	if m.view != viewRun || runOf(m).id != liveRun {
		t.Fatalf("tab opened %q in view %d", runOf(m).id, m.view)
	}
	press(m, "s")
	cmd := press(m, "y")
	m.Update(cmd())
	if !strings.Contains(screen(m), "sent SIGTERM to "+liveRun) {
		t.Errorf("the stop message is not shown:\n%s", screen(m))
	}
}
