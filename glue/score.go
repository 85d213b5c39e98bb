package glue

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Metric names returned by Score (see Task.Metrics for which task gets which):
//
//	accuracy     fraction correct
//	f1           F1 of the positive class (label 1)
//	f1_acc_mean  (f1 + accuracy) / 2, the MRPC/QQP number the GLUE average uses
//	mcc          Matthews correlation (R3 over three classes for AX)
//	pearson      Pearson correlation
//	spearman     Spearman rank correlation
//	corr         (pearson + spearman) / 2, the STS-B number the GLUE average uses
//
// Values are fractions (the leaderboard shows them ×100).

// Score computes a task's metrics. For classification tasks preds and gold
// hold class ids (indices into Task.Labels, as float64); for stsb they hold
// similarity scores.
func Score(task Task, preds, gold []float64) (map[string]float64, error) {
	if len(preds) != len(gold) {
		return nil, fmt.Errorf("glue: %s: %d predictions for %d gold values", task.Name, len(preds), len(gold))
	}
	if len(gold) == 0 {
		return nil, fmt.Errorf("glue: %s: nothing to score", task.Name)
	}
	for _, s := range []struct {
		what string
		v    []float64
	}{{"prediction", preds}, {"gold value", gold}} {
		for i, v := range s.v {
			if err := checkValue(task, v); err != nil {
				return nil, fmt.Errorf("glue: %s: %s %d: %w", task.Name, s.what, i, err)
			}
		}
	}
	m := map[string]float64{}
	if task.IsRegression {
		m["pearson"] = Pearson(preds, gold)
		m["spearman"] = Spearman(preds, gold)
		m["corr"] = (m["pearson"] + m["spearman"]) / 2
	} else {
		p, g := toInts(preds), toInts(gold)
		for _, name := range task.Metrics {
			switch name {
			case "accuracy":
				m[name] = Accuracy(p, g)
			case "f1":
				m[name] = F1(p, g)
			case "mcc":
				m[name] = MatthewsCorr(p, g)
			case "f1_acc_mean":
				m[name] = (F1(p, g) + Accuracy(p, g)) / 2
			}
		}
	}
	for _, name := range task.Metrics {
		if _, ok := m[name]; !ok {
			return nil, fmt.Errorf("glue: %s: no implementation of metric %q", task.Name, name) // a bug in the task table
		}
	}
	return m, nil
}

// ScoreExamples scores predictions made in the order of examples, taking
// the gold values from the examples.
func ScoreExamples(task Task, preds []float64, examples []Example) (map[string]float64, error) {
	gold, err := Gold(task, examples)
	if err != nil {
		return nil, err
	}
	return Score(task, preds, gold)
}

// Gold returns the examples' gold values in the form Score takes: class ids,
// or similarity scores for stsb. It fails on an unlabelled example.
func Gold(task Task, examples []Example) ([]float64, error) {
	gold := make([]float64, len(examples))
	for i, ex := range examples {
		switch {
		case task.IsRegression && ex.Score >= 0:
			gold[i] = ex.Score
		case !task.IsRegression && ex.Label >= 0:
			gold[i] = float64(ex.Label)
		default:
			return nil, fmt.Errorf("glue: %s: example on line %d (index %d) has no gold label", task.Name, ex.Line, ex.Index)
		}
	}
	return gold, nil
}

func checkValue(task Task, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("value %v is not a finite number", v)
	}
	if !task.IsRegression && (v != math.Trunc(v) || v < 0 || int(v) >= len(task.Labels)) {
		return fmt.Errorf("value %v is not a class id (0..%d)", v, len(task.Labels)-1)
	}
	return nil
}

func toInts(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// Prediction is one line of a file in the GLUE submission format.
type Prediction struct {
	Index int
	Value float64 // class id, or the similarity for stsb
	Line  int     // 1-based
}

// ReadPredictions reads a submission-format file: an optional header
// "index<TAB>prediction", then index<TAB>prediction lines where the
// prediction is one of the task's label strings (entailment, 0, 1 ...) or,
// for stsb, a number.
func ReadPredictions(path string, task Task) ([]Prediction, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("glue: %w", err)
	}
	defer f.Close()
	return readPredictions(f, path, task)
}

