// Package tui is fnet-tui's dashboard: a bubbletea v2 program that reads
// run directories (see rundir) and shows runs, live curves, a launcher and
// a masked-word REPL. It only reads run folders and signals trainers; it
// never writes inside a run.
package tui

import (
	"fmt"
	"os"
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

// Model is the dashboard's root bubbletea model.
type Model struct {
	opts   Options
	st     styles
	store  *store
	poller *poller
	view   viewID
	width  int
	height int

	runs   runsView
	run    runView
	launch launchView
	repl   replView

	showHelp bool
	confirm  *confirmation
	flash    string // one-line message under the views
	flashErr bool

	pendingPID  int  // a launched process whose run is awaited
	pendingOpen bool // open its run view once it appears
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
	m := &Model{
		opts:   opts,
		st:     st,
		store:  newStore(),
		poller: newPoller(opts.RunsDir, opts.Now),
		runs:   newRunsView(st),
		run:    newRunView(st),
		launch: newLaunchView(st, opts.ConfigsDir),
		repl:   newREPLView(st, opts.Load),
		width:  80,
		height: 24,
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
	launch := m.opts.Launch
	return func() tea.Msg {
		l, err := launch(spec)
		return launchedMsg{spec: spec, l: l, err: err, open: open}
	}
}

// layout gives each view the screen less the tab bar and the footer.
func (m *Model) layout() {
	h := max(m.height-3, 4)
	m.runs.SetSize(m.width, h)
	m.run.SetSize(m.width, h)
	m.launch.SetSize(m.width, h)
	m.repl.SetSize(m.width, h)
}

func (m *Model) typing() bool {
	switch m.view {
	case viewRuns:
		return m.runs.typing()
	case viewLaunch:
		return m.launch.typing()
	case viewREPL:
		return m.repl.typing()
	}
	return false
}

func (m *Model) setFlash(text string, isErr bool) { m.flash, m.flashErr = text, isErr }

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case pollMsg:
		return m, m.applyPoll(msg)
	case launchedMsg:
		if msg.err != nil {
			m.setFlash(msg.err.Error(), true)
			m.launch.note, m.launch.noteErr = msg.err.Error(), true
			return m, nil
		}
		m.pendingPID, m.pendingOpen = msg.l.PID, msg.open
		note := launchedNote(msg.l)
		m.setFlash(note, false)
		m.launch.note, m.launch.noteErr = note, false
		l := msg.l
		return m, func() tea.Msg { return exitedMsg{pid: l.PID, err: l.Wait(), log: l.LogPath} }
	case exitedMsg:
		if msg.err != nil {
			text := fmt.Sprintf("process %d exited: %v", msg.pid, msg.err)
			if lines, _ := rundir.LastLines(msg.log, 1); len(lines) > 0 {
				text += ": " + string(lines[0])
			}
			m.setFlash(text, true)
		}
		if msg.pid == m.pendingPID {
			m.pendingPID = 0
		}
		return m, nil
	case stoppedMsg:
		if msg.err != nil {
			m.setFlash("stop "+msg.id+": "+msg.err.Error(), true)
		} else {
			m.setFlash("sent SIGTERM to "+msg.id+": it checkpoints, then stops", false)
		}
		return m, nil
	case flashMsg:
		m.setFlash(msg.text, msg.err)
		return m, nil
	case predictorMsg:
		return m, m.repl.loaded(msg)
	case answerMsg:
		m.repl.answered(msg)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	// Anything else (cursor blinks) goes to the focused text field.
	var cmd tea.Cmd
	switch {
	case m.view == viewRuns && m.runs.filtering:
		m.runs.filter, cmd = m.runs.filter.Update(msg)
	case m.view == viewLaunch && m.launch.typing():
		m.launch.overrides, cmd = m.launch.overrides.Update(msg)
	case m.view == viewREPL && m.repl.typing():
		m.repl.input, cmd = m.repl.input.Update(msg)
	}
	return m, cmd
}

func (m *Model) applyPoll(msg pollMsg) tea.Cmd {
	m.polls++
	m.pollErr = msg.Err
	m.store.apply(msg, m.run.smoothing())
	if m.pendingPID != 0 {
		for _, r := range m.store.list() {
			if r.Status.PID == m.pendingPID {
				if m.pendingOpen {
					m.openRun(r.ID)
				}
				m.setFlash("", false) // the run is on screen: the launch note has served
				m.selectRun(r.ID)
				m.pendingPID = 0
				break
			}
		}
	}
	if msg.More {
		return m.pollNow()
	}
	return m.pollLater()
}

func (m *Model) openRun(id string) {
	m.run.id = id
	m.view = viewRun
}

// selectRun moves the runs table's cursor to a run.
func (m *Model) selectRun(id string) {
	for i, r := range m.runs.visible(m.store) {
		if r.ID == id {
			m.runs.cursor = i
		}
	}
}

// focusedRun is the run the stop/resume/query keys act on.
func (m *Model) focusedRun() *runData {
	if m.view == viewRun {
		return m.store.get(m.run.id)
	}
	return m.runs.selected(m.store)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.String()
	if m.confirm != nil {
		c := m.confirm
		switch k {
		case "y", "Y":
			m.confirm = nil
			return c.yes
		case "ctrl+c":
			return tea.Quit
		default:
			m.confirm = nil
			m.setFlash("cancelled", false)
		}
		return nil
	}
	if m.showHelp {
		switch k {
		case "ctrl+c":
			return tea.Quit
		case "?", "esc", "q":
			m.showHelp = false
		}
		return nil
	}
	act := lookup(k, m.view, m.typing())
	switch act {
	case actQuit:
		return tea.Quit
	case actHelp:
		m.showHelp = true
		return nil
	case actNextView:
		m.switchView((m.view + 1) % numViews)
		return nil
	case actPrevView:
		m.switchView((m.view + numViews - 1) % numViews)
		return nil
	}
	switch m.view {
	case viewRuns:
		act, cmd := m.runs.Update(msg, act, m.store)
		if act == actOpen {
			if r := m.runs.selected(m.store); r != nil {
				m.openRun(r.ID)
			}
			return nil
		}
		if act == actQuit {
			return tea.Quit
		}
		return tea.Batch(cmd, m.runAction(act))
	case viewRun:
		if handled, changed := m.run.Update(act); handled {
			if changed {
				for _, r := range m.store.list() {
					r.setSmoothing(m.run.smoothing())
				}
			}
			return nil
		}
		if act == actBack {
			m.view = viewRuns
			return nil
		}
		return m.runAction(act)
	case viewLaunch:
		if act == actBack && !m.launch.typing() {
			m.view = viewRuns
			return nil
		}
		spec, cmd := m.launch.Update(msg, act, m.store)
		if spec != nil {
			return m.start(*spec, false)
		}
		return cmd
	case viewREPL:
		act, cmd := m.repl.Update(msg, act, m.store)
		if act == actBack {
			m.view = viewRuns
		}
		return cmd
	}
	return nil
}

func (m *Model) switchView(v viewID) {
	m.view = v
	if v == viewRun && m.run.id == "" {
		if r := m.runs.selected(m.store); r != nil {
			m.run.id = r.ID
		}
	}
	if v == viewLaunch {
		m.launch.reload()
	}
}

// runAction carries out the run keys shared by the runs and run views.
func (m *Model) runAction(act action) tea.Cmd {
	switch act {
	case actNew:
		m.switchView(viewLaunch)
	case actDemo:
		return m.start(DemoSpec(m.opts.ConfigsDir), true)
	case actStop:
		r := m.focusedRun()
		if r == nil {
			return nil
		}
		if !r.Live {
			m.setFlash(r.ID+" is not running", true)
			return nil
		}
		st, id, stop := r.Status, r.ID, m.opts.Stop
		m.confirm = &confirmation{
			question: fmt.Sprintf("Stop %s? It checkpoints, then exits. [y/N]", displayID(r, 24)),
			yes:      func() tea.Msg { return stoppedMsg{id: id, err: stop(st)} },
		}
	case actResume:
		r := m.focusedRun()
		if r == nil {
			return nil
		}
		spec, err := ResumeSpec(r.Status, r.Dir)
		if err != nil {
			m.setFlash("resume "+r.ID+": "+err.Error(), true)
			return nil
		}
		return m.start(spec, true)
	case actQuery:
		r := m.focusedRun()
		if r == nil {
			return nil
		}
		c, ok := r.latestCheckpoint()
		if !ok {
			m.setFlash(r.ID+" has no checkpoint yet", true)
			return nil
		}
		m.view = viewREPL
		return m.repl.open(c.Dir)
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
	switch {
	case m.showHelp:
		body = m.st.header.Render("Keys") + m.st.dim.Render("  (? or esc closes)") + "\n\n" + helpText(m.width, bodyH-2)
	default:
		switch m.view {
		case viewRuns:
			body = m.runs.View(m.store, m.opts.RunsDir, m.opts.Now())
		case viewRun:
			body = m.run.View(m.store, m.overlay(), m.opts.Now())
		case viewLaunch:
			body = m.launch.View(m.store, m.opts.RunsDir)
		case viewREPL:
			body = m.repl.View(m.store)
		}
	}
	body = fitBlock(body, m.width, bodyH)

	var status string
	switch {
	case m.confirm != nil:
		status = m.st.err.Render(m.confirm.question)
	case m.pollErr != nil:
		status = m.st.err.Render(m.pollErr.Error())
	case m.flash != "":
		st := m.st.dim
		if m.flashErr {
			st = m.st.err
		}
		status = st.Render(m.flash)
	}
	status = lipgloss.NewStyle().MaxWidth(m.width).Render(status)
	footer := m.st.dim.Render(shortHelp(m.view, m.width))
	return strings.Join([]string{bar, body, status, footer}, "\n")
}

// overlay lists the runs marked in the runs view, drawn with the focused one.
func (m *Model) overlay() []string {
	var ids []string
	for _, id := range m.store.order {
		if m.runs.marked[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// Run starts the dashboard on the terminal and returns when it quits.
func Run(opts Options) error {
	m := New(opts)
	var popts []tea.ProgramOption
	if opts.NoColor { // any NO_COLOR value counts (no-color.org), not only "true"
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	return err
}
