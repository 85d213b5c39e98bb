package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/lra"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Finetune runs (or resumes) GLUE finetuning: from a pretraining checkpoint
// (its encoder, pooler and tokenizer; a fresh classifier) or from scratch.
// When it ends it writes test-set predictions of the best dev checkpoint
// to the run's predictions/ folder. A Long Range Arena task
// (finetune.task = listops or text) trains from scratch (finetuneLRA).
func Finetune(ctx context.Context, o Options, from string) (dir string, err error) {
	defer func() { leaveOnError(o.Collective, err) }() // a rank that fails here aborts, not waits
	op, err := open(o, "finetune")
	if err != nil {
		return "", err
	}
	if from != "" {
		op.cfg.Finetune.From = from
	}
	if t, err := lra.Lookup(op.cfg.Finetune.Task); err == nil {
		return finetuneLRA(ctx, op, t, o.StopAfter)
	}
	task, err := glue.Lookup(op.cfg.Finetune.Task)
	if err != nil {
		return "", fmt.Errorf("finetune.task: %w", err)
	}
	if task.ModelTask != task.Name {
		return "", fmt.Errorf("finetune.task = %s: train the %s model; %s is evaluated through it", task.Name, task.ModelTask, task.Display)
	}
	glueDir := expandPath(op.cfg.Finetune.GlueDir)
	if glueDir == "" {
		if glueDir, err = glue.DefaultDir(); err != nil {
			return "", err
		}
	}
	mc, params, tok, err := finetuneModel(op, task)
	if err != nil {
		return "", err
	}
	j, err := newFinetuneJob(op, glueDir, task, tok, mc.SeqLen)
	if err != nil {
		return "", err
	}
	finetuneSchedule(&op.cfg, j.train.Len(), j.batch)
	cfg := op.cfg
	p := plan{kind: "finetune", task: task.Name, dirPrefix: "glue-", mc: mc, heads: fnet.ClassifierHeads, params: params, tok: tok,
		ls: op.resumeState(), tokensPerBatch: j.batch * mc.SeqLen, batch: j.batch, newJob: func() (job, error) { return j, nil }}
	p.describe = func(runDir string, eng fnet.Engine) string {
		return fmt.Sprintf("finetune %s on %s: model %s, %d train / %d dev examples (%d truncated), batch %d, %d steps (warmup %d), eval every %d, device %s",
			filepath.Base(runDir), task.Display, mc, j.train.Len(), j.devs[0].enc.Len(), j.train.Truncated, j.batch, cfg.Train.Steps, cfg.Train.WarmupSteps, cfg.Eval.Every, eng.Device())
	}
	if op.rp != nil {
		p.prepare = func(l *loop) { l.best = resumedBest(op.rp.runDir, task.ScoreMetric, j.metric, l.run.Logf) }
	}
	p.onDone = func(l *loop) error {
		if l.best != nil {
			l.run.Logf("best dev %s: %.4f (checkpoints/%s)", j.metric, *l.best, BestLink)
		}
		inf := Inference{Device: cfg.Train.Device, Precision: cfg.Train.Precision, Note: l.run.Logf}
		err := writeTestPredictions(ctx, l.run.Dir, glueDir, task, inf, l.run.Logf)
		var missing *MissingTestsError
		if errors.As(err, &missing) { // the data has no test split: nothing to predict, not a failure
			l.run.Logf("note: no test predictions for %s", missing)
			return nil
		}
		if err != nil {
			return fmt.Errorf("test predictions: %w (the trained checkpoints are kept; fnet-tui glue predict redoes them)", err)
		}
		return nil
	}
	return op.train(ctx, o.StopAfter, p)
}

