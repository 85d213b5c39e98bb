package tui

import (
	"fmt"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// OverrideExample is the overrides field's hint. It must be valid for
// every pretraining config (cmd/fnet-tui tests it against the trainer's
// own check): a hint naming an unknown key once sent users astray.
const OverrideExample = "train.steps=200 data.batch_size=8"

// launch form fields, in tab order.
const (
	fieldConfig = iota
	fieldOverrides
	fieldCheckpoint
	numFields
)

// ckptChoice is a checkpoint offered for finetuning or the REPL.
type ckptChoice struct {
	RunID string
	Kind  string
	Step  int
	Dir   string
}

// allCheckpoints lists every run's checkpoints, newest run first and
// latest step first within a run.
func allCheckpoints(s *store, kind string) []ckptChoice {
	var out []ckptChoice
	for _, r := range s.list() {
		if kind != "" && r.Status.Kind != kind {
			continue
		}
		for i := len(r.Checkpoints) - 1; i >= 0; i-- {
			c := r.Checkpoints[i]
			out = append(out, ckptChoice{RunID: r.ID, Kind: r.Status.Kind, Step: c.Step, Dir: c.Dir})
		}
	}
	return out
}

// launchView is the form that starts a pretraining or finetuning run.
type launchView struct {
	env           *env
	st            styles
	width, height int
	configs       []configEntry
	configErr     error
	cursor        int
	overrides     textinput.Model
	field         int
	ckDir         string            // the picked checkpoint ("" = the newest): by folder, so arrivals do not move it
	typed         map[string]string // overrides typed per config, restored when it is picked again
	note          string            // result of the last launch
	noteErr       bool
	noteConfig    string // the config the note is about: shown only while it is picked
}

func newLaunchView(e *env) *launchView {
	ti := textinput.New()
	ti.Prompt = "--set "
	ti.Placeholder = "key=value ... e.g. " + OverrideExample
	ti.SetVirtualCursor(true)
	v := &launchView{env: e, st: e.st, overrides: ti, typed: map[string]string{}}
	v.reload()
	return v
}

func (v *launchView) reload() { v.configs, v.configErr = listConfigs(v.env.configsDir) }

func (v *launchView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.overrides.SetWidth(max(w-10, 10))
}

// KeyMap is the overrides field's keys while it has the keyboard, else
// the lists'.
func (v *launchView) KeyMap() keyMap {
	if v.field == fieldOverrides {
		return keyMap(inOverrides)
	}
	return keyMap(inLaunch)
}

func (v *launchView) current() (configEntry, bool) {
	if len(v.configs) == 0 {
		return configEntry{}, false
	}
	v.cursor = min(max(v.cursor, 0), len(v.configs)-1)
	return v.configs[v.cursor], true
}

// focus moves to a field, skipping the checkpoint list for pretraining.
func (v *launchView) focus(f int) tea.Cmd {
	c, _ := v.current()
	if f == fieldCheckpoint && !c.needsCheckpoint() {
		f = fieldConfig
	}
	v.field = f % numFields
	if v.field == fieldOverrides {
		return v.overrides.Focus()
	}
	v.overrides.Blur()
	return nil
}

func (v *launchView) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case focusMsg: // configs may have come or gone since
		v.reload()
	case launchedMsg:
		if msg.err != nil {
			v.setNote(msg.spec.Config, msg.err.Error(), true)
		} else {
			v.setNote(msg.spec.Config, launchedNote(msg.l), false)
		}
	case launchFailedMsg:
		v.setNote(msg.spec.Config, msg.text, true)
	default: // cursor blinks
		if v.field == fieldOverrides {
			var cmd tea.Cmd
			v.overrides, cmd = v.overrides.Update(msg)
			return v, cmd
		}
	}
	return v, nil
}

// key handles a key of the focused field.
func (v *launchView) key(msg tea.KeyPressMsg) tea.Cmd {
	act := v.KeyMap().action(msg)
	if v.field == fieldOverrides {
		switch act {
		case actOpen: // enter leaves the text field for the next one
			return v.focus(fieldCheckpoint)
		case actBack:
			return v.focus(fieldConfig)
		}
		var cmd tea.Cmd
		v.overrides, cmd = v.overrides.Update(msg)
		return cmd
	}
	switch act {
	case actBack:
		v.env.send(showViewMsg{view: viewRuns})
		return nil
	case actNextField:
		return v.focus(v.field + 1)
	case actOpen:
		spec, err := v.spec()
		if err != nil {
			c, _ := v.current()
			v.setNote(c.Path, err.Error(), true)
			return nil
		}
		v.env.send(startMsg{spec: spec})
		return nil
	}
	switch v.field {
	case fieldConfig:
		switch act {
		case actUp:
			v.pick(v.cursor - 1)
		case actDown:
			v.pick(v.cursor + 1)
		}
	case fieldCheckpoint:
		cks := allCheckpoints(v.env.store, "pretrain")
		i := v.ckIndex(cks)
		switch act {
		case actUp:
			i = max(i-1, 0)
		case actDown:
			i = min(i+1, max(len(cks)-1, 0))
		}
		if i < len(cks) {
			v.ckDir = cks[i].Dir
		}
	}
	return nil
}

