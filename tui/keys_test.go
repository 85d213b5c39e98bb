package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// Every view's key context and every context of the table are bubbles
// help.KeyMaps.
var _ help.KeyMap = keyMap(0)

func contextsOf(s scope) []scope {
	var out []scope
	for c := range numContexts {
		if s&(1<<c) != 0 {
			out = append(out, 1<<c)
		}
	}
	return out
}

func contextName(ctx scope) string {
	for c := range numContexts {
		if ctx == 1<<c {
			return contextNames[c]
		}
	}
	return fmt.Sprintf("scope %b", ctx)
}

// A row that an earlier row shadows in one of its contexts is dead there,
// and its help line lies.
func TestKeyTableHasNoShadowedRows(t *testing.T) {
	owner := map[string]int{} // context and key -> row
	for i, b := range keyTable {
		if len(b.Keys()) == 0 || b.scope == 0 {
			t.Errorf("row %d (%q) has no keys or no context", i, b.Help().Key)
		}
		for _, ctx := range contextsOf(b.scope) {
			for _, k := range b.Keys() {
				id := contextName(ctx) + " " + k
				if j, ok := owner[id]; ok {
					t.Errorf("row %d (%s %q) is shadowed by row %d (%s %q) in %s", i, k, b.Help().Desc, j, k, keyTable[j].Help().Desc, contextName(ctx))
					continue
				}
				owner[id] = i
				if got := lookup(k, ctx); got != b.act {
					t.Errorf("lookup(%q, %s) = %d, want row %d's %d", k, contextName(ctx), got, i, b.act)
				}
			}
		}
	}
}

func TestLookup(t *testing.T) {
	cases := []struct {
		key  string
		ctx  scope
		want action
	}{
		{"q", inRuns, actQuit},
		{"q", inLaunch, actBack}, // a picker: back, never quit
		{"q", inREPLPick, actBack},
		{"q", inFilter, actNone}, // a letter of the filter
		{"q", inOverrides, actNone},
		{"q", inREPLQuery, actNone},
		{"q", inHelp, actBack}, // closes the help
		{"q", inConfirm, actNone},
		{"ctrl+c", inFilter, actQuit},
		{"ctrl+c", inConfirm, actQuit},
		{"ctrl+c", inHelp, actQuit},
		{"ctrl+c", inREPLApp, actQuit},
		{"tab", inFilter, actNextView},
		{"tab", inConfirm, actNone}, // any other key: no
		{"tab", inHelp, actNone},
		{"?", inRuns, actHelp},
		{"?", inHelp, actHelp},
		{"?", inREPLQuery, actNone},
		{"esc", inRuns, actBack}, // clears a kept filter
		{"esc", inFilter, actBack},
		{"esc", inRun, actBack},
		{"esc", inREPLApp, actQuit},
		{"enter", inRuns, actOpen},
		{"enter", inFilter, actOpen},
		{"enter", inREPLApp, actOpen},
		{"y", inConfirm, actYes},
		{"Y", inConfirm, actYes},
		{"N", inConfirm, actNo},
		{"y", inRuns, actNone},
		{"k", inRuns, actUp},
		{"k", inREPLQuery, actNone},
		{"up", inREPLQuery, actUp},
		{"l", inRun, actLogY},
		{"l", inRuns, actNone},
		{"f", inLaunch, actNextField},
		{"f", inOverrides, actNone},
		{"ctrl+d", inREPLApp, actQuit},
		{"ctrl+d", inREPLQuery, actNone}, // the text field's delete
		{"b", inRuns, actBench},
		{"b", inRun, actNone},
		{"b", inFilter, actNone},
		{"esc", inBench, actBack},
		{"j", inBench, actDown},
		{"up", inBench, actUp},
		{"q", inBench, actQuit},
		{"?", inBench, actHelp},
	}
	for _, tc := range cases {
		if got := lookup(tc.key, tc.ctx); got != tc.want {
			t.Errorf("lookup(%q, %s) = %d, want %d", tc.key, contextName(tc.ctx), got, tc.want)
		}
	}
}