// finetuneModel resolves the model, its initial weights and the tokenizer:
// a resumed run's checkpoint; a pretraining checkpoint's encoder with a
// fresh classifier (finetune.from); or fresh weights with data.tokenizer.
func finetuneModel(op *opening, task glue.Task) (fnet.Config, map[string][]float32, tokenizer.Tokenizer, error) {
	cfg, heads := op.cfg, fnet.ClassifierHeads
	var mc fnet.Config
	var params map[string][]float32
	var tok tokenizer.Tokenizer
	switch {
	case op.rp != nil:
		m := op.rp.ckpt.Model
		mc, params, tok = m.Config, m.Params, op.rp.ckpt.Tokenizer
	case cfg.Finetune.From != "":
		ck, err := LoadCheckpoint(expandPath(cfg.Finetune.From))
		if err != nil {
			return mc, nil, nil, fmt.Errorf("finetune.from: %w", err)
		}
		if ck.Tokenizer == nil {
			return mc, nil, nil, fmt.Errorf("finetune.from: %s has no tokenizer", ck.Dir)
		}
		mc, tok = ck.Model.Config, ck.Tokenizer
		mc.NumLabels, mc.Task = task.NumClasses(), task.Name
		if cfg.Data.SeqLen > 0 {
			if cfg.Data.SeqLen > mc.MaxPositions {
				return mc, nil, nil, fmt.Errorf("data.seq_len %d exceeds the checkpoint's max_position_embeddings %d", cfg.Data.SeqLen, mc.MaxPositions)
			}
			mc.SeqLen = cfg.Data.SeqLen
		}
		if cfg.Model.Dropout >= 0 {
			mc.DropoutProb = cfg.Model.Dropout
		}
		// the encoder (and the pooler, if pretraining had one) from the
		// checkpoint; a fresh classifier, initialised as the official code does
		var fresh []string
		if params, fresh, err = transferParams(mc, heads, ck.Model.Params, cfg.Train.Seed); err != nil {
			return mc, nil, nil, fmt.Errorf("finetune.from: %s: %w", ck.Dir, err)
		}
		op.say("finetuning from %s (%s); fresh: %s", ck.Dir, ck.Model.Config, strings.Join(fresh, ", "))
	default:
		var err error
		if mc, err = cfg.ModelConfig(); err != nil {
			return mc, nil, nil, fmt.Errorf("%s: %w", cfg.Path, err)
		}
		if cfg.Data.Tokenizer == "" || cfg.Data.Tokenizer == "auto" {
			return mc, nil, nil, fmt.Errorf("finetuning from scratch needs data.tokenizer: a .model or vocab.txt path (e.g. a pretraining checkpoint's tokenizer.model, to compare like with like)")
		}
		if tok, err = tokenizer.Load(expandPath(cfg.Data.Tokenizer)); err != nil {
			return mc, nil, nil, fmt.Errorf("data.tokenizer: %w", err)
		}
		mc.VocabSize, mc.PadTokenID = tok.VocabSize(), tok.Special().Pad
		mc.NumLabels, mc.Task = task.NumClasses(), task.Name
		op.say("finetuning from scratch: %s", mc)
	}
	return mc, params, tok, mc.Validate()
}

