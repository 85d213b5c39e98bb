package tui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// newTestModel is the dashboard over root at w×h, with every run folder
// read in (polled until nothing is left) and the fixtures' clock.
//
// It works from root's parent with relative paths, as a user would from
// the repository, so screens (and golden files) show "runs", not a temp path.
func newTestModel(t *testing.T, root string, w, h int, opts ...func(*Options)) *Model {
	t.Helper()
	t.Chdir(filepath.Dir(root))
	configs := "configs"
	os.MkdirAll(configs, 0o755)
	for _, n := range []string{"pretrain-mini.toml", "pretrain-base.toml", "glue-sst2.toml", "notes.txt"} {
		os.WriteFile(filepath.Join(configs, n), []byte("# test config\n"), 0o644)
	}
	o := Options{RunsDir: filepath.Base(root), ConfigsDir: configs, Now: func() time.Time { return fixtureNow }, NoColor: true,
		Launch: func(LaunchSpec) (*Launched, error) { t.Fatal("unexpected launch"); return nil, nil }}
	for _, f := range opts {
		f(&o)
	}
	m := New(o)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	pollAll(m)
	return m
}

// pollAll applies polls until the readers have caught up.
func pollAll(m *Model) {
	for {
		msg := m.poller.poll()
		m.Update(msg)
		if !msg.More {
			return
		}
	}
}

// pkgDir is the package folder (the working directory when tests start):
// golden files live in its testdata even when a test has moved elsewhere.
var pkgDir, _ = os.Getwd()

func requireGolden(t *testing.T, got string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(pkgDir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	golden.RequireEqual(t, got)
}

// screen is the model's rendering without escape sequences.
func screen(m *Model) string { return ansi.Strip(m.render()) }

func press(m *Model, keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		_, last = m.Update(keyMsg(k))
	}
	return last
}

// keyMsg builds the key press a terminal sends for a key name.
func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(keyMsg(string(r)))
	}
}

// isQuit reports whether the Update that returned cmd asked to quit. The
// dashboard records that (Model.quitting) when it returns tea.Quit, so the
// answer needs no command run and no waiting: other commands may be timers
// (the cursor blink).
func isQuit(m *Model, cmd tea.Cmd) bool { return cmd != nil && m.quitting }

// typing says a text field has the keyboard (q is a letter then).
func (m *Model) typing() bool { return m.keyMap().typing() }

// The views, for tests that look inside them (the dashboard never does).
func runsOf(m *Model) *runsView     { return m.views[viewRuns].(*runsView) }
func runOf(m *Model) *runView       { return m.views[viewRun].(*runView) }
func launchOf(m *Model) *launchView { return m.views[viewLaunch].(*launchView) }
func replOf(m *Model) *replView     { return m.views[viewREPL].(*replView) }

func TestRunsViewGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	requireGolden(t, screen(m))
}

func TestRunsViewWideGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 130, 12)
	requireGolden(t, screen(m))
}

func TestRunViewGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "enter") // the newest run: the live pretraining
	if m.view != viewRun || !strings.HasPrefix(runOf(m).id, "pretrain-pretrain-small") {
		t.Fatalf("enter opened view %d run %q", m.view, runOf(m).id)
	}
	requireGolden(t, screen(m))
}

func TestRunViewGPUAndFinetuneGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "down", "enter") // the GPU run
	s := screen(m)
	for _, want := range []string{"GPU util", "93%", "31.2 GiB", "cuda:0"} {
		if !strings.Contains(s, want) {
			t.Errorf("GPU run view lacks %q", want)
		}
	}
	press(m, "esc", "down", "enter") // the failed finetune: GLUE metrics and the error
	s = screen(m)
	for _, want := range []string{"accuracy", "sst2", "loss became NaN", "CPU"} {
		if !strings.Contains(s, want) {
			t.Errorf("finetune run view lacks %q", want)
		}
	}
	requireGolden(t, s)
}

