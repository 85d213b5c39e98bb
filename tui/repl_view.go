package tui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// errNoInference is shown when the binary was built without a predictor.
var errNoInference = errors.New("this build has no inference backend: the REPL cannot answer")

// predictorMsg reports a finished checkpoint load.
type predictorMsg struct {
	ckpt string
	pred Predictor
	err  error
}

// answerMsg reports a finished query.
type answerMsg struct {
	query   string
	results []MaskResult
	latency time.Duration
	err     error
}

// replView picks a checkpoint and answers masked-word queries.
type replView struct {
	env           *env
	st            styles
	width, height int
	picking       bool // choosing a checkpoint, else typing queries
	cursor        int
	input         textinput.Model
	history       []string
	hist          int // position while walking the history; len(history) = the new line
	k             int
	pred          Predictor
	ckpt          string
	loading       bool
	querying      bool // a query is running: predictors are not safe for concurrent use
	answer        *answerMsg
	info          string
	infoErr       bool
}

// newREPLView is the REPL view showing the top k of each mask; it starts
// in the checkpoint picker.
func newREPLView(e *env, k int) *replView {
	ti := textinput.New()
	ti.Prompt = "› "
	ti.Placeholder = "e.g. the cat sat on the [MASK].  (:help)"
	ti.SetVirtualCursor(true)
	return &replView{env: e, st: e.st, picking: true, input: ti, k: k}
}

func (v *replView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.input.SetWidth(max(w-4, 10))
}

// KeyMap is the picker's keys, or the query line's once a checkpoint is
// loaded.
func (v *replView) KeyMap() keyMap {
	if v.picking {
		return keyMap(inREPLPick)
	}
	return keyMap(inREPLQuery)
}

// open starts loading a checkpoint (a step folder or a run folder).
func (v *replView) open(path string) tea.Cmd {
	v.loading, v.info, v.infoErr = true, "loading "+path+" …", false
	load := v.env.load
	return func() tea.Msg {
		dir, err := ResolveCheckpoint(path)
		if err != nil {
			return predictorMsg{ckpt: path, err: err}
		}
		if load == nil {
			return predictorMsg{ckpt: dir, err: errNoInference}
		}
		p, err := load(dir)
		return predictorMsg{ckpt: dir, pred: p, err: err}
	}
}

// loaded applies a finished load.
func (v *replView) loaded(msg predictorMsg) tea.Cmd {
	v.loading = false
	if msg.err != nil {
		v.info, v.infoErr = fmt.Sprintf("cannot load %s: %v", msg.ckpt, msg.err), true
		return nil
	}
	v.pred, v.ckpt, v.picking, v.answer = msg.pred, msg.ckpt, false, nil
	v.info, v.infoErr = msg.pred.Describe(), false
	return v.input.Focus()
}

func (v *replView) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case loadCheckpointMsg:
		return v, v.open(msg.dir)
	case predictorMsg:
		return v, v.loaded(msg)
	case answerMsg:
		v.answered(msg)
	default: // cursor blinks
		if !v.picking {
			var cmd tea.Cmd
			v.input, cmd = v.input.Update(msg)
			return v, cmd
		}
	}
	return v, nil
}

// key handles a key of the picker or of the query line.
func (v *replView) key(msg tea.KeyPressMsg) tea.Cmd {
	act := v.KeyMap().action(msg)
	if v.picking {
		cks := allCheckpoints(v.env.store, "pretrain")
		switch act {
		case actUp:
			v.cursor = max(v.cursor-1, 0)
		case actDown:
			v.cursor = min(v.cursor+1, max(len(cks)-1, 0))
		case actOpen:
			if len(cks) > 0 && !v.loading {
				return v.open(cks[min(v.cursor, len(cks)-1)].Dir)
			}
		case actBack:
			if v.pred != nil {
				v.picking = false
				return v.input.Focus()
			}
			v.env.send(showViewMsg{view: viewRuns})
		}
		return nil
	}
	switch act {
	case actBack:
		v.picking = true
		v.input.Blur()
		return nil
	case actUp:
		if v.hist > 0 {
			v.hist--
			v.input.SetValue(v.history[v.hist])
			v.input.CursorEnd()
		}
		return nil
	case actDown:
		if v.hist < len(v.history) {
			v.hist++
			val := ""
			if v.hist < len(v.history) {
				val = v.history[v.hist]
			}
			v.input.SetValue(val)
			v.input.CursorEnd()
		}
		return nil
	case actOpen:
		return v.submit(v.input.Value())
	}
	var cmd tea.Cmd
	v.input, cmd = v.input.Update(msg)
	return cmd
}

