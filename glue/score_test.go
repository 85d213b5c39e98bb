package glue

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func mustTask(t *testing.T, name string) Task {
	t.Helper()
	task, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestScoreMetricNames(t *testing.T) {
	for _, task := range AllTasks {
		preds, gold := []float64{0, 1, 1, 0}, []float64{0, 1, 0, 1}
		if task.IsRegression {
			preds, gold = []float64{0.5, 2, 3.5, 1}, []float64{1, 2, 3, 4}
		}
		m, err := Score(task, preds, gold)
		if err != nil {
			t.Fatalf("%s: %v", task.Name, err)
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		want := append([]string(nil), task.Metrics...)
		sort.Strings(want)
		if strings.Join(keys, ",") != strings.Join(want, ",") {
			t.Errorf("%s: metrics %v, want %v", task.Name, keys, want)
		}
	}
}

func TestScoreValues(t *testing.T) {
	pred := []float64{1, 1, 1, 0, 0, 0}
	gold := []float64{1, 1, 0, 1, 0, 0}
	m, err := Score(mustTask(t, "cola"), pred, gold)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m["mcc"], 1.0/3) || !near(m["accuracy"], 4.0/6) {
		t.Errorf("cola = %v", m)
	}
	m, err = Score(mustTask(t, "mrpc"), pred, gold)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m["f1"], 4.0/6) || !near(m["accuracy"], 4.0/6) || !near(m["f1_acc_mean"], 4.0/6) {
		t.Errorf("mrpc = %v", m)
	}
	m, err = Score(mustTask(t, "qqp"), []float64{1, 1, 1, 1}, []float64{1, 0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m["f1"], 2.0/5) || !near(m["accuracy"], 0.25) || !near(m["f1_acc_mean"], (0.4+0.25)/2) {
		t.Errorf("qqp = %v", m)
	}
	m, err = Score(mustTask(t, "stsb"), []float64{1, 3, 2}, []float64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m["pearson"], 0.5) || !near(m["spearman"], 0.5) || !near(m["corr"], 0.5) {
		t.Errorf("stsb = %v", m)
	}
	m, err = Score(mustTask(t, "mnli"), []float64{0, 1, 2, 2}, []float64{0, 1, 2, 0})
	if err != nil {
		t.Fatal(err)
	}
	if !near(m["accuracy"], 0.75) {
		t.Errorf("mnli = %v", m)
	}
}

func TestScoreRejects(t *testing.T) {
	cola, stsb, mnli := mustTask(t, "cola"), mustTask(t, "stsb"), mustTask(t, "mnli")
	cases := []struct {
		task        Task
		preds, gold []float64
		want        string
	}{
		{cola, []float64{1}, []float64{1, 0}, "1 predictions for 2 gold values"},
		{cola, nil, nil, "nothing to score"},
		{cola, []float64{0.5}, []float64{1}, "prediction 0: value 0.5 is not a class id (0..1)"},
		{mnli, []float64{3}, []float64{1}, "value 3 is not a class id (0..2)"},
		{cola, []float64{1}, []float64{-1}, "gold value 0"},
		{stsb, []float64{math.NaN()}, []float64{1}, "not a finite number"},
	}
	for _, c := range cases {
		_, err := Score(c.task, c.preds, c.gold)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Score(%s, %v, %v) error = %v, want %q", c.task.Name, c.preds, c.gold, err, c.want)
		}
	}
	_, err := ScoreExamples(cola, []float64{1}, []Example{{Index: 4, Label: -1, Score: -1, Line: 9}})
	if err == nil || !strings.Contains(err.Error(), "line 9 (index 4) has no gold label") {
		t.Errorf("ScoreExamples(unlabelled) error = %v", err)
	}
}

func TestReadPredictions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rte.tsv":   "index\tprediction\n2\tnot_entailment\n0\tentailment\n1\tentailment",
		"cola.tsv":  "3\t1\r\n4\t0\r\n",
		"stsb.tsv":  "index\tprediction\n0\t4.250\n1\t-0.5\n",
		"bad1.tsv":  "index\tprediction\n0\tentailment\n1\tmaybe\n",
		"bad2.tsv":  "index\tprediction\n0\tentailment\n0\tentailment\n",
		"bad3.tsv":  "index\tprediction\n0\tentailment\textra\n",
		"bad4.tsv":  "index\tprediction\n-1\tentailment\n",
		"bad5.tsv":  "index\tprediction\n",
		"bad6.tsv":  "index\tprediction\n0\t1\n",
		"bad7.tsv":  "index\tprediction\n0\tfive\n",
		"empty.tsv": "",
	})
	rte, cola, stsb := mustTask(t, "rte"), mustTask(t, "cola"), mustTask(t, "stsb")
	got, err := ReadPredictions(filepath.Join(dir, "rte.tsv"), rte)
	if err != nil {
		t.Fatal(err)
	}
	want := []Prediction{{2, 1, 2}, {0, 0, 3}, {1, 0, 4}}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("rte = %+v, want %+v", got, want)
	}
	got, err = ReadPredictions(filepath.Join(dir, "cola.tsv"), cola)
	if err != nil || len(got) != 2 || got[0] != (Prediction{3, 1, 1}) {
		t.Errorf("cola (no header, CRLF) = %+v, %v", got, err)
	}
	got, err = ReadPredictions(filepath.Join(dir, "stsb.tsv"), stsb)
	if err != nil || len(got) != 2 || got[0].Value != 4.25 || got[1].Value != -0.5 {
		t.Errorf("stsb = %+v, %v", got, err)
	}
	bad := []struct {
		file string
		task Task
		want string
	}{
		{"bad1.tsv", rte, `bad1.tsv:3: prediction "maybe" is not a rte label (entailment, not_entailment)`},
		{"bad2.tsv", rte, "bad2.tsv:3: index 0 repeats line 2"},
		{"bad3.tsv", rte, "bad3.tsv:2: has 3 tab-separated fields, want 2"},
		{"bad4.tsv", rte, `bad4.tsv:2: index "-1" is not a non-negative integer`},
		{"bad5.tsv", rte, "holds no predictions"},
		{"bad6.tsv", rte, `prediction "1" is not a rte label`},
		{"bad7.tsv", stsb, `bad7.tsv:2: prediction "five" is not a number`},
		{"empty.tsv", rte, "holds no predictions"},
	}
	for _, b := range bad {
		_, err := ReadPredictions(filepath.Join(dir, b.file), b.task)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: error = %v, want %q", b.file, err, b.want)
		}
	}
}

