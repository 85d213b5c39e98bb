package glue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Example is one row of a GLUE split.
type Example struct {
	// Index is the file's index column (the id a submission refers to), or
	// the 0-based row number for files without one (CoLA, SST-2 and MRPC
	// train/dev).
	Index int
	// TextA and TextB are the segments in the order the official FNet code
	// feeds them: mnli/ax (hypothesis, premise), qnli (question, sentence),
	// qqp (question1, question2), mrpc/rte/stsb/wnli (sentence1, sentence2);
	// TextB is empty for cola and sst2.
	TextA, TextB string
	// Label is the class id (an index into Task.Labels); -1 when the split
	// is unlabelled and for stsb.
	Label int
	// Score is STS-B's gold similarity in [0, 5]; -1 when unlabelled and for
	// the classification tasks.
	Score float64
	Line  int // 1-based line in the source file
}

// ParseError is a malformed line of a GLUE file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// MissingError is a split whose file is not in the data folder. It matches
// fs.ErrNotExist with errors.Is.
type MissingError struct {
	Task, Split string
	File        string // full path
	Archive     string // the glue download name of the task's files
	Command     string // the glue download command that fetches them into this data folder
	ReadOnly    bool   // the data folder has no write permission bits
}

func (e *MissingError) Error() string {
	msg := fmt.Sprintf("glue: %s %s split: %s does not exist; ", e.Task, e.Split, e.File)
	if e.ReadOnly {
		return msg + fmt.Sprintf("its data folder is read-only, so download the task elsewhere with: fnet-tui glue download --data DIR %s, then set %s=DIR",
			e.Archive, EnvGlueDir)
	}
	return msg + "download the task with: " + e.Command
}

func (e *MissingError) Unwrap() error { return fs.ErrNotExist }

const bom = "\ufeff"

// Load reads one split of a task from the GLUE data folder. split is train,
// dev or test ("validation" means dev; for MNLI, dev_matched,
// dev_mismatched, test_matched and test_mismatched are accepted too and
// select mnli or mnli-mm). A missing file gives a *MissingError naming the
// download command; a malformed row gives a *ParseError with file:line.
func Load(dataDir, task, split string) ([]Example, error) {
	t, err := Lookup(task)
	if err != nil {
		return nil, err
	}
	t, split, err = ResolveSplit(t, split)
	if err != nil {
		return nil, err
	}
	l := layouts[t.Name][split]
	path := filepath.Join(dataDir, filepath.FromSlash(l.file))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		st, serr := os.Stat(dataDir)
		readOnly := serr == nil && st.Mode().Perm()&0o222 == 0
		return nil, &MissingError{Task: t.Name, Split: split, File: path, Archive: t.Archive,
			Command: DownloadCommand(dataDir, t.Archive), ReadOnly: readOnly}
	}
	if err != nil {
		return nil, fmt.Errorf("glue: %w", err)
	}
	defer f.Close()
	return parse(f, path, t, l)
}

// columns are the positions of a layout's columns in one file.
type columns struct {
	n                                 int // fields per row (the header's width)
	index, textA, textB, label, score int // -1 when absent
}