// The footer of every context, from the table.
func TestShortHelpOfEachContext(t *testing.T) {
	cases := map[scope]string{
		inRuns: "enter open run · / filter runs · space overlay run in charts · " +
			"n launch a run · d start the demo · s stop run · r resume from latest checkpoint · p query checkpoint in REPL · " +
			"b bench results · , sort by the next column · . reverse the sort · c config diff · ? toggle help · tab next view · q quit",
		inFilter: "enter keep the filter · esc clear the filter · tab next view · ctrl+c quit",
		inRun: "n launch a run · s stop run · " +
			"r resume from latest checkpoint · p query checkpoint in REPL · + smooth more · - smooth less · " +
			"o raw / smoothed · L log / linear y · x x by step / tokens / wall time · m next metric · g grid of every metric · " +
			"z zoom in on the latest half · Z whole range · e export the chart · ? toggle help · tab next view · q quit · esc back / cancel",
		inLaunch:    "f next field · enter start run · ? toggle help · tab next view · ctrl+c quit · esc back / cancel",
		inOverrides: "enter next field · esc back to the configs · tab next view · ctrl+c quit",
		inREPLPick:  "enter load checkpoint · ? toggle help · tab next view · ctrl+c quit · esc back / cancel",
		inREPLQuery: "enter query or :command · ↑ previous query · ↓ next query · esc pick another checkpoint · tab next view · ctrl+c quit",
		inConfirm:   "y yes, do it · n/esc no · ctrl+c quit",
		inHelp:      "? toggle help · esc/q close help · ctrl+c quit",
		inREPLApp:   "esc quit · enter query or :command · ↑ previous query · ↓ next query",
		inBench:     "? toggle help · tab next view · q quit · esc back / cancel",
	}
	for ctx, want := range cases {
		if got := footerText(keyMap(ctx).ShortHelp(), 1000); got != want {
			t.Errorf("%s footer:\n got %q\nwant %q", contextName(ctx), got, want)
		}
	}
	if got := footerText(keyMap(inRuns).ShortHelp(), 20); got != "enter open run · / …" { // the view's own keys survive the cut
		t.Errorf("footer cut to 20: %q", got)
	}
}

func TestFullHelpGroupsBySection(t *testing.T) {
	var got []string
	for _, col := range keyMap(inRuns | inFilter).FullHelp() {
		var keys []string
		for _, b := range col {
			keys = append(keys, b.Help().Key)
		}
		got = append(got, strings.Join(keys, " "))
	}
	want := []string{"? tab shift+tab q ctrl+c", "↑/k ↓/j", "enter / space n d s r p b , . c esc enter esc"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("full help %q, want %q", got, want)
	}
}

