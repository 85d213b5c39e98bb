package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// viewID names the dashboard's views.
type viewID int

const (
	viewRuns viewID = iota
	viewRun
	viewLaunch
	viewREPL
	viewBench
	numViews
)

var viewNames = [numViews]string{"Runs", "Run", "Launch", "REPL", "Bench"}

// scope is a set of key contexts: where a binding acts. A view is in one
// context at a time (its KeyMap); the dashboard's modal states, the yes/no
// question and the help screen, are contexts of their own.
type scope uint16

const (
	inRuns      scope = 1 << iota // the runs table
	inFilter                      // the runs filter has the keyboard
	inRun                         // one run in detail
	inLaunch                      // the launch form's lists (configs, checkpoints)
	inOverrides                   // the launch form's overrides field has the keyboard
	inREPLPick                    // the REPL's checkpoint picker
	inREPLQuery                   // the REPL's query line has the keyboard
	inConfirm                     // a yes/no question waits for its answer
	inHelp                        // the help screen is open
	inREPLApp                     // `fnet-tui repl` on its own: the query line, no picker
	inBench                       // the benchmark chart and table
	numContexts = iota

	// typing contexts give every key that is not bound there to a text field.
	typing = inFilter | inOverrides | inREPLQuery
	// browsing contexts are the views' contexts where letters are keys.
	browsing = inRuns | inRun | inLaunch | inREPLPick | inBench
	// views are the contexts of the five views.
	views = browsing | typing
	// dashboard is every context of the dashboard (not `fnet-tui repl`).
	dashboard = views | inConfirm | inHelp
)

var contextNames = [numContexts]string{"Runs", "Runs filter", "Run", "Launch", "Launch overrides",
	"REPL picker", "REPL query", "Confirm", "help screen", "fnet-tui repl", "Bench"}

// action is what a key does; dispatch and help both come from keyTable.
type action int

const (
	actNone action = iota
	actQuit
	actHelp
	actNextView
	actPrevView
	actUp
	actDown
	actOpen
	actBack
	actFilter
	actMark
	actNew
	actDemo
	actStop
	actResume
	actSmoothMore
	actSmoothLess
	actRaw
	actLogY
	actXAxis
	actQuery
	actNextField
	actYes
	actNo
	actBench
	actNextMetric
	actPrevMetric
	actGrid
	actZoomIn
	actZoomReset
	actPanLeft
	actPanRight
	actSortNext
	actSortReverse
	actExport
	actDiff
)

// binding is one row of the key table.
type binding struct {
	key.Binding
	act    action
	scope  scope
	group  string // help section
	hidden bool   // in the help screen only, not in the footer
	noHelp bool   // in neither: another row's description covers it
}

func bind(act action, sc scope, group, help, desc string, keys ...string) binding {
	return binding{
		Binding: key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc)),
		act:     act, scope: sc, group: group,
	}
}

// notInFooter keeps a binding out of the one-line footer (moves and
// reverse moves everyone guesses); the help screen still lists it.
func (b binding) notInFooter() binding { b.hidden = true; return b }

// onlyInDispatch keeps a binding out of the footer and the help screen,
// for a key whose effect another row's description already names.
func (b binding) onlyInDispatch() binding { b.hidden, b.noHelp = true, true; return b }

