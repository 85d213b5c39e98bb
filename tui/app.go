// Package tui is fnet-tui's dashboard: a bubbletea v2 program that reads
// run directories (see rundir) and shows runs, live curves, a launcher, a
// masked-word REPL and a saved benchmark (bench.json). It only reads run
// folders and signals trainers; it never writes inside a run.
package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// Options configure the dashboard.
type Options struct {
	RunsDir    string        // the runs folder (default ./runs)
	ConfigsDir string        // launchable configs (default ./configs)
	Exe        string        // fnet-tui binary that launched runs execute
	Demo       bool          // start the demo at once and open its run
	Load       LoadFunc      // checkpoint loader for the REPL; nil if none
	NoColor    bool          // NO_COLOR: attributes only, no colours
	PollEvery  time.Duration // how often run folders are read (default 500ms)
	Now        func() time.Time
	// Launch starts a spec; tests replace it. Default: Launcher.Start.
	Launch func(LaunchSpec) (*Launched, error)
	// Validate resolves a spec's config as the trainer will (train.Check)
	// before anything starts; nil skips the check.
	Validate func(LaunchSpec) error
	// Stop signals a run; tests replace it. Default: StopRun.
	Stop func(rundir.Status) error
}

func (o *Options) defaults() {
	if o.RunsDir == "" {
		o.RunsDir = "runs"
	}
	if o.ConfigsDir == "" {
		o.ConfigsDir = "configs"
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Exe == "" {
		o.Exe, _ = os.Executable()
	}
	if o.Launch == nil {
		l := Launcher{Exe: o.Exe, RunsDir: o.RunsDir}
		now := o.Now
		o.Launch = func(s LaunchSpec) (*Launched, error) { return l.Start(s, now()) }
	}
	if o.Stop == nil {
		o.Stop = StopRun
	}
}

// Model is the dashboard's root bubbletea model. It owns the run store,
// the poller, the modal states (the help screen, a yes/no question) and
// the flash line, and forwards everything else to its views through the
// component contract (component.go).
type Model struct {
	opts   Options
	st     styles
	env    *env
	store  *store
	poller *poller
	views  [numViews]component
	view   viewID // the focused view
	width  int
	height int

	showHelp bool
	helpTop  int // the help screen's first line shown (it scrolls when it does not fit)
	confirm  *confirmation
	flash    string // one-line message under the views
	flashErr bool
	// A message belongs to the view it was given in and the run it is
	// about ("" for none): it goes when either changes.
	flashView viewID
	flashRun  string
	selected  string // the Runs view's selected run (it reports moves)
	shown     string // the Run view's run
	quitting  bool   // the last Update returned tea.Quit

	pendingPID  int        // a launched process whose run is awaited
	pendingOpen bool       // open its run view once it appears
	pendingSpec LaunchSpec // what it was launched with
	pollErr     error
	polls       int
}

// confirmation is a yes/no question; yes runs the action.
type confirmation struct {
	question string
	yes      func() tea.Msg
}

// New builds the dashboard model.
func New(opts Options) *Model {
	opts.defaults()
	st := newStyles(opts.NoColor)
	e := &env{st: st, runsDir: opts.RunsDir, configsDir: opts.ConfigsDir, now: opts.Now, load: opts.Load, store: newStore()}
	m := &Model{
		opts:   opts,
		st:     st,
		env:    e,
		store:  e.store,
		poller: newPoller(opts.RunsDir, opts.Now),
		width:  80,
		height: 24,
	}
	m.views = [numViews]component{
		viewRuns:   newRunsView(e),
		viewRun:    newRunView(e),
		viewLaunch: newLaunchView(e),
		viewREPL:   newREPLView(e, DefaultTopK),
		viewBench:  newBenchView(e),
	}
	m.layout()
	return m
}

// messages of the dashboard's own commands.
type (
	launchedMsg struct {
		spec LaunchSpec
		l    *Launched
		err  error
		open bool
	}
	exitedMsg struct {
		pid int
		err error
		log string
	}
	stoppedMsg struct {
		id  string
		err error
	}
	flashMsg struct {
		text string
		err  bool
	}
)

func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.pollNow()}
	if m.opts.Demo {
		cmds = append(cmds, m.start(DemoSpec(m.opts.ConfigsDir), true))
	}
	return tea.Batch(cmds...)
}

func (m *Model) pollNow() tea.Cmd {
	p := m.poller
	return func() tea.Msg { return p.poll() }
}

func (m *Model) pollLater() tea.Cmd {
	p := m.poller
	return tea.Tick(m.opts.PollEvery, func(time.Time) tea.Msg { return p.poll() })
}

