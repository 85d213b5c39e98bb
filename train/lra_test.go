package train

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// lraListOpsData generates a small ListOps set (short trees, so a test
// trains in well under a second) and returns its folder.
func lraListOpsData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "listops")
	opt := lra.DefaultListOpsOptions()
	opt.Seed, opt.MinLen, opt.MaxLen, opt.MaxDepth, opt.MaxArgs = 3, 20, 60, 5, 4
	if err := lra.GenerateListOpsSplits(dir, opt, lra.ListOpsCounts{Train: 160, Val: 48, Test: 48}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lraConfig writes a tiny LRA config: 2 layers of width 32, inputs of
// seq tokens, LRA's optimiser settings (rsqrt decay, beta2 0.98, wd 0.1).
func lraConfig(t *testing.T, dir, task, data string, seq int, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`kind = "finetune"
[finetune]
task = %q
data_dir = %q
eval_batch = 16
[model]
preset = "mini"
hidden_size = 32
num_layers = 2
intermediate_size = 64
heads = 2
dropout = 0.1
[data]
seq_len = %d
batch_size = 8
[train]
steps = 30
lr = 2e-3
warmup_steps = 5
decay = "rsqrt"
weight_decay = 0.1
adam_beta2 = 0.98
adam_eps = 1e-9
threads = 2
[eval]
every = 10
[checkpoint]
every = 10
keep = 1
[log]
every = 2
[run]
dir = %q
%s`, task, data, seq, filepath.Join(dir, "runs"), extra)
	p := filepath.Join(dir, task+".toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lraTestLine is the run's "test" metrics line.
func lraTestLine(t *testing.T, run string) (int, map[string]float64) {
	t.Helper()
	lines := metricsBySplit(t, run, "test")
	if len(lines) != 1 {
		t.Fatalf("%s: %d test metrics lines, want 1: %v", run, len(lines), lines)
	}
	for step, v := range lines {
		return step, v
	}
	return 0, nil
}

// TestLRAListOpsEveryArchitecture trains each architecture a few steps on
// generated ListOps and checks what a user relies on: the run finishes,
// validation accuracy is logged, and the test accuracy comes from the best
// validation checkpoint — its step, its score — and agrees with the
// predictions file it wrote, scored independently.
func TestLRAListOpsEveryArchitecture(t *testing.T) {
	data := lraListOpsData(t)
	test, err := lra.ListOps.Load(data, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []struct{ name, set string }{
		{"fnet", ""}, {"bert", "model.architecture=bert"}, {"linear", "model.architecture=linear"},
		{"random", "model.architecture=random"}, {"ff_only", "model.architecture=ff_only"},
		{"hybrid", "model.attention_layers=1"},
	} {
		t.Run(arch.name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{ConfigPath: lraConfig(t, dir, "listops", data, 64, ""), RunName: arch.name}
			if arch.set != "" {
				o.Overrides = []string{arch.set}
			}
			run, err := Finetune(context.Background(), o, "")
			if err != nil {
				t.Fatal(err)
			}
			st, _ := rundir.ReadStatus(run)
			if st.State != rundir.StateDone || st.Task != "listops" || st.TotalSteps != 30 {
				t.Errorf("status %+v", st)
			}
			ev := metricsBySplit(t, run, "eval")
			for _, step := range []int{10, 20, 30} {
				if acc, ok := ev[step]["accuracy"]; !ok || acc < 0 || acc > 1 {
					t.Errorf("eval at step %d: %v", step, ev[step])
				}
			}
			best, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := best.Tokenizer.(lra.Vocab); !ok || v.Kind() != "lra-listops" {
				t.Errorf("best checkpoint's vocabulary: %T", best.Tokenizer)
			}
			wantArch, wantAttn := arch.name, 0
			if arch.name == "hybrid" {
				wantArch, wantAttn = "fnet", 1
			}
			if mc := best.Model.Config; mc.Architecture != wantArch || mc.AttentionLayers != wantAttn {
				t.Errorf("checkpoint architecture %q with %d attention layers, want %q with %d", mc.Architecture, mc.AttentionLayers, wantArch, wantAttn)
			}
			step, tv := lraTestLine(t, run)
			if step != best.Trainer.Step || int(tv["checkpoint_step"]) != best.Trainer.Step {
				t.Errorf("test line at step %d (checkpoint_step %v); the best checkpoint is step %d", step, tv["checkpoint_step"], best.Trainer.Step)
			}
			if best.Trainer.Score == nil || tv["val_accuracy"] != *best.Trainer.Score || ev[best.Trainer.Step]["accuracy"] != *best.Trainer.Score {
				t.Errorf("val accuracy %v of the scored checkpoint; best recorded %v, eval at its step %v", tv["val_accuracy"], best.Trainer.Score, ev[best.Trainer.Step])
			}
			preds, err := lra.ListOps.ReadPredictions(LRAPredictionsFile(run, lra.ListOps, "test"), len(test))
			if err != nil {
				t.Fatal(err)
			}
			acc, err := lra.ExampleAccuracy(preds, test)
			if err != nil || acc != tv["test_accuracy"] || acc != tv["accuracy"] {
				t.Errorf("predictions file scores %v (%v); the test line says %v", acc, err, tv)
			}
		})
	}
}

// TestLRATestUsesTheBestCheckpointNotTheLast: in this run (fixed seeds and
// threads) the best validation score is not at the last step; the test
// line must describe the best checkpoint — its step, and the test accuracy
// that checkpoint gets when scored again on its own.
func TestLRATestUsesTheBestCheckpointNotTheLast(t *testing.T) {
	data, dir := lraListOpsData(t), t.TempDir()
	run, err := Finetune(context.Background(), Options{ConfigPath: lraConfig(t, dir, "listops", data, 64, ""), RunName: "r", Overrides: []string{"train.lr=1e-2"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	best, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
	if err != nil {
		t.Fatal(err)
	}
	if best.Trainer.Step == 30 {
		t.Fatal("the fixture's best checkpoint is its last: change its seed or lr so the test checks something")
	}
	step, tv := lraTestLine(t, run)
	if step != best.Trainer.Step || int(tv["checkpoint_step"]) != best.Trainer.Step {
		t.Errorf("test line at step %d (checkpoint_step %v), the best checkpoint is step %d", step, tv["checkpoint_step"], best.Trainer.Step)
	}
	acc, _, err := PredictLRASplit(context.Background(), best, data, "test", "", Inference{}, 16)
	if err != nil {
		t.Fatal(err)
	}
	if acc != tv["test_accuracy"] {
		t.Errorf("the best checkpoint scores %v on test, the test line says %v", acc, tv["test_accuracy"])
	}
}

// TestLRAResumeIsExact: a ListOps run stopped at step 13 and resumed logs
// the same losses afterwards as one that never stopped, and ends with the
// same test accuracy.
func TestLRAResumeIsExact(t *testing.T) {
	data, dir := lraListOpsData(t), t.TempDir()
	cfg := lraConfig(t, dir, "listops", data, 64, "")
	ctx := context.Background()
	full, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "full"}, "")
	if err != nil {
		t.Fatal(err)
	}
	part, err := Finetune(ctx, Options{ConfigPath: cfg, RunName: "part", StopAfter: 13}, "")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("StopAfter: %v", err)
	}
	if _, err := Finetune(ctx, Options{Resume: part}, ""); err != nil {
		t.Fatal(err)
	}
	a, b := metricsBySplit(t, full, "train"), metricsBySplit(t, part, "train")
	for step := 16; step <= 30; step += 2 {
		if a[step]["loss"] != b[step]["loss"] || a[step]["loss"] == 0 {
			t.Errorf("step %d: loss %v vs resumed %v", step, a[step]["loss"], b[step]["loss"])
		}
	}
	_, ta := lraTestLine(t, full)
	_, tb := lraTestLine(t, part)
	if ta["test_accuracy"] != tb["test_accuracy"] || ta["checkpoint_step"] != tb["checkpoint_step"] {
		t.Errorf("test %v vs resumed %v", ta, tb)
	}
}

// writeACLIMDB writes an aclImdb-shaped folder: train/{pos,neg} and
// test/{pos,neg} of short reviews whose class shows in their words.
func writeACLIMDB(t *testing.T, root string, perClass int) {
	t.Helper()
	pos := []string{"a great film, wonderful acting", "loved it, great and wonderful", "wonderful! a great story"}
	neg := []string{"an awful film, terrible acting", "hated it, awful and terrible", "terrible! an awful story"}
	for _, split := range []string{"train", "test"} {
		for class, texts := range map[string][]string{"pos": pos, "neg": neg} {
			d := filepath.Join(root, "aclImdb", split, class)
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range perClass {
				text := fmt.Sprintf("Review %d of %s. %s<br /><br />", i, split, texts[i%len(texts)])
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%d_%d.txt", i, 1+i%10)), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestLRATextLearnsBytes trains the byte-level Text task on an
// aclImdb-shaped fixture whose classes differ in their words: the model
// must learn them from raw bytes (test accuracy far above the 0.5 of a
// guess), validating on the test split as LRA does for aclImdb.
func TestLRATextLearnsBytes(t *testing.T) {
	dir := t.TempDir()
	writeACLIMDB(t, dir, 48)
	run, err := Finetune(context.Background(), Options{ConfigPath: lraConfig(t, dir, "text", dir, 80, ""), RunName: "text",
		Overrides: []string{"train.steps=60", "eval.every=20"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, tv := lraTestLine(t, run)
	if tv["test_accuracy"] < 0.9 || tv["val_accuracy"] != tv["test_accuracy"] {
		t.Errorf("test line %v: want the words learned (accuracy ≥ 0.9) and val = test for aclImdb", tv)
	}
	ck, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Model.Config.VocabSize != lra.Text.VocabSize() || ck.Model.Config.SeqLen != 80 || ck.Model.Config.NumLabels != 2 {
		t.Errorf("model %s, %d labels", ck.Model.Config, ck.Model.Config.NumLabels)
	}
}

// TestLRAConfigErrors: what an LRA run refuses, before any run folder
// exists, in config words.
func TestLRAConfigErrors(t *testing.T) {
	data := lraListOpsData(t)
	for _, c := range []struct {
		name string
		set  []string
		from string
		want string
	}{
		{"no data", []string{`finetune.data_dir=""`}, "", "finetune.data_dir"},
		{"missing data", []string{"finetune.data_dir=/nonexistent/listops"}, "", "fnet-tui lra generate listops"},
		{"vocab size", []string{"model.vocab_size=100"}, "", "model.vocab_size = 100"},
		{"pretrained", nil, "/some/checkpoint", "trains from scratch"},
		{"unknown task", []string{"finetune.task=listopz"}, "", "not a GLUE task"},
		{"longer than positions", []string{"data.seq_len=128", "model.max_positions=64"}, "", "max_positions"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Finetune(context.Background(), Options{ConfigPath: lraConfig(t, dir, "listops", data, 64, ""), Overrides: c.set}, c.from)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
				t.Errorf("a runs folder was created for a refused config")
			}
		})
	}
}

// TestLRAVocabFileRefusesUnknownKinds: a checkpoint naming a vocabulary
// that does not exist is refused with the file's name.
func TestLRAVocabFileRefusesUnknownKinds(t *testing.T) {
	p := filepath.Join(t.TempDir(), LRAVocabFile)
	os.WriteFile(p, []byte("lra-images\n"), 0o644)
	if _, err := loadCheckpointTokenizer(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "lra-images") {
		t.Errorf("err = %v", err)
	}
	os.WriteFile(p, []byte("lra-bytes\n"), 0o644)
	if v, err := loadCheckpointTokenizer(p); err != nil || v.Kind() != "lra-bytes" || v.VocabSize() != lra.Text.VocabSize() {
		t.Errorf("lra-bytes: %v, %v", v, err)
	}
}
