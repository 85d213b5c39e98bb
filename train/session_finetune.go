package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/glue"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Finetune runs (or resumes) GLUE finetuning: from a pretraining checkpoint
// (its encoder, pooler and tokenizer; a fresh classifier) or from scratch.
// When it ends it writes test-set predictions of the best dev checkpoint
// to the run's predictions/ folder.
func Finetune(ctx context.Context, o Options, from string) (string, error) {
	var rp *resumePoint
	if o.Resume != "" {
		var err error
		if rp, err = findResume(o.Resume); err != nil {
			return "", err
		}
	}
	cfg, err := loadRunConfig(o, rp)
	if err != nil {
		return "", err
	}
	if cfg.Kind != "finetune" {
		return "", fmt.Errorf("%s: kind = %q; use `fnet-tui pretrain` for pretraining configs", cfg.Path, cfg.Kind)
	}
	if from != "" {
		cfg.Finetune.From = from
	}
	applyThreads(cfg)
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	pre := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	task, err := glue.Lookup(cfg.Finetune.Task)
	if err != nil {
		return "", fmt.Errorf("finetune.task: %w", err)
	}
	if task.ModelTask != task.Name {
		return "", fmt.Errorf("finetune.task = %s: train the %s model; %s is evaluated through it", task.Name, task.ModelTask, task.Display)
	}
	glueDir := expandPath(cfg.Finetune.GlueDir)
	if glueDir == "" {
		if glueDir, err = glue.DefaultDir(); err != nil {
			return "", err
		}
	}

	// model and tokenizer
	var mc fnet.Config
	var params map[string][]float32
	var tok tokenizer.Tokenizer
	heads := fnet.ClassifierHeads
	var ls loopState
	switch {
	case rp != nil:
		m := rp.ckpt.Model
		mc, params, tok = m.Config, m.Params, rp.ckpt.Tokenizer
		ls = loadResumeState(rp)
	case cfg.Finetune.From != "":
		ck, err := LoadCheckpoint(expandPath(cfg.Finetune.From))
		if err != nil {
			return "", fmt.Errorf("finetune.from: %w", err)
		}
		if ck.Tokenizer == nil {
			return "", fmt.Errorf("finetune.from: %s has no tokenizer", ck.Dir)
		}
		mc, tok = ck.Model.Config, ck.Tokenizer
		mc.NumLabels, mc.Task = task.NumClasses(), task.Name
		if cfg.Data.SeqLen > 0 {
			if cfg.Data.SeqLen > mc.MaxPositions {
				return "", fmt.Errorf("data.seq_len %d exceeds the checkpoint's max_position_embeddings %d", cfg.Data.SeqLen, mc.MaxPositions)
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
			return "", fmt.Errorf("finetune.from: %s: %w", ck.Dir, err)
		}
		pre("finetuning from %s (%s); fresh: %s", ck.Dir, ck.Model.Config, strings.Join(fresh, ", "))
	default:
		if mc, err = cfg.ModelConfig(); err != nil {
			return "", fmt.Errorf("%s: %w", cfg.Path, err)
		}
		if cfg.Data.Tokenizer == "" || cfg.Data.Tokenizer == "auto" {
			return "", fmt.Errorf("finetuning from scratch needs data.tokenizer: a .model or vocab.txt path (e.g. a pretraining checkpoint's tokenizer.model, to compare like with like)")
		}
		if tok, err = tokenizer.Load(expandPath(cfg.Data.Tokenizer)); err != nil {
			return "", fmt.Errorf("data.tokenizer: %w", err)
		}
		mc.VocabSize, mc.PadTokenID = tok.VocabSize(), tok.Special().Pad
		mc.NumLabels, mc.Task = task.NumClasses(), task.Name
		pre("finetuning from scratch: %s", mc)
	}
	if err := mc.Validate(); err != nil {
		return "", err
	}

	// data
	trainEx, err := glue.Load(glueDir, task.Name, "train")
	if err != nil {
		return "", err
	}
	if cfg.Finetune.MaxTrain > 0 && len(trainEx) > cfg.Finetune.MaxTrain {
		trainEx = trainEx[:cfg.Finetune.MaxTrain]
	}
	trainEnc, err := glue.Tokenize(tok, task, trainEx, mc.SeqLen, glue.TruncateTail)
	if err != nil {
		return "", err
	}
	metric := task.ScoreMetric
	if m := cfg.Finetune.Metric; m != "" {
		if !slices.Contains(task.Metrics, m) {
			return "", fmt.Errorf("finetune.metric = %q: %s reports %s", m, task.Display, strings.Join(task.Metrics, ", "))
		}
		metric = m
	}
	job := &finetuneJob{task: task, train: trainEnc, batch: cfg.Data.BatchSize, evalB: cfg.Finetune.EvalBatch, seed: cfg.Train.Seed, metric: metric}
	if job.batch == 0 {
		job.batch = 32
	}
	if job.batch > trainEnc.Len() {
		return "", fmt.Errorf("data.batch_size %d exceeds the %d training examples", job.batch, trainEnc.Len())
	}
	devTasks := []glue.Task{task}
	if task.Name == "mnli" {
		mm, _ := glue.Lookup("mnli-mm")
		devTasks = append(devTasks, mm)
	}
	for i, dt := range devTasks {
		ex, err := glue.Load(glueDir, dt.Name, "dev")
		if err != nil {
			return "", err
		}
		if cfg.Finetune.MaxEval > 0 && len(ex) > cfg.Finetune.MaxEval {
			ex = ex[:cfg.Finetune.MaxEval]
		}
		enc, err := glue.Tokenize(tok, dt, ex, mc.SeqLen, glue.TruncateTail)
		if err != nil {
			return "", err
		}
		suffix := ""
		if i > 0 {
			suffix = "_mm"
		}
		job.devs = append(job.devs, devSet{task: dt, enc: enc, examples: ex, suffix: suffix})
	}
	if rp != nil {
		if err := json.Unmarshal(rp.ckpt.Trainer.Data, &job.pos); err != nil {
			return "", fmt.Errorf("%s: data state: %w", filepath.Join(rp.ckpt.Dir, TrainerFile), err)
		}
	}

	// schedule: the official 3 epochs with 10% warmup unless steps are given
	if cfg.Train.Steps == 0 {
		cfg.Train.Steps = max(1, int(math.Round(cfg.Finetune.Epochs*float64(trainEnc.Len())/float64(job.batch))))
	}
	if cfg.Train.WarmupSteps == 0 {
		cfg.Train.WarmupSteps = int(cfg.Finetune.WarmupFrac * float64(cfg.Train.Steps))
	}
	if cfg.Eval.Every == 0 {
		// official: every 5% of training, rounded up to a multiple of 10 steps
		cfg.Eval.Every = max(10, int(math.Ceil(0.05*float64(cfg.Train.Steps)/10))*10)
	}
	if rp != nil && ls.step >= cfg.Train.Steps {
		return rp.runDir, fmt.Errorf("--resume: the checkpoint is at step %d, which is already the last (%d)", ls.step, cfg.Train.Steps)
	}

	runDir := ""
	if rp != nil {
		runDir = rp.runDir
	} else {
		runDir = newRunDir(cfg, "finetune", "glue-")
	}
	sess, err := startSession(cfg, "finetune", task.Name, runDir, rp, mc, heads, params, ls.step, out)
	if err != nil {
		return runDir, err
	}
	run, eng := sess.run, sess.eng
	run.Logf("finetune %s on %s: model %s, %d train / %d dev examples (%d truncated), batch %d, %d steps (warmup %d), eval every %d, device %s",
		filepath.Base(runDir), task.Display, mc, trainEnc.Len(), job.devs[0].enc.Len(), trainEnc.Truncated, job.batch, cfg.Train.Steps, cfg.Train.WarmupSteps, cfg.Eval.Every, eng.Device())
	l := sess.newLoop(cfg, job, tok, ls, job.batch*mc.SeqLen, o.StopAfter)
	if rp != nil {
		l.best = bestScore(runDir)
	}
	err = sess.finish(l, l.runLoop(ctx), func() {
		if l.best != nil {
			run.Logf("best dev %s: %.4f (checkpoints/%s)", metric, *l.best, BestLink)
		}
		inf := Inference{Device: cfg.Train.Device, Precision: cfg.Train.Precision, Note: run.Logf}
		if err := writeTestPredictions(ctx, runDir, glueDir, task, inf, run.Logf); err != nil {
			run.Logf("warning: test predictions: %v", err)
		}
	})
	return runDir, err
}

// writeTestPredictions runs the best checkpoint over the task's test split
// (and MNLI's mismatched test and the diagnostic set) into predictions/.
func writeTestPredictions(ctx context.Context, runDir, glueDir string, task glue.Task, inf Inference, logf func(string, ...any)) error {
	ckDir := filepath.Join(runDir, rundir.CheckpointsDir, BestLink)
	if _, err := os.Stat(ckDir); err != nil {
		ckDir = filepath.Join(runDir, rundir.CheckpointsDir, rundir.LatestLink)
	}
	ck, err := LoadCheckpoint(ckDir)
	if err != nil {
		return err
	}
	files, err := PredictTasks(ctx, ck, glueDir, TasksPredictedBy(task), filepath.Join(runDir, rundir.PredictionsDir), inf)
	for _, f := range files {
		logf("test predictions: %s", f)
	}
	return err
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
		ex, err := glue.Load(glueDir, t.Name, "test")
		var me *glue.MissingError
		if errors.As(err, &me) {
			missing = append(missing, me.Error())
			continue
		}
		if err != nil {
			return written, err
		}
		enc, err := glue.Tokenize(ck.Tokenizer, t, ex, cfg.SeqLen, glue.TruncateTail)
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
		return written, fmt.Errorf("no test file for: %s", strings.Join(missing, "; "))
	}
	return written, nil
}

// bestScore is the dev score recorded in the run's best checkpoint, so a
// resumed run only replaces it with a better one.
func bestScore(runDir string) *float64 {
	b, err := os.ReadFile(filepath.Join(runDir, rundir.CheckpointsDir, BestLink, TrainerFile))
	if err != nil {
		return nil
	}
	var ts TrainerState
	if json.Unmarshal(b, &ts) != nil {
		return nil
	}
	return ts.Score
}
