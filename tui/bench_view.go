package tui

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// benchView shows the runs folder's bench.json (fnet-tui bench --out):
// BenchChart, tokens/s and peak memory by length per architecture, and a
// table of the cells, beside the chart on wide screens and below it
// otherwise. The poller reads the file (benchWatcher, ReadBench) and hands
// each new reading over as a benchMsg.
type benchView struct {
	env           *env
	st            styles
	width, height int
	read          bool        // a poll has looked for the file
	file          benchUpdate // the latest reading
	cells         []BenchCell // its cells in chart order
	top           int         // the first table row shown
}

// benchMsg is a new reading of bench.json, for the Bench view.
type benchMsg struct{ u benchUpdate }

func (benchMsg) to() viewID { return viewBench }

func newBenchView(e *env) *benchView { return &benchView{env: e, st: e.st} }

func (v *benchView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.top = min(v.top, v.maxTop())
}

func (v *benchView) KeyMap() keyMap { return keyMap(inBench) }

func (v *benchView) Update(msg tea.Msg) (component, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		switch v.KeyMap().action(msg) {
		case actUp:
			v.top = max(v.top-1, 0)
		case actDown:
			v.top = min(v.top+1, v.maxTop())
		case actBack:
			v.env.send(showViewMsg{view: viewRuns})
		}
	case benchMsg:
		v.read, v.file = true, msg.u
		v.cells = chartOrder(msg.u.Cells)
		v.top = min(v.top, v.maxTop())
	}
	return v, nil
}

// benchLayout is where the chart and the table go in the view.
type benchLayout struct {
	side      bool // the table beside the chart, else below it
	chartW    int  // BenchChart's width
	chartH    int  // BenchChart's height of each panel; 0: no chart
	tableRows int  // lines for table rows under its header; -1: no table
	tableW    int
	blank     bool // a blank line between the chart and the table below it
}

// Chart sizes: BenchChart takes 2 panels of chartH lines plus 3 (two
// titles and the legend); a panel needs minBenchPanel lines to be read.
const (
	minBenchPanel = 5
	benchChrome   = 3
	minSideChart  = 60 // the chart's least width beside the table
	benchGap      = 2  // columns between the chart and the table
)

func (v *benchView) layout() benchLayout {
	avail := v.height - 1 // the header line
	if !v.chartable() {
		avail-- // the line saying why there is no chart
	}
	n := len(v.cells)
	l := benchLayout{tableW: benchTableWidth(v.cells)}
	switch {
	case !v.chartable():
		l.tableRows = avail - 1
	case v.width >= l.tableW+benchGap+minSideChart:
		l.side = true
		l.chartW = v.width - l.tableW - benchGap
		l.chartH = max((avail-benchChrome)/2, 0)
		l.tableRows = avail - 1
	case avail-(2*minBenchPanel+benchChrome) >= 1+min(n, 2): // the chart, then the table
		lines := min(1+n, avail-(2*minBenchPanel+benchChrome))
		if avail-lines-1 >= 2*minBenchPanel+benchChrome {
			l.blank = true // a blank line between them when there is room
		}
		l.chartW = v.width
		l.chartH = (avail - lines - btoi(l.blank) - benchChrome) / 2
		l.tableRows = lines - 1
	case avail >= 2*minBenchPanel+benchChrome:
		l.chartW, l.chartH = v.width, (avail-benchChrome)/2
		l.tableRows = -1
	default:
		l.tableRows = avail - 1
	}
	if l.chartH < 4 { // too short to draw (renderChart's least)
		l.chartH = 0
	}
	return l
}

// chartable says some cell has a number to draw.
func (v *benchView) chartable() bool {
	for _, c := range v.cells {
		if !c.Failed() && (c.TokensPerS > 0 || c.PeakMemBytes > 0) {
			return true
		}
	}
	return false
}

// shownRows is how many cells the table shows in rows lines: all, or one
// line less than rows when it has to scroll (the last line says so).
func shownRows(n, rows int) int {
	if n <= rows {
		return n
	}
	return max(rows-1, 1)
}

// maxTop is the last first row the table can scroll to.
func (v *benchView) maxTop() int {
	l := v.layout()
	if l.tableRows <= 0 {
		return 0
	}
	return max(len(v.cells)-shownRows(len(v.cells), l.tableRows), 0)
}

