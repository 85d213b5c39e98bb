package pretrain

import (
	"context"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Examples is a finite, deterministic pass over the held-out split for
// evaluation: documents in sorted corpus order, no shuffling, the same
// packing and masking as training with generators seeded by opt.Seed, so
// every evaluation of a run sees the same batches. The last batch may hold
// fewer than BatchSize rows; after it Next returns io.EOF.
type Examples struct {
	s *Stream
}

// NewEval starts a pass over the held-out split of c (opt.Split and
// opt.ShuffleBuffer are ignored), stopping after opt.EvalBatches batches if
// that is set. A pass that yields no example fails with ErrNoExamples.
func NewEval(c *corpus.Corpus, tok tokenizer.Tokenizer, opt Options) (*Examples, error) {
	return NewEvalSplit(c, tok, opt, corpus.HeldOut)
}

// NewEvalSplit is NewEval over the documents of split: corpus.HeldOut,
// corpus.Train or corpus.All (`fnet-tui eval --split`).
func NewEvalSplit(c *corpus.Corpus, tok tokenizer.Tokenizer, opt Options, split corpus.Split) (*Examples, error) {
	opt.Split, opt.ShuffleBuffer = split, 1
	o, b, c, err := prepare(c, tok, opt)
	if err != nil {
		return nil, err
	}
	return &Examples{s: &Stream{p: startPipeline(c, b, o, initialState(c, o), true)}}, nil
}

// Next returns the next batch, or io.EOF after the last.
func (e *Examples) Next(ctx context.Context) (*fnet.Batch, error) {
	b, _, err := e.s.Next(ctx)
	return b, err
}

// Close stops the background goroutines; it is idempotent.
func (e *Examples) Close() { e.s.Close() }
