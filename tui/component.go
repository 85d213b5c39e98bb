package tui

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// component is the contract between the dashboard (Model) and each of its
// views (runs, run, launch, REPL, bench), in the manner of soft-serve's components:
//
//   - Update takes every message the dashboard forwards to the view and
//     returns the view and a command. Keys arrive only when the dashboard
//     did not take them itself (quit, help, tab); a view matches them with
//     its KeyMap against keyTable, never by hand.
//   - View draws the view in the size SetSize last gave.
//   - KeyMap is the key context the view is in now (a text field having
//     the keyboard is a context of its own); the dashboard dispatches and
//     draws the footer from it.
//
// The dashboard never reads or writes a view's fields, and views never
// call the dashboard or each other: what a view needs from outside (open a
// run, start one, go back to Runs, tell another view something) it asks
// for with a message through env.send. The dashboard handles those in the
// same Update, after the view's returns, so one key's whole effect is on
// the next frame. Messages a view addresses to another view (addressed)
// the dashboard forwards there.
type component interface {
	Update(msg tea.Msg) (component, tea.Cmd)
	View() string
	SetSize(width, height int)
	KeyMap() keyMap
}

// env is what the dashboard shares with its views, like soft-serve's
// common.Common: looks, folders, clock, the checkpoint loader and the run
// store (views read it; only the dashboard writes it), and send.
type env struct {
	st         styles
	runsDir    string
	configsDir string
	now        func() time.Time
	load       LoadFunc
	store      *store
	outbox     []tea.Msg
}

// send hands a message to the dashboard, which handles it once the
// current Update of the view returns.
func (e *env) send(msg tea.Msg) { e.outbox = append(e.outbox, msg) }

// take empties the outbox.
func (e *env) take() []tea.Msg {
	out := e.outbox
	e.outbox = nil
	return out
}

// addressed is a message for one view; the dashboard forwards it there
// whichever view has the focus.
type addressed interface{ to() viewID }

// Requests views send the dashboard.
type (
	// openRunMsg asks to show a run in the Run view and focus it.
	openRunMsg struct{ id string }
	// showViewMsg asks to focus a view.
	showViewMsg struct{ view viewID }
	// runActionMsg asks for a run key's effect (n, d, s, r, p) on run id
	// ("" when the view has none).
	runActionMsg struct {
		act action
		id  string
	}
	// startMsg asks to launch a run the launch form describes; open says
	// to show it once it appears.
	startMsg struct {
		spec LaunchSpec
		open bool
	}
	// selectedMsg says the Runs view's selection is now run id.
	selectedMsg struct{ id string }
)

// Messages between views, forwarded by the dashboard, and the focus event.
type (
	// focusMsg tells a view it now has the focus.
	focusMsg struct{}
	// showRunMsg gives the Run view the run to show.
	showRunMsg struct{ id string }
	// wantRunMsg is the Run view asking the Runs view for the selected run
	// (it answers with showRunMsg), when it gets the focus with none.
	wantRunMsg struct{}
	// selectRunMsg moves the Runs view's cursor to a run.
	selectRunMsg struct{ id string }
	// overlayMsg gives the Run view the runs marked in the Runs view, in
	// marking order.
	overlayMsg struct{ ids []string }
	// loadCheckpointMsg asks the REPL view to load a checkpoint.
	loadCheckpointMsg struct{ dir string }
	// launchFailedMsg tells the launch form its launch died before it
	// wrote a run folder.
	launchFailedMsg struct {
		spec LaunchSpec
		text string
	}
)

func (showRunMsg) to() viewID        { return viewRun }
func (wantRunMsg) to() viewID        { return viewRuns }
func (selectRunMsg) to() viewID      { return viewRuns }
func (overlayMsg) to() viewID        { return viewRun }
func (loadCheckpointMsg) to() viewID { return viewREPL }
func (launchFailedMsg) to() viewID   { return viewLaunch }
func (predictorMsg) to() viewID      { return viewREPL }
func (answerMsg) to() viewID         { return viewREPL }
