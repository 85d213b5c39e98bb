package glue

import (
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// FuzzReadPredictions: whatever the bytes, the submission-format reader
// behind `glue score` (readPredictions) for any task either fails or
// returns predictions with unique non-negative indices, finite values that
// are class ids of the task (any number for stsb) and increasing line
// numbers; WriteSubmission of them reads back the same predictions in
// index order (stsb clipped to [0, 5], as the writer does).
func FuzzReadPredictions(f *testing.F) {
	at := func(name string) uint8 {
		for i, t := range AllTasks {
			if t.Name == name {
				return uint8(i)
			}
		}
		panic(name)
	}
	f.Add("index\tprediction\n0\t1\n1\t0\n", at("cola"))
	f.Add("\ufeffid\tlabel\r\n3\tentailment\r\n+1\tcontradiction\r\n0\tneutral", at("mnli"))
	f.Add("0\tnot_entailment\n2\tentailment\n", at("rte"))
	f.Add("index\tprediction\n0\t4.5\n1\t-0\n2\t7e1\n3\t0x1p-3\n", at("stsb"))
	f.Add("index\n5\t1\n", at("qqp"))
	f.Add("index\tprediction\n0\t1\n0\t1\n", at("sst2"))
	f.Add("0\tNaN\n", at("stsb"))
	f.Fuzz(func(t *testing.T, data string, which uint8) {
		task := AllTasks[int(which)%len(AllTasks)]
		preds, err := readPredictions(strings.NewReader(data), "p.tsv", task)
		if err != nil {
			if preds != nil {
				t.Fatalf("error %v with %d predictions", err, len(preds))
			}
			return
		}
		seen := map[int]bool{}
		indices := make([]int, len(preds))
		values := make([]float64, len(preds))
		for i, p := range preds {
			switch {
			case p.Index < 0 || seen[p.Index]:
				t.Fatalf("prediction %d: index %d negative or repeated", i, p.Index)
			case math.IsNaN(p.Value) || math.IsInf(p.Value, 0):
				t.Fatalf("prediction %d: value %v", i, p.Value)
			case !task.IsRegression && (p.Value != math.Trunc(p.Value) || p.Value < 0 || int(p.Value) >= len(task.Labels)):
				t.Fatalf("%s prediction %d: %v is not a class id", task.Name, i, p.Value)
			case p.Line < 1 || (i > 0 && p.Line <= preds[i-1].Line):
				t.Fatalf("prediction %d on line %d", i, p.Line)
			}
			seen[p.Index] = true
			indices[i], values[i] = p.Index, p.Value
		}
		dir := t.TempDir()
		if err := WriteSubmission(dir, task, indices, values); err != nil {
			t.Fatalf("WriteSubmission of what was read: %v", err)
		}
		again, err := ReadPredictions(filepath.Join(dir, task.SubmissionFile), task)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		want := append([]Prediction(nil), preds...)
		sort.Slice(want, func(a, b int) bool { return want[a].Index < want[b].Index })
		if len(again) != len(want) {
			t.Fatalf("re-read %d predictions, wrote %d", len(again), len(want))
		}
		for i, p := range want {
			v := p.Value
			if task.IsRegression {
				v = math.Max(0, math.Min(5, v))
			}
			if again[i].Index != p.Index || again[i].Value != v || again[i].Line != i+2 {
				t.Fatalf("re-read %+v, want index %d value %v on line %d", again[i], p.Index, v, i+2)
			}
		}
	})
}
