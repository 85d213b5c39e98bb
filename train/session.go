package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
	"github.com/fnet-tui/fnet-tui/pretrain"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Options start a training run.
type Options struct {
	ConfigPath string   // the TOML config; may be empty when resuming
	Overrides  []string // key=value
	Resume     string   // a run directory or a checkpoint directory
	RunsDir    string   // overrides run.dir
	RunName    string   // overrides run.name
	// StopAfter, when positive, checkpoints and stops (as a signal would)
	// after this many steps of this invocation: time-boxed jobs.
	StopAfter int
	Out       io.Writer
}

// ErrStopped is returned when a signal stopped the run after checkpointing.
var ErrStopped = errStopped

// resumePoint is where a resumed run continues.
type resumePoint struct {
	runDir string
	ckpt   *Checkpoint
}

func findResume(path string) (*resumePoint, error) {
	runDir := path
	if _, err := os.Stat(filepath.Join(path, rundir.StatusFile)); err != nil {
		// a checkpoint directory: runs/<id>/checkpoints/step-N
		runDir = filepath.Dir(filepath.Dir(filepath.Clean(path)))
		if _, err := os.Stat(filepath.Join(runDir, rundir.StatusFile)); err != nil {
			return nil, fmt.Errorf("--resume %s: neither a run directory nor a checkpoint inside one", path)
		}
	}
	ck, err := LoadCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("--resume %s: %w", path, err)
	}
	if ck.Trainer == nil {
		return nil, fmt.Errorf("--resume %s: %s has no %s", path, ck.Dir, TrainerFile)
	}
	return &resumePoint{runDir: runDir, ckpt: ck}, nil
}

// loadRunConfig reads the config for a new or resumed run.
func loadRunConfig(o Options, rp *resumePoint) (Config, error) {
	path := o.ConfigPath
	if path == "" {
		if rp == nil {
			return Config{}, errors.New("no config: give -c CONFIG (or --resume RUN_DIR)")
		}
		path = filepath.Join(rp.runDir, rundir.ConfigFile)
	}
	cfg, err := LoadConfig(path, o.Overrides)
	if err != nil {
		return cfg, err
	}
	if rp != nil && o.ConfigPath == "" {
		// keep the original config's name for the run's records
		cfg.Path = path
	}
	if o.RunsDir != "" {
		cfg.Run.Dir = o.RunsDir
	}
	if o.RunName != "" {
		cfg.Run.Name = o.RunName
	}
	return cfg, nil
}

// Pretrain runs (or resumes) a pretraining job and returns its run directory.
func Pretrain(ctx context.Context, o Options) (string, error) {
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
	if cfg.Kind != "pretrain" {
		return "", fmt.Errorf("%s: kind = %q; use `fnet-tui finetune` for finetuning configs", cfg.Path, cfg.Kind)
	}
	applyThreads(cfg)
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	pre := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }

	c, err := corpus.Open(corpusSpec(cfg.Data.Corpus))
	if err != nil {
		return "", fmt.Errorf("data.corpus: %w", err)
	}
	if c, err = c.WithHeldOut(cfg.Data.HeldOut); err != nil {
		return "", fmt.Errorf("data.held_out: %w", err)
	}
	mc, err := cfg.ModelConfig()
	if err != nil {
		return "", fmt.Errorf("%s: %w", cfg.Path, err)
	}
	var tok tokenizer.Tokenizer
	if rp != nil {
		if tok = rp.ckpt.Tokenizer; tok == nil {
			return "", fmt.Errorf("--resume: checkpoint %s has no tokenizer file", rp.ckpt.Dir)
		}
	} else if tok, err = resolveTokenizer(cfg, c, mc.VocabSize, pre); err != nil {
		return "", err
	}
	if tok.VocabSize() != mc.VocabSize {
		pre("model: vocab_size %d follows the tokenizer (the preset has %d)", tok.VocabSize(), mc.VocabSize)
		mc.VocabSize = tok.VocabSize()
	}
	if sp := tok.Special(); sp.Mask < 0 || sp.CLS < 0 || sp.SEP < 0 || sp.Pad < 0 {
		return "", fmt.Errorf("data.tokenizer: the vocabulary lacks [CLS], [SEP], [MASK] or a pad piece (ids %+v)", sp)
	} else {
		mc.PadTokenID = sp.Pad
	}

	var params map[string][]float32
	var resumeState *pretrain.State
	runDir := ""
	var ls loopState
	if rp != nil {
		runDir = rp.runDir
		m := rp.ckpt.Model
		if m.Config.VocabSize != mc.VocabSize || m.Config.HiddenSize != mc.HiddenSize || m.Config.NumLayers != mc.NumLayers || m.Config.IntermediateSize != mc.IntermediateSize {
			return "", fmt.Errorf("--resume: checkpoint %s holds a %s model but the config describes %s", rp.ckpt.Dir, m.Config, mc)
		}
		params = m.Params
		var st pretrain.State
		if err := json.Unmarshal(rp.ckpt.Trainer.Data, &st); err != nil {
			return "", fmt.Errorf("%s: data state: %w", filepath.Join(rp.ckpt.Dir, TrainerFile), err)
		}
		resumeState = &st
		ls = loadResumeState(rp)
		if ls.step >= cfg.Train.Steps {
			return runDir, fmt.Errorf("--resume: the checkpoint is at step %d, which is already train.steps = %d (raise it with --set train.steps=N)", ls.step, cfg.Train.Steps)
		}
	} else {
		runDir = newRunDir(cfg, "pretrain", "pretrain-")
	}
	sess, err := startSession(cfg, "pretrain", "", runDir, rp, mc, fnet.PretrainingHeads, params, ls.step, out)
	if err != nil {
		return runDir, err
	}
	run, eng := sess.run, sess.eng
	job, err := newPretrainJob(cfg, c, tok, resumeState)
	if err != nil {
		return runDir, sess.fail(err)
	}
	defer job.close()
	run.Logf("pretrain %s: model %s (%d params), corpus %s, tokenizer %s (%d pieces), batch %d x %d (accum %d), %d steps, device %s",
		filepath.Base(runDir), mc, mc.NumParams(), c.Spec(), tok.Kind(), tok.VocabSize(), cfg.Data.BatchSize, mc.SeqLen, cfg.Train.GradAccum, cfg.Train.Steps, eng.Device())
	l := sess.newLoop(cfg, job, tok, ls, cfg.Data.BatchSize*mc.SeqLen, o.StopAfter)
	return runDir, sess.finish(l, l.runLoop(ctx), nil)
}

func stopAt(step, after int) int {
	if after > 0 {
		return step + after
	}
	return -1
}

// applyThreads sets the CPU thread count for the process, the kernels and OpenBLAS.
func applyThreads(cfg Config) {
	if n := cfg.Train.Threads; n > 0 {
		runtime.GOMAXPROCS(n)
		kernels.SetThreads(n)
	}
}

// newTerminal returns the writer progress lines go to (nil discards).
func newTerminal(w io.Writer) io.Writer {
	if w == io.Discard {
		return nil
	}
	return w
}
