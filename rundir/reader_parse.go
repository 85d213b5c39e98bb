package rundir

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// errSlowPath sends a line the fast parser does not handle to encoding/json.
var errSlowPath = errors.New("not a flat metrics object")

// ParseMetricLine parses one metrics.jsonl line with the same result as
// json.Unmarshal into a Metric, but several times faster for the flat
// objects trainers write (a 100k-line file is read at first sight of a run).
// Lines with escapes, nesting or anything unusual go to encoding/json.
func ParseMetricLine(line []byte) (Metric, error) {
	m, err := parseFlatMetric(line)
	if err == errSlowPath {
		var slow Metric
		if err := json.Unmarshal(line, &slow); err != nil {
			return Metric{}, err
		}
		return slow, nil
	}
	return m, err
}

func parseFlatMetric(b []byte) (Metric, error) {
	m := Metric{Values: make(map[string]float64, 16)}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return m, errSlowPath
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return m, errSlowPath
		}
		return m, nil
	}
	for {
		key, j, ok := scanString(b, i)
		if !ok {
			return m, errSlowPath
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return m, errSlowPath
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return m, errSlowPath
		}
		switch c := b[i]; {
		case c == '"':
			s, j, ok := scanString(b, i)
			if !ok {
				return m, errSlowPath
			}
			i = j
			switch string(key) {
			case "t":
				t, err := time.Parse(time.RFC3339Nano, string(s))
				if err != nil || !rfc3339Year(t) {
					return m, errSlowPath // a later "t" may win; encoding/json decides
				}
				m.T = t
			case "split":
				m.Split = string(s)
			case "task":
				m.Task = string(s)
			case "step":
				return m, errSlowPath // encoding/json gives its own error
			default:
				delete(m.Values, string(key)) // a later non-number replaces an earlier value
			}
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && isNumberByte(b[j]) {
				j++
			}
			if !validNumber(b[i:j]) {
				return m, errSlowPath
			}
			f, err := strconv.ParseFloat(unsafe.String(&b[i], j-i), 64)
			if err != nil {
				return m, errSlowPath
			}
			i = j
			switch string(key) {
			case "t":
				sec, frac := math.Modf(f)
				m.T = time.Unix(int64(sec), int64(frac*1e9)).UTC()
				if !rfc3339Year(m.T) {
					return m, errSlowPath
				}
			case "step":
				m.Step = int(f)
			case "split", "task":
				m.setText(string(key), "") // the last value wins, and a number is no text
			default:
				m.Values[string(key)] = f
			}
		case hasWord(b, i, "null"):
			i += 4
			switch string(key) {
			case "t":
				return m, errSlowPath
			case "step":
				m.Step = 0
			case "split", "task":
				m.setText(string(key), "")
			default:
				m.Values[string(key)] = math.NaN()
			}
		case hasWord(b, i, "true"), hasWord(b, i, "false"):
			switch string(key) {
			case "t", "step":
				return m, errSlowPath
			case "split", "task":
				m.setText(string(key), "")
			default:
				delete(m.Values, string(key))
			}
			i += 4
			if b[i-4] == 'f' {
				i++
			}
		default: // objects, arrays, anything else
			return m, errSlowPath
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return m, errSlowPath
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return m, errSlowPath
			}
			return m, nil
		}
		if b[i] != ',' {
			return m, errSlowPath
		}
		i = skipSpace(b, i+1)
	}
}

// setText sets the split or task field.
func (m *Metric) setText(key, v string) {
	if key == "split" {
		m.Split = v
	} else {
		m.Task = v
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString reads a JSON string without escapes starting at b[i] == '"';
// ok is false for anything else (escapes go to the slow path).
func scanString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80: // escapes, control bytes, non-ASCII
			return nil, i, false
		}
	}
	return nil, i, false
}

func isNumberByte(c byte) bool {
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// validNumber checks JSON's number grammar, stricter than ParseFloat:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(n []byte) bool {
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}

func hasWord(b []byte, i int, w string) bool {
	return len(b)-i >= len(w) && string(b[i:i+len(w)]) == w
}
