package tui

import (
	"fmt"
	"maps"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// runsView is the table of every run in the runs folder.
type runsView struct {
	env           *env
	st            styles
	width, height int
	cursor        int
	filter        textinput.Model
	filtering     bool
	marked        map[string]bool // runs overlaid in the run view's chart
	reported      string          // the selection the dashboard last heard of
}

func newRunsView(e *env) *runsView {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "filter by id, state, kind or device"
	ti.SetVirtualCursor(true)
	return &runsView{env: e, st: e.st, filter: ti, marked: map[string]bool{}}
}

func (v *runsView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.filter.SetWidth(max(w-2, 10))
}

// KeyMap is the filter's keys while it has the keyboard, else the table's.
func (v *runsView) KeyMap() keyMap {
	if v.filtering {
		return keyMap(inFilter)
	}
	return keyMap(inRuns)
}

// visible is the filtered run list in display order.
func (v *runsView) visible() []*runData {
	q := strings.ToLower(strings.TrimSpace(v.filter.Value()))
	all := v.env.store.list()
	if q == "" {
		return all
	}
	var out []*runData
	for _, r := range all {
		hay := strings.ToLower(strings.Join([]string{r.ID, r.state(), r.kind(), r.Status.Device}, " "))
		if strings.Contains(hay, q) {
			out = append(out, r)
		}
	}
	return out
}

// selected is the run under the cursor, nil when the list is empty.
func (v *runsView) selected() *runData {
	rs := v.visible()
	if len(rs) == 0 {
		return nil
	}
	v.cursor = min(max(v.cursor, 0), len(rs)-1)
	return rs[v.cursor]
}

// selectedID is the selected run's ID, "" when there is none.
func (v *runsView) selectedID() string {
	if r := v.selected(); r != nil {
		return r.ID
	}
	return ""
}

func (v *runsView) Update(msg tea.Msg) (component, tea.Cmd) {
	c, cmd := v.update(msg)
	if id := v.selectedID(); id != v.reported { // messages about the old one go
		v.reported = id
		v.env.send(selectedMsg{id: id})
	}
	return c, cmd
}

func (v *runsView) update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case wantRunMsg:
		if id := v.selectedID(); id != "" {
			v.env.send(showRunMsg{id: id})
		}
	case selectRunMsg:
		for i, r := range v.visible() {
			if r.ID == msg.id {
				v.cursor = i
			}
		}
	default: // cursor blinks
		if v.filtering {
			var cmd tea.Cmd
			v.filter, cmd = v.filter.Update(msg)
			return v, cmd
		}
	}
	return v, nil
}

// key handles a key of the table or, while filtering, of the filter.
func (v *runsView) key(msg tea.KeyPressMsg) tea.Cmd {
	act := v.KeyMap().action(msg)
	if v.filtering {
		switch act {
		case actOpen, actBack: // keep the filter, or clear it
			v.filtering = false
			v.filter.Blur()
			if act == actBack {
				v.filter.SetValue("")
			}
			return nil
		}
		var cmd tea.Cmd
		v.filter, cmd = v.filter.Update(msg)
		v.cursor = 0
		return cmd
	}
	switch act {
	case actUp:
		v.cursor = max(v.cursor-1, 0)
	case actDown:
		v.cursor = min(v.cursor+1, max(len(v.visible())-1, 0))
	case actFilter:
		v.filtering = true
		return v.filter.Focus()
	case actMark:
		if r := v.selected(); r != nil {
			v.marked[r.ID] = !v.marked[r.ID]
			if !v.marked[r.ID] {
				delete(v.marked, r.ID)
			}
			v.env.send(overlayMsg{ids: maps.Clone(v.marked)})
		}
	case actOpen:
		if id := v.selectedID(); id != "" {
			v.env.send(openRunMsg{id: id})
		}
	case actNew, actDemo, actStop, actResume, actQuery:
		v.env.send(runActionMsg{act: act, id: v.selectedID()})
	case actBench:
		v.env.send(showViewMsg{view: viewBench})
	}
	return nil
}

// runsColumns are the table's column widths for a screen width.
type runsColumns struct {
	id, state, kind, step, bar, loss, tps, eta, device, age int
}

func columnsFor(w int) runsColumns {
	c := runsColumns{state: 8, kind: 8, step: 11, bar: 6, loss: 6, tps: 6, eta: 6}
	if w >= 100 {
		c.bar, c.kind, c.age = 10, 12, 6
	}
	if w >= 120 {
		c.device = 12
	}
	used := 2 + c.state + c.kind + c.step + c.bar + c.loss + c.tps + c.eta + c.device + c.age
	cols := 8
	if c.device > 0 {
		cols++
	}
	if c.age > 0 {
		cols++
	}
	c.id = max(w-used-cols, 8)
	return c
}

