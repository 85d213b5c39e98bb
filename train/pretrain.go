package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/pretrain"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// pretrainJob feeds the loop masked-LM + NSP batches from a corpus.
type pretrainJob struct {
	corpus *corpus.Corpus
	tok    tokenizer.Tokenizer
	opt    pretrain.Options
	stream *pretrain.Stream
	state  pretrain.State
	evalN  int
	warned bool // the held-out split turned out empty (said once)
}

func newPretrainJob(cfg Config, c *corpus.Corpus, tok tokenizer.Tokenizer, resume *pretrain.State) (*pretrainJob, error) {
	opt, err := cfg.pretrainOptions()
	if err != nil {
		return nil, err
	}
	j := &pretrainJob{corpus: c, tok: tok, opt: opt, evalN: cfg.Eval.Batches}
	if resume != nil {
		j.stream, err = pretrain.Resume(c, tok, opt, *resume)
		j.state = *resume
	} else {
		j.stream, err = pretrain.New(c, tok, opt)
	}
	if err != nil {
		return nil, inConfigWords(err)
	}
	return j, nil
}

// pretrainOptions are the data pipeline's options as the config sets them,
// at the model's sequence length (data.seq_len, else the preset's).
func (c Config) pretrainOptions() (pretrain.Options, error) {
	mc, err := c.ModelConfig()
	if err != nil {
		return pretrain.Options{}, err
	}
	return pretrain.Options{
		SeqLen: mc.SeqLen, BatchSize: c.Data.BatchSize, MaskRate: c.Data.MaskRate,
		MaxPredictions: c.Data.MaxPredictions, Seed: c.Train.Seed, Workers: c.Data.Workers,
		ShuffleBuffer: c.Data.ShuffleBuffer, Split: corpus.Train,
	}, nil
}

// optionKeys names the config key behind each pretrain.Options field.
var optionKeys = map[string]string{
	"SeqLen": "data.seq_len", "BatchSize": "data.batch_size", "MaskRate": "data.mask_rate",
	"MaxPredictions": "data.max_predictions", "Workers": "data.workers", "ShuffleBuffer": "data.shuffle_buffer",
	"EvalBatches": "eval.batches",
}

// inConfigWords rewrites a pipeline option error in the config's words
// ("data.max_predictions = 1000: want 1 to the sequence length (128)").
func inConfigWords(err error) error {
	var oe *pretrain.OptionError
	if errors.As(err, &oe) {
		if key, ok := optionKeys[oe.Field]; ok {
			return fmt.Errorf("%s = %v: %s", key, oe.Value, oe.Want)
		}
	}
	return err
}

func (j *pretrainJob) next(ctx context.Context) (*fnet.Batch, error) {
	b, st, err := j.stream.Next(ctx)
	if err != nil {
		return nil, err
	}
	j.state = st
	return b, nil
}

func (j *pretrainJob) dataState() (json.RawMessage, error) { return json.Marshal(j.state) }

func (j *pretrainJob) waitTime() (time.Duration, time.Duration) { return j.stream.WaitTime() }

func (j *pretrainJob) loss(s fnet.Stats) float64 { return s.PretrainLoss() }

func (j *pretrainJob) trainValues(s fnet.Stats) map[string]float64 {
	return map[string]float64{
		"loss": s.PretrainLoss(), "mlm_loss": s.MLMLoss(), "nsp_loss": s.NSPLoss(),
		"mlm_acc": s.MLMAcc(), "nsp_acc": s.NSPAcc(),
	}
}

func (j *pretrainJob) trainSummary(v map[string]float64) string {
	return fmt.Sprintf("loss %.4f | mlm %.4f (acc %.3f) | nsp %.4f (acc %.3f)", v["loss"], v["mlm_loss"], v["mlm_acc"], v["nsp_loss"], v["nsp_acc"])
}

// evaluate runs the held-out split (the same examples every time: the eval
// stream is a fixed-order pass with seeded masking).
func (j *pretrainJob) evaluate(ctx context.Context, eng fnet.Engine) (evalResult, error) {
	s, err := EvaluateCorpus(ctx, eng, j.corpus.Split(corpus.HeldOut), j.tok, j.opt, j.evalN)
	if errors.Is(err, pretrain.ErrNoExamples) {
		// a corpus too small for its held-out fraction: say so once, keep training
		if !j.warned {
			j.warned = true
			return evalResult{summary: fmt.Sprintf("no held-out examples: the held-out split (%.3g of the documents) of %s is empty or too short; raise data.held_out", j.corpus.HeldOut(), j.corpus.Spec())}, nil
		}
		return evalResult{}, nil
	}
	if err != nil {
		return evalResult{}, err
	}
	vals := map[string]float64{"loss": s.PretrainLoss(), "mlm_loss": s.MLMLoss(), "nsp_loss": s.NSPLoss(),
		"mlm_acc": s.MLMAcc(), "nsp_acc": s.NSPAcc(), "examples": float64(s.Examples)}
	return evalResult{values: vals, summary: fmt.Sprintf("loss %.4f | mlm %.4f (acc %.3f) | nsp %.4f (acc %.3f) | %d examples",
		vals["loss"], vals["mlm_loss"], vals["mlm_acc"], vals["nsp_loss"], vals["nsp_acc"], s.Examples)}, nil
}

func (j *pretrainJob) close() { j.stream.Close() }

// EvaluateCorpus sums the stats of up to maxBatches batches (0 = all) of a
// deterministic pass over the split c is restricted to (c.Split; All for a
// corpus as opened), masking seeded by opt.Seed.
func EvaluateCorpus(ctx context.Context, eng fnet.Engine, c *corpus.Corpus, tok tokenizer.Tokenizer, opt pretrain.Options, maxBatches int) (fnet.Stats, error) {
	opt.EvalBatches = maxBatches
	ex, err := pretrain.NewEvalSplit(c, tok, opt, c.CurrentSplit())
	if err != nil {
		return fnet.Stats{}, err
	}
	defer ex.Close()
	var total fnet.Stats
	for {
		b, err := ex.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, err
		}
		s, _, err := eng.Evaluate(b)
		if err != nil {
			return total, err
		}
		total.Add(s)
	}
	if total.Examples == 0 {
		return total, pretrain.ErrNoExamples
	}
	return total, nil
}
