package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// palette is the run colours, each with a darker shade for the raw line
// drawn under its smoothed one. Runs take slots in marking order, so the
// runs on one chart never share a colour (up to eight).
var palette = [][2]string{
	{"#5FAFFF", "#2F5F87"}, // blue
	{"#FF8700", "#875F00"}, // orange
	{"#5FD75F", "#2F6F2F"}, // green
	{"#FF5F87", "#872F4F"}, // pink
	{"#AF87FF", "#5F4F87"}, // violet
	{"#00D7D7", "#006F6F"}, // cyan
	{"#D7D700", "#6F6F00"}, // yellow
	{"#D75F5F", "#6F2F2F"}, // red
}

// styles are the dashboard's looks; with colour off (NO_COLOR) they keep
// only attributes such as bold and reverse, so selection still shows.
type styles struct {
	noColor  bool
	title    lipgloss.Style
	tabOn    lipgloss.Style
	tabOff   lipgloss.Style
	header   lipgloss.Style
	selected lipgloss.Style
	dim      lipgloss.Style
	err      lipgloss.Style
	ok       lipgloss.Style
	box      lipgloss.Style
	axis     lipgloss.Style
	bar      lipgloss.Style
	states   map[string]lipgloss.Style
}

func newStyles(noColor bool) styles {
	s := styles{noColor: noColor}
	c := func(hex string) color.Color {
		if noColor {
			return nil
		}
		return lipgloss.Color(hex)
	}
	fg := func(hex string) lipgloss.Style {
		st := lipgloss.NewStyle()
		if !noColor {
			st = st.Foreground(c(hex))
		}
		return st
	}
	s.title = lipgloss.NewStyle().Bold(true)
	s.tabOn = lipgloss.NewStyle().Bold(true).Reverse(true).Padding(0, 1)
	s.tabOff = lipgloss.NewStyle().Padding(0, 1)
	s.header = lipgloss.NewStyle().Bold(true)
	// The selection: a background bar in colour (reverse video would also
	// flip the row's own colours); reverse without colour (NO_COLOR).
	s.selected = lipgloss.NewStyle().Reverse(true)
	if !noColor {
		s.selected = lipgloss.NewStyle().Background(c("#3A4A5C")).Foreground(c("#FFFFFF")).Bold(true)
	}
	s.dim = fg("#808080")
	if noColor {
		s.dim = lipgloss.NewStyle().Faint(true)
	}
	s.err = fg("#FF5F5F").Bold(true)
	s.ok = fg("#5FD75F")
	s.axis = fg("#808080")
	s.bar = fg("#5FAFFF")
	border := lipgloss.NormalBorder()
	s.box = lipgloss.NewStyle().Border(border)
	if !noColor {
		s.box = s.box.BorderForeground(c("#585858"))
	}
	s.states = map[string]lipgloss.Style{
		"running":  fg("#5FD75F").Bold(true),
		"starting": fg("#D7D700"),
		"stopping": fg("#D7D700"),
		"stopped":  fg("#AFAFAF"),
		"done":     fg("#5FAFFF"),
		"failed":   fg("#FF5F5F").Bold(true),
		"lost":     fg("#FF8700").Bold(true),
	}
	return s
}

// slotStyle is the colour of palette slot i (a run's curves).
func (s styles) slotStyle(i int) lipgloss.Style {
	if s.noColor {
		return lipgloss.NewStyle()
	}
	return lipgloss.NewStyle().Foreground(lipgloss.Color(palette[i%len(palette)][0]))
}

// slotFaint is slot i's raw line, drawn under the smoothed one: a darker
// shade, or the faint attribute without colour.
func (s styles) slotFaint(i int) lipgloss.Style {
	if s.noColor {
		return lipgloss.NewStyle().Faint(true)
	}
	return lipgloss.NewStyle().Foreground(lipgloss.Color(palette[i%len(palette)][1]))
}

func (s styles) state(st string) lipgloss.Style {
	if x, ok := s.states[st]; ok {
		return x
	}
	return lipgloss.NewStyle()
}