// newFinetuneJob loads and tokenizes the task's training and dev sets (MNLI
// also the mismatched dev set, reported with an _mm suffix) and, when
// resuming, the data cursor.
func newFinetuneJob(op *opening, glueDir string, task glue.Task, tok tokenizer.Tokenizer, seqLen int) (*finetuneJob, error) {
	cfg := op.cfg
	trainEx, err := glue.Load(glueDir, task.Name, "train")
	if err != nil {
		return nil, err
	}
	if cfg.Finetune.MaxTrain > 0 && len(trainEx) > cfg.Finetune.MaxTrain {
		trainEx = trainEx[:cfg.Finetune.MaxTrain]
	}
	trainEnc, err := glue.Tokenize(tok, task, trainEx, seqLen)
	if err != nil {
		return nil, err
	}
	metric := task.ScoreMetric
	if m := cfg.Finetune.Metric; m != "" {
		if !slices.Contains(task.Metrics, m) {
			return nil, fmt.Errorf("finetune.metric = %q: %s reports %s", m, task.Display, strings.Join(task.Metrics, ", "))
		}
		metric = m
	}
	j := &finetuneJob{task: task, train: trainEnc, batch: cfg.Data.BatchSize, evalB: cfg.Finetune.EvalBatch, metric: metric}
	if j.batch == 0 {
		j.batch = 32
	}
	if j.batch > trainEnc.Len() {
		return nil, fmt.Errorf("data.batch_size %d exceeds the %d training examples", j.batch, trainEnc.Len())
	}
	j.sampler = epochSampler{n: trainEnc.Len(), batch: j.batch, seed: cfg.Train.Seed}
	devTasks := []glue.Task{task}
	if task.Name == "mnli" {
		mm, _ := glue.Lookup("mnli-mm")
		devTasks = append(devTasks, mm)
	}
	for i, dt := range devTasks {
		ex, err := glue.Load(glueDir, dt.Name, "dev")
		if err != nil {
			return nil, err
		}
		if cfg.Finetune.MaxEval > 0 && len(ex) > cfg.Finetune.MaxEval {
			ex = ex[:cfg.Finetune.MaxEval]
		}
		enc, err := glue.Tokenize(tok, dt, ex, seqLen)
		if err != nil {
			return nil, err
		}
		suffix := ""
		if i > 0 {
			suffix = "_mm"
		}
		j.devs = append(j.devs, devSet{task: dt, enc: enc, examples: ex, suffix: suffix})
	}
	if op.rp != nil {
		if err := json.Unmarshal(op.rp.ckpt.Trainer.Data, &j.sampler.pos); err != nil {
			return nil, fmt.Errorf("%s: data state: %w", filepath.Join(op.rp.ckpt.Dir, TrainerFile), err)
		}
	}
	return j, nil
}

// finetuneSchedule fills what the config leaves to the task's size: the
// official 3 epochs with 10% warmup, evaluated every 5% of training
// (rounded up to a multiple of 10 steps).
func finetuneSchedule(cfg *Config, examples, batch int) {
	if cfg.Train.Steps == 0 {
		cfg.Train.Steps = max(1, int(math.Round(cfg.Finetune.Epochs*float64(examples)/float64(batch))))
	}
	if cfg.Train.WarmupSteps == 0 {
		cfg.Train.WarmupSteps = int(cfg.Finetune.WarmupFrac * float64(cfg.Train.Steps))
	}
	if cfg.Eval.Every == 0 {
		cfg.Eval.Every = max(10, int(math.Ceil(0.05*float64(cfg.Train.Steps)/10))*10)
	}
}

// writeTestPredictions runs the best checkpoint over the task's test split
// (and MNLI's mismatched test and the diagnostic set) into predictions/,
// and over its dev sets into predictions/dev/, in the same submission
// format, so `fnet-tui glue score --split dev` can check them.
func writeTestPredictions(ctx context.Context, runDir, glueDir string, task glue.Task, inf Inference, logf func(string, ...any)) error {
	ckDir := filepath.Join(runDir, rundir.CheckpointsDir, BestLink)
	if _, err := os.Stat(ckDir); err != nil {
		ckDir = filepath.Join(runDir, rundir.CheckpointsDir, rundir.LatestLink)
	}
	ck, err := LoadCheckpoint(ckDir)
	if err != nil {
		return err
	}
	predDir := filepath.Join(runDir, rundir.PredictionsDir)
	files, err := PredictSplit(ctx, ck, glueDir, DevTasksOf(task), "dev", filepath.Join(predDir, DevPredictionsDir), inf)
	for _, f := range files {
		logf("dev predictions: %s", f)
	}
	if err != nil {
		return fmt.Errorf("dev predictions: %w", err)
	}
	files, err = PredictTasks(ctx, ck, glueDir, TasksPredictedBy(task), predDir, inf)
	for _, f := range files {
		logf("test predictions: %s", f)
	}
	return err
}

// DevPredictionsDir is the folder of a finetuning run's predictions/ that
// holds its best checkpoint's dev-set predictions.
const DevPredictionsDir = "dev"

// DevTasksOf lists the labelled dev sets a task's model is scored on:
// MNLI's model also on MNLI-mm.
func DevTasksOf(task glue.Task) []glue.Task {
	out := []glue.Task{task}
	if task.Name == "mnli" {
		mm, _ := glue.Lookup("mnli-mm")
		out = append(out, mm)
	}
	return out
}