// start launches a run; open says to show its run view when it appears.
func (m *Model) start(spec LaunchSpec, open bool) tea.Cmd {
	launch, validate := m.opts.Launch, m.opts.Validate
	return func() tea.Msg {
		if validate != nil {
			if err := validate(spec); err != nil {
				return launchedMsg{spec: spec, err: fmt.Errorf("not started: %w", err), open: open}
			}
		}
		l, err := launch(spec)
		return launchedMsg{spec: spec, l: l, err: err, open: open}
	}
}

// layout gives each view the screen less the tab bar and the footer.
func (m *Model) layout() {
	h := max(m.height-3, 4)
	for _, v := range m.views {
		v.SetSize(m.width, h)
	}
}

// keyMap is the key context now: a question, the help screen, or the
// focused view's.
func (m *Model) keyMap() keyMap {
	switch {
	case m.confirm != nil:
		return keyMap(inConfirm)
	case m.showHelp:
		return keyMap(inHelp)
	}
	return m.views[m.view].KeyMap()
}

// setFlash shows a message about the focused view (and no run in it).
func (m *Model) setFlash(text string, isErr bool) { m.setRunFlash("", text, isErr) }

// setRunFlash shows a message about run id in the focused view: it goes
// when another run is selected or shown, or another view focused.
func (m *Model) setRunFlash(id, text string, isErr bool) {
	m.flash, m.flashErr, m.flashView, m.flashRun = text, isErr, m.view, id
}

// Update handles msg, then, in order, the requests the views sent while
// it was handled, and any those lead to.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m.quitting = false
	cmds := []tea.Cmd{m.update(msg)}
	for reqs := m.env.take(); len(reqs) > 0; reqs = append(reqs[1:], m.env.take()...) {
		cmds = append(cmds, m.update(reqs[0]))
	}
	return m, tea.Batch(cmds...)
}

// forward hands msg to view v through the component contract.
func (m *Model) forward(v viewID, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	m.views[v], cmd = m.views[v].Update(msg)
	return cmd
}

// focus gives a view the focus (and tells it).
func (m *Model) focus(v viewID) tea.Cmd {
	m.view = v
	return m.forward(v, focusMsg{})
}

// currentRun is the run the focused view is about: the Runs view's
// selection or the Run view's run ("" elsewhere).
func (m *Model) currentRun() string {
	switch m.view {
	case viewRuns:
		return m.selected
	case viewRun:
		return m.shown
	}
	return ""
}

// flashShown is the flash line, when it is still about what is on screen.
func (m *Model) flashShown() bool {
	if m.flash == "" || m.flashView != m.view {
		return false
	}
	return m.flashRun == "" || m.flashRun == m.currentRun()
}

// quit is tea.Quit, recorded (quitting) so that a caller can tell the
// Update asked to quit without running its command.
func (m *Model) quit() tea.Cmd {
	m.quitting = true
	return tea.Quit
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case pollMsg:
		return m.applyPoll(msg)
	case launchedMsg:
		note := m.forward(viewLaunch, msg) // the form shows the outcome too
		if msg.err != nil {
			if m.view != viewLaunch { // the form says it, under its config
				m.setFlash(msg.err.Error(), true)
			}
			return note
		}
		m.pendingPID, m.pendingOpen, m.pendingSpec = msg.l.PID, msg.open, msg.spec
		m.setFlash(launchedNote(msg.l), false)
		l := msg.l
		return tea.Batch(note, func() tea.Msg { return exitedMsg{pid: l.PID, err: l.Wait(), log: l.LogPath} })
	case exitedMsg:
		last := ""
		if lines, _ := rundir.LastLines(msg.log, 1); len(lines) > 0 {
			last = string(lines[0])
		}
		if msg.pid == m.pendingPID {
			// It exited before its run folder showed up: a failed launch,
			// whatever its exit status. Say so in the form and in Runs.
			m.pendingPID = 0
			f := m.store.addFailedLaunch(m.pendingSpec, msg.pid, msg.err, last, msg.log, m.opts.Now())
			m.setFlash("", false) // the "started pid" note no longer holds
			if m.view != viewLaunch {
				m.setFlash(f.Status.Error, true)
			}
			return m.forward(viewLaunch, launchFailedMsg{spec: m.pendingSpec, text: f.Status.Error})
		}
		if msg.err != nil {
			text := fmt.Sprintf("process %d exited: %v", msg.pid, msg.err)
			if last != "" {
				text += ": " + last
			}
			m.setFlash(text, true)
		}
		return nil
	case stoppedMsg:
		if msg.err != nil {
			m.setRunFlash(msg.id, "stop "+msg.id+": "+msg.err.Error(), true)
		} else {
			m.setRunFlash(msg.id, "sent SIGTERM to "+msg.id+": it checkpoints, then stops", false)
		}
		return nil
	case flashMsg:
		m.setFlash(msg.text, msg.err)
		return nil

	// Requests from the views.
	case openRunMsg:
		return m.openRun(msg.id)
	case selectedMsg:
		m.selected = msg.id
		return nil
	case showRunMsg: // however the Run view got its run (enter, or tab asking Runs)
		m.shown = msg.id
		return m.forward(viewRun, msg)
	case showViewMsg:
		return m.focus(msg.view)
	case runActionMsg:
		return m.runAction(msg.act, m.store.get(msg.id))
	case startMsg:
		return m.start(msg.spec, msg.open)
	}
	if a, ok := msg.(addressed); ok {
		return m.forward(a.to(), msg)
	}
	// Anything else (cursor blinks) goes to the focused view.
	return m.forward(m.view, msg)
}