// writeHint is the command that writes a bench.json for this runs folder.
func (v *benchView) writeHint() string {
	return "fnet-tui bench --arch fnet,bert --seq 128,256,512 --out " + filepath.Join(v.env.runsDir, BenchFile)
}

func (v *benchView) View() string {
	path := filepath.Join(v.env.runsDir, BenchFile)
	w := max(v.width-4, 20) // prose is wrapped to this, indented by 2
	wrap := func(st lipgloss.Style, s string) string {
		return indent(st.Width(w).Render(s), "  ")
	}
	switch {
	case !v.read:
		return "\n  Reading " + path + "…"
	case !v.file.Exists:
		return "\n" + wrap(v.st.header, "No benchmark results: "+path+" does not exist.") + "\n\n" +
			wrap(lipgloss.NewStyle(), "Write one (one JSON line per architecture and length) with") + "\n\n" +
			indent(v.st.title.Width(max(v.width-6, 20)).Render(v.writeHint()), "    ") + "\n\n" +
			wrap(v.st.dim, "This view reloads it when it changes, also while the sweep is still writing it.")
	case v.file.Err != nil:
		what := "Cannot read " + path + ":"
		var be *BenchError
		if errors.As(v.file.Err, &be) {
			what = "Cannot chart " + path + ": a line is malformed."
		}
		return "\n" + wrap(v.st.header, what) + "\n\n" +
			wrap(v.st.err, printable(v.file.Err.Error())) + "\n\n" +
			wrap(v.st.dim, "Each line must be one cell as `fnet-tui bench --out` writes it: a JSON object with "+
				"arch, seq, batch, device, ms_per_step, tokens_per_s, peak_mem_bytes, flops_per_token, oom and error. "+
				"Write the file again with") + "\n\n" +
			indent(v.st.title.Width(max(v.width-6, 20)).Render(v.writeHint()), "    ")
	case len(v.cells) == 0:
		return "\n" + wrap(v.st.header, path+" has no cells yet.") + "\n\n" +
			wrap(v.st.dim, "A sweep writes one line per cell as it finishes; this view reloads the file when it changes.")
	}

	l := v.layout()
	parts := []string{v.header(path)}
	if !v.chartable() {
		parts = append(parts, v.st.err.Render("no cell finished (all out of memory or failed): nothing to chart"))
	}
	var table string
	if l.tableRows > 0 {
		tw := v.width // error texts run on to the edge
		if l.side {
			tw = l.tableW
		}
		table = v.table(l.tableRows, tw)
	}
	var chart string
	if l.chartH > 0 {
		pts := make([]BenchPoint, len(v.cells))
		for i, c := range v.cells {
			pts[i] = c.Point()
		}
		chart = fitBlock(benchChart(pts, l.chartW, l.chartH, v.st), l.chartW, 2*l.chartH+benchChrome)
	}
	switch {
	case l.side && chart != "" && table != "":
		table = fitBlock(table, l.tableW, 2*l.chartH+benchChrome)
		parts = append(parts, lipgloss.JoinHorizontal(lipgloss.Top, chart, strings.Repeat(" ", benchGap), table))
	case chart != "" && table != "" && l.blank:
		parts = append(parts, chart, "", table)
	case chart != "" && table != "":
		parts = append(parts, chart, table)
	case chart != "":
		parts = append(parts, chart)
	case table != "":
		parts = append(parts, table)
	}
	return strings.Join(parts, "\n")
}

