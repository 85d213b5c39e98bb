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

var textHint = fmt.Sprintf("download the IMDb reviews from %s and extract them there (tar xzf makes aclImdb/ with train/{pos,neg} and test/{pos,neg}), or give a folder of <split>.tsv files or one TSV file of text<TAB>label lines",
	ACLIMDBURL)

// textLabels are Text's class names; TSV labels may be these or the ids.
var textLabels = []string{"neg", "pos"}

func loadText(path, split string) ([]Example, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingError{Task: "text", Split: split, Path: path, Hint: textHint}
	}
	if err != nil {
		return nil, fmt.Errorf("lra: %w", err)
	}
	if !st.IsDir() {
		return parseFile(path, parseTextTSV)
	}
	imdbSplit := split
	if split == "val" {
		imdbSplit = "test" // aclImdb has no validation split; LRA validates on test
	}
	for _, root := range []string{path, filepath.Join(path, "aclImdb")} {
		dir := filepath.Join(root, imdbSplit)
		if isDir(filepath.Join(dir, "pos")) || isDir(filepath.Join(dir, "neg")) {
			return loadACLIMDB(dir, split)
		}
	}
	names := []string{split + ".tsv"}
	if split == "val" {
		names = append(names, "dev.tsv") // GLUE's name, so a GLUE SST-2 folder works
	}
	var candidates []string
	for _, n := range names {
		candidates = append(candidates, filepath.Join(path, n))
	}
	if file, ok := firstExisting(candidates...); ok {
		return parseFile(file, parseTextTSV)
	}
	return nil, &MissingError{Task: "text", Split: split, Path: filepath.Join(path, imdbSplit, "{pos,neg}") + " or " + strings.Join(candidates, " or "), Hint: textHint}
}

// loadACLIMDB reads one aclImdb split folder: every *.txt in neg/ (label 0)
// then pos/ (label 1), in file-name order. As tfds' imdb_reviews (what LRA
// trains on) does, a review is its file's bytes with ASCII whitespace
// trimmed at both ends; the <br /> tags stay.
func loadACLIMDB(dir, split string) ([]Example, error) {
	var out []Example
	for label, class := range textLabels {
		classDir := filepath.Join(dir, class)
		entries, err := os.ReadDir(classDir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &MissingError{Task: "text", Split: split, Path: classDir,
				Hint: "an aclImdb split needs both pos/ and neg/; " + textHint}
		}
		if err != nil {
			return nil, fmt.Errorf("lra: %w", err)
		}
		n := 0
		for _, e := range entries { // ReadDir sorts by name
			if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".txt") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(classDir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("lra: %w", err)
			}
			out = append(out, Example{Text: strings.Trim(string(data), asciiSpace), Label: label, Name: class + "/" + e.Name()})
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("lra: %s holds no .txt reviews", classDir)
		}
	}
	return out, nil
}

// asciiSpace is what Python's bytes.strip() removes.
const asciiSpace = " \t\n\r\v\f"

// parseTextTSV reads text<TAB>label lines. The label is after the last tab
// (so text may hold tabs): a class id (0, 1) or name (neg, pos). A first
// line without a tab or whose label does not read as one is a header
// ("sentence\tlabel" in GLUE's SST-2) and is skipped. Text is taken as it is: no quotes, no
// escapes.
func parseTextTSV(r io.Reader, path string) ([]Example, error) {
	var out []Example
	err := eachLine(r, path, func(no int, line string) error {
		fail := func(format string, args ...any) error {
			return &ParseError{File: path, Line: no, Msg: fmt.Sprintf(format, args...)}
		}
		cut := strings.LastIndexByte(line, '\t')
		if cut < 0 {
			if no == 1 && line != "" {
				return nil // a one-column header such as "text"; data lines need a tab
			}
			if line == "" {
				return fail("blank line")
			}
			return fail("no tab: want text<TAB>label")
		}
		text, field := line[:cut], line[cut+1:]
		label, ok := textLabel(field)
		if !ok {
			if no == 1 {
				return nil // the header
			}
			return fail("label %q is not one of 0, 1, %s", clip(field), strings.Join(textLabels, ", "))
		}
		out = append(out, Example{Text: text, Label: label, Line: no})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lra: %s holds no text<TAB>label lines", path)
	}
	return out, nil
}

func textLabel(field string) (int, bool) {
	f := strings.TrimSpace(field)
	if v, err := strconv.Atoi(f); err == nil && v >= 0 && v < len(textLabels) {
		return v, true
	}
	for i, name := range textLabels {
		if strings.EqualFold(f, name) {
			return i, true
		}
	}
	return 0, false
}