// keyTable is the one place keys are defined: every view and the
// dashboard dispatch through it (lookup, keyMap.action), and the footer
// and the help screen are generated from it. In a context the first row
// that names a key wins; a key no row names does nothing, except in a
// typing context (where it is text) and in a question (where it means no).
var keyTable = []binding{
	// `fnet-tui repl` on a terminal: esc quits (there is no picker to go
	// back to). First, so that its footer names esc rather than ctrl+c.
	bind(actQuit, inREPLApp, "fnet-tui repl", "esc", "quit", "esc"),
	bind(actQuit, inREPLApp, "fnet-tui repl", "ctrl+d", "quit", "ctrl+d"),

	bind(actHelp, browsing|inHelp, "General", "?", "toggle help", "?"),
	bind(actBack, inHelp, "General", "esc/q", "close help", "esc", "q"),
	bind(actDown, inHelp, "General", "↓/j", "scroll the help", "down", "j").notInFooter(),
	bind(actUp, inHelp, "General", "↑/k", "scroll the help back", "up", "k").notInFooter(),
	bind(actNextView, views, "General", "tab", "next view", "tab"),
	bind(actPrevView, views, "General", "shift+tab", "previous view", "shift+tab").notInFooter(),
	// In a picker q goes back, like esc: quitting from a list is never what
	// a user picking a config or a checkpoint meant.
	bind(actBack, inLaunch|inREPLPick, "General", "q", "back (in pickers; esc too)", "q").onlyInDispatch(),
	bind(actQuit, browsing&^(inLaunch|inREPLPick), "General", "q", "quit (back in pickers)", "q"),
	bind(actQuit, dashboard|inREPLApp, "General", "ctrl+c", "quit", "ctrl+c"),
	bind(actBack, inRun|inLaunch|inREPLPick|inBench, "General", "esc", "back / cancel", "esc"),

	bind(actYes, inConfirm, "Confirm", "y", "yes, do it", "y", "Y"),
	bind(actNo, inConfirm, "Confirm", "n/esc", "no (so does any other key)", "n", "N", "esc"),

	bind(actUp, inRuns|inLaunch|inREPLPick, "Lists", "↑/k", "move up", "up", "k").notInFooter(),
	bind(actDown, inRuns|inLaunch|inREPLPick, "Lists", "↓/j", "move down", "down", "j").notInFooter(),

	bind(actOpen, inRuns, "Runs", "enter", "open run", "enter"),
	bind(actFilter, inRuns, "Runs", "/", "filter runs", "/"),
	bind(actMark, inRuns, "Runs", "space", "overlay run in charts", "space"),
	bind(actNew, inRuns|inRun, "Runs", "n", "launch a run", "n"),
	bind(actDemo, inRuns, "Runs", "d", "start the demo", "d"),
	bind(actStop, inRuns|inRun, "Runs", "s", "stop run (asks first)", "s"),
	bind(actResume, inRuns|inRun, "Runs", "r", "resume from latest checkpoint", "r"),
	bind(actQuery, inRuns|inRun, "Runs", "p", "query checkpoint in REPL", "p"),
	bind(actBench, inRuns, "Runs", "b", "bench results (RUNS/bench.json)", "b"),
	bind(actSortNext, inRuns, "Runs", ",", "sort by the next column", ","),
	bind(actSortReverse, inRuns, "Runs", ".", "reverse the sort", "."),
	bind(actDiff, inRuns, "Runs", "c", "config diff (selected vs a marked run)", "c"),
	bind(actBack, inRuns, "Runs", "esc", "clear the filter", "esc").notInFooter(),
	bind(actOpen, inFilter, "Runs", "enter", "keep the filter", "enter"),
	bind(actBack, inFilter, "Runs", "esc", "clear the filter", "esc"),

	bind(actSmoothMore, inRun, "Run", "+", "smooth more", "+", "="),
	bind(actSmoothLess, inRun, "Run", "-", "smooth less", "-", "_"),
	bind(actRaw, inRun, "Run", "o", "raw / smoothed", "o"),
	bind(actLogY, inRun, "Run", "L", "log / linear y", "L", "l"),
	bind(actXAxis, inRun, "Run", "x", "x by step / tokens / wall time", "x"),
	bind(actNextMetric, inRun, "Run", "m", "next metric", "m"),
	bind(actPrevMetric, inRun, "Run", "M", "previous metric", "M").notInFooter(),
	bind(actGrid, inRun, "Run", "g", "grid of every metric", "g"),
	bind(actZoomIn, inRun, "Run", "z", "zoom in on the latest half", "z"),
	bind(actPanLeft, inRun, "Run", "[", "pan left (zoomed)", "[").notInFooter(),
	bind(actPanRight, inRun, "Run", "]", "pan right (zoomed)", "]").notInFooter(),
	bind(actZoomReset, inRun, "Run", "Z", "whole range", "Z"),
	bind(actExport, inRun, "Run", "e", "export the chart (plots/*.svg, .csv)", "e"),

	bind(actNextField, inLaunch, "Launch", "f", "next field (config, overrides, ckpt)", "f"),
	bind(actOpen, inLaunch, "Launch", "enter", "start run", "enter"),
	bind(actOpen, inOverrides, "Launch", "enter", "next field", "enter"),
	bind(actBack, inOverrides, "Launch", "esc", "back to the configs", "esc"),

	bind(actOpen, inREPLPick, "REPL", "enter", "load checkpoint", "enter"),
	bind(actOpen, inREPLQuery|inREPLApp, "REPL", "enter", "query or :command", "enter"),
	bind(actUp, inREPLQuery|inREPLApp, "REPL", "↑", "previous query", "up"),
	bind(actDown, inREPLQuery|inREPLApp, "REPL", "↓", "next query", "down"),
	bind(actBack, inREPLQuery, "REPL", "esc", "pick another checkpoint", "esc"),

	bind(actUp, inBench, "Bench", "↑/k", "scroll up", "up", "k").notInFooter(),
	bind(actDown, inBench, "Bench", "↓/j", "scroll down", "down", "j").notInFooter(),
}