func TestScorePredictionsAlignment(t *testing.T) {
	rte := mustTask(t, "rte")
	examples := []Example{{Index: 10, Label: 0}, {Index: 11, Label: 1}, {Index: 12, Label: 1}, {Index: 13, Label: 0}}
	// Out of order in the file; matched by index.
	preds := []Prediction{{13, 0, 2}, {10, 0, 3}, {12, 0, 4}, {11, 1, 5}}
	m, err := ScorePredictions(rte, preds, examples, "p.tsv")
	if err != nil || !near(m["accuracy"], 0.75) {
		t.Errorf("accuracy = %v, %v; want 0.75", m, err)
	}
	_, err = ScorePredictions(rte, preds[:2], examples, "p.tsv")
	if err == nil || !strings.Contains(err.Error(), "no prediction for 2 of 4 examples (first missing index: 11)") {
		t.Errorf("missing: %v", err)
	}
	_, err = ScorePredictions(rte, append(preds, Prediction{99, 0, 6}), examples, "p.tsv")
	if err == nil || !strings.Contains(err.Error(), "p.tsv:6: index 99 is not in the split") {
		t.Errorf("extra: %v", err)
	}
}

// Submission files written for a dev split score back to the metrics of
// the same predictions, on the real files.
func TestScoreFileShared(t *testing.T) {
	dir := sharedGlueDir(t)
	out := t.TempDir()
	cases := []struct {
		task  string
		preds func(ex []Example) []float64
		check func(m map[string]float64) bool
	}{
		{"cola", goldPreds, func(m map[string]float64) bool { return m["mcc"] == 1 && m["accuracy"] == 1 }},
		{"cola", constPreds(1), func(m map[string]float64) bool { return m["mcc"] == 0 && near(m["accuracy"], 721.0/1043) }},
		{"mrpc", constPreds(1), func(m map[string]float64) bool {
			return near(m["accuracy"], 279.0/408) && near(m["f1"], 558.0/687) && near(m["f1_acc_mean"], (279.0/408+558.0/687)/2)
		}},
		{"rte", constPreds(0), func(m map[string]float64) bool { return near(m["accuracy"], 146.0/277) }},
		{"stsb", goldPreds, func(m map[string]float64) bool { return near(m["pearson"], 1) && near(m["spearman"], 1) }},
	}
	for _, c := range cases {
		task := mustTask(t, c.task)
		ex, err := Load(dir, c.task, "dev")
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, len(ex))
		for i, e := range ex {
			idx[i] = e.Index
		}
		preds := c.preds(ex)
		if err := WriteSubmission(out, task, idx, preds); err != nil {
			t.Fatal(err)
		}
		m, n, err := ScoreFile(dir, task, "dev", filepath.Join(out, task.SubmissionFile))
		if err != nil {
			t.Fatalf("%s: %v", c.task, err)
		}
		direct, _ := ScoreExamples(task, preds, ex)
		if n != len(ex) || !c.check(m) {
			t.Errorf("%s: %d examples, metrics %v", c.task, n, m)
		}
		for k, v := range direct {
			if !near(m[k], v) {
				t.Errorf("%s %s: file %v, direct %v", c.task, k, m[k], v)
			}
		}
		os.Remove(filepath.Join(out, task.SubmissionFile))
	}
	_, _, err := ScoreFile(dir, mustTask(t, "cola"), "test", filepath.Join(out, "x.tsv"))
	if err == nil || !strings.Contains(err.Error(), "has no gold labels") {
		t.Errorf("scoring test: %v", err)
	}
}

func goldPreds(ex []Example) []float64 {
	out := make([]float64, len(ex))
	for i, e := range ex {
		out[i] = float64(e.Label)
		if e.Label < 0 {
			out[i] = e.Score
		}
	}
	return out
}

func constPreds(v float64) func([]Example) []float64 {
	return func(ex []Example) []float64 {
		out := make([]float64, len(ex))
		for i := range out {
			out[i] = v
		}
		return out
	}
}
