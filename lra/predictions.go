package lra

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// predictionsHeader is the first line of a predictions file: one row per
// example of the split, in the split's order, with the class name.
const predictionsHeader = "index\tprediction"

// FormatPredictions renders predicted class ids as a predictions file.
func (t Task) FormatPredictions(preds []int) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(predictionsHeader + "\n")
	for i, p := range preds {
		if p < 0 || p >= t.NumClasses() {
			return nil, fmt.Errorf("lra: %s: prediction %d is class %d, outside 0..%d", t.Name, i, p, t.NumClasses()-1)
		}
		fmt.Fprintf(&b, "%d\t%s\n", i, t.Labels[p])
	}
	return b.Bytes(), nil
}

// WritePredictions writes a predictions file atomically: a reader never
// sees half of it, and a failed write leaves the old file.
func (t Task) WritePredictions(path string, preds []int) error {
	data, err := t.FormatPredictions(preds)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// ReadPredictions reads a predictions file for n examples: the header,
// then rows index<TAB>prediction with every index 0..n-1 exactly once (in
// any order) and a prediction that is a class name or id. An error names
// the file and line.
func (t Task) ReadPredictions(path string, n int) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lra: %w", err)
	}
	defer f.Close()
	return t.ParsePredictions(f, path, n)
}

// ParsePredictions is ReadPredictions on a reader; path is for messages.
func (t Task) ParsePredictions(r io.Reader, path string, n int) ([]int, error) {
	preds := make([]int, n)
	seen := make([]bool, n)
	rows, header := 0, false
	err := eachLine(r, path, func(no int, line string) error {
		bad := func(format string, a ...any) error {
			return &ParseError{File: path, Line: no, Msg: fmt.Sprintf(format, a...)}
		}
		if no == 1 {
			if strings.TrimSpace(line) != predictionsHeader {
				return bad("want the header %q, found %q", predictionsHeader, clip(line))
			}
			header = true
			return nil
		}
		if strings.TrimSpace(line) == "" {
			return nil
		}
		idx, pred, ok := strings.Cut(line, "\t")
		if !ok {
			return bad("want index<TAB>prediction, found %q", clip(line))
		}
		i, err := strconv.Atoi(strings.TrimSpace(idx))
		if err != nil || i < 0 || i >= n {
			return bad("index %q is not one of the split's %d examples (0..%d)", clip(idx), n, n-1)
		}
		if seen[i] {
			return bad("index %d appears twice", i)
		}
		c, ok := t.classID(strings.TrimSpace(pred))
		if !ok {
			return bad("prediction %q is not a %s class (%s)", clip(pred), t.Display, strings.Join(t.Labels, ", "))
		}
		preds[i], seen[i] = c, true
		rows++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !header {
		return nil, fmt.Errorf("lra: %s is empty; want the header %q and a row per example", path, predictionsHeader)
	}
	if rows != n {
		for i, s := range seen {
			if !s {
				return nil, fmt.Errorf("lra: %s: %d of the split's %d examples have predictions; index %d is the first without one", path, rows, n, i)
			}
		}
	}
	return preds, nil
}

// classID maps a class name or a class id to the id.
func (t Task) classID(s string) (int, bool) {
	for i, l := range t.Labels {
		if s == l {
			return i, true
		}
	}
	if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < t.NumClasses() {
		return i, true
	}
	return 0, false
}

// Accuracy is the share of predictions equal to the encoded examples'
// labels (0 for no examples).
func Accuracy(preds []int, enc *Encoded) float64 {
	if enc.Len() == 0 {
		return 0
	}
	right := 0
	for i, p := range preds {
		if p == enc.Label(i) {
			right++
		}
	}
	return float64(right) / float64(enc.Len())
}

// ExampleAccuracy is Accuracy against examples' labels.
func ExampleAccuracy(preds []int, examples []Example) (float64, error) {
	if len(preds) != len(examples) {
		return 0, fmt.Errorf("lra: %d predictions for %d examples", len(preds), len(examples))
	}
	if len(examples) == 0 {
		return 0, fmt.Errorf("lra: no examples to score")
	}
	right := 0
	for i, p := range preds {
		if p == examples[i].Label {
			right++
		}
	}
	return float64(right) / float64(len(examples)), nil
}