func (v *runsView) View() string {
	var b strings.Builder
	s, runsDir, now := v.env.store, v.env.runsDir, v.env.now()
	rs := v.visible()
	c := columnsFor(v.width)
	if v.filtering || v.filter.Value() != "" {
		b.WriteString(v.filter.View() + "\n")
	}
	if len(s.order) == 0 {
		b.WriteString("\n  No runs in " + runsDir + " yet.\n\n")
		k := func(act action) string { return v.st.title.Render(keyName(act, inRuns)) }
		b.WriteString("  Press " + k(actDemo) + " to start the demo: a mini pretraining on the Go standard\n")
		b.WriteString("  library's doc comments (offline, about a minute on 2 cores).\n")
		b.WriteString("  Press " + k(actNew) + " to launch a run from configs/, " + k(actHelp) + " for help.\n")
		return b.String()
	}
	head := "  " + pad("RUN", c.id) + " " + pad("STATE", c.state) + " " + pad("KIND", c.kind) + " " +
		padLeft("STEP", c.step) + " " + pad("", c.bar) + " " + padLeft("LOSS", c.loss) + " " +
		padLeft("TOK/S", c.tps) + " " + padLeft("ETA", c.eta)
	if c.device > 0 {
		head += " " + pad("DEVICE", c.device)
	}
	if c.age > 0 {
		head += " " + padLeft("AGE", c.age)
	}
	b.WriteString(v.st.header.Render(head) + "\n")
	rows := max(v.height-2, 1)
	if v.filtering || v.filter.Value() != "" {
		rows--
	}
	if len(rs) > 0 {
		v.cursor = min(max(v.cursor, 0), len(rs)-1)
	}
	first := max(0, v.cursor-rows+1)
	for i := first; i < len(rs) && i < first+rows; i++ {
		r := rs[i]
		mark := "  "
		if v.marked[r.ID] {
			mark = v.st.runStyle(r.ID, false).Render("●") + " "
		}
		step, total := r.step(), r.Status.TotalSteps
		stepText := fmt.Sprintf("%d", step)
		frac := 0.0
		if total > 0 {
			stepText = fmt.Sprintf("%d/%d", step, total)
			frac = float64(step) / float64(total)
		}
		eta := "-"
		if d, ok := r.eta(); ok {
			eta = fmtDuration(d)
		}
		state := r.state()
		line := pad(displayID(r, c.id), c.id) + " " + v.st.state(state).Render(pad(state, c.state)) + " " +
			pad(r.kind(), c.kind) + " " + padLeft(stepText, c.step) + " " +
			v.st.bar.Render(progressBar(frac, c.bar)) + " " + padLeft(fmtFloat(r.lastLoss()), c.loss) + " " +
			padLeft(fmtSI(metricValue(r.lastTrain, "tokens_per_s")), c.tps) + " " + padLeft(eta, c.eta)
		if c.device > 0 {
			line += " " + pad(r.Status.Device, c.device)
		}
		if c.age > 0 {
			line += " " + padLeft(fmtDuration(r.age(now)), c.age)
		}
		if i == v.cursor {
			line = v.st.selected.Render(line)
		}
		b.WriteString(mark + line + "\n")
	}
	if len(rs) == 0 {
		b.WriteString(v.st.dim.Render("  no run matches the filter") + "\n")
	}
	return b.String()
}

// shortID drops the kind prefix the KIND column already shows.
func shortID(r *runData) string {
	if k := r.Status.Kind; k != "" && strings.HasPrefix(r.ID, k+"-") {
		return strings.TrimPrefix(r.ID, k+"-")
	}
	return r.ID
}

// displayID fits a run ID to w cells. IDs are <kind>-<config>-<date>-<time>;
// when the whole ID does not fit, the kind (shown in its own column) and
// the config's repeat of it go, and the stamp shrinks to MMDD-HHMM.
func displayID(r *runData, w int) string {
	if len(r.ID) <= w {
		return r.ID
	}
	id := shortID(r)
	if len(id) <= w {
		return id
	}
	if k := r.Status.Kind; k != "" {
		id = strings.TrimPrefix(id, k+"-")
	}
	if n := len(id); n > 16 && id[n-16] == '-' && id[n-7] == '-' {
		stamp := id[n-15:] // YYYYmmdd-HHMMSS
		name := id[:n-16]
		id = name + " " + stamp[4:8] + "-" + stamp[9:13]
	}
	return truncMiddle(id, w)
}
