package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// viewID names the dashboard's views.
type viewID int

const (
	viewRuns viewID = iota
	viewRun
	viewLaunch
	viewREPL
	numViews
)

var viewNames = [numViews]string{"Runs", "Run", "Launch", "REPL"}

// scope says in which views a binding acts.
type scope uint8

const (
	inRuns scope = 1 << iota
	inRun
	inLaunch
	inREPL
	global = inRuns | inRun | inLaunch | inREPL
)

func scopeOf(v viewID) scope { return scope(1) << v }

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
)

// binding is one row of the key table.
type binding struct {
	key.Binding
	act   action
	scope scope
	group string // help section
}

func bind(act action, sc scope, group, help, desc string, keys ...string) binding {
	return binding{
		Binding: key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc)),
		act:     act, scope: sc, group: group,
	}
}

// keyTable is the one place keys are defined: Update dispatches through it
// and the help screen is generated from it.
var keyTable = []binding{
	bind(actHelp, global, "General", "?", "toggle help", "?"),
	bind(actNextView, global, "General", "tab", "next view", "tab"),
	bind(actPrevView, global, "General", "shift+tab", "previous view", "shift+tab"),
	bind(actQuit, global, "General", "q", "quit (never while typing)", "q"),
	bind(actQuit, global, "General", "ctrl+c", "quit", "ctrl+c"),
	bind(actBack, inRun|inLaunch|inREPL, "General", "esc", "back / cancel", "esc"),

	bind(actUp, inRuns|inLaunch|inREPL, "Lists", "↑/k", "move up", "up", "k"),
	bind(actDown, inRuns|inLaunch|inREPL, "Lists", "↓/j", "move down", "down", "j"),
	bind(actOpen, inRuns, "Runs", "enter", "open run", "enter"),
	bind(actFilter, inRuns, "Runs", "/", "filter runs", "/"),
	bind(actMark, inRuns, "Runs", "space", "overlay run in charts", "space"),
	bind(actNew, inRuns|inRun, "Runs", "n", "launch a run", "n"),
	bind(actDemo, inRuns, "Runs", "d", "start the demo", "d"),
	bind(actStop, inRuns|inRun, "Runs", "s", "stop run (asks first)", "s"),
	bind(actResume, inRuns|inRun, "Runs", "r", "resume from latest checkpoint", "r"),
	bind(actQuery, inRuns|inRun, "Runs", "p", "query checkpoint in REPL", "p"),

	bind(actSmoothMore, inRun, "Run", "+", "smooth more", "+", "="),
	bind(actSmoothLess, inRun, "Run", "-", "smooth less", "-", "_"),
	bind(actRaw, inRun, "Run", "o", "raw / smoothed", "o"),
	bind(actLogY, inRun, "Run", "L", "log / linear y", "L", "l"),
	bind(actXAxis, inRun, "Run", "x", "x by step / wall time", "x"),

	bind(actNextField, inLaunch, "Launch", "f", "next field (config, overrides, checkpoint; enter leaves overrides)", "f"),
	bind(actOpen, inLaunch, "Launch", "enter", "start run", "enter"),
	bind(actOpen, inREPL, "REPL", "enter", "load checkpoint / query", "enter"),
}

// lookup finds the action of a key in a view; typing says a text field has
// focus, where only keys that cannot be text act.
func lookup(k string, v viewID, typing bool) action {
	for _, b := range keyTable {
		if b.scope&scopeOf(v) == 0 || !b.Enabled() {
			continue
		}
		if typing && !nonText(k) {
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

// nonText reports whether a key cannot be part of typed text.
func nonText(k string) bool {
	switch k {
	case "tab", "shift+tab", "esc", "enter", "ctrl+c", "up", "down":
		return true
	}
	return false
}

// helpText renders the key table grouped by section, the content of `?`,
// in as many columns (up to 3) as it takes to fit width×height.
func helpText(width, height int) string {
	var groups []string
	rows := map[string][]string{}
	keyW := 0
	for _, b := range keyTable {
		keyW = max(keyW, len([]rune(b.Help().Key)))
	}
	for _, b := range keyTable {
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
	for try := 0; ; try++ {
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

// scopeNote names the views of a binding that is not global.
func scopeNote(s scope) string {
	if s == global {
		return ""
	}
	var names []string
	for v := viewID(0); v < numViews; v++ {
		if s&scopeOf(v) != 0 {
			names = append(names, viewNames[v])
		}
	}
	return " (" + strings.Join(names, ", ") + ")"
}

// shortHelp is the one-line key hint of a view, from the same table.
func shortHelp(v viewID, width int) string {
	var parts []string
	seen := map[action]bool{}
	for _, b := range keyTable {
		if b.scope&scopeOf(v) == 0 || seen[b.act] || b.act == actUp || b.act == actDown || b.act == actPrevView {
			continue
		}
		seen[b.act] = true
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
