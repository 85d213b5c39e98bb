package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// palette pairs a train colour with a lighter eval colour per run slot;
// a run's slot comes from its ID (colorIndex), so it keeps its colour.
var palette = [][2]string{
	{"#5FAFFF", "#AFD7FF"}, // blue
	{"#FF8700", "#FFD787"}, // orange
	{"#5FD75F", "#AFFFAF"}, // green
	{"#FF5F87", "#FFAFD7"}, // pink
	{"#AF87FF", "#D7D7FF"}, // violet
	{"#00D7D7", "#AFFFFF"}, // cyan
	{"#D7D700", "#FFFFAF"}, // yellow
	{"#D75F5F", "#FFAFAF"}, // red
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
	s.selected = lipgloss.NewStyle().Reverse(true)
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

// runStyle is the style of a run's train (eval=false) or eval curve.
func (s styles) runStyle(id string, eval bool) lipgloss.Style {
	if s.noColor {
		return lipgloss.NewStyle()
	}
	p := palette[colorIndex(id, len(palette))]
	hex := p[0]
	if eval {
		hex = p[1]
	}
	return lipgloss.NewStyle().Foreground(lipgloss.Color(hex))
}

func (s styles) state(st string) lipgloss.Style {
	if x, ok := s.states[st]; ok {
		return x
	}
	return lipgloss.NewStyle()
}
