package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
)

func glueDir(t *testing.T) string {
	d := filepath.Join("..", "..", "shared", "data", "glue")
	if _, err := os.Stat(filepath.Join(d, "RTE", "train.tsv")); err != nil {
		t.Skipf("GLUE data not found in %s", d)
	}
	return d
}

// TestFinetuneFromPretrainedCheckpoint pretrains a tiny model, finetunes it
// on a slice of STS-B (regression) and RTE (classification), and checks the
// run directory: dev metrics in metrics.jsonl, a best checkpoint with a
// classifier, test predictions in the submission format, exact resume.
func TestFinetuneFromPretrainedCheckpoint(t *testing.T) {
	gd := glueDir(t)
	dir := t.TempDir()
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre", Overrides: []string{"train.steps=4", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range []string{"stsb", "rte"} {
		cfg := `kind = "finetune"
[finetune]
task = "` + task + `"
glue_dir = "` + gd + `"
max_train = 96
max_eval = 40
eval_batch = 16
epochs = 1
[data]
seq_len = 32
batch_size = 8
[train]
lr = 1e-3
threads = 2
[log]
every = 2
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
		p := filepath.Join(dir, task+".toml")
		os.WriteFile(p, []byte(cfg), 0o644)
		run, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft-" + task}, pre)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := rundir.ReadStatus(run)
		if st.State != rundir.StateDone || st.Task != task || st.TotalSteps != 12 {
			t.Errorf("%s: status %+v", task, st)
		}
		ev := metricsBySplit(t, run, "eval")
		metric := map[string]string{"stsb": "spearman", "rte": "accuracy"}[task]
		if _, ok := ev[12][metric]; !ok {
			t.Errorf("%s: final eval lacks %s: %v", task, metric, ev[12])
		}
		ck, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
		if err != nil {
			t.Fatal(err)
		}
		if !ck.Model.Heads.Classifier || ck.Model.Config.Task != task {
			t.Errorf("%s: best checkpoint heads %+v task %q", task, ck.Model.Heads, ck.Model.Config.Task)
		}
		gt, _ := glue.Lookup(task)
		sub := filepath.Join(run, rundir.PredictionsDir, gt.SubmissionFile)
		b, err := os.ReadFile(sub)
		if err != nil {
			t.Fatalf("%s: no test predictions: %v", task, err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		test, _ := glue.Load(gd, task, "test")
		if lines[0] != "index\tprediction" || len(lines) != len(test)+1 {
			t.Errorf("%s: submission has %d lines for %d test examples (header %q)", task, len(lines), len(test), lines[0])
		}
	}
	// stop part-way and resume: the later steps' losses match a run that never stopped
	p := filepath.Join(dir, "rte.toml")
	full := filepath.Join(dir, "runs", "ft-rte")
	part, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft-rte-part", StopAfter: 5}, pre)
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: %v", err)
	}
	if _, err := Finetune(context.Background(), Options{Resume: part}, ""); err != nil {
		t.Fatal(err)
	}
	a, b := metricsBySplit(t, full, "train"), metricsBySplit(t, part, "train")
	for step := 8; step <= 12; step += 2 { // log windows (every 2 steps) wholly after the stop at 5
		if a[step]["loss"] != b[step]["loss"] || a[step]["loss"] == 0 {
			t.Errorf("step %d: loss %v vs resumed %v", step, a[step]["loss"], b[step]["loss"])
		}
	}
}

func TestFinetuneFromScratchNeedsATokenizer(t *testing.T) {
	cfg := "kind = \"finetune\"\n[finetune]\ntask = \"rte\"\n[data]\nseq_len = 32\nbatch_size = 4\n"
	p := filepath.Join(t.TempDir(), "x.toml")
	os.WriteFile(p, []byte(cfg), 0o644)
	_, err := Finetune(context.Background(), Options{ConfigPath: p}, "")
	if err == nil || !strings.Contains(err.Error(), "data.tokenizer") {
		t.Errorf("err = %v", err)
	}
}