func TestRunViewToggles(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "enter")
	before := screen(m)
	if !strings.Contains(before, "smooth 0.60") || !strings.Contains(before, "linear") || !strings.Contains(before, "x: step") {
		t.Fatalf("default chart mode not shown:\n%s", before)
	}
	press(m, "+")
	if !strings.Contains(screen(m), "smooth 0.80") {
		t.Error("+ did not raise the smoothing to 0.80")
	}
	if w := m.store.get(runOf(m).id).curveOf("train", "loss").weight; w != 0.8 {
		t.Errorf("curve smoothing weight %v after +, want 0.8", w)
	}
	press(m, "-", "-", "-", "-")
	if !strings.Contains(screen(m), "smooth 0.00") {
		t.Error("- did not go down to 0")
	}
	press(m, "x")
	if !strings.Contains(screen(m), "x: tokens") {
		t.Error("x did not switch to tokens")
	}
	press(m, "o", "L", "x")
	s := screen(m)
	for _, want := range []string{"raw", "log", "x: time"} {
		if !strings.Contains(s, want) {
			t.Errorf("after o, L, x the legend lacks %q", want)
		}
	}
	if s == before {
		t.Error("toggles did not change the screen")
	}
	// Wall-clock x axis: the live fixture logs one step a second over 900 s.
	if !strings.Contains(s, "14m59s") { // the last label is the last line's time
		t.Errorf("time axis labels missing:\n%s", s)
	}
	requireGolden(t, s)
}

func TestOverlayMarksRuns(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 30)
	press(m, "down", "down", "down", "space") // mark the finished mini run
	press(m, "up", "up", "up", "enter")
	s := screen(m)
	if !strings.Contains(s, "small 0601-1130 train") || !strings.Contains(s, "mini 0601-1000 train") {
		t.Errorf("overlay legend should name both runs:\n%s", s)
	}
}

func TestEmptyRunsOffersDemo(t *testing.T) {
	m := newTestModel(t, filepath.Join(t.TempDir(), "runs"), 80, 24)
	s := screen(m)
	if !strings.Contains(s, "Press d to start the demo") {
		t.Fatalf("empty runs view should offer the demo:\n%s", s)
	}
	requireGolden(t, s)
}

func TestFilterAndQNeverQuitsWhileTyping(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "/")
	if !m.typing() {
		t.Fatal("/ should focus the filter")
	}
	for _, r := range "sst2q" {
		if cmd := press(m, string(r)); isQuit(m, cmd) {
			t.Fatalf("%q quit while typing", r)
		}
	}
	if got := runsOf(m).filter.Value(); got != "sst2q" {
		t.Errorf("filter %q, want sst2q", got)
	}
	press(m, "backspace")
	m.Update(tea.KeyPressMsg{Code: tea.KeyBackspace})
	if rs := runsOf(m).visible(); len(rs) != 1 || !strings.Contains(rs[0].ID, "sst2") {
		t.Errorf("filter sst2 shows %d runs", len(rs))
	}
	press(m, "enter") // keep the filter, leave the field
	if m.typing() {
		t.Fatal("enter should leave the filter field")
	}
	if !strings.Contains(screen(m), "glue-sst2") || strings.Contains(screen(m), "small 0601") {
		t.Errorf("filtered table wrong:\n%s", screen(m))
	}
	if cmd := press(m, "q"); !isQuit(m, cmd) {
		t.Error("q outside a text field should quit")
	}
}

func TestHelpComesFromTheKeyTable(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 100, 60)
	press(m, "?")
	s := screen(m)
	for _, b := range keyMap(dashboard).bindings() {
		h := b.Help()
		if b.noHelp {
			continue
		}
		if !strings.Contains(s, h.Key) || !strings.Contains(s, h.Desc) {
			t.Errorf("help lacks %q %q", h.Key, h.Desc)
		}
	}
	press(m, "?")
	if m.showHelp {
		t.Error("? should close the help")
	}
}

func TestTabCyclesViews(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	var seen []viewID
	for range numViews {
		seen = append(seen, m.view)
		press(m, "tab")
	}
	if m.view != viewRuns || seen[1] != viewRun || seen[2] != viewLaunch || seen[3] != viewREPL || seen[4] != viewBench {
		t.Errorf("tab order %v", seen)
	}
	press(m, "shift+tab")
	if m.view != viewBench {
		t.Errorf("shift+tab from Runs went to %d", m.view)
	}
}