func TestScopeNote(t *testing.T) {
	cases := []struct {
		s    scope
		want string
	}{
		{views, ""},
		{browsing, ""},
		{dashboard | inREPLApp, ""},
		{inRuns | inRun, " (Runs, Run)"},
		{inFilter, " (Runs filter)"},
		{inREPLQuery | inREPLApp, " (REPL query)"}, // fnet-tui repl is not the dashboard's
		{inRun | inLaunch | inREPLPick, " (Run, Launch, REPL picker)"},
	}
	for _, tc := range cases {
		if got := scopeNote(tc.s); got != tc.want {
			t.Errorf("scopeNote(%b) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestProseNamesKeysFromTheTable(t *testing.T) {
	cases := []struct {
		act  action
		ctx  scope
		want string
	}{
		{actDemo, inRuns, "d"},
		{actNew, inRuns, "n"},
		{actHelp, inRuns, "?"},
		{actHelp, inHelp, "?"},
		{actBack, inHelp, "esc/q"},
		{actOpen, inREPLPick, "enter"},
		{actNextView, inRun, "tab"},
		{actFilter, inRun, ""},
	}
	for _, tc := range cases {
		if got := keyName(tc.act, tc.ctx); got != tc.want {
			t.Errorf("keyName(%d, %s) = %q, want %q", tc.act, contextName(tc.ctx), got, tc.want)
		}
	}
	if got := confirmHint(); got != "[y/N]" {
		t.Errorf("confirmHint %q", got)
	}
}

// candidateKeys are the key presses a terminal can send that the tests
// try: printable ASCII, the named keys, ctrl+letter and an alt key.
func candidateKeys() []tea.KeyPressMsg {
	var ks []tea.KeyPressMsg
	for r := rune('!'); r <= '~'; r++ {
		ks = append(ks, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	for _, c := range []rune{tea.KeyEnter, tea.KeyEscape, tea.KeyTab, tea.KeyUp, tea.KeyDown, tea.KeyLeft, tea.KeyRight,
		tea.KeyHome, tea.KeyEnd, tea.KeyPgUp, tea.KeyPgDown, tea.KeyBackspace, tea.KeyDelete, tea.KeyInsert, tea.KeyF1} {
		ks = append(ks, tea.KeyPressMsg{Code: c})
	}
	ks = append(ks, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}, tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift},
		tea.KeyPressMsg{Code: 'x', Mod: tea.ModAlt})
	for r := 'a'; r <= 'z'; r++ {
		ks = append(ks, tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl})
	}
	return ks
}

// Every key the dashboard reacts to is in the key table: in each context
// where letters are keys, every key the table does not bind there leaves
// the screen, the context and the view as they were and returns no
// command. (That every row shows in help is TestHelpComesFromTheKeyTable.)
func TestUnboundKeysDoNothing(t *testing.T) {
	root := standardFixtures(t)
	writeBenchJSON(t, root, sampleBench) // the Bench view with its chart and table
	cases := []struct {
		name  string
		ctx   scope
		setup []string
	}{
		{"Runs", inRuns, nil},
		{"Run", inRun, []string{"enter"}},
		{"Launch configs", inLaunch, []string{"n"}},
		{"Launch checkpoints", inLaunch, []string{"n", "down", "down", "f", "enter"}},
		{"REPL picker", inREPLPick, []string{"shift+tab", "shift+tab"}},
		{"Bench", inBench, []string{"b"}},
		{"Bench from the tabs", inBench, []string{"shift+tab"}},
		{"help screen", inHelp, []string{"?"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, root, 100, 30)
			press(m, tc.setup...)
			if m.keyMap() != keyMap(tc.ctx) {
				t.Fatalf("set-up %v reached %b, want %s", tc.setup, m.keyMap(), contextName(tc.ctx))
			}
			before, view, tried := m.render(), m.view, 0 // with attributes: the selection is reverse video
			for _, k := range candidateKeys() {
				if lookup(k.String(), tc.ctx) != actNone {
					continue
				}
				tried++
				_, cmd := m.Update(k)
				if cmd != nil || m.view != view || m.keyMap() != keyMap(tc.ctx) || m.render() != before {
					t.Fatalf("%q is not in keyTable for %s, yet it did something:\n%s", k.String(), contextName(tc.ctx), screen(m))
				}
			}
			if tried < 100 {
				t.Errorf("only %d unbound keys tried", tried)
			}
		})
	}
}

// At a question, a key the table does not bind means no, like n.
func TestUnboundKeysAnswerNo(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	for _, k := range append(candidateKeys(), keyMsg("n")) {
		if a := lookup(k.String(), inConfirm); a != actNone && a != actNo {
			continue
		}
		press(m, "s") // stop the live run: asks first
		if m.confirm == nil {
			t.Fatal("s asked nothing")
		}
		if _, cmd := m.Update(k); cmd != nil || m.confirm != nil || m.flash != "cancelled" || m.view != viewRuns {
			t.Fatalf("%q at the question: cmd %v, question %v, flash %q", k.String(), cmd != nil, m.confirm != nil, m.flash)
		}
	}
}

// In a typing context every printable key the table does not bind is text.
func TestUnboundKeysAreTextWhileTyping(t *testing.T) {
	root := standardFixtures(t)
	runDir := filepath.Join(root, "pretrain-pretrain-mini-20250601-100000")
	cks, _ := rundir.Checkpoints(runDir)
	os.WriteFile(filepath.Join(cks[len(cks)-1].Dir, "model.safetensors"), nil, 0o644)
	load := func(o *Options) {
		o.Load = func(dir string) (Predictor, error) { return sentencePredictor{"x"}, nil }
	}
	cases := []struct {
		name  string
		ctx   scope
		setup func(m *Model)
		value func(m *Model) string
	}{
		{"Runs filter", inFilter, func(m *Model) { press(m, "/") }, func(m *Model) string { return runsOf(m).filter.Value() }},
		{"Launch overrides", inOverrides, func(m *Model) { press(m, "n", "f") }, func(m *Model) string { return launchOf(m).overrides.Value() }},
		{"REPL query", inREPLQuery, func(m *Model) {
			press(m, "down", "down", "down")
			m.Update(press(m, "p")())
		}, func(m *Model) string { return replOf(m).input.Value() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, root, 100, 30, load)
			tc.setup(m)
			if m.keyMap() != keyMap(tc.ctx) {
				t.Fatalf("set-up reached %b, want %s", m.keyMap(), contextName(tc.ctx))
			}
			want := ""
			for r := rune(' '); r <= '~'; r++ {
				k := tea.KeyPressMsg{Code: r, Text: string(r)}
				if r == ' ' {
					k.Code = tea.KeySpace
				}
				if lookup(k.String(), tc.ctx) != actNone {
					t.Errorf("%q is bound in %s: it cannot be typed", k.String(), contextName(tc.ctx))
					continue
				}
				_, cmd := m.Update(k)
				want += string(r)
				if isQuit(m, cmd) {
					t.Fatalf("%q quit while typing", r)
				}
			}
			if got := tc.value(m); got != want {
				t.Errorf("typed %q, the field holds %q", want, got)
			}
		})
	}
}

