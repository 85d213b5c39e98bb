package tui

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

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
	marks         []string   // runs overlaid in the run view's charts, in marking order (their colours)
	marksErr      error      // the marks file could not be read or written
	sortCol       runsColumn // the column the table is sorted by; -1: newest first
	sortDesc      bool
	reported      string          // the selection the dashboard last heard of
	diff          *configDiffView // c: two runs' configs side by side, until esc
}

func newRunsView(e *env) *runsView {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "filter by id, state, kind or device"
	ti.SetVirtualCursor(true)
	v := &runsView{env: e, st: e.st, filter: ti, sortCol: -1}
	v.marks, v.marksErr = readMarks(e.runsDir)
	if len(v.marks) > 0 {
		e.send(overlayMsg{ids: slices.Clone(v.marks)})
	}
	return v
}

func (v *runsView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.filter.SetWidth(max(w-24, 10)) // room for "N of M runs"
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
	var out []*runData
	for _, r := range v.env.store.list() {
		hay := strings.ToLower(strings.Join([]string{r.ID, r.state(), r.kind(), r.Status.Device}, " "))
		if q == "" || strings.Contains(hay, q) {
			out = append(out, r)
		}
	}
	sortRunsBy(out, v.sortCol, v.sortDesc, v.env.now())
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

// openDiff compares the selected run's config with a marked run's: the
// first marked one that is not the selection.
func (v *runsView) openDiff() {
	sel := v.selected()
	if sel == nil {
		return
	}
	for _, id := range v.marks {
		if o := v.env.store.get(id); o != nil && id != sel.ID && !o.failedLaunch {
			v.diff = newConfigDiff(o, sel)
			return
		}
	}
	v.env.send(flashMsg{text: "config diff: mark a run with " + keyName(actMark, inRuns) + ", select another, press " + keyName(actDiff, inRuns), err: true})
}

// shortDevice is a device description without its parenthesised detail.
func shortDevice(d string) string {
	if i := strings.Index(d, " ("); i > 0 {
		return d[:i]
	}
	return d
}

// nextSortColumn cycles newest-first (-1) through the sortable columns.
func nextSortColumn(c runsColumn) runsColumn {
	for n := c + 1; n < numRunsColumns; n++ {
		if runsColumnSpecs[n].sortable {
			return n
		}
	}
	return -1
}

// keepSelection puts the cursor back on run id after a re-sort.
func (v *runsView) keepSelection(id string) {
	for i, r := range v.visible() {
		if r.ID == id {
			v.cursor = i
		}
	}
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
	if v.diff != nil { // the diff has the keys until it closes
		switch act {
		case actBack, actDiff:
			v.diff = nil
		case actUp:
			v.diff.top--
		case actDown:
			v.diff.top++
		}
		return nil
	}
	switch act {
	case actDiff:
		v.openDiff()
	case actUp:
		v.cursor = max(v.cursor-1, 0)
	case actDown:
		v.cursor = min(v.cursor+1, max(len(v.visible())-1, 0))
	case actFilter: // a new filter: / starts from empty, like less and vim
		v.filtering = true
		v.filter.SetValue("")
		v.cursor = 0
		return v.filter.Focus()
	case actBack: // esc clears a kept filter
		v.filter.SetValue("")
	case actSortNext:
		id := v.selectedID()
		v.sortCol = nextSortColumn(v.sortCol)
		v.keepSelection(id)
	case actSortReverse:
		id := v.selectedID()
		v.sortDesc = !v.sortDesc
		v.keepSelection(id)
	case actMark:
		if r := v.selected(); r != nil && !r.failedLaunch {
			if i := slices.Index(v.marks, r.ID); i >= 0 {
				v.marks = slices.Delete(v.marks, i, i+1)
			} else {
				v.marks = append(v.marks, r.ID)
			}
			v.marksErr = writeMarks(v.env.runsDir, v.marks)
			v.env.send(overlayMsg{ids: slices.Clone(v.marks)})
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

// runsColumn is a column of the runs table.
type runsColumn int

const (
	colRun runsColumn = iota
	colState
	colKind
	colStep
	colBar
	colLoss
	colBest
	colTPS
	colETA
	colDevice
	colAge
	numRunsColumns
)

// runsColumnSpec is a column's title, alignment, content size and place
// in the order columns go when the screen is narrow (0: never).
type runsColumnSpec struct {
	title    string
	right    bool
	min, max int // content width: fitted to the widest cell between them
	dropRank int // narrow screens drop the highest first
	sortable bool
}

var runsColumnSpecs = [numRunsColumns]runsColumnSpec{
	colRun:    {"RUN", false, 12, 48, 0, true},
	colState:  {"STATE", false, 5, 8, 0, true},
	colKind:   {"KIND", false, 4, 20, 0, true},
	colStep:   {"STEP", true, 4, 13, 0, true},
	colBar:    {"", false, 6, 10, 3, false},
	colLoss:   {"LOSS", true, 4, 6, 0, true},
	colBest:   {"BEST DEV", true, 8, 16, 4, true},
	colTPS:    {"TOK/S", true, 5, 6, 5, true},
	colETA:    {"ETA", true, 3, 7, 6, false},
	colDevice: {"DEVICE", false, 6, 32, 2, true},
	colAge:    {"AGE", true, 3, 6, 1, true},
}

// runsCell is what a column shows for a run (unstyled).
func runsCell(c runsColumn, r *runData, now time.Time, barW int) string {
	switch c {
	case colRun:
		return r.ID
	case colState:
		return r.state()
	case colKind:
		return r.kind()
	case colStep:
		if t := r.Status.TotalSteps; t > 0 {
			return fmt.Sprintf("%d/%d", r.step(), t)
		}
		return fmt.Sprint(r.step())
	case colBar:
		frac := 0.0
		if t := r.Status.TotalSteps; t > 0 {
			frac = float64(r.step()) / float64(t)
		}
		return progressBar(frac, barW)
	case colLoss:
		return fmtFloat(r.lastLoss())
	case colBest:
		if r.HasBest {
			return r.Best.Metric + " " + fmtFloat(r.Best.Score)
		}
		return ""
	case colTPS:
		return fmtSI(metricValue(r.lastTrain, "tokens_per_s"))
	case colETA:
		if d, ok := r.eta(); ok {
			return fmtDuration(d)
		}
		return "-"
	case colDevice:
		return withWorld(r.Status.Device, worldSize(r.Status, r.system))
	case colAge:
		return fmtDuration(r.age(now))
	}
	return ""
}

// layoutRuns sizes the columns to the runs' content within w cells
// (2 for the mark, one space between columns): widths[c] == 0 drops c.
// The run column takes what the others leave, down to its minimum.
func layoutRuns(rs []*runData, w int, now time.Time) [numRunsColumns]int {
	var widths [numRunsColumns]int
	for c := range numRunsColumns {
		spec := runsColumnSpecs[c]
		cw := max(spec.min, len([]rune(spec.title)))
		for _, r := range rs {
			if c == colRun {
				cw = max(cw, len(r.ID))
			} else if c != colBar {
				cw = max(cw, len([]rune(runsCell(c, r, now, 0))))
			}
		}
		widths[c] = min(cw, spec.max)
	}
	if widths[colBest] > 0 && !slices.ContainsFunc(rs, func(r *runData) bool { return r.HasBest }) {
		widths[colBest] = 0 // no finetune has a best checkpoint: no column
	}
	fitted := widths
	total := func() int {
		n := 2
		for _, cw := range widths {
			if cw > 0 {
				n += cw + 1
			}
		}
		return n - 1
	}
	// Too wide: trim the long free-text columns, then the run names to a
	// readable width, then drop columns (least needed first), then cut
	// the names to their minimum.
	shrink := func(c runsColumn, to int) {
		if over := total() - w; over > 0 && widths[c] > to {
			widths[c] = max(widths[c]-over, to)
		}
	}
	shrink(colDevice, 12)
	shrink(colKind, 13)
	shrink(colRun, 22)
	for total() > w {
		drop, rank := -1, 0
		for c := range numRunsColumns {
			if widths[c] > 0 && runsColumnSpecs[c].dropRank > rank {
				drop, rank = int(c), runsColumnSpecs[c].dropRank
			}
		}
		if drop < 0 {
			break
		}
		widths[drop] = 0
	}
	shrink(colRun, runsColumnSpecs[colRun].min)
	// A dropped column that fits in what is left comes back, most needed
	// first (the lowest rank).
	for rank := 1; rank <= len(runsColumnSpecs); rank++ {
		for c := range numRunsColumns {
			spec := runsColumnSpecs[c]
			if spec.dropRank != rank || widths[c] > 0 || fitted[c] == 0 {
				continue
			}
			cw := fitted[c]
			if c == colBar {
				cw = spec.min
			}
			if total()+cw+1 <= w {
				widths[c] = cw
			}
		}
	}
	if widths[colBar] > 0 { // room left: a longer progress bar
		widths[colBar] = min(runsColumnSpecs[colBar].max, widths[colBar]+max(w-total(), 0))
	}
	return widths
}

// sortRuns orders the table by a column (started, newest first, when
// col < 0); desc reverses it.
func sortRunsBy(rs []*runData, col runsColumn, desc bool, now time.Time) {
	if col < 0 {
		if desc {
			slices.Reverse(rs)
		}
		return
	}
	num := func(r *runData) float64 {
		switch col {
		case colStep:
			return float64(r.step())
		case colLoss:
			return r.lastLoss()
		case colBest:
			if r.HasBest {
				return r.Best.Score
			}
		case colTPS:
			return metricValue(r.lastTrain, "tokens_per_s")
		case colAge:
			return float64(r.age(now))
		}
		return math.NaN()
	}
	numeric := col == colStep || col == colLoss || col == colBest || col == colTPS || col == colAge
	slices.SortStableFunc(rs, func(a, b *runData) int {
		var c int
		if numeric {
			x, y := num(a), num(b)
			switch { // runs without a value go last either way
			case !finite(x) && !finite(y):
				return 0
			case !finite(x):
				return 1
			case !finite(y):
				return -1
			}
			c = cmp.Compare(x, y)
		} else {
			c = strings.Compare(runsCell(col, a, now, 0), runsCell(col, b, now, 0))
		}
		if desc {
			c = -c
		}
		return c
	})
}

func (v *runsView) View() string {
	if v.diff != nil {
		return v.diff.view(v.st, v.width, v.height)
	}
	var b strings.Builder
	s, runsDir, now := v.env.store, v.env.runsDir, v.env.now()
	rs := v.visible()
	if v.filtering || v.filter.Value() != "" {
		b.WriteString(v.filter.View() + v.st.dim.Render(fmt.Sprintf("  %d of %d runs", len(rs), len(s.order))) + "\n")
	}
	if v.marksErr != nil {
		b.WriteString(v.st.err.Render(truncate("marks: "+v.marksErr.Error(), v.width)) + "\n")
	}
	if len(s.order) == 0 {
		b.WriteString("\n  No runs in " + runsDir + " yet.")
		if _, err := os.Stat(runsDir); err != nil {
			b.WriteString(v.st.dim.Render(" (the folder does not exist: a launch creates it)"))
		}
		b.WriteString("\n\n")
		k := func(act action) string { return v.st.title.Render(keyName(act, inRuns)) }
		b.WriteString("  Press " + k(actDemo) + " to start the demo: a mini pretraining on the Go standard\n")
		b.WriteString("  library's doc comments (offline, about a minute on 2 cores).\n")
		b.WriteString("  Press " + k(actNew) + " to launch a run from configs/, " + k(actHelp) + " for help.\n")
		return b.String()
	}
	widths := layoutRuns(rs, v.width, now)
	cell := func(c runsColumn, text string) string {
		if runsColumnSpecs[c].right {
			return padLeft(text, widths[c])
		}
		return pad(text, widths[c])
	}
	var head []string
	for c := range numRunsColumns {
		if widths[c] == 0 {
			continue
		}
		title := runsColumnSpecs[c].title
		if c == v.sortCol {
			title += map[bool]string{false: "▲", true: "▼"}[v.sortDesc]
		}
		head = append(head, cell(c, title))
	}
	b.WriteString(v.st.header.Render("  "+strings.Join(head, " ")) + "\n")
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
		if j := slices.Index(v.marks, r.ID); j >= 0 {
			mark = v.st.slotStyle(j).Render("●") + " "
		}
		sel := i == v.cursor
		var cells []string
		for c := range numRunsColumns {
			if widths[c] == 0 {
				continue
			}
			text := runsCell(c, r, now, widths[colBar])
			switch {
			case c == colRun:
				text = displayID(r, widths[c])
			case c == colDevice && len([]rune(text)) > widths[c]:
				text = shortDevice(text) // "cpu (2 threads, …)" → "cpu": which device, whole
			}
			t := cell(c, text)
			if !sel { // colours only off the selected row: its reverse video spans it all
				switch c {
				case colState:
					t = v.st.state(r.state()).Render(t)
				case colBar:
					t = v.st.bar.Render(t)
				}
			}
			cells = append(cells, t)
		}
		line := strings.Join(cells, " ")
		if sel {
			line = v.st.selected.Render(pad(line, max(v.width-2, 0))) // the whole row, to the edge
		}
		b.WriteString(mark + line + "\n")
	}
	if len(rs) == 0 {
		b.WriteString(v.st.dim.Render("  no run matches the filter") + "\n")
	}
	return b.String()
}

// shortID drops the kind prefix the KIND column already shows.
func shortID(r *runData) string { return shortName(r.ID, r.Status.Kind) }

func shortName(id, kind string) string {
	if kind != "" && strings.HasPrefix(id, kind+"-") {
		return strings.TrimPrefix(id, kind+"-")
	}
	return id
}

// displayID fits a run ID to w cells: the one short form of run names
// every view uses (runs table, run header, legends, pickers).
func displayID(r *runData, w int) string { return displayName(r.ID, r.Status.Kind, w) }

// displayName fits a run ID of a kind to w cells. IDs are
// <kind>-<config>-<date>-<time>; when the whole ID does not fit, the kind
// (shown in its own column) and the config's repeat of it go, and the
// stamp shrinks to MMDD-HHMM.
func displayName(full, kind string, w int) string {
	if len(full) <= w {
		return full
	}
	id := shortName(full, kind)
	if len(id) <= w {
		return id
	}
	if kind != "" {
		id = strings.TrimPrefix(id, kind+"-")
	}
	if n := len(id); n > 16 && id[n-16] == '-' && id[n-7] == '-' {
		stamp := id[n-15:] // YYYYmmdd-HHMMSS
		name := id[:n-16]
		id = name + " " + stamp[4:8] + "-" + stamp[9:13]
	}
	return truncMiddle(id, w)
}
