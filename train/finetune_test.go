package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
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
		if gt, _ := glue.Lookup(task); ck.Trainer.Metric != gt.ScoreMetric || ck.Trainer.Score == nil {
			t.Errorf("%s: best checkpoint's trainer.json records %s = %v, want the %s it was chosen by", task, ck.Trainer.Metric, ck.Trainer.Score, gt.ScoreMetric)
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
		// the best checkpoint's dev predictions: glue score reads them and,
		// on the max_eval examples the run evaluated, finds the score the
		// checkpoint was chosen by
		devFile := filepath.Join(run, rundir.PredictionsDir, DevPredictionsDir, gt.SubmissionFile)
		preds, err := glue.ReadPredictions(devFile, gt)
		if err != nil {
			t.Fatalf("%s: dev predictions: %v", task, err)
		}
		dev, _ := glue.Load(gd, task, "dev")
		if len(preds) != len(dev) {
			t.Fatalf("%s: %d dev predictions for %d dev examples", task, len(preds), len(dev))
		}
		scores, err := glue.ScorePredictions(gt, preds[:40], dev[:40], devFile)
		if err != nil {
			t.Fatal(err)
		}
		if got := scores[gt.ScoreMetric]; math.Abs(got-*ck.Trainer.Score) > 1e-9 {
			t.Errorf("%s: dev predictions score %s = %v on the evaluated examples; the best checkpoint recorded %v", task, gt.ScoreMetric, got, *ck.Trainer.Score)
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

// TestTransferParams: finetuning from a checkpoint copies every encoder and
// pooler tensor, starts only the classifier fresh (seeded), and refuses a
// checkpoint that lacks an encoder tensor or holds one of the wrong size.
func TestTransferParams(t *testing.T) {
	mc := fnet.DefaultConfig()
	mc.VocabSize, mc.HiddenSize, mc.NumLayers, mc.IntermediateSize, mc.MaxPositions, mc.SeqLen = 50, 8, 2, 16, 16, 16
	mc.NumLabels = 3
	pretrained := fnet.InitParams(mc, fnet.PretrainingHeads, 7)
	got, fresh, err := transferParams(mc, fnet.ClassifierHeads, pretrained, 1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(fresh, ",") != fnet.ClsWeight+","+fnet.ClsBias {
		t.Errorf("fresh = %v, want only the classifier", fresh)
	}
	init := fnet.InitParams(mc, fnet.ClassifierHeads, 1)
	for _, ps := range fnet.ParamSpecs(mc, fnet.ClassifierHeads) {
		want := pretrained[ps.Name]
		if ps.Name == fnet.ClsWeight || ps.Name == fnet.ClsBias {
			want = init[ps.Name]
		}
		if len(got[ps.Name]) != len(want) {
			t.Fatalf("%s: %d values, want %d", ps.Name, len(got[ps.Name]), len(want))
		}
		for i := range want {
			if got[ps.Name][i] != want[i] {
				t.Fatalf("%s[%d] = %v, want %v", ps.Name, i, got[ps.Name][i], want[i])
			}
		}
	}
	for _, name := range []string{fnet.WordEmbName, fnet.PosEmbName, fnet.TypeEmbName, fnet.PoolerWeight} {
		if got[name][0] == init[name][0] && got[name][1] == init[name][1] {
			t.Errorf("%s equals the fresh initialisation: not transferred", name)
		}
	}

	// a masked-LM checkpoint has no pooler: it starts fresh too
	mlm := fnet.InitParams(mc, fnet.MaskedLMHeads, 7)
	if _, fresh, err := transferParams(mc, fnet.ClassifierHeads, mlm, 1); err != nil || len(fresh) != 4 {
		t.Errorf("masked-LM checkpoint: fresh %v, err %v; want pooler and classifier", fresh, err)
	}

	missing := map[string][]float32{}
	for k, v := range pretrained {
		missing[k] = v
	}
	delete(missing, fnet.LayerParam(1, fnet.FFInW))
	if _, _, err := transferParams(mc, fnet.ClassifierHeads, missing, 1); err == nil || !strings.Contains(err.Error(), fnet.LayerParam(1, fnet.FFInW)) {
		t.Errorf("missing encoder tensor: err %v", err)
	}
	missing[fnet.LayerParam(1, fnet.FFInW)] = make([]float32, 5)
	if _, _, err := transferParams(mc, fnet.ClassifierHeads, missing, 1); err == nil || !strings.Contains(err.Error(), "has 5 values") {
		t.Errorf("mis-shaped tensor: err %v", err)
	}
}
