package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/rundir"
)

// finetuneLRA trains a Long Range Arena task (finetune.task = listops or
// text) from scratch on the task's fixed vocabulary, with the shared loop:
// the validation split picks the best checkpoint, and at the end that
// checkpoint — never the last one — is scored on the test split, its
// predictions written to predictions/.
func finetuneLRA(ctx context.Context, op *opening, task lra.Task, stopAfter int) (string, error) {
	if op.cfg.Finetune.From != "" && op.rp == nil {
		return "", fmt.Errorf("finetune.from = %q: %s trains from scratch on its own %d-symbol vocabulary, so a pretrained checkpoint does not fit; leave finetune.from empty", op.cfg.Finetune.From, task.Display, task.VocabSize())
	}
	mc, params, err := lraModel(op, task)
	if err != nil {
		return "", err
	}
	dataDir := expandPath(op.cfg.Finetune.DataDir)
	j, err := newLRAJob(op, dataDir, task, mc.SeqLen)
	if err != nil {
		return "", err
	}
	finetuneSchedule(&op.cfg, j.train.Len(), j.sampler.batch)
	cfg := op.cfg
	p := plan{kind: "finetune", task: task.Name, dirPrefix: "lra-", mc: mc, heads: fnet.ClassifierHeads, params: params, tok: task.Vocab,
		ls: op.resumeState(), tokensPerBatch: j.sampler.batch * mc.SeqLen, batch: j.sampler.batch, newJob: func() (job, error) { return j, nil }}
	p.describe = func(runDir string, eng fnet.Engine) string {
		return fmt.Sprintf("%s %s from %s: model %s, %d train / %d val examples (%d / %d truncated to %d tokens), batch %d, %d steps (warmup %d, %s decay), eval every %d, device %s",
			task.Display, filepath.Base(runDir), dataDir, mc, j.train.Len(), j.val.Len(), j.train.Truncated, j.val.Truncated, mc.SeqLen,
			j.sampler.batch, cfg.Train.Steps, cfg.Train.WarmupSteps, cfg.Train.Decay, cfg.Eval.Every, eng.Device())
	}
	if op.rp != nil {
		p.prepare = func(l *loop) { l.best = resumedBest(op.rp.runDir, lraMetric, lraMetric, l.run.Logf) }
	}
	p.onDone = func(l *loop) error {
		if l.best != nil {
			l.run.Logf("best val %s: %.4f (checkpoints/%s)", lraMetric, *l.best, BestLink)
		}
		inf := Inference{Device: cfg.Train.Device, Precision: cfg.Train.Precision, Note: l.run.Logf}
		err := lraTestOfBest(ctx, l.run, dataDir, task, inf, j.evalB)
		if errors.Is(err, fs.ErrNotExist) {
			l.run.Logf("note: no test accuracy: %v", err)
			return nil
		}
		if err != nil {
			return fmt.Errorf("test accuracy: %w (the trained checkpoints are kept; fnet-tui lra predict redoes it)", err)
		}
		return nil
	}
	return op.train(ctx, stopAfter, p)
}

