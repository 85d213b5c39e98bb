package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
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

	bind(actSmoothMore, inRun, "Chart", "+", "smooth more", "+", "="),
	bind(actSmoothLess, inRun, "Chart", "-", "smooth less", "-", "_"),
	bind(actRaw, inRun, "Chart", "o", "raw / smoothed", "o"),
	bind(actLogY, inRun, "Chart", "L", "log / linear y", "L", "l"),
	bind(actXAxis, inRun, "Chart", "x", "x by step / wall time", "x"),

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

// helpText renders the key table grouped by section, the content of `?`.
func helpText(width int) string {
	var groups []string
	rows := map[string][]string{}
	for _, b := range keyTable {
		h := b.Help()
		if _, ok := rows[b.group]; !ok {
			groups = append(groups, b.group)
		}
		rows[b.group] = append(rows[b.group], "  "+pad(h.Key, 10)+" "+h.Desc+scopeNote(b.scope))
	}
	var sb strings.Builder
	for i, g := range groups {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(g + "\n")
		for _, r := range rows[g] {
			sb.WriteString(truncate(r, width) + "\n")
		}
	}
	sb.WriteString("\nREPL commands: :k N (top-k), :ckpt PATH (load a checkpoint), :help")
	return sb.String()
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
