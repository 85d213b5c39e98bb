package tui

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// fmtDuration is a compact duration for tables: 42s, 3m12s, 1h04m, 2d03h.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
	}
}

// fmtSI is a number with a k/M/G suffix: 950, 12.3k, 1.20M.
func fmtSI(v float64) string {
	if !finite(v) {
		return "-"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// fmtFloat is a metric value in 4 significant digits, "-" when missing.
func fmtFloat(v float64) string {
	if !finite(v) {
		return "-"
	}
	if v != 0 && (math.Abs(v) < 1e-3 || math.Abs(v) >= 1e5) {
		return fmt.Sprintf("%.2e", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// fmtPercent is a 0..1 share as a percentage.
func fmtPercent(v float64) string {
	if !finite(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

// progressBar draws a bar of width cells, filled by frac in [0, 1], with
// eighth-cell resolution so short bars still move visibly.
func progressBar(frac float64, width int) string {
	if width <= 0 {
		return ""
	}
	if !finite(frac) || frac < 0 {
		frac = 0
	}
	frac = min(frac, 1)
	eighths := int(math.Round(frac * float64(width*8)))
	full, part := eighths/8, eighths%8
	var b strings.Builder
	b.WriteString(strings.Repeat("█", full))
	if full < width {
		if part > 0 {
			b.WriteRune([]rune("▏▎▍▌▋▊▉")[part-1])
			full++
		}
		b.WriteString(strings.Repeat("░", width-full))
	}
	return b.String()
}

// truncate cuts s to at most w cells, marking the cut with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	if w == 1 {
		return "…"
	}
	return string(r[:w-1]) + "…"
}

// pad fits s to exactly w cells, left-aligned.
func pad(s string, w int) string {
	s = truncate(s, w)
	if n := len([]rune(s)); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// padLeft fits s to exactly w cells, right-aligned.
func padLeft(s string, w int) string {
	s = truncate(s, w)
	if n := len([]rune(s)); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

func secondsDuration(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// truncMiddle shortens s to w cells by cutting its middle, keeping the end
// (a run ID's timestamp) readable.
func truncMiddle(s string, w int) string {
	r := []rune(s)
	if len(r) <= w || w < 5 {
		return truncate(s, w)
	}
	tail := (w - 1) / 2
	head := w - 1 - tail
	return string(r[:head]) + "…" + string(r[len(r)-tail:])
}

// fmtAxis is an axis label: 3 significant digits, plain ASCII (the chart
// measures labels in bytes).
func fmtAxis(v float64) string {
	if !finite(v) {
		return "-"
	}
	if v != 0 && (math.Abs(v) < 1e-2 || math.Abs(v) >= 1e4) {
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.3g", v)
}