// Quitting is decided from the command the key returned and the model's
// record of it, with nothing run unless it is the quit and nothing waited
// for.
func TestQuitKeys(t *testing.T) {
	root := standardFixtures(t)
	cases := []struct {
		name  string
		setup []string
		key   string
		quit  bool
	}{
		{"q in Runs", nil, "q", true},
		{"ctrl+c in Runs", nil, "ctrl+c", true},
		{"esc in Runs", nil, "esc", false},
		{"q in Run", []string{"enter"}, "q", true},
		{"q in the filter", []string{"/"}, "q", false},
		{"ctrl+c in the filter", []string{"/"}, "ctrl+c", true},
		{"q in the overrides", []string{"n", "f"}, "q", false},
		{"q in the REPL picker goes back", []string{"shift+tab", "shift+tab"}, "q", false},
		{"q in the Launch lists goes back", []string{"n"}, "q", false},
		{"ctrl+c in the REPL picker", []string{"shift+tab", "shift+tab"}, "ctrl+c", true},
		{"q in Bench", []string{"b"}, "q", true},
		{"q on the help screen closes it", []string{"?"}, "q", false},
		{"ctrl+c on the help screen", []string{"?"}, "ctrl+c", true},
		{"q at a question answers no", []string{"s"}, "q", false},
		{"ctrl+c at a question", []string{"s"}, "ctrl+c", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(t, root, 80, 24)
			press(m, tc.setup...)
			cmd := press(m, tc.key)
			if got := isQuit(m, cmd); got != tc.quit {
				t.Fatalf("quit %v, want %v", got, tc.quit)
			}
			if tc.quit { // the command is tea.Quit: it answers at once
				if _, ok := cmd().(tea.QuitMsg); !ok {
					t.Error("the quit command is not tea.Quit")
				}
			}
		})
	}
	// The record is of the last Update only.
	m := newTestModel(t, root, 80, 24)
	press(m, "q")
	if cmd := press(m, "down"); isQuit(m, cmd) || m.quitting {
		t.Error("a key after q still reads as a quit")
	}
}

// `fnet-tui repl` on a terminal: its own quit keys from the table, the
// rest forwarded to the REPL view.
func TestStandaloneREPL(t *testing.T) {
	m := newREPLModel(sentencePredictor{"x"}, "runs/x/checkpoints/step-000000010", nil, 2, true)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	for _, r := range "q a b b [MASK]" {
		k := tea.KeyPressMsg{Code: r, Text: string(r)}
		if r == ' ' {
			k.Code = tea.KeySpace
		}
		if m.Update(k); m.quitting {
			t.Fatalf("%q quit", r)
		}
	}
	if got := m.v.(*replView).input.Value(); got != "q a b b [MASK]" {
		t.Fatalf("typed %q", got)
	}
	_, cmd := m.Update(keyMsg("enter"))
	if cmd == nil {
		t.Fatal("enter did not query")
	}
	m.Update(cmd())
	s := m.View().Content
	for _, want := range []string{"[MASK] 1 (token 5)", "50.00%", "esc quit · enter query or :command", ":ckpt PATH"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	for _, k := range []string{"esc", "ctrl+c", "ctrl+d"} {
		m.quitting = false
		var msg tea.KeyPressMsg
		switch k {
		case "ctrl+d":
			msg = tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl}
		default:
			msg = keyMsg(k)
		}
		if _, cmd := m.Update(msg); !m.quitting || cmd == nil {
			t.Errorf("%s did not quit", k)
		}
	}
}