// header is the view's first line: the file and what it holds.
func (v *benchView) header(path string) string {
	var archs, devices []string
	seenArch, seenDev, seqs := map[string]bool{}, map[string]bool{}, map[int]bool{}
	oom, failed := 0, 0
	for _, c := range v.cells {
		if !seenArch[c.Arch] {
			seenArch[c.Arch] = true
			archs = append(archs, c.Arch)
		}
		if d := printable(c.Device); d != "" && !seenDev[d] {
			seenDev[d] = true
			devices = append(devices, d)
		}
		seqs[c.Seq] = true
		switch {
		case c.OOM:
			oom++
		case c.Error != "":
			failed++
		}
	}
	info := fmt.Sprintf(" · %d %s × %d %s", len(archs), plural(len(archs), "architecture"), len(seqs), plural(len(seqs), "length"))
	var counts string
	if oom > 0 {
		counts += v.st.dim.Render(" · ") + v.st.err.Render(fmt.Sprintf("%d OOM", oom))
	}
	if failed > 0 {
		counts += v.st.dim.Render(" · ") + v.st.err.Render(fmt.Sprintf("%d failed", failed))
	}
	line := func(devices []string) string {
		d := ""
		if len(devices) > 0 {
			d = " · " + strings.Join(devices, ", ")
		}
		return v.st.title.Render(path) + v.st.dim.Render(info) + counts + v.st.dim.Render(d)
	}
	s := line(devices)
	if lipgloss.Width(s) > v.width { // "cpu (2 threads, OpenBLAS …)" -> "cpu"
		short := make([]string, 0, len(devices))
		for _, d := range devices {
			if i := strings.Index(d, " ("); i > 0 {
				d = d[:i]
			}
			if !slices.Contains(short, d) {
				short = append(short, d)
			}
		}
		s = line(short)
	}
	return s
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// benchColumns are the table's column widths.
type benchColumns struct{ arch, seq, batch, ms, tps, mem int }

const benchColGap = 2

func benchColumnsFor(cells []BenchCell) benchColumns {
	c := benchColumns{arch: 4, seq: 3, batch: 5, ms: 8, tps: 8, mem: 8}
	for _, x := range cells {
		c.arch = max(c.arch, min(len([]rune(x.Arch)), 16))
		c.seq = max(c.seq, len(fmt.Sprint(x.Seq)))
		c.batch = max(c.batch, len(fmt.Sprint(x.Batch)))
	}
	return c
}

// benchTableWidth is the table's width in cells.
func benchTableWidth(cells []BenchCell) int {
	c := benchColumnsFor(cells)
	return c.arch + c.seq + c.batch + c.ms + c.tps + c.mem + 5*benchColGap
}

// table is the header and the cells from v.top, in at most rows lines
// under the header, at most width wide; when they do not all fit, the last
// line says which are shown and how to scroll.
func (v *benchView) table(rows, width int) string {
	c := benchColumnsFor(v.cells)
	gap := strings.Repeat(" ", benchColGap)
	lines := []string{v.st.header.Render(pad("ARCH", c.arch) + gap + padLeft("SEQ", c.seq) + gap + padLeft("BATCH", c.batch) + gap +
		padLeft("MS/STEP", c.ms) + gap + padLeft("TOKENS/S", c.tps) + gap + padLeft("PEAK MEM", c.mem))}
	n := len(v.cells)
	shown := shownRows(n, rows)
	top := min(v.top, max(n-shown, 0))
	for _, x := range v.cells[top : top+shown] {
		line := pad(x.Arch, c.arch) + gap + padLeft(fmt.Sprint(x.Seq), c.seq) + gap + padLeft(fmt.Sprint(x.Batch), c.batch) + gap
		switch {
		case x.OOM:
			line += v.st.err.Render(padLeft("OOM", c.ms))
		case x.Error != "":
			line += v.st.err.Render(truncate("error: "+printable(x.Error), max(width-lipgloss.Width(line), c.ms+c.tps+c.mem+2*benchColGap)))
		default:
			line += padLeft(fmtMs(x.MsPerStep), c.ms) + gap + padLeft(fmtSI(x.TokensPerS), c.tps) + gap + padLeft(fmtBytes(x.PeakMemBytes), c.mem)
		}
		lines = append(lines, line)
	}
	if shown < n {
		lines = append(lines, v.st.dim.Render(fmt.Sprintf("cells %d–%d of %d · %s %s scroll",
			top+1, top+shown, n, keyName(actUp, inBench), keyName(actDown, inBench))))
	}
	return strings.Join(lines, "\n")
}

// fmtMs is a step time in milliseconds.
func fmtMs(ms float64) string {
	switch {
	case ms <= 0 || !finite(ms):
		return "-"
	case ms < 10000:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}

// fmtBytes is a memory size in KiB, MiB or GiB ("-" when not measured).
func fmtBytes(b int64) string {
	switch {
	case b <= 0:
		return "-"
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", max(b>>10, 1))
}

// printable replaces control characters (a file's text could move the
// cursor) with spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// indent puts prefix before every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
