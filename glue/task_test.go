package glue

import (
	"strings"
	"testing"
)

func TestLookupSpellings(t *testing.T) {
	cases := map[string]string{
		"cola": "cola", "CoLA": "cola", "SST-2": "sst2", "sst-2": "sst2", "sst2": "sst2",
		"STS-B": "stsb", "sts-b": "stsb", "stsb": "stsb", "MRPC": "mrpc", "QQP": "qqp",
		"MNLI": "mnli", "MNLI-m": "mnli", "mnli_matched": "mnli", "MNLI-mm": "mnli-mm",
		"mnli_mismatched": "mnli-mm", "glue/qnli": "qnli", "RTE": "rte", "WNLI": "wnli",
		"AX": "ax", "diagnostic": "ax", " rte ": "rte",
	}
	for in, want := range cases {
		got, err := Lookup(in)
		if err != nil {
			t.Errorf("Lookup(%q): %v", in, err)
			continue
		}
		if got.Name != want {
			t.Errorf("Lookup(%q) = %s, want %s", in, got.Name, want)
		}
	}
	_, err := Lookup("squad")
	if err == nil || !strings.Contains(err.Error(), `"squad"`) || !strings.Contains(err.Error(), "mnli-mm") {
		t.Errorf("Lookup(squad) error = %v, want the name and the task list", err)
	}
}

func TestTaskTable(t *testing.T) {
	wantFiles := []string{"CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "STS-B.tsv", "QQP.tsv", "MNLI-m.tsv", "MNLI-mm.tsv", "QNLI.tsv", "RTE.tsv", "WNLI.tsv", "AX.tsv"}
	if got := SubmissionFiles(); strings.Join(got, ",") != strings.Join(wantFiles, ",") {
		t.Fatalf("SubmissionFiles = %v, want %v", got, wantFiles)
	}
	for _, task := range AllTasks {
		if task.IsRegression != (task.Labels == nil) {
			t.Errorf("%s: IsRegression %v with labels %v", task.Name, task.IsRegression, task.Labels)
		}
		if task.NumClasses() < 1 {
			t.Errorf("%s: NumClasses %d", task.Name, task.NumClasses())
		}
		if len(task.Splits()) == 0 {
			t.Errorf("%s: no splits", task.Name)
		}
		if _, err := LookupArchive(task.Archive); err != nil {
			t.Errorf("%s: archive %q: %v", task.Name, task.Archive, err)
		}
		found := false
		for _, m := range task.Metrics {
			found = found || m == task.ScoreMetric
		}
		if !found {
			t.Errorf("%s: score metric %q not among %v", task.Name, task.ScoreMetric, task.Metrics)
		}
		for _, s := range task.Splits() {
			f, err := task.SplitFile(s)
			if err != nil || !strings.HasPrefix(f, task.Dir+"/") {
				t.Errorf("%s %s: file %q, %v; want it under %s/", task.Name, s, f, err, task.Dir)
			}
			if task.Labelled(s) == (s == "test") {
				t.Errorf("%s %s: Labelled = %v", task.Name, s, task.Labelled(s))
			}
		}
	}
	stsb, _ := Lookup("stsb")
	if stsb.NumClasses() != 1 {
		t.Errorf("stsb NumClasses = %d, want 1", stsb.NumClasses())
	}
	for _, name := range []string{"mnli-mm", "ax"} {
		if task, _ := Lookup(name); task.ModelTask != "mnli" {
			t.Errorf("%s ModelTask = %q, want mnli", name, task.ModelTask)
		}
	}
}

func TestResolveSplit(t *testing.T) {
	mnli, _ := Lookup("mnli")
	cola, _ := Lookup("cola")
	ax, _ := Lookup("ax")
	cases := []struct {
		task            Task
		split           string
		wantTask, wantS string
		wantErr         string
	}{
		{cola, "train", "cola", "train", ""},
		{cola, "validation", "cola", "dev", ""},
		{cola, "DEV", "cola", "dev", ""},
		{mnli, "dev", "mnli", "dev", ""},
		{mnli, "dev_mismatched", "mnli-mm", "dev", ""},
		{mnli, "validation_matched", "mnli", "dev", ""},
		{mnli, "test-mismatched", "mnli-mm", "test", ""},
		{mnli, "train", "mnli", "train", ""},
		{cola, "dev_matched", "", "", "only MNLI"},
		{ax, "dev", "", "", "splits: test"},
		{cola, "eval", "", "", `no split "eval"`},
	}
	for _, c := range cases {
		got, s, err := ResolveSplit(c.task, c.split)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ResolveSplit(%s, %q) error = %v, want %q", c.task.Name, c.split, err, c.wantErr)
			}
			continue
		}
		if err != nil || got.Name != c.wantTask || s != c.wantS {
			t.Errorf("ResolveSplit(%s, %q) = %s %s %v, want %s %s", c.task.Name, c.split, got.Name, s, err, c.wantTask, c.wantS)
		}
	}
}
