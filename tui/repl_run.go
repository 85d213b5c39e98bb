package tui

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// PlainREPL answers one line of in at a time, printing plain text to out:
// the way `fnet-tui repl` runs when stdin is not a terminal. Bad lines and
// failed queries print an error line and the loop goes on; the returned
// error counts them, so a script sees a non-zero exit.
func PlainREPL(in io.Reader, out io.Writer, pred Predictor, load LoadFunc, k int, showTime bool) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	failed, lineNo := 0, 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		c, err := parseREPLLine(line)
		if err != nil {
			fmt.Fprintf(out, "error: line %d: %v\n", lineNo, err)
			failed++
			continue
		}
		switch c.kind {
		case "empty":
		case "help":
			fmt.Fprintf(out, replHelp+"\n", k)
		case "k":
			k = c.k
		case "ckpt":
			dir, err := ResolveCheckpoint(c.text)
			if err == nil && load == nil {
				err = errNoInference
			}
			var p Predictor
			if err == nil {
				p, err = load(dir)
			}
			if err != nil {
				fmt.Fprintf(out, "error: line %d: %v\n", lineNo, err)
				failed++
				continue
			}
			pred = p
			fmt.Fprintf(out, "loaded %s\n", dir)
		case "query":
			start := time.Now()
			res, err := pred.FillMask(c.text, k)
			lat := time.Since(start)
			if err != nil {
				fmt.Fprintf(out, "error: line %d: %v\n", lineNo, err)
				failed++
				continue
			}
			fmt.Fprintf(out, "> %s\n%s\n", c.text, formatAnswer(res, 0))
			if showTime {
				fmt.Fprintf(out, "(%s)\n", formatLatency(lat))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading input: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d input lines failed", failed, lineNo)
	}
	return nil
}

// replModel is the REPL view on its own, for `fnet-tui repl` on a
// terminal: it forwards every message to the view through the component
// contract, and takes only its quit keys (context inREPLApp) itself.
type replModel struct {
	v             component
	init          tea.Cmd
	width, height int
	st            styles
	quitting      bool
}

func (m *replModel) Init() tea.Cmd { return m.init }

func (m *replModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.v.SetSize(msg.Width, msg.Height-1)
		return m, nil
	case tea.KeyPressMsg:
		if keyMap(inREPLApp).action(msg) == actQuit { // esc too: no checkpoint picker outside the dashboard
			m.quitting = true
			return m, tea.Quit
		}
	}
	var cmd tea.Cmd
	m.v, cmd = m.v.Update(msg)
	return m, cmd
}

// replAppFooter is the standalone REPL's key hint: its keys from keyTable,
// then the commands.
func replAppFooter() string {
	return footerText(keyMap(inREPLApp).ShortHelp(), math.MaxInt) + " · :k N · :ckpt PATH · :help"
}

func (m *replModel) View() tea.View {
	body := m.v.View()
	footer := m.st.dim.Render(replAppFooter())
	return tea.NewView(strings.TrimRight(body, "\n") + "\n\n" + footer)
}

// newREPLModel is the standalone REPL with pred (loaded from ckpt) ready
// for queries.
func newREPLModel(pred Predictor, ckpt string, load LoadFunc, k int, noColor bool) *replModel {
	st := newStyles(noColor)
	v := newREPLView(&env{st: st, store: newStore(), load: load, now: time.Now}, k)
	var c component = v
	c, init := c.Update(predictorMsg{ckpt: ckpt, pred: pred})
	return &replModel{v: c, init: init, st: st}
}

// RunREPL runs the interactive REPL on the terminal with pred loaded.
func RunREPL(pred Predictor, ckpt string, load LoadFunc, k int, noColor bool) error {
	var opts []tea.ProgramOption
	if noColor {
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(newREPLModel(pred, ckpt, load, k, noColor), opts...).Run()
	return err
}
