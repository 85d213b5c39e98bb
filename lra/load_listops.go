package lra

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

var listOpsHint = fmt.Sprintf("generate ListOps with: %s (files basic_train.tsv, basic_val.tsv, basic_test.tsv), or download the LRA release (%s) and point at its listops-1000 folder",
	GenerateListOpsCommand, LRAReleaseURL)

func loadListOps(path, split string) ([]Example, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingError{Task: "listops", Split: split, Path: path, Hint: listOpsHint}
	}
	if err != nil {
		return nil, fmt.Errorf("lra: %w", err)
	}
	if !st.IsDir() {
		return parseFile(path, parseListOpsTSV)
	}
	want := filepath.Join(path, ListOpsFile(split))
	file, ok := firstExisting(want, filepath.Join(path, "listops-1000", ListOpsFile(split)))
	if !ok {
		return nil, &MissingError{Task: "listops", Split: split, Path: want, Hint: listOpsHint}
	}
	return parseFile(file, parseListOpsTSV)
}

// parseListOpsTSV reads a ListOps TSV: the official "Source\tTarget" header
// (or "Target\tSource"), or no header, in which case the column order is
// taken from the first line (the original ListOps files put the target
// first). Every source is tokenised as LRA does and evaluated, and a line
// whose target differs from the value is an error: it is a corrupt or
// mis-ordered file, not data to learn from.
func parseListOpsTSV(r io.Reader, path string) ([]Example, error) {
	var (
		out      []Example
		p        listOpsParser
		buf      []byte
		srcCol   = 0
		haveCols bool
	)
	err := eachLine(r, path, func(no int, line string) error {
		fail := func(format string, args ...any) error {
			return &ParseError{File: path, Line: no, Msg: fmt.Sprintf(format, args...)}
		}
		src, tgt, ok := strings.Cut(line, "\t")
		if !haveCols {
			haveCols = true
			switch {
			case strings.EqualFold(src, "source") && strings.EqualFold(tgt, "target"):
				return nil
			case strings.EqualFold(src, "target") && strings.EqualFold(tgt, "source"):
				srcCol = 1
				return nil
			case ok && isLabelField(src) && !isLabelField(tgt):
				srcCol = 1
			}
		}
		if line == "" {
			return fail("blank line")
		}
		if !ok || strings.Contains(tgt, "\t") {
			return fail("has %d tab-separated fields, want 2 (Source, Target)", strings.Count(line, "\t")+1)
		}
		if srcCol == 1 {
			src, tgt = tgt, src
		}
		target, err := strconv.Atoi(strings.TrimSpace(tgt))
		if err != nil || target < 0 || target > 9 {
			return fail("target %q is not a value 0-9", clip(tgt))
		}
		ids, err := p.tokenize(src)
		if err != nil {
			return fail("source: %v", err)
		}
		value, err := p.eval(ids)
		if err != nil {
			return fail("source: %v", err)
		}
		if value != target {
			return fail("target %d, but the source evaluates to %d", target, value)
		}
		buf = appendCompact(buf[:0], ids)
		out = append(out, Example{Text: string(buf), Label: target, Line: no})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lra: %s holds no ListOps examples", path)
	}
	return out, nil
}

// isLabelField reports a field that reads as a ListOps target, for telling
// a headerless file's column order.
func isLabelField(s string) bool {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	return err == nil && v >= 0 && v <= 9
}
