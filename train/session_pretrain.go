package train

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/pretrain"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Pretrain runs (or resumes) a pretraining job and returns its run directory.
func Pretrain(ctx context.Context, o Options) (dir string, err error) {
	defer func() { leaveOnError(o.Collective, err) }() // a rank that fails here aborts, not waits
	op, err := open(o, "pretrain")
	if err != nil {
		return "", err
	}
	cfg, rp := op.cfg, op.rp
	c, err := corpus.Open(corpusSpec(cfg.Data.Corpus))
	if err != nil {
		return "", fmt.Errorf("data.corpus: %w", err)
	}
	if c, err = c.WithHeldOut(cfg.Data.HeldOut); err != nil {
		return "", fmt.Errorf("data.held_out: %w", err)
	}
	mc, tok, err := pretrainModel(op, c)
	if err != nil {
		return "", err
	}
	p := plan{kind: "pretrain", dirPrefix: "pretrain-", mc: mc, heads: fnet.PretrainingHeads, tok: tok,
		ls: op.resumeState(), tokensPerBatch: cfg.Data.BatchSize * mc.SeqLen, batch: cfg.Data.BatchSize}
	var resumeData *pretrain.State
	if rp != nil {
		m := rp.ckpt.Model
		if m.Config.VocabSize != mc.VocabSize || m.Config.HiddenSize != mc.HiddenSize || m.Config.NumLayers != mc.NumLayers || m.Config.IntermediateSize != mc.IntermediateSize ||
			m.Config.ArchString() != mc.ArchString() {
			return "", fmt.Errorf("--resume: checkpoint %s holds a %s %s model but the config describes %s %s", rp.ckpt.Dir, m.Config.ArchString(), m.Config, mc.ArchString(), mc)
		}
		p.params = m.Params
		resumeData = new(pretrain.State)
		if err := json.Unmarshal(rp.ckpt.Trainer.Data, resumeData); err != nil {
			return "", fmt.Errorf("%s: data state: %w", filepath.Join(rp.ckpt.Dir, TrainerFile), err)
		}
	}
	p.newJob = func() (job, error) { return newPretrainJob(cfg, c, tok, resumeData) }
	p.describe = func(runDir string, eng fnet.Engine) string {
		return fmt.Sprintf("pretrain %s: model %s (%d params), corpus %s, tokenizer %s (%d pieces), batch %d x %d (accum %d), %d steps, device %s",
			filepath.Base(runDir), mc, mc.NumParams(), c.Spec(), tok.Kind(), tok.VocabSize(), cfg.Data.BatchSize, mc.SeqLen, cfg.Train.GradAccum, cfg.Train.Steps, eng.Device())
	}
	return op.train(ctx, o.StopAfter, p)
}

// pretrainModel resolves the model config and the tokenizer: the resumed
// checkpoint's tokenizer, or the configured one (trained on the corpus and
// cached when data.tokenizer = "auto"); the vocabulary size follows it.
func pretrainModel(op *opening, c *corpus.Corpus) (fnet.Config, tokenizer.Tokenizer, error) {
	cfg := op.cfg
	mc, err := cfg.ModelConfig()
	if err != nil {
		return mc, nil, fmt.Errorf("%s: %w", cfg.Path, err)
	}
	var tok tokenizer.Tokenizer
	if op.rp != nil {
		if tok = op.rp.ckpt.Tokenizer; tok == nil {
			return mc, nil, fmt.Errorf("--resume: checkpoint %s has no tokenizer file", op.rp.ckpt.Dir)
		}
	} else if tok, err = resolveTokenizer(cfg, c, mc.VocabSize, op.say); err != nil {
		return mc, nil, err
	}
	if tok.VocabSize() != mc.VocabSize {
		op.say("model: vocab_size %d follows the tokenizer (the preset has %d)", tok.VocabSize(), mc.VocabSize)
		mc.VocabSize = tok.VocabSize()
	}
	sp := tok.Special()
	if sp.Mask < 0 || sp.CLS < 0 || sp.SEP < 0 || sp.Pad < 0 {
		return mc, nil, fmt.Errorf("data.tokenizer: the vocabulary lacks [CLS], [SEP], [MASK] or a pad piece (ids %+v)", sp)
	}
	mc.PadTokenID = sp.Pad
	return mc, tok, nil
}