// submit runs one input line: a command or a query.
func (v *replView) submit(line string) tea.Cmd {
	c, err := parseREPLLine(line)
	if err != nil {
		v.info, v.infoErr = err.Error(), true
		return nil
	}
	if c.kind != "empty" {
		if n := len(v.history); n == 0 || v.history[n-1] != line {
			v.history = append(v.history, line)
		}
	}
	v.hist = len(v.history)
	v.input.SetValue("")
	switch c.kind {
	case "k":
		v.k = c.k
		v.info, v.infoErr = fmt.Sprintf("showing the top %d", c.k), false
	case "help":
		v.info, v.infoErr = fmt.Sprintf(replHelp, v.k), false
	case "ckpt":
		if v.querying {
			v.info, v.infoErr = "still answering the previous query", true
			return nil
		}
		return v.open(c.text)
	case "query":
		if v.pred == nil {
			v.info, v.infoErr = "no checkpoint loaded (esc to pick one)", true
			return nil
		}
		if v.querying || v.loading {
			v.info, v.infoErr = "still answering the previous query", true
			return nil
		}
		v.querying = true
		pred, k := v.pred, v.k
		return func() tea.Msg {
			start := time.Now()
			res, err := pred.FillMask(c.text, k)
			return answerMsg{query: c.text, results: res, latency: time.Since(start), err: err}
		}
	}
	return nil
}

func (v *replView) answered(msg answerMsg) {
	v.querying = false
	if msg.err != nil {
		v.info, v.infoErr = msg.err.Error(), true
		return
	}
	v.answer, v.info = &msg, ""
}

func (v *replView) View() string {
	var b strings.Builder
	s := v.env.store
	if v.picking {
		b.WriteString(v.st.header.Render(" Pick a checkpoint ") + v.st.dim.Render(" (pretraining runs: they have the masked-LM head; "+keyName(actOpen, inREPLPick)+" loads; :ckpt PATH once loaded)") + "\n")
		cks := allCheckpoints(s, "pretrain")
		if len(cks) == 0 {
			b.WriteString(v.st.dim.Render("  no checkpoints yet: they appear as runs save them") + "\n")
		}
		rows := max(v.height-4, 3)
		v.cursor = min(v.cursor, max(len(cks)-1, 0))
		first := max(0, v.cursor-rows+1)
		for i := first; i < len(cks) && i < first+rows; i++ {
			line := fmt.Sprintf("%s  step %d", displayName(cks[i].RunID, cks[i].Kind, max(v.width-20, 10)), cks[i].Step)
			if i == v.cursor {
				line = "▸ " + v.st.selected.Render(line)
			} else {
				line = "  " + line
			}
			b.WriteString(line + "\n")
		}
	} else {
		b.WriteString(v.st.header.Render(" REPL ") + v.st.dim.Render(" "+truncate(v.ckpt, max(v.width-8, 10))) + "\n")
		b.WriteString(v.input.View() + "\n")
		if a := v.answer; a != nil {
			b.WriteString(v.st.dim.Render(truncate(a.query, v.width)+"  ("+formatLatency(a.latency)+")") + "\n")
			b.WriteString(formatAnswer(a.results, min(20, max(v.width-40, 0))) + "\n")
		}
	}
	if v.info != "" {
		st := v.st.dim
		if v.infoErr {
			st = v.st.err
		}
		b.WriteString("\n" + st.Width(max(v.width, 10)).Render(v.info) + "\n")
	}
	return b.String()
}