// TasksPredictedBy lists the submission files a task's model produces:
// MNLI's model also predicts MNLI-mm and the diagnostic set.
func TasksPredictedBy(task glue.Task) []glue.Task {
	out := []glue.Task{task}
	if task.Name == "mnli" {
		for _, n := range []string{"mnli-mm", "ax"} {
			t, _ := glue.Lookup(n)
			out = append(out, t)
		}
	}
	return out
}

// PredictTasks writes test-set predictions of a finetuned checkpoint in the
// GLUE submission format into outDir and returns the files written. Tasks
// whose test file is absent are skipped with an error listing them.
func PredictTasks(ctx context.Context, ck *Checkpoint, glueDir string, tasks []glue.Task, outDir string, inf Inference) ([]string, error) {
	return PredictSplit(ctx, ck, glueDir, tasks, "test", outDir, inf)
}

// PredictSplit is PredictTasks on any split (test or dev).
func PredictSplit(ctx context.Context, ck *Checkpoint, glueDir string, tasks []glue.Task, split, outDir string, inf Inference) ([]string, error) {
	if !ck.Model.Heads.Classifier {
		return nil, fmt.Errorf("%s has no classifier head (not a finetuned checkpoint)", ck.Dir)
	}
	if ck.Tokenizer == nil {
		return nil, fmt.Errorf("%s has no tokenizer", ck.Dir)
	}
	cfg := ck.Model.Config
	eng, err := inf.Engine(cfg, fnet.ClassifierHeads, ck.Model.Params)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	var missing []string
	for _, t := range tasks {
		if t.NumClasses() != cfg.NumLabels {
			return written, fmt.Errorf("%s has %d outputs; %s needs %d", ck.Dir, cfg.NumLabels, t.Display, t.NumClasses())
		}
		ex, err := glue.Load(glueDir, t.Name, split)
		var me *glue.MissingError
		if errors.As(err, &me) {
			missing = append(missing, me.Error())
			continue
		}
		if err != nil {
			return written, err
		}
		enc, err := glue.Tokenize(ck.Tokenizer, t, ex, cfg.SeqLen)
		if err != nil {
			return written, err
		}
		preds, _, err := Predict(ctx, eng, enc, 32)
		if err != nil {
			return written, err
		}
		if err := glue.WriteSubmission(outDir, t, glue.Indices(ex), preds); err != nil {
			return written, err
		}
		written = append(written, filepath.Join(outDir, t.SubmissionFile))
	}
	if len(missing) > 0 {
		return written, &MissingTestsError{Missing: missing}
	}
	return written, nil
}

// MissingTestsError is PredictSplit finding no file of the split for some
// tasks (data prepared without the test splits), as opposed to a file it
// could not read.
type MissingTestsError struct{ Missing []string }

func (e *MissingTestsError) Error() string {
	return "no test file for: " + strings.Join(e.Missing, "; ")
}

// resumedBest is the dev score of the run's best checkpoint, so a resumed
// run only replaces it with a better one — if it was chosen by the same
// metric. A best checkpoint picked by another finetune.metric (or none) is
// no bound: the next evaluation becomes the best, and the log says why.
// defaultMetric is the task's own metric, what checkpoints written before
// trainer.json named the metric were chosen by.
func resumedBest(runDir string, defaultMetric, metric string, logf func(string, ...any)) *float64 {
	b, err := os.ReadFile(filepath.Join(runDir, rundir.CheckpointsDir, BestLink, TrainerFile))
	if err != nil {
		return nil
	}
	var ts TrainerState
	if json.Unmarshal(b, &ts) != nil || ts.Score == nil {
		return nil
	}
	recorded := ts.Metric
	if recorded == "" {
		recorded = defaultMetric
	}
	if recorded != metric {
		logf("the best checkpoint so far was chosen by %s = %.4f; this run picks by %s, so its next evaluation starts a new best", recorded, *ts.Score, metric)
		return nil
	}
	return ts.Score
}
