package lra

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPredictionsRoundTrip(t *testing.T) {
	for _, task := range Tasks {
		preds := make([]int, 23)
		for i := range preds {
			preds[i] = (i * 7) % task.NumClasses()
		}
		p := filepath.Join(t.TempDir(), task.Name+".tsv")
		if err := task.WritePredictions(p, preds); err != nil {
			t.Fatal(err)
		}
		got, err := task.ReadPredictions(p, len(preds))
		if err != nil || !reflect.DeepEqual(got, preds) {
			t.Errorf("%s: read back %v, %v; wrote %v", task.Name, got, err, preds)
		}
		b, _ := os.ReadFile(p)
		if lines := strings.Split(string(b), "\n"); lines[0] != predictionsHeader || lines[1] != "0\t"+task.Labels[0] {
			t.Errorf("%s: file starts %q", task.Name, lines[:2])
		}
	}
	if _, err := Text.FormatPredictions([]int{0, 2}); err == nil || !strings.Contains(err.Error(), "prediction 1 is class 2") {
		t.Errorf("class out of range: %v", err)
	}
}

// TestParsePredictionsErrors: every way a predictions file can be wrong is
// refused with the file and line.
func TestParsePredictionsErrors(t *testing.T) {
	head := predictionsHeader + "\n"
	for _, c := range []struct{ name, in, want string }{
		{"no header", "0\tpos\n1\tneg\n", "f.tsv:1: want the header"},
		{"no tab", head + "0 pos\n1\tneg\n", "f.tsv:2: want index<TAB>prediction"},
		{"bad index", head + "0\tpos\nx\tneg\n", `f.tsv:3: index "x"`},
		{"index out of range", head + "0\tpos\n2\tneg\n", "f.tsv:3: index \"2\" is not one of the split's 2 examples"},
		{"twice", head + "0\tpos\n0\tneg\n", "f.tsv:3: index 0 appears twice"},
		{"bad class", head + "0\tpos\n1\tmaybe\n", `f.tsv:3: prediction "maybe" is not a Text class`},
		{"class id out of range", head + "0\tpos\n1\t2\n", `prediction "2"`},
		{"empty", "", "f.tsv is empty"},
		{"missing row", head + "1\tpos\n", "1 of the split's 2 examples have predictions; index 0 is the first without one"},
	} {
		_, err := Text.ParsePredictions(strings.NewReader(c.in), "f.tsv", 2)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// accepted: any order, ids or names, CRLF, a BOM, a blank last line
	got, err := Text.ParsePredictions(strings.NewReader("\ufeff"+predictionsHeader+"\r\n1\t0\r\n0\tpos\r\n\r\n"), "f.tsv", 2)
	if err != nil || !reflect.DeepEqual(got, []int{1, 0}) {
		t.Errorf("lenient forms: %v, %v", got, err)
	}
}

func TestAccuracy(t *testing.T) {
	ex := []Example{{Text: "[MAX 1 2 ]", Label: 2}, {Text: "3", Label: 3}, {Text: "[SM 5 6 ]", Label: 1}, {Text: "4", Label: 4}}
	enc, err := ListOps.Encode(ex, 16)
	if err != nil {
		t.Fatal(err)
	}
	preds := []int{2, 0, 1, 0}
	if got := Accuracy(preds, enc); got != 0.5 {
		t.Errorf("Accuracy = %v, want 0.5", got)
	}
	if got, err := ExampleAccuracy(preds, ex); got != 0.5 || err != nil {
		t.Errorf("ExampleAccuracy = %v, %v", got, err)
	}
	if _, err := ExampleAccuracy(preds[:3], ex); err == nil {
		t.Error("3 predictions for 4 examples accepted")
	}
}

// FuzzPredictions: what ParsePredictions accepts holds exactly n classes in
// range, and formatting it and parsing again gives the same predictions.
func FuzzPredictions(f *testing.F) {
	f.Add(predictionsHeader+"\n0\tpos\n1\tneg\n2\t1\n", 3)
	f.Add(predictionsHeader+"\r\n2\t0\r\n0\t1\r\n1\tpos\r\n", 3)
	f.Add("\ufeff"+predictionsHeader+"\n0\tneg\n\n", 1)
	f.Add(predictionsHeader+"\n0\tpos\n0\tneg\n", 2)
	f.Add("index\tprediction\n-1\tpos\n", 1)
	f.Fuzz(func(t *testing.T, in string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		preds, err := Text.ParsePredictions(strings.NewReader(in), "f.tsv", n)
		if err != nil {
			return
		}
		if len(preds) != n {
			t.Fatalf("%d predictions for n = %d", len(preds), n)
		}
		for i, p := range preds {
			if p < 0 || p >= Text.NumClasses() {
				t.Fatalf("prediction %d = %d out of range", i, p)
			}
		}
		out, err := Text.FormatPredictions(preds)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Text.ParsePredictions(strings.NewReader(string(out)), "f.tsv", n)
		if err != nil || !reflect.DeepEqual(again, preds) {
			t.Fatalf("re-parse: %v, %v; want %v", again, err, preds)
		}
	})
}