func (l layout) resolve(header []string) (columns, error) {
	c := columns{n: len(header)}
	find := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		for i, h := range header {
			if h == name {
				return i, nil
			}
		}
		return -1, fmt.Errorf("header lacks column %q (header: %q)", name, strings.Join(header, "\t"))
	}
	var err error
	for _, f := range []struct {
		dst  *int
		name string
	}{{&c.index, l.index}, {&c.textA, l.textA}, {&c.textB, l.textB}, {&c.label, l.label}, {&c.score, l.score}} {
		if *f.dst, err = find(f.name); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parse reads a GLUE TSV: fields split on tabs only, with no quote handling
// (the files hold unbalanced quotes), an optional byte-order mark, LF or
// CRLF line ends and an optional final newline.
func parse(r io.Reader, path string, t Task, l layout) ([]Example, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var (
		cols    columns
		haveHdr bool
		out     []Example
		seen    = map[int]int{}
		lineNo  int
		fields  []string
	)
	if l.implicit != nil {
		c, err := l.resolve(l.implicit)
		if err != nil {
			return nil, fmt.Errorf("glue: layout of %s: %w", l.file, err) // a bug in the table
		}
		cols, haveHdr = c, true
	}
	for {
		raw, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, fmt.Errorf("glue: read %s: %w", path, rerr)
		}
		if raw == "" && rerr == io.EOF {
			break
		}
		lineNo++
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		if lineNo == 1 {
			line = strings.TrimPrefix(line, bom)
		}
		if !haveHdr {
			c, err := l.resolve(strings.Split(line, "\t"))
			if err != nil {
				return nil, &ParseError{path, lineNo, err.Error()}
			}
			cols, haveHdr = c, true
		} else {
			fields = splitTabs(line, fields[:0])
			ex, msg := parseRow(line, fields, t, l, cols, len(out))
			if msg != "" {
				return nil, &ParseError{path, lineNo, msg}
			}
			if cols.index >= 0 { // row numbers are unique by construction
				if prev, dup := seen[ex.Index]; dup {
					return nil, &ParseError{path, lineNo, fmt.Sprintf("index %d repeats line %d", ex.Index, prev)}
				}
				seen[ex.Index] = lineNo
			}
			ex.Line = lineNo
			out = append(out, ex)
		}
		if rerr == io.EOF {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("glue: %s holds no examples", path)
	}
	return out, nil
}

// parseRow turns one data line into an Example; msg is non-empty when the
// line is malformed.
func parseRow(line string, fields []string, t Task, l layout, c columns, row int) (ex Example, msg string) {
	if line == "" {
		return ex, "blank line"
	}
	labelCol := c.label
	if l.labelLast && c.label >= 0 {
		// MNLI rows may carry fewer annotator labels than the header names;
		// the gold label is always last.
		need := max(c.index, c.textA, c.textB) + 2
		if len(fields) < need || len(fields) > c.n {
			return ex, fmt.Sprintf("has %d tab-separated fields, want %d to %d", len(fields), need, c.n)
		}
		labelCol = len(fields) - 1
	} else if len(fields) != c.n {
		return ex, fmt.Sprintf("has %d tab-separated fields, want %d", len(fields), c.n)
	}

	ex = Example{Index: row, Label: -1, Score: -1}
	if c.index >= 0 {
		v, err := strconv.Atoi(fields[c.index])
		if err != nil || v < 0 {
			return ex, fmt.Sprintf("index %q is not a non-negative integer", fields[c.index])
		}
		ex.Index = v
	}
	// Clone so the examples do not pin whole lines (MNLI's parse columns).
	ex.TextA = strings.Clone(fields[c.textA])
	if c.textB >= 0 {
		ex.TextB = strings.Clone(fields[c.textB])
	}
	if labelCol >= 0 {
		id := labelID(t, fields[labelCol])
		if id < 0 {
			return ex, fmt.Sprintf("label %q is not one of %s", fields[labelCol], strings.Join(t.Labels, ", "))
		}
		ex.Label = id
	}
	if c.score >= 0 {
		v, err := strconv.ParseFloat(fields[c.score], 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 5 {
			return ex, fmt.Sprintf("score %q is not a number in [0, 5]", fields[c.score])
		}
		ex.Score = v
	}
	return ex, ""
}

// splitTabs is strings.Split(line, "\t") reusing buf's storage.
func splitTabs(line string, buf []string) []string {
	for {
		i := strings.IndexByte(line, '\t')
		if i < 0 {
			return append(buf, line)
		}
		buf = append(buf, line[:i])
		line = line[i+1:]
	}
}

func labelID(t Task, s string) int {
	for i, name := range t.Labels {
		if name == s {
			return i
		}
	}
	return -1
}
