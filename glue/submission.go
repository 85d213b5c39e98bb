package glue

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// SubmissionZip is the archive ZipSubmission writes.
const SubmissionZip = "submission.zip"

// WriteSubmission writes dir/<task.SubmissionFile> in the GLUE submission
// format: the header "index<TAB>prediction", then one line per example in
// index order. Classification predictions are class ids (as float64) and
// are written as the task's label strings (0/1 for CoLA, SST-2, MRPC, QQP
// and WNLI; entailment/... for MNLI, QNLI, RTE and AX); STS-B predictions
// are clipped to [0, 5] and written in full (shortest exact decimal). The file is
// replaced atomically.
func WriteSubmission(dir string, task Task, indices []int, preds []float64) error {
	if len(indices) != len(preds) {
		return fmt.Errorf("glue: %s submission: %d indices for %d predictions", task.Name, len(indices), len(preds))
	}
	if len(preds) == 0 {
		return fmt.Errorf("glue: %s submission: no predictions", task.Name)
	}
	order := make([]int, len(indices))
	seen := make(map[int]bool, len(indices))
	for i, idx := range indices {
		if idx < 0 {
			return fmt.Errorf("glue: %s submission: negative index %d", task.Name, idx)
		}
		if seen[idx] {
			return fmt.Errorf("glue: %s submission: index %d appears twice", task.Name, idx)
		}
		seen[idx] = true
		order[i] = i
		if err := checkValue(task, preds[i]); err != nil {
			return fmt.Errorf("glue: %s submission: prediction for index %d: %w", task.Name, idx, err)
		}
	}
	sort.Slice(order, func(a, b int) bool { return indices[order[a]] < indices[order[b]] })

	var buf bytes.Buffer
	buf.WriteString("index\tprediction\n")
	for _, i := range order {
		buf.WriteString(strconv.Itoa(indices[i]))
		buf.WriteByte('\t')
		if task.IsRegression {
			buf.WriteString(strconv.FormatFloat(math.Max(0, math.Min(5, preds[i])), 'f', -1, 64))
		} else {
			buf.WriteString(task.Labels[int(preds[i])])
		}
		buf.WriteByte('\n')
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("glue: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, task.SubmissionFile), buf.Bytes(), 0o644)
}

// SubmissionFiles lists the GLUE submission file names in leaderboard order.
func SubmissionFiles() []string {
	names := make([]string, len(AllTasks))
	for i, t := range AllTasks {
		names[i] = t.SubmissionFile
	}
	return names
}

// ZipSubmission writes dir/submission.zip holding the submission files
// present in dir (at the archive's top level, as the GLUE server wants) and
// returns the archive's path and the files it holds. Files of tasks not yet
// predicted are simply absent; it fails when there is none.
func ZipSubmission(dir string) (path string, included []string, err error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range SubmissionFiles() {
		p := filepath.Join(dir, name)
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("glue: %w", err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return "", nil, fmt.Errorf("glue: %w", err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: info.ModTime()})
		if err != nil {
			return "", nil, fmt.Errorf("glue: zip %s: %w", name, err)
		}
		if _, err := w.Write(data); err != nil {
			return "", nil, fmt.Errorf("glue: zip %s: %w", name, err)
		}
		included = append(included, name)
	}
	if len(included) == 0 {
		return "", nil, fmt.Errorf("glue: %s holds no submission files (%s)", dir, strings.Join(SubmissionFiles(), ", "))
	}
	if err := zw.Close(); err != nil {
		return "", nil, fmt.Errorf("glue: zip: %w", err)
	}
	path = filepath.Join(dir, SubmissionZip)
	if err := atomicfile.Write(path, buf.Bytes(), 0o644); err != nil {
		return "", nil, err
	}
	return path, included, nil
}