// lraModel is the model an LRA run trains: a resumed run's checkpoint, or
// the config's architecture with the task's vocabulary, classes and length
// (data.seq_len, else the task's LRA length; max_positions follows it
// unless set).
func lraModel(op *opening, task lra.Task) (fnet.Config, map[string][]float32, error) {
	if op.rp != nil {
		m := op.rp.ckpt.Model
		if m.Config.Task != task.Name {
			return m.Config, nil, fmt.Errorf("--resume: %s was trained for %q, the config says finetune.task = %q", op.rp.ckpt.Dir, m.Config.Task, task.Name)
		}
		return m.Config, m.Params, nil
	}
	c := op.cfg
	if v := c.Model.VocabSize; v != 0 && v != task.VocabSize() {
		return fnet.Config{}, nil, fmt.Errorf("%s: model.vocab_size = %d: %s's vocabulary has %d ids; leave model.vocab_size unset", c.Path, v, task.Display, task.VocabSize())
	}
	if c.Data.SeqLen == 0 {
		c.Data.SeqLen = task.SeqLen
	}
	if c.Model.MaxPositions == 0 {
		c.Model.MaxPositions = c.Data.SeqLen
	}
	mc, err := c.ModelConfig()
	if err != nil {
		return mc, nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	task.ApplyTo(&mc)
	mc.Task = task.Name
	op.say("%s from scratch: %s", task.Display, mc)
	return mc, nil, mc.Validate()
}

// newLRAJob loads and encodes the training and validation splits and,
// when resuming, the data cursor.
func newLRAJob(op *opening, dataDir string, task lra.Task, seqLen int) (*lraJob, error) {
	cfg := op.cfg
	load := func(split string, limit int) (*lra.Encoded, error) {
		ex, err := task.Load(dataDir, split)
		if err != nil {
			return nil, fmt.Errorf("finetune.data_dir: %w", err)
		}
		if limit > 0 && len(ex) > limit {
			ex = ex[:limit]
		}
		return task.Encode(ex, seqLen)
	}
	train, err := load("train", cfg.Finetune.MaxTrain)
	if err != nil {
		return nil, err
	}
	val, err := load("val", cfg.Finetune.MaxEval)
	if err != nil {
		return nil, err
	}
	batch := cfg.Data.BatchSize
	if batch == 0 {
		batch = 32
	}
	if batch > train.Len() {
		return nil, fmt.Errorf("data.batch_size %d exceeds the %d training examples", batch, train.Len())
	}
	j := &lraJob{task: task, train: train, val: val, evalB: cfg.Finetune.EvalBatch,
		sampler: epochSampler{n: train.Len(), batch: batch, seed: cfg.Train.Seed}}
	if op.rp != nil {
		if err := json.Unmarshal(op.rp.ckpt.Trainer.Data, &j.sampler.pos); err != nil {
			return nil, fmt.Errorf("%s: data state: %w", filepath.Join(op.rp.ckpt.Dir, TrainerFile), err)
		}
	}
	return j, nil
}

// LRAPredictionsFile is where a run keeps the predictions of its best
// checkpoint on split (val or test): predictions/<split>/<task>.tsv.
func LRAPredictionsFile(runDir string, task lra.Task, split string) string {
	return filepath.Join(runDir, rundir.PredictionsDir, split, task.Name+".tsv")
}

// lraTestOfBest scores the best checkpoint (latest when no evaluation
// chose one) on the validation and test splits, writes both predictions
// files and records the test accuracy as a metrics line of split "test"
// at the checkpoint's step. A missing test split is an fs.ErrNotExist.
func lraTestOfBest(ctx context.Context, run *Run, dataDir string, task lra.Task, inf Inference, batch int) error {
	ckDir := filepath.Join(run.Dir, rundir.CheckpointsDir, BestLink)
	if _, err := os.Stat(ckDir); err != nil {
		ckDir = filepath.Join(run.Dir, rundir.CheckpointsDir, rundir.LatestLink)
	}
	ck, err := LoadCheckpoint(ckDir)
	if err != nil {
		return err
	}
	step, name := 0, filepath.Base(ck.Dir)
	if ck.Trainer != nil {
		step = ck.Trainer.Step
	}
	if real, err := filepath.EvalSymlinks(ck.Dir); err == nil {
		name = filepath.Base(real) // best and latest are links
	}
	values := map[string]float64{"checkpoint_step": float64(step)}
	for _, split := range []string{"val", "test"} {
		acc, n, err := PredictLRASplit(ctx, ck, dataDir, split, LRAPredictionsFile(run.Dir, task, split), inf, batch)
		if err != nil {
			return err
		}
		values[split+"_"+lraMetric] = acc
		run.Logf("%s accuracy of the best checkpoint (%s): %.4f on %d examples; predictions/%s/%s.tsv", split, name, acc, n, split, task.Name)
	}
	values[lraMetric] = values["test_"+lraMetric]
	run.Metric(rundir.Metric{T: time.Now(), Step: step, Split: "test", Task: task.Name, Values: values})
	return nil
}

// PredictLRASplit runs an LRA checkpoint over one split of the task's
// data, writes the predictions file out (when out is not empty) and
// returns the accuracy and the number of examples.
func PredictLRASplit(ctx context.Context, ck *Checkpoint, dataDir, split, out string, inf Inference, batch int) (float64, int, error) {
	task, err := LRATaskOf(ck)
	if err != nil {
		return 0, 0, err
	}
	ex, err := task.Load(dataDir, split)
	if err != nil {
		return 0, 0, err
	}
	enc, err := task.Encode(ex, ck.Model.Config.SeqLen)
	if err != nil {
		return 0, 0, err
	}
	eng, err := inf.Engine(ck.Model.Config, fnet.ClassifierHeads, ck.Model.Params)
	if err != nil {
		return 0, 0, err
	}
	defer eng.Close()
	preds, _, err := PredictLRA(ctx, eng, enc, max(1, batch))
	if err != nil {
		return 0, 0, err
	}
	if out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return 0, 0, err
		}
		if err := task.WritePredictions(out, preds); err != nil {
			return 0, 0, err
		}
	}
	return lra.Accuracy(preds, enc), enc.Len(), nil
}

// LRATaskOf is the LRA task a checkpoint was trained for, refusing one
// that is not an LRA classifier.
func LRATaskOf(ck *Checkpoint) (lra.Task, error) {
	task, err := lra.Lookup(ck.Model.Config.Task)
	if err != nil || !ck.Model.Heads.Classifier {
		return lra.Task{}, fmt.Errorf("%s is not an LRA classifier (task %q); train one with fnet-tui finetune -c configs/lra-listops.toml", ck.Dir, ck.Model.Config.Task)
	}
	if v, ok := ck.Tokenizer.(lra.Vocab); !ok || v.Kind() != task.Vocab.Kind() {
		return lra.Task{}, fmt.Errorf("%s has no %s (the %s vocabulary) beside its weights", ck.Dir, LRAVocabFile, task.Vocab.Kind())
	}
	if ck.Model.Config.NumLabels != task.NumClasses() {
		return lra.Task{}, fmt.Errorf("%s has %d outputs; %s needs %d", ck.Dir, ck.Model.Config.NumLabels, task.Display, task.NumClasses())
	}
	return task, nil
}