// Every size from tiny to wide must give exactly height lines, none wider
// than the terminal, in every view.
func TestResizesCleanly(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "space") // overlay too
	sizes := [][2]int{{80, 24}, {60, 16}, {40, 10}, {200, 60}, {81, 25}}
	for v := viewID(0); v < numViews; v++ {
		for _, sz := range sizes {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			m.Update(showViewMsg{view: v})
			if v == viewRun {
				m.Update(openRunMsg{id: m.store.order[0]})
			}
			lines := strings.Split(screen(m), "\n")
			if len(lines) != sz[1] {
				t.Errorf("view %s at %dx%d: %d lines", viewNames[v], sz[0], sz[1], len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > sz[0] {
					t.Errorf("view %s at %dx%d: line %d is %d wide: %q", viewNames[v], sz[0], sz[1], i, w, l)
				}
			}
		}
	}
}

func TestNoColorHasNoColourCodes(t *testing.T) {
	root := standardFixtures(t)
	for _, noColor := range []bool{false, true} {
		m := New(Options{RunsDir: root, NoColor: noColor, Now: func() time.Time { return fixtureNow }})
		m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
		pollAll(m)
		press(m, "enter")
		out := m.render()
		hasColour := strings.Contains(out, "38;2;") || strings.Contains(out, "38;5;")
		if hasColour == noColor {
			t.Errorf("NoColor=%v: colour codes present=%v", noColor, hasColour)
		}
	}
}

func TestLaunchViewGolden(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "n")
	if m.view != viewLaunch {
		t.Fatalf("n opened view %d", m.view)
	}
	press(m, "f")
	typeText(m, "train.steps=50 q")
	if got := launchOf(m).overrides.Value(); got != "train.steps=50 q" {
		t.Fatalf("overrides %q", got)
	}
	press(m, "enter") // leaves the field
	s := screen(m)
	if !strings.Contains(s, "override \"q\": want key=value") {
		t.Errorf("a bad override should be explained:\n%s", s)
	}
	requireGolden(t, s)
}

func TestLaunchFinetuneFromACheckpoint(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "n", "down", "down") // glue-sst2.toml, listed after the pretraining configs
	if c, _ := launchOf(m).current(); c.Name != "glue-sst2.toml" {
		t.Fatalf("selected %q", c.Name)
	}
	press(m, "f", "enter") // through the overrides to the checkpoint list
	if f := launchOf(m).field; f != fieldCheckpoint {
		t.Fatalf("field %d", f)
	}
	press(m, "down") // the second newest checkpoint: the live run's step 600
	spec, err := launchOf(m).spec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Kind != "finetune" || filepath.Base(spec.From) != "step-000000600" || !strings.Contains(spec.From, "pretrain-small") {
		t.Errorf("spec %+v", spec)
	}
	if s := screen(m); !strings.Contains(s, "--from") || !strings.Contains(s, "step-000000600") {
		t.Errorf("the command line preview should show --from:\n%s", s)
	}
}

// At 80x24 the help shows every key, in columns, scrolling (↓) when they
// do not fit.
func TestHelpFitsSmallScreens(t *testing.T) {
	m := newTestModel(t, standardFixtures(t), 80, 24)
	press(m, "?")
	s := screen(m)
	all := s
	for range 40 {
		press(m, "down")
		all += screen(m)
	}
	if !m.showHelp {
		t.Fatal("scrolling closed the help")
	}
	for _, b := range keyMap(dashboard).bindings() {
		if k := b.Help().Key; !b.noHelp && !strings.Contains(all, k+" ") {
			t.Errorf("help at 80x24 lacks key %q", k)
		}
	}
	if !strings.Contains(all, ":ckpt PATH") {
		t.Error("help lacks the REPL commands")
	}
	press(m, "up")
	if m.helpTop == 0 && screen(m) == s {
		t.Error("up did not scroll back from the end")
	}
	requireGolden(t, s)
}
