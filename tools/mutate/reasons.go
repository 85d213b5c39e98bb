package main

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// A reasons file (REASONS.md) is Markdown; every bullet that opens with a
// mutant id in backticks gives the reason that mutant may survive:
//
//   - `train/loop.go:runLoop cmp: a < b => a <= b`: why no test can tell.
//     An indented line continues the reason.
var reasonLine = regexp.MustCompile("^\\s*[-*]\\s+`([^`]+)`\\s*[:—–-]?\\s*(.*)$")

// ParseReasons maps mutant ids to their written reasons.
func ParseReasons(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	last := ""
	for sc.Scan() {
		line := sc.Text()
		if m := reasonLine.FindStringSubmatch(line); m != nil {
			last = m[1]
			out[last] = strings.TrimSpace(m[2])
			continue
		}
		if last != "" && strings.TrimSpace(line) != "" && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			out[last] = strings.TrimSpace(out[last] + " " + strings.TrimSpace(line))
			continue
		}
		last = ""
	}
	return out, sc.Err()
}