// lookup finds the action of a key (its tea.KeyPressMsg.String()) in a
// context: the first row of keyTable whose scope holds the context and
// whose keys hold the key.
func lookup(k string, ctx scope) action {
	for _, b := range keyTable {
		if b.scope&ctx == 0 || !b.Enabled() {
			continue
		}
		for _, bk := range b.Keys() {
			if bk == k {
				return b.act
			}
		}
	}
	return actNone
}

// keyName is the help name of the key that does act in ctx ("" when none
// does), for the prose that names keys: it cannot drift from dispatch.
func keyName(act action, ctx scope) string {
	for _, b := range keyTable {
		if b.act == act && b.scope&ctx != 0 {
			return b.Help().Key
		}
	}
	return ""
}

// confirmHint is a question's answer hint, "[y/N]": the yes key and the
// no key (capital: what any other key means too).
func confirmHint() string {
	var yes, no string
	for _, b := range keyMap(inConfirm).bindings() {
		switch {
		case b.act == actYes && yes == "":
			yes = b.Keys()[0]
		case b.act == actNo && no == "":
			no = strings.ToUpper(b.Keys()[0])
		}
	}
	return "[" + yes + "/" + no + "]"
}

// keyMap is the keys of one context, taken from keyTable: what a
// component's KeyMap returns. It is a bubbles help.KeyMap.
type keyMap scope

// action is what msg does in this context.
func (k keyMap) action(msg tea.KeyPressMsg) action { return lookup(msg.String(), scope(k)) }

// typing says a text field has the keyboard.
func (k keyMap) typing() bool { return scope(k)&typing != 0 }

// bindings are the table's rows for this context, in table order.
func (k keyMap) bindings() []binding {
	var out []binding
	for _, b := range keyTable {
		if b.scope&scope(k) != 0 {
			out = append(out, b)
		}
	}
	return out
}

// ShortHelp is the footer: one binding per action (the first), without
// the rows kept for the help screen; the view's own keys first, then the
// general ones (help, tab, quit), which a narrow footer may cut.
func (k keyMap) ShortHelp() []key.Binding {
	var own, general []key.Binding
	seen := map[action]bool{}
	for _, b := range k.bindings() {
		if b.hidden || seen[b.act] {
			continue
		}
		seen[b.act] = true
		if b.group == "General" {
			general = append(general, b.Binding)
		} else {
			own = append(own, b.Binding)
		}
	}
	return append(own, general...)
}

