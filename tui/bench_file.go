package tui

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unicode"
)

// BenchFile is the name of the benchmark results the dashboard's Bench view
// shows from the runs folder (`fnet-tui bench --arch … --seq … --out
// RUNS/bench.json` writes it).
const BenchFile = "bench.json"

// BenchCell is one line of a bench.json: one (architecture, length) cell
// of a sweep, as `fnet-tui bench --json` prints it and --out writes it.
type BenchCell struct {
	Arch          string  `json:"arch"`
	Seq           int     `json:"seq"`
	Batch         int     `json:"batch"`
	Device        string  `json:"device"`
	MsPerStep     float64 `json:"ms_per_step,omitempty"`
	TokensPerS    float64 `json:"tokens_per_s,omitempty"`
	PeakMemBytes  int64   `json:"peak_mem_bytes,omitempty"`
	FLOPsPerToken float64 `json:"flops_per_token"`
	OOM           bool    `json:"oom,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// Failed says the cell has no timing: it ran out of memory or failed.
func (c BenchCell) Failed() bool { return c.OOM || c.Error != "" }

// Point is the cell as BenchChart draws it (a failed cell is a gap).
func (c BenchCell) Point() BenchPoint {
	return BenchPoint{Arch: c.Arch, Seq: c.Seq, TokensPerS: c.TokensPerS, PeakMemBytes: c.PeakMemBytes, OOM: c.Failed()}
}

// BenchError is a bench.json with malformed lines: the first one, what is
// wrong with it, and the numbers of any others (none is skipped silently).
type BenchError struct {
	File string
	Line int   // the first malformed line, from 1
	Err  error // what is wrong with it
	More []int // the other malformed lines
}

func (e *BenchError) Error() string {
	s := fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	switch n := len(e.More); {
	case n == 1:
		s += fmt.Sprintf(" (and line %d)", e.More[0])
	case n > 1:
		nums := make([]string, 0, 4)
		for _, l := range e.More[:min(n, 4)] {
			nums = append(nums, fmt.Sprint(l))
		}
		if n > 4 {
			nums = append(nums, "…")
		}
		s += fmt.Sprintf(" (and %d more malformed lines: %s)", n, strings.Join(nums, ", "))
	}
	return s
}

func (e *BenchError) Unwrap() error { return e.Err }

// ReadBench reads a bench.json: one JSON object per line, blank lines
// allowed. name is the file's name in errors. Either every line is a
// valid cell and it returns them in file order, or it returns no cells and
// a *BenchError naming the first malformed line (a read error is returned
// as it is, prefixed with name). A valid cell has a non-blank arch without
// control characters, seq > 0 and no negative number.
func ReadBench(name string, r io.Reader) ([]BenchCell, error) {
	br := bufio.NewReader(r)
	var cells []BenchCell
	var bad *BenchError
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			c, perr := parseBenchLine(line)
			switch {
			case perr == nil:
				cells = append(cells, c...)
			case bad == nil:
				bad = &BenchError{File: name, Line: n, Err: perr}
			default:
				bad.More = append(bad.More, n)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if bad != nil {
		return nil, bad
	}
	return cells, nil
}

// parseBenchLine decodes and checks one line: no cell for a blank line.
func parseBenchLine(line []byte) ([]BenchCell, error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil, nil
	}
	if line[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var c BenchCell
	if err := json.Unmarshal(line, &c); err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	switch {
	case strings.TrimSpace(c.Arch) == "":
		return nil, errors.New(`no "arch"`)
	case strings.IndexFunc(c.Arch, unicode.IsControl) >= 0:
		return nil, fmt.Errorf("arch %q has control characters", c.Arch)
	case c.Seq <= 0:
		return nil, fmt.Errorf(`"seq" %d: want a positive sequence length`, c.Seq)
	case c.Batch < 0:
		return nil, fmt.Errorf(`"batch" %d is negative`, c.Batch)
	case c.MsPerStep < 0:
		return nil, fmt.Errorf(`"ms_per_step" %g is negative`, c.MsPerStep)
	case c.TokensPerS < 0:
		return nil, fmt.Errorf(`"tokens_per_s" %g is negative`, c.TokensPerS)
	case c.PeakMemBytes < 0:
		return nil, fmt.Errorf(`"peak_mem_bytes" %d is negative`, c.PeakMemBytes)
	case c.FLOPsPerToken < 0:
		return nil, fmt.Errorf(`"flops_per_token" %g is negative`, c.FLOPsPerToken)
	}
	return []BenchCell{c}, nil
}

// chartOrder is the cells grouped by architecture (in first-seen order),
// each architecture's by length: the order of the table and the chart's
// lines, whatever order the file has.
func chartOrder(cells []BenchCell) []BenchCell {
	first := map[string]int{}
	for i, c := range cells {
		if _, ok := first[c.Arch]; !ok {
			first[c.Arch] = i
		}
	}
	out := slices.Clone(cells)
	slices.SortStableFunc(out, func(a, b BenchCell) int {
		return cmp.Or(cmp.Compare(first[a.Arch], first[b.Arch]), cmp.Compare(a.Seq, b.Seq))
	})
	return out
}

// maxBenchBytes bounds the bench.json the dashboard reads (a sweep's is a
// few kilobytes).
const maxBenchBytes = 16 << 20

// benchUpdate is a new reading of the runs folder's bench.json.
type benchUpdate struct {
	Path   string
	Exists bool
	Cells  []BenchCell
	Err    error // unreadable or malformed (a *BenchError names the line)
}

// benchWatcher re-reads bench.json only when its inode, size or mtime
// changed (or it appeared or went): one stat per poll otherwise.
type benchWatcher struct {
	path   string
	polled bool
	last   os.FileInfo // nil while there is no file
}

// poll returns a new reading and true when the file changed since the
// last poll (the first poll always reports, so the view learns there is
// none).
func (w *benchWatcher) poll() (benchUpdate, bool) {
	fi, err := os.Stat(w.path)
	if err != nil {
		fi = nil
	}
	if w.polled && sameFileState(w.last, fi) {
		return benchUpdate{}, false
	}
	w.polled, w.last = true, fi
	u := benchUpdate{Path: w.path}
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		u.Exists, u.Err = true, err
	case fi.IsDir():
		u.Exists, u.Err = true, fmt.Errorf("%s is a folder, not a file", w.path)
	case fi.Size() > maxBenchBytes:
		u.Exists, u.Err = true, fmt.Errorf("%s is %d MiB: more than a sweep writes (at most %d MiB read)", w.path, fi.Size()>>20, maxBenchBytes>>20)
	default:
		u.Exists = true
		f, err := os.Open(w.path)
		if err != nil {
			u.Err = err
			break
		}
		u.Cells, u.Err = ReadBench(w.path, io.LimitReader(f, maxBenchBytes))
		f.Close()
	}
	return u, true
}

// sameFileState says two stats (nil: no file) are of the same file,
// unchanged.
func sameFileState(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