func readPredictions(r io.Reader, path string, task Task) ([]Prediction, error) {
	br := bufio.NewReader(r)
	var out []Prediction
	seen := map[int]int{}
	for lineNo := 1; ; lineNo++ {
		raw, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, fmt.Errorf("glue: read %s: %w", path, rerr)
		}
		if raw == "" && rerr == io.EOF {
			break
		}
		line := strings.TrimSuffix(strings.TrimSuffix(raw, "\n"), "\r")
		if lineNo == 1 {
			line = strings.TrimPrefix(line, bom)
			if h := strings.SplitN(line, "\t", 2)[0]; h == "index" || h == "id" {
				continue
			}
		}
		p, msg := parsePrediction(line, task)
		if msg != "" {
			return nil, &ParseError{path, lineNo, msg}
		}
		if prev, dup := seen[p.Index]; dup {
			return nil, &ParseError{path, lineNo, fmt.Sprintf("index %d repeats line %d", p.Index, prev)}
		}
		seen[p.Index] = lineNo
		p.Line = lineNo
		out = append(out, p)
		if rerr == io.EOF {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("glue: %s holds no predictions", path)
	}
	return out, nil
}

func parsePrediction(line string, task Task) (Prediction, string) {
	fields := strings.Split(line, "\t")
	if len(fields) != 2 {
		return Prediction{}, fmt.Sprintf("has %d tab-separated fields, want 2 (index, prediction)", len(fields))
	}
	idx, err := strconv.Atoi(fields[0])
	if err != nil || idx < 0 {
		return Prediction{}, fmt.Sprintf("index %q is not a non-negative integer", fields[0])
	}
	p := Prediction{Index: idx}
	if task.IsRegression {
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return p, fmt.Sprintf("prediction %q is not a number", fields[1])
		}
		p.Value = v
		return p, ""
	}
	id := labelID(task, fields[1])
	if id < 0 {
		return p, fmt.Sprintf("prediction %q is not a %s label (%s)", fields[1], task.Name, strings.Join(task.Labels, ", "))
	}
	p.Value = float64(id)
	return p, ""
}

// ScorePredictions matches predictions to examples by index and scores
// them. Every example needs exactly one prediction; a prediction for an
// index the split lacks is an error. file names the predictions in errors.
func ScorePredictions(task Task, preds []Prediction, examples []Example, file string) (map[string]float64, error) {
	byIndex := make(map[int]Prediction, len(preds))
	for _, p := range preds {
		byIndex[p.Index] = p
	}
	inSplit := make(map[int]bool, len(examples))
	values := make([]float64, len(examples))
	missing, firstMissing := 0, -1
	for i, ex := range examples {
		inSplit[ex.Index] = true
		p, ok := byIndex[ex.Index]
		if !ok {
			if missing == 0 {
				firstMissing = ex.Index
			}
			missing++
			continue
		}
		values[i] = p.Value
	}
	for _, p := range preds {
		if !inSplit[p.Index] {
			return nil, &ParseError{file, p.Line, fmt.Sprintf("index %d is not in the split being scored (%d examples)", p.Index, len(examples))}
		}
	}
	if missing > 0 {
		return nil, fmt.Errorf("glue: %s: no prediction for %d of %d examples (first missing index: %d)", file, missing, len(examples), firstMissing)
	}
	return ScoreExamples(task, values, examples)
}

// ScoreFile scores a submission-format file against a labelled split of
// the data folder and returns the metrics and the number of examples.
func ScoreFile(dataDir string, task Task, split, predPath string) (map[string]float64, int, error) {
	t, s, err := ResolveSplit(task, split)
	if err != nil {
		return nil, 0, err
	}
	if !t.Labelled(s) {
		return nil, 0, fmt.Errorf("glue: the %s %s split has no gold labels (test labels are held by the GLUE server)", t.Name, s)
	}
	examples, err := Load(dataDir, t.Name, s)
	if err != nil {
		return nil, 0, err
	}
	preds, err := ReadPredictions(predPath, t)
	if err != nil {
		return nil, 0, err
	}
	m, err := ScorePredictions(t, preds, examples, predPath)
	return m, len(examples), err
}
