package glue

import (
	"fmt"
	"strings"
)

// Task describes one GLUE task: its labels, metrics and files.
type Task struct {
	Name    string // canonical name: cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli, ax
	Display string // the benchmark's spelling: CoLA, SST-2, ..., MNLI-m, MNLI-mm, AX
	Dir     string // folder under the GLUE data folder: CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI, diagnostic

	// Labels are the label strings of the data and submission files; a class
	// id is an index into Labels. nil for the regression task (stsb).
	Labels       []string
	IsRegression bool
	Pair         bool // examples have a second text segment

	// Metrics are the names Score returns, in display order; ScoreMetric is
	// the one the leaderboard averages into the GLUE score.
	Metrics     []string
	ScoreMetric string

	SubmissionFile string // file name inside a GLUE submission: CoLA.tsv, ..., AX.tsv
	// ModelTask is the task whose finetuned model predicts this one:
	// "mnli" for mnli-mm and ax (the diagnostic is run through the MNLI
	// model), Name otherwise.
	ModelTask string
	// Archive is the name `fnet-tui glue download` takes for this task's files.
	Archive string
}

// NumClasses is the width of the output head: len(Labels), or 1 for regression.
func (t Task) NumClasses() int {
	if t.IsRegression {
		return 1
	}
	return len(t.Labels)
}

// Splits lists the splits Load accepts for the task, in train, dev, test order.
func (t Task) Splits() []string {
	var out []string
	for _, s := range []string{"train", "dev", "test"} {
		if _, ok := layouts[t.Name][s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// SplitFile is the path of a split's file relative to the GLUE data folder.
func (t Task) SplitFile(split string) (string, error) {
	t, split, err := ResolveSplit(t, split)
	if err != nil {
		return "", err
	}
	return layouts[t.Name][split].file, nil
}

// Labelled reports whether a split's file carries gold labels.
func (t Task) Labelled(split string) bool {
	t, split, err := ResolveSplit(t, split)
	if err != nil {
		return false
	}
	l := layouts[t.Name][split]
	return l.label != "" || l.score != ""
}

var (
	binary    = []string{"0", "1"}
	nliLabels = []string{"entailment", "neutral", "contradiction"} // tfds order, as the official FNet code sees them
	qnliRTE   = []string{"entailment", "not_entailment"}
	pairMeans = []string{"f1", "accuracy", "f1_acc_mean"}
)

// AllTasks lists every task in the order of the GLUE leaderboard.
var AllTasks = []Task{
	{Name: "cola", ModelTask: "cola", Display: "CoLA", Dir: "CoLA", Labels: binary, Metrics: []string{"mcc", "accuracy"}, ScoreMetric: "mcc", SubmissionFile: "CoLA.tsv", Archive: "CoLA"},
	{Name: "sst2", ModelTask: "sst2", Display: "SST-2", Dir: "SST-2", Labels: binary, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "SST-2.tsv", Archive: "SST-2"},
	{Name: "mrpc", ModelTask: "mrpc", Display: "MRPC", Dir: "MRPC", Labels: binary, Pair: true, Metrics: pairMeans, ScoreMetric: "f1_acc_mean", SubmissionFile: "MRPC.tsv", Archive: "MRPC"},
	{Name: "stsb", ModelTask: "stsb", Display: "STS-B", Dir: "STS-B", IsRegression: true, Pair: true, Metrics: []string{"pearson", "spearman", "corr"}, ScoreMetric: "corr", SubmissionFile: "STS-B.tsv", Archive: "STS-B"},
	{Name: "qqp", ModelTask: "qqp", Display: "QQP", Dir: "QQP", Labels: binary, Pair: true, Metrics: pairMeans, ScoreMetric: "f1_acc_mean", SubmissionFile: "QQP.tsv", Archive: "QQP"},
	{Name: "mnli", ModelTask: "mnli", Display: "MNLI-m", Dir: "MNLI", Labels: nliLabels, Pair: true, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "MNLI-m.tsv", Archive: "MNLI"},
	{Name: "mnli-mm", ModelTask: "mnli", Display: "MNLI-mm", Dir: "MNLI", Labels: nliLabels, Pair: true, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "MNLI-mm.tsv", Archive: "MNLI"},
	{Name: "qnli", ModelTask: "qnli", Display: "QNLI", Dir: "QNLI", Labels: qnliRTE, Pair: true, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "QNLI.tsv", Archive: "QNLI"},
	{Name: "rte", ModelTask: "rte", Display: "RTE", Dir: "RTE", Labels: qnliRTE, Pair: true, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "RTE.tsv", Archive: "RTE"},
	{Name: "wnli", ModelTask: "wnli", Display: "WNLI", Dir: "WNLI", Labels: binary, Pair: true, Metrics: []string{"accuracy"}, ScoreMetric: "accuracy", SubmissionFile: "WNLI.tsv", Archive: "WNLI"},
	{Name: "ax", ModelTask: "mnli", Display: "AX", Dir: "diagnostic", Labels: nliLabels, Pair: true, Metrics: []string{"mcc"}, ScoreMetric: "mcc", SubmissionFile: "AX.tsv", Archive: "AX"},
}

// spellings maps a name folded by fold to a canonical task name.
var spellings = map[string]string{
	"cola": "cola", "sst2": "sst2", "sst": "sst2", "mrpc": "mrpc",
	"stsb": "stsb", "sts": "stsb", "qqp": "qqp",
	"mnli": "mnli", "mnlim": "mnli", "mnlimatched": "mnli",
	"mnlimm": "mnli-mm", "mnlimismatched": "mnli-mm",
	"qnli": "qnli", "qnliv2": "qnli", "rte": "rte", "wnli": "wnli",
	"ax": "ax", "diagnostic": "ax", "diagnostics": "ax",
}

// fold lower-cases a task name and drops a "glue/" prefix and the
// separators people put in names (SST-2, mnli_matched, STS B).
func fold(name string) string {
	s := strings.ToLower(strings.TrimSpace(name))
	s = strings.TrimPrefix(s, "glue/")
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ', '.':
			return -1
		}
		return r
	}, s)
}

