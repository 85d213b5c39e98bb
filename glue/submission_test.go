package glue

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteSubmissionFormats(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		task    string
		indices []int
		preds   []float64
		want    string
	}{
		{"cola", []int{2, 0, 1}, []float64{1, 0, 1}, "index\tprediction\n0\t0\n1\t1\n2\t1\n"},
		{"mnli", []int{0, 1, 2}, []float64{0, 1, 2}, "index\tprediction\n0\tentailment\n1\tneutral\n2\tcontradiction\n"},
		{"mnli-mm", []int{5}, []float64{2}, "index\tprediction\n5\tcontradiction\n"},
		{"ax", []int{0}, []float64{1}, "index\tprediction\n0\tneutral\n"},
		{"qnli", []int{0, 1}, []float64{1, 0}, "index\tprediction\n0\tnot_entailment\n1\tentailment\n"},
		{"rte", []int{0}, []float64{0}, "index\tprediction\n0\tentailment\n"},
		{"stsb", []int{0, 1, 2, 3}, []float64{-0.25, 5.5, 3.125, 2}, "index\tprediction\n0\t0\n1\t5\n2\t3.125\n3\t2\n"},
		{"wnli", []int{0}, []float64{1}, "index\tprediction\n0\t1\n"},
	}
	for _, c := range cases {
		task := mustTask(t, c.task)
		if err := WriteSubmission(dir, task, c.indices, c.preds); err != nil {
			t.Fatalf("%s: %v", c.task, err)
		}
		if got := readFile(t, filepath.Join(dir, task.SubmissionFile)); got != c.want {
			t.Errorf("%s: file\n%q\nwant\n%q", c.task, got, c.want)
		}
	}
	// Only the submission files themselves: no temp files left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestWriteSubmissionRejects(t *testing.T) {
	dir := t.TempDir()
	cola, mnli := mustTask(t, "cola"), mustTask(t, "mnli")
	cases := []struct {
		task    Task
		indices []int
		preds   []float64
		want    string
	}{
		{cola, []int{0, 1}, []float64{1}, "2 indices for 1 predictions"},
		{cola, nil, nil, "no predictions"},
		{cola, []int{0, 0}, []float64{1, 1}, "index 0 appears twice"},
		{cola, []int{-1}, []float64{1}, "negative index"},
		{mnli, []int{0}, []float64{3}, "prediction for index 0: value 3 is not a class id (0..2)"},
		{cola, []int{4}, []float64{0.7}, "index 4: value 0.7"},
	}
	for _, c := range cases {
		err := WriteSubmission(dir, c.task, c.indices, c.preds)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.indices, c.preds, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("rejected submissions left files: %v", entries)
	}
}

func TestZipSubmission(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ZipSubmission(dir); err == nil || !strings.Contains(err.Error(), "holds no submission files") {
		t.Errorf("empty dir: %v", err)
	}
	if err := WriteSubmission(dir, mustTask(t, "rte"), []int{0}, []float64{1}); err != nil {
		t.Fatal(err)
	}
	if err := WriteSubmission(dir, mustTask(t, "cola"), []int{0, 1}, []float64{0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a submission"), 0o644); err != nil {
		t.Fatal(err)
	}
	path, included, err := ZipSubmission(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "submission.zip") || strings.Join(included, ",") != "CoLA.tsv,RTE.tsv" {
		t.Errorf("path %s included %v", path, included)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	got := map[string]string{}
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = string(b)
		names = append(names, f.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "CoLA.tsv,RTE.tsv" {
		t.Errorf("zip entries %v", names)
	}
	if got["RTE.tsv"] != "index\tprediction\n0\tnot_entailment\n" || got["CoLA.tsv"] != readFile(t, filepath.Join(dir, "CoLA.tsv")) {
		t.Errorf("zip contents %q", got)
	}
}