func (m *Model) applyPoll(msg pollMsg) tea.Cmd {
	m.polls++
	m.pollErr = msg.Err
	m.store.apply(msg)
	var cmds []tea.Cmd
	if msg.Bench != nil {
		cmds = append(cmds, m.forward(viewBench, benchMsg{u: *msg.Bench}))
	}
	if m.pendingPID != 0 {
		for _, r := range m.store.list() {
			if r.Status.PID == m.pendingPID {
				if m.pendingOpen {
					cmds = append(cmds, m.openRun(r.ID))
				}
				m.setFlash("", false) // the run is on screen: the launch note has served
				cmds = append(cmds, m.forward(viewRuns, selectRunMsg{id: r.ID}))
				m.pendingPID = 0
				break
			}
		}
	}
	if msg.More {
		cmds = append(cmds, m.pollNow())
	} else {
		cmds = append(cmds, m.pollLater())
	}
	return tea.Batch(cmds...)
}

// openRun shows a run in the Run view and focuses it.
func (m *Model) openRun(id string) tea.Cmd {
	m.shown = id
	return tea.Batch(m.forward(viewRun, showRunMsg{id: id}), m.focus(viewRun))
}

// key handles the keys of the dashboard's own contexts (a question, the
// help screen) and its global keys, and forwards the rest to the focused
// view.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	act := m.keyMap().action(msg)
	switch {
	case act == actQuit:
		return m.quit()
	case m.confirm != nil:
		c := m.confirm
		m.confirm = nil
		if act == actYes {
			return c.yes
		}
		m.setFlash("cancelled", false) // no, and any other key
		return nil
	case m.showHelp:
		switch act {
		case actHelp, actBack:
			m.showHelp = false
		case actDown:
			m.helpTop++ // render clamps it
		case actUp:
			m.helpTop = max(m.helpTop-1, 0)
		}
		return nil
	}
	switch act {
	case actHelp:
		m.showHelp, m.helpTop = true, 0
		return nil
	case actNextView:
		return m.focus((m.view + 1) % numViews)
	case actPrevView:
		return m.focus((m.view + numViews - 1) % numViews)
	}
	return m.forward(m.view, msg)
}

// runAction carries out the run keys of the runs and run views on r (nil
// when the view had no run).
func (m *Model) runAction(act action, r *runData) tea.Cmd {
	switch act {
	case actNew:
		return m.focus(viewLaunch)
	case actDemo:
		spec := DemoSpec(m.opts.ConfigsDir)
		if d := m.runningDemo(spec); d != "" {
			m.confirm = &confirmation{
				question: fmt.Sprintf("The demo is already running (%s). Start a second one? %s", d, confirmHint()),
				yes:      func() tea.Msg { return startMsg{spec: spec, open: true} },
			}
			return nil
		}
		return m.start(spec, true)
	case actStop:
		if r == nil {
			return nil
		}
		if !r.Live {
			m.setRunFlash(r.ID, r.ID+" is not running", true)
			return nil
		}
		st, id, stop := r.Status, r.ID, m.opts.Stop
		m.confirm = &confirmation{
			question: fmt.Sprintf("Stop %s? It checkpoints, then exits. %s", displayID(r, 24), confirmHint()),
			yes:      func() tea.Msg { return stoppedMsg{id: id, err: stop(st)} },
		}
	case actResume:
		if r == nil {
			return nil
		}
		if r.failedLaunch {
			m.setRunFlash(r.ID, "this launch never started, so there is nothing to resume: fix it in Launch ("+keyName(actNew, inRuns)+"); its output is in "+r.Dir, true)
			return nil
		}
		spec, err := ResumeSpec(r.Status, r.Dir)
		if err != nil {
			m.setRunFlash(r.ID, "resume "+r.ID+": "+err.Error(), true)
			return nil
		}
		return m.start(spec, true)
	case actQuery:
		if r == nil {
			return nil
		}
		if !r.hasMLMHead() {
			m.setRunFlash(r.ID, r.ID+" is a "+r.kind()+" run: its checkpoints have no masked-LM head to query; pick a pretraining run", true)
			return nil
		}
		c, ok := r.latestCheckpoint()
		if !ok {
			m.setRunFlash(r.ID, r.ID+" has no checkpoint yet", true)
			return nil
		}
		return tea.Batch(m.focus(viewREPL), m.forward(viewREPL, loadCheckpointMsg{dir: c.Dir}))
	}
	return nil
}

