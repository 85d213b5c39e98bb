package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// TestPretrainEveryArchitecture: each mixing of the paper pretrains (with
// dropout, accumulation and clipping), stops and resumes exactly, and its
// checkpoint records the architecture; bert's carries BERT's names.
func TestPretrainEveryArchitecture(t *testing.T) {
	for _, c := range []struct {
		arch  string
		extra []string
	}{
		{"bert", []string{"model.heads=4"}},
		{"linear", nil},
		{"random", nil},
		{"ff_only", nil},
		{"fnet", []string{"model.attention_layers=1", "model.attention_layout=\"bottom\"", "model.heads=2"}},
	} {
		t.Run(c.arch+strings.Join(c.extra, ","), func(t *testing.T) {
			dir := t.TempDir()
			cfg := tinyConfig(t, dir, "")
			set := append([]string{"model.architecture=\"" + c.arch + "\"", "train.steps=6", "eval.every=3", "checkpoint.every=2"}, c.extra...)
			full, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "full", Overrides: set})
			if err != nil {
				t.Fatal(err)
			}
			part, err := Pretrain(context.Background(), Options{ConfigPath: cfg, RunName: "part", Overrides: set, StopAfter: 3})
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("StopAfter: %v", err)
			}
			if _, err := Pretrain(context.Background(), Options{Resume: part}); err != nil {
				t.Fatalf("resume: %v", err)
			}
			a, b := metricsBySplit(t, full, "train"), metricsBySplit(t, part, "train")
			for step := 4; step <= 6; step++ {
				if a[step]["loss"] != b[step]["loss"] || a[step]["loss"] == 0 {
					t.Errorf("step %d: loss %v, resumed %v", step, a[step]["loss"], b[step]["loss"])
				}
			}
			ck, err := LoadCheckpoint(filepath.Join(full, rundir.CheckpointsDir, rundir.LatestLink))
			if err != nil {
				t.Fatal(err)
			}
			if ck.Model.Config.Arch() != c.arch || ck.Trainer.Step != 6 {
				t.Errorf("checkpoint: architecture %s at step %d", ck.Model.Config.ArchString(), ck.Trainer.Step)
			}
			if c.arch == "bert" {
				if _, ok := ck.Model.Params[fnet.EmbProjWeight]; ok {
					t.Error("bert checkpoint has an embedding projection")
				}
			}
		})
	}
}

// TestFinetuneBERTFromItsPretraining: a bert run finetunes from its own
// checkpoint like an FNet one (the encoder transfers, the classifier starts
// fresh), and a device = "cuda" run of it says the CUDA engine lacks it.
func TestFinetuneBERTFromItsPretraining(t *testing.T) {
	gd := glueDir(t)
	dir := t.TempDir()
	pre, err := Pretrain(context.Background(), Options{ConfigPath: tinyConfig(t, dir, ""), RunName: "pre",
		Overrides: []string{`model.architecture="bert"`, "model.heads=2", "train.steps=2", "eval.every=0"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := `kind = "finetune"
[finetune]
task = "rte"
glue_dir = "` + gd + `"
max_train = 32
max_eval = 16
eval_batch = 16
epochs = 1
[data]
seq_len = 32
batch_size = 8
[train]
lr = 1e-3
threads = 2
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
	p := filepath.Join(dir, "rte.toml")
	os.WriteFile(p, []byte(cfg), 0o644)
	run, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft"}, pre)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Model.Config.Arch() != "bert" || !ck.Model.Heads.Classifier {
		t.Errorf("finetuned checkpoint: %s, heads %s", ck.Model.Config.ArchString(), ck.Model.Heads)
	}
	if _, err := os.Stat(filepath.Join(run, rundir.PredictionsDir, "RTE.tsv")); err != nil {
		t.Errorf("no test predictions: %v", err)
	}
	_, err = Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft-gpu", Overrides: []string{`train.device="cuda"`}}, pre)
	if err == nil || !strings.Contains(err.Error(), "train.device") {
		t.Errorf("device cuda: %v", err)
	}
}