// pick moves the config cursor to i. The overrides typed for the config
// left are kept for it, and the new one's come back.
func (v *launchView) pick(i int) {
	if len(v.configs) == 0 {
		return
	}
	i = min(max(i, 0), len(v.configs)-1)
	if i == v.cursor {
		return
	}
	v.typed[v.configs[v.cursor].Path] = v.overrides.Value()
	v.cursor = i
	v.overrides.SetValue(v.typed[v.configs[i].Path])
	v.ckDir = ""
}

// ckIndex is the picked checkpoint's row in cks: the folder picked, else
// the newest (0); a picked one that has gone falls back to the newest.
func (v *launchView) ckIndex(cks []ckptChoice) int {
	for i, c := range cks {
		if c.Dir == v.ckDir {
			return i
		}
	}
	return 0
}

// setNote shows a launch's outcome while its config is picked.
func (v *launchView) setNote(config, text string, isErr bool) {
	v.note, v.noteErr, v.noteConfig = text, isErr, config
}

// spec is the run the form describes now.
func (v *launchView) spec() (LaunchSpec, error) {
	s := v.env.store
	c, ok := v.current()
	if !ok {
		return LaunchSpec{}, fmt.Errorf("no configs in %s", v.env.configsDir)
	}
	ov, err := ParseOverrides(v.overrides.Value())
	if err != nil {
		return LaunchSpec{}, err
	}
	spec := LaunchSpec{Kind: c.Kind, Config: c.Path, Overrides: ov, Scratch: c.Scratch}
	if c.needsCheckpoint() {
		cks := allCheckpoints(s, "pretrain")
		if len(cks) == 0 {
			return LaunchSpec{}, fmt.Errorf("finetuning needs a pretrained checkpoint: no pretraining run has one yet")
		}
		spec.From = cks[v.ckIndex(cks)].Dir
	}
	return spec, nil
}

func (v *launchView) View() string {
	var b strings.Builder
	s, runsDir := v.env.store, v.env.runsDir
	label := func(f int, text string) string {
		if v.field == f {
			return v.st.selected.Render(" "+text+" ") + "\n"
		}
		return v.st.header.Render(" "+text+" ") + "\n"
	}
	b.WriteString(label(fieldConfig, "Config ("+v.env.configsDir+")"))
	listH := max(v.height-12, 3)
	switch {
	case v.configErr != nil:
		b.WriteString(v.st.err.Render("  "+v.configErr.Error()) + "\n")
	case len(v.configs) == 0:
		b.WriteString(v.st.dim.Render("  no pretrain-*.toml, glue-*.toml or lra-*.toml configs") + "\n")
	}
	first := max(0, v.cursor-listH+1)
	for i := first; i < len(v.configs) && i < first+listH; i++ {
		c := v.configs[i]
		line := "  " + pad(c.Name, 28) + " " + v.st.dim.Render(c.Kind)
		if i == v.cursor {
			line = "▸ " + v.st.selected.Render(pad(c.Name, 28)) + " " + c.Kind
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("\n" + label(fieldOverrides, "Overrides") + "  " + v.overrides.View() + "\n")
	c, _ := v.current()
	if c.needsCheckpoint() {
		b.WriteString("\n" + label(fieldCheckpoint, "Finetune from checkpoint"))
		cks := allCheckpoints(s, "pretrain")
		if len(cks) == 0 {
			b.WriteString(v.st.dim.Render("  no pretraining checkpoints yet") + "\n")
		}
		ck := v.ckIndex(cks)
		firstCk := max(0, ck-2)
		for i := firstCk; i < len(cks) && i < firstCk+3; i++ {
			line := fmt.Sprintf("%s step %d", displayName(cks[i].RunID, cks[i].Kind, 30), cks[i].Step)
			if i == ck {
				line = "▸ " + v.st.selected.Render(line)
			} else {
				line = "  " + line
			}
			b.WriteString(line + "\n")
		}
	}
	if spec, err := v.spec(); err != nil {
		b.WriteString("\n" + v.st.err.Render(truncate("cannot start: "+err.Error(), v.width)) + "\n")
	} else if args, err := spec.Args(runsDir); err == nil {
		b.WriteString("\n" + v.st.dim.Width(max(v.width, 10)).Render("$ fnet-tui "+strings.Join(args, " ")) + "\n")
	}
	if v.note != "" && v.noteConfig == c.Path {
		st := v.st.ok
		if v.noteErr {
			st = v.st.err
		}
		b.WriteString(st.Width(max(v.width, 10)).Render(v.note) + "\n")
	}
	return b.String()
}

// launchedNote is the form's message after a launch.
func launchedNote(l *Launched) string {
	return fmt.Sprintf("started pid %d (output: %s); it appears in Runs once it writes its folder", l.PID, filepath.Base(l.LogPath))
}