// Lookup finds a task by name, accepting the common spellings: CoLA, SST-2,
// sst-2, STS-B, MNLI-m, mnli_mismatched, glue/qnli, diagnostic ...
func Lookup(name string) (Task, error) {
	canon, ok := spellings[fold(name)]
	if ok {
		for _, t := range AllTasks {
			if t.Name == canon {
				return t, nil
			}
		}
	}
	return Task{}, fmt.Errorf("glue: unknown task %q (tasks: %s)", name, strings.Join(TaskNames(), ", "))
}

// TaskNames lists the canonical task names.
func TaskNames() []string {
	names := make([]string, len(AllTasks))
	for i, t := range AllTasks {
		names[i] = t.Name
	}
	return names
}

// ResolveSplit maps a split name to train, dev or test. "validation" is
// dev; MNLI's file-style names (dev_matched, test_mismatched, ...) also pick
// between mnli and mnli-mm, so the task may change.
func ResolveSplit(t Task, split string) (Task, string, error) {
	s := strings.ToLower(strings.TrimSpace(split))
	s = strings.ReplaceAll(s, "-", "_")
	if strings.HasPrefix(s, "validation") {
		s = "dev" + strings.TrimPrefix(s, "validation")
	}
	for _, suffix := range []string{"_matched", "_mismatched"} {
		if base, ok := strings.CutSuffix(s, suffix); ok && (base == "dev" || base == "test") {
			if t.Dir != "MNLI" {
				return t, "", fmt.Errorf("glue: %s has no split %q (only MNLI has matched/mismatched splits)", t.Name, split)
			}
			want := "mnli"
			if suffix == "_mismatched" {
				want = "mnli-mm"
			}
			t, _ = Lookup(want)
			s = base
		}
	}
	if _, ok := layouts[t.Name][s]; !ok {
		return t, "", fmt.Errorf("glue: %s has no split %q (splits: %s)", t.Name, split, strings.Join(t.Splits(), ", "))
	}
	return t, s, nil
}
