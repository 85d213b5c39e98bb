package train

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// writeMNLI writes an MNLI-shaped GLUE folder: train, the matched and
// mismatched dev and test sets in the official column layout (parses and
// annotator labels included, gold_label last), and the AX diagnostic set,
// which MNLI's model predicts. Matched and mismatched sets differ in size
// and label mix, so scoring one in place of the other changes the numbers.
func writeMNLI(t *testing.T, dir string) map[string]int {
	t.Helper()
	words := []string{"the", "man", "woman", "dog", "sat", "ran", "on", "a", "mat", "park", "not", "some", "house", "green", "old"}
	labels := []string{"entailment", "neutral", "contradiction"}
	sentence := func(i, n int) string {
		var w []string
		for k := 0; k < n; k++ {
			w = append(w, words[(i*7+k*3+k*k)%len(words)])
		}
		return strings.Join(w, " ")
	}
	const head = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2"
	write := func(rel, header string, n, seed int, labelled bool, annot int, labelOf func(i int) string) {
		var b strings.Builder
		b.WriteString(header)
		if labelled {
			for k := 1; k <= annot; k++ {
				fmt.Fprintf(&b, "\tlabel%d", k)
			}
			b.WriteString("\tgold_label")
		}
		b.WriteString("\n")
		for i := 0; i < n; i++ {
			s1, s2 := sentence(seed+i, 4+i%5), sentence(seed+2*i+1, 3+i%4)
			if header == head {
				fmt.Fprintf(&b, "%d\t%d\t%dn\tfiction\t( %s )\t( %s )\t(ROOT %s)\t(ROOT %s)\t%s\t%s", i, 100+i, 100+i, s1, s2, s1, s2, s1, s2)
			} else {
				fmt.Fprintf(&b, "%d\t%s\t%s", i, s1, s2)
			}
			if labelled {
				l := labelOf(i)
				for k := 0; k < annot; k++ {
					b.WriteString("\t" + labels[(i+k)%3]) // annotators disagree; gold is last
				}
				b.WriteString("\t" + l)
			}
			b.WriteString("\n")
		}
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("MNLI/train.tsv", head, 96, 0, true, 1, func(i int) string { return labels[i%3] })
	write("MNLI/dev_matched.tsv", head, 30, 500, true, 5, func(i int) string { return labels[i%3] })
	write("MNLI/dev_mismatched.tsv", head, 21, 900, true, 5, func(i int) string { return labels[min(i%7, 2)] })
	write("MNLI/test_matched.tsv", head, 17, 1300, false, 0, nil)
	write("MNLI/test_mismatched.tsv", head, 13, 1700, false, 0, nil)
	write("diagnostic/diagnostic.tsv", "index\tsentence1\tsentence2", 11, 2100, false, 0, nil)
	return map[string]int{"MNLI-m.tsv": 17, "MNLI-mm.tsv": 13, "AX.tsv": 11}
}

// TestFinetuneMNLI runs the MNLI path end to end: two dev sets evaluated
// every time (the mismatched one under _mm names), each scored on its own
// examples, and at the end three submission files — matched, mismatched
// and the AX diagnostic — from MNLI's one model.
func TestFinetuneMNLI(t *testing.T) {
	dir := t.TempDir()
	gd := filepath.Join(dir, "glue")
	want := writeMNLI(t, gd)
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=2", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := `kind = "finetune"
[finetune]
task = "mnli"
glue_dir = "` + gd + `"
eval_batch = 8
epochs = 1
[data]
seq_len = 24
batch_size = 8
[train]
lr = 1e-3
threads = 2
[log]
every = 4
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
	p := filepath.Join(dir, "mnli.toml")
	os.WriteFile(p, []byte(cfg), 0o644)
	run, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft-mnli"}, pre)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := rundir.ReadStatus(run)
	if st.State != rundir.StateDone || st.TotalSteps != 12 {
		t.Fatalf("status %+v", st)
	}
	last := metricsBySplit(t, run, "eval")[12]
	for _, k := range []string{"accuracy", "loss", "accuracy_mm", "loss_mm"} {
		if _, ok := last[k]; !ok {
			t.Errorf("final eval lacks %s: %v", k, last)
		}
	}

	// each dev metric is the score of that dev set, recomputed here from
	// the final checkpoint
	ck, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, rundir.LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Trainer.Step != 12 || ck.Model.Config.NumLabels != 3 {
		t.Fatalf("latest checkpoint: step %d, %d labels", ck.Trainer.Step, ck.Model.Config.NumLabels)
	}
	eng, err := Inference{}.Engine(ck.Model.Config, ck.Model.Heads, ck.Model.Params)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, c := range []struct{ task, key string }{{"mnli", "accuracy"}, {"mnli-mm", "accuracy_mm"}} {
		task, _ := glue.Lookup(c.task)
		ex, err := glue.Load(gd, c.task, "dev")
		if err != nil {
			t.Fatal(err)
		}
		enc, err := glue.Tokenize(ck.Tokenizer, task, ex, ck.Model.Config.SeqLen)
		if err != nil {
			t.Fatal(err)
		}
		preds, _, err := Predict(context.Background(), eng, enc, 8)
		if err != nil {
			t.Fatal(err)
		}
		scores, err := glue.ScoreExamples(task, preds, ex)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(scores["accuracy"]-last[c.key]) > 1e-9 {
			t.Errorf("%s = %v in metrics.jsonl, but %s dev scores %v", c.key, last[c.key], task.Display, scores["accuracy"])
		}
	}

	// three submission files, one line per test example, NLI words as labels
	for file, n := range want {
		b, err := os.ReadFile(filepath.Join(run, rundir.PredictionsDir, file))
		if err != nil {
			t.Errorf("no %s: %v", file, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "index\tprediction" || len(lines) != n+1 {
			t.Errorf("%s: %d lines (header %q), want %d predictions", file, len(lines), lines[0], n)
			continue
		}
		for i, l := range lines[1:] {
			f := strings.Split(l, "\t")
			if len(f) != 2 || f[0] != fmt.Sprint(i) || !strings.Contains(" entailment neutral contradiction ", " "+f[1]+" ") {
				t.Errorf("%s line %d: %q", file, i+2, l)
				break
			}
		}
	}
}