// FullHelp is every binding of the context, one column per help section.
func (k keyMap) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	idx := map[string]int{}
	for _, b := range k.bindings() {
		i, ok := idx[b.group]
		if !ok {
			i = len(out)
			idx[b.group] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], b.Binding)
	}
	return out
}

// helpText renders the dashboard's rows of the key table grouped by
// section, the content of `?`, in as many columns (up to 3) as it takes to
// fit width×height.
func helpText(width, height int) string {
	var groups []string
	rows := map[string][]string{}
	keyW := 0
	var all []binding
	for _, b := range keyMap(dashboard).bindings() {
		if !b.noHelp {
			all = append(all, b)
		}
	}
	for _, b := range all {
		keyW = max(keyW, len([]rune(b.Help().Key)))
	}
	for _, b := range all {
		h := b.Help()
		if _, ok := rows[b.group]; !ok {
			groups = append(groups, b.group)
		}
		note := scopeNote(b.scope)
		if note == " ("+b.group+")" { // the section already says where
			note = ""
		}
		rows[b.group] = append(rows[b.group], pad(h.Key, keyW)+" "+h.Desc+note)
	}
	footer := "REPL commands: :k N (top-k), :ckpt PATH (load a checkpoint), :help"
	avail := max(height-2, 1) // the footer and a blank line
	total := 0
	for _, g := range groups {
		total += 1 + len(rows[g])
	}
	for try := 0; ; try++ {
		if try == 3 { // 3 columns, as long as it takes: the help screen scrolls
			avail = max(avail, (total+2)/3)
		}
		// Tries: 1 column, 2 columns, 2 columns without blank lines between
		// sections, then 3 columns.
		ncols := []int{1, 2, 2, 3}[min(try, 3)]
		gap := try != 2 && try < 3
		cw := (width - 2*(ncols-1)) / ncols
		cols := [][]string{nil}
		if !gap { // sections run on from one column into the next
			for _, g := range groups {
				for _, l := range append([]string{g}, rows[g]...) {
					if len(cols[len(cols)-1]) >= avail {
						cols = append(cols, nil)
					}
					cols[len(cols)-1] = append(cols[len(cols)-1], truncate(l, cw))
				}
			}
		}
		for _, g := range groups {
			if !gap {
				break
			}
			block := append([]string{g}, rows[g]...)
			cur := cols[len(cols)-1]
			need := len(block)
			if len(cur) > 0 {
				need++ // blank line between sections
			}
			if len(cur) > 0 && len(cur)+need > avail {
				cols = append(cols, nil)
				cur = nil
			}
			if len(cur) > 0 {
				cur = append(cur, "")
			}
			for _, l := range block {
				cur = append(cur, truncate(l, cw))
			}
			cols[len(cols)-1] = cur
		}
		if len(cols) <= ncols || try >= 3 {
			var blocks []string
			for i, c := range cols {
				if i > 0 {
					blocks = append(blocks, "  ")
				}
				blocks = append(blocks, lipgloss.NewStyle().Width(cw).Render(strings.Join(c, "\n")))
			}
			return lipgloss.JoinHorizontal(lipgloss.Top, blocks...) + "\n\n" + truncate(footer, width)
		}
	}
}

// scopeNote names the dashboard contexts of a binding that does not act
// in every view.
func scopeNote(s scope) string {
	s &= dashboard
	if s&browsing == browsing {
		return ""
	}
	var names []string
	for c := range numContexts {
		if s&(1<<c) != 0 {
			names = append(names, contextNames[c])
		}
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// footerText is the one-line key hint of a short help, cut to width.
func footerText(bs []key.Binding, width int) string {
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		h := b.Help()
		parts = append(parts, h.Key+" "+shortDesc(h.Desc))
	}
	return truncate(strings.Join(parts, " · "), width)
}

// shortDesc drops a description's parenthesised remark for the footer.
func shortDesc(s string) string {
	if i := strings.Index(s, " ("); i > 0 {
		return s[:i]
	}
	return s
}
