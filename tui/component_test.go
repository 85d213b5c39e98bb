package tui

import (
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// recorder is a component that keeps what the dashboard hands it; onKey
// lets a test make it send requests as a view would.
type recorder struct {
	env   *env
	name  string
	keys  keyMap
	got   []tea.Msg
	w, h  int
	onKey func(r *recorder, k tea.KeyPressMsg)
}

func (r *recorder) Update(msg tea.Msg) (component, tea.Cmd) {
	r.got = append(r.got, msg)
	if k, ok := msg.(tea.KeyPressMsg); ok && r.onKey != nil {
		r.onKey(r, k)
	}
	return r, nil
}

func (r *recorder) View() string      { return "the " + r.name + " recorder" }
func (r *recorder) SetSize(w, h int)  { r.w, r.h = w, h }
func (r *recorder) KeyMap() keyMap    { return r.keys }
func (r *recorder) take() []tea.Msg   { got := r.got; r.got = nil; return got }
func (r *recorder) keysGot() []string { return keyNames(r.got) }

func keyNames(msgs []tea.Msg) []string {
	var out []string
	for _, m := range msgs {
		if k, ok := m.(tea.KeyPressMsg); ok {
			out = append(out, k.String())
		}
	}
	return out
}

// recorderModel is a dashboard whose five views are recorders in their
// views' usual contexts.
func recorderModel(t *testing.T) (*Model, [numViews]*recorder) {
	m := New(Options{RunsDir: t.TempDir(), ConfigsDir: t.TempDir(), NoColor: true, Now: func() time.Time { return fixtureNow }})
	var recs [numViews]*recorder
	for v, ctx := range [numViews]scope{inRuns, inRun, inLaunch, inREPLPick, inBench} {
		recs[v] = &recorder{env: m.env, name: viewNames[v], keys: keyMap(ctx)}
		m.views[v] = recs[v]
	}
	return m, recs
}

type pingMsg struct{}

func TestDashboardForwardsToTheFocusedView(t *testing.T) {
	m, recs := recorderModel(t)

	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	for _, r := range recs {
		if r.w != 100 || r.h != 27 || len(r.got) != 0 {
			t.Errorf("%s: size %dx%d, got %v; want SetSize(100, 27) and no message", r.name, r.w, r.h, r.got)
		}
	}

	// Messages the dashboard does not handle go to the focused view only.
	m.Update(pingMsg{})
	press(m, "x", "space", "enter")
	if got := recs[viewRuns].take(); len(got) != 4 || got[0] != (pingMsg{}) ||
		!reflect.DeepEqual(keyNames(got), []string{"x", "space", "enter"}) {
		t.Errorf("Runs got %v", got)
	}
	for _, r := range recs[1:] {
		if len(r.got) != 0 {
			t.Errorf("%s got %v; only the focused view should", r.name, r.got)
		}
	}

	// The dashboard's own keys stay with it: tab moves the focus and tells
	// the newly focused view.
	press(m, "tab")
	if m.view != viewRun || len(recs[viewRuns].got) != 0 {
		t.Fatalf("tab: view %d, Runs got %v", m.view, recs[viewRuns].got)
	}
	if got := recs[viewRun].take(); !reflect.DeepEqual(got, []tea.Msg{focusMsg{}}) {
		t.Errorf("Run got %v on focus, want focusMsg", got)
	}

	// The screen is the focused view's View, the footer its KeyMap's.
	s := screen(m)
	if !strings.Contains(s, "the Run recorder") || !strings.Contains(s, "\nn launch a run · s stop run") {
		t.Errorf("screen:\n%s", s)
	}

	// A message addressed to a view reaches it whichever has the focus.
	m.Update(loadCheckpointMsg{dir: "runs/x"})
	if got := recs[viewREPL].take(); !reflect.DeepEqual(got, []tea.Msg{loadCheckpointMsg{dir: "runs/x"}}) || len(recs[viewRun].got) != 0 {
		t.Errorf("REPL got %v, Run %v", got, recs[viewRun].got)
	}

	// The help screen takes every key while it is open.
	press(m, "?", "x", "enter", "esc")
	if m.showHelp || len(recs[viewRun].got) != 0 {
		t.Errorf("help: open %v, Run got %v", m.showHelp, recs[viewRun].keysGot())
	}
}

// Which keys the dashboard keeps depends only on the focused view's
// KeyMap: in a typing context q reaches the view.
func TestDashboardDispatchesByTheViewsKeyMap(t *testing.T) {
	m, recs := recorderModel(t)
	recs[viewRuns].keys = keyMap(inFilter)
	if cmd := press(m, "q"); isQuit(m, cmd) {
		t.Fatal("q quit while the view types")
	}
	press(m, "?", "esc")
	if got := recs[viewRuns].keysGot(); !reflect.DeepEqual(got, []string{"q", "?", "esc"}) {
		t.Errorf("the typing view got %v", got)
	}
	if m.showHelp {
		t.Error("? opened the help while typing")
	}
	if cmd := press(m, "ctrl+c"); !isQuit(m, cmd) {
		t.Error("ctrl+c should quit even while typing")
	}
	recs[viewRuns].keys = keyMap(inRuns)
	if cmd := press(m, "q"); !isQuit(m, cmd) {
		t.Error("q should quit in the table")
	}
}

// Requests a view sends are handled in the same Update, in order, and
// those they lead to as well.
func TestViewRequestsAreHandledInTheSameUpdate(t *testing.T) {
	m, recs := recorderModel(t)
	recs[viewRuns].onKey = func(r *recorder, k tea.KeyPressMsg) {
		if k.String() == "o" {
			r.env.send(openRunMsg{id: "run-a"})
			r.env.send(flashMsg{text: "after the open"})
		}
	}
	press(m, "o")
	if m.view != viewRun {
		t.Fatalf("openRunMsg left view %d", m.view)
	}
	if got := recs[viewRun].take(); !reflect.DeepEqual(got, []tea.Msg{showRunMsg{id: "run-a"}, focusMsg{}}) {
		t.Errorf("Run got %v, want the run then the focus", got)
	}
	if m.flash != "after the open" {
		t.Errorf("flash %q: the second request was not handled", m.flash)
	}
	if len(m.env.outbox) != 0 {
		t.Errorf("outbox left with %v", m.env.outbox)
	}

	// A chain: the (real) Run view, focused without a run, asks the Runs
	// view, whose answer goes back to it, all within one key press.
	m, recs = recorderModel(t)
	m.views[viewRun] = newRunView(m.env)
	m.views[viewRuns] = &answering{recs[viewRuns], func(r *recorder) {
		for _, msg := range r.take() {
			if _, ok := msg.(wantRunMsg); ok {
				r.env.send(showRunMsg{id: "run-b"})
			}
		}
	}}
	press(m, "tab")
	if id := runOf(m).id; m.view != viewRun || id != "run-b" {
		t.Errorf("tab into Run: view %d run %q, want run-b from the Runs view", m.view, id)
	}
}

// answering is a recorder that answers what it got right away.
type answering struct {
	*recorder
	answer func(r *recorder)
}

func (a *answering) Update(msg tea.Msg) (component, tea.Cmd) {
	a.recorder.Update(msg)
	a.answer(a.recorder)
	return a, nil
}

// The real views: tab into the Run view shows the run selected in Runs,
// and a run opened once stays.
func TestTabIntoRunShowsTheSelectedRun(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "down", "tab")
	if m.view != viewRun || runOf(m).id != m.store.order[1] {
		t.Fatalf("tab: view %d run %q, want %q", m.view, runOf(m).id, m.store.order[1])
	}
	press(m, "shift+tab", "down", "shift+tab", "shift+tab", "shift+tab", "shift+tab") // Runs, move, Bench, REPL, Launch, Run
	if m.view != viewRun || runOf(m).id != m.store.order[1] {
		t.Errorf("back in Run: view %d run %q, want it to keep %q", m.view, runOf(m).id, m.store.order[1])
	}
	fresh := newTestModel(t, standardFixtures(t), 80, 24)
	press(fresh, "down", "down", "shift+tab", "shift+tab", "shift+tab", "shift+tab") // to Run the other way round
	if fresh.view != viewRun || runOf(fresh).id != fresh.store.order[2] {
		t.Errorf("shift+tab into Run: view %d run %q, want %q", fresh.view, runOf(fresh).id, fresh.store.order[2])
	}
}