func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "fnet-tui"
	return v
}

// render draws the whole screen as text.
func (m *Model) render() string {
	tabs := make([]string, 0, numViews)
	for i := viewID(0); i < numViews; i++ {
		if i == m.view {
			tabs = append(tabs, m.st.tabOn.Render(viewNames[i]))
		} else {
			tabs = append(tabs, m.st.tabOff.Render(viewNames[i]))
		}
	}
	bar := strings.Join(tabs, "") + m.st.dim.Render("  "+m.opts.RunsDir)
	if n := len(m.store.order); n > 0 {
		bar += m.st.dim.Render(fmt.Sprintf(" · %d runs", n))
	}
	bar = lipgloss.NewStyle().MaxWidth(m.width).Render(bar)

	bodyH := max(m.height-3, 1)
	var body string
	if m.showHelp {
		closes := "  (" + keyName(actHelp, inHelp) + " or " + keyName(actBack, inHelp) + " closes)"
		lines := strings.Split(helpText(m.width, bodyH-2), "\n")
		if len(lines) > bodyH-2 { // it does not fit: scroll
			closes += "  " + keyName(actDown, inHelp) + " scrolls"
			m.helpTop = min(m.helpTop, len(lines)-(bodyH-2))
			lines = lines[m.helpTop:]
		}
		body = m.st.header.Render("Keys") + m.st.dim.Render(closes) + "\n\n" + strings.Join(lines, "\n")
	} else {
		body = m.views[m.view].View()
	}
	body = fitBlock(body, m.width, bodyH)

	var status string
	switch {
	case m.confirm != nil:
		status = m.st.err.Render(m.confirm.question)
	case m.pollErr != nil:
		status = m.st.err.Render(m.pollErr.Error())
	case m.flashShown():
		st := m.st.dim
		if m.flashErr {
			st = m.st.err
		}
		status = st.Render(m.flash)
	}
	status = lipgloss.NewStyle().MaxWidth(m.width).Render(status)
	footer := m.st.dim.Render(footerText(m.views[m.view].KeyMap().ShortHelp(), m.width))
	return strings.Join([]string{bar, body, status, footer}, "\n")
}

// runningDemo names a live run (or a launch not yet in Runs) started
// from the demo's config, "" when there is none.
func (m *Model) runningDemo(demo LaunchSpec) string {
	if m.pendingPID != 0 && m.pendingSpec.Config == demo.Config {
		return fmt.Sprintf("pid %d, starting", m.pendingPID)
	}
	for _, r := range m.store.list() {
		if r.Live && r.Status.Config != "" && filepath.Base(r.Status.Config) == filepath.Base(demo.Config) {
			return displayID(r, 32)
		}
	}
	return ""
}

// StillRunning lists the runs whose trainers are alive (they outlive the
// dashboard), as "ID (pid N)", and a launch not yet in Runs.
func (m *Model) StillRunning() []string {
	var out []string
	for _, r := range m.store.list() {
		if r.Live {
			out = append(out, fmt.Sprintf("%s (pid %d)", r.ID, r.Status.PID))
		}
	}
	if m.pendingPID != 0 {
		out = append(out, fmt.Sprintf("a launch of %s (pid %d)", m.pendingSpec.Config, m.pendingPID))
	}
	return out
}

// quitNote is what the dashboard prints after it quits, so no one forgets
// the runs it leaves using the machine.
func quitNote(running []string) string {
	if len(running) == 0 {
		return ""
	}
	return fmt.Sprintf("%d run(s) still running (they keep running; stop one with `s` in the dashboard or kill -TERM PID):\n  %s\n",
		len(running), strings.Join(running, "\n  "))
}

// Run starts the dashboard on the terminal and returns when it quits.
func Run(opts Options) error {
	m := New(opts)
	var popts []tea.ProgramOption
	if opts.NoColor { // any NO_COLOR value counts (no-color.org), not only "true"
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	fmt.Fprint(os.Stderr, quitNote(m.StillRunning()))
	return err
}
