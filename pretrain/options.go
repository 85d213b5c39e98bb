// Package pretrain turns a corpus into FNet pretraining batches (masked LM +
// next-sentence prediction) the way the official FNet input pipeline does
// (google-research f_net/input_pipeline.py): consecutive lines of a document
// packed up to SeqLen-3 tokens, split at a random pivot into segments A and
// B, swapped with probability 1/2 (NSP label 1), laid out as
// [CLS] A [SEP] B [SEP] and padded, then 15% of the tokens masked 80/10/10.
//
// Examples are built by background goroutines, shuffled in fixed-size blocks,
// and depend only on the seed and the corpus, never on timing or the number
// of workers. Every batch comes with the State after it, from which Resume
// continues the stream exactly. See docs/DATA.md.
package pretrain

import (
	"fmt"
	"math"
	"runtime"

	"github.com/fnet-tui/fnet-tui/corpus"
)

// Options configure a Stream. Zero values take the defaults noted.
type Options struct {
	SeqLen    int // tokens per sequence, at least 8 (required)
	BatchSize int // sequences per batch (required)

	MaskRate       float64 // fraction of tokens to predict; 0 = 0.15
	MaxPredictions int     // masked-LM slots per sequence (Batch.K); 0 = round(80*SeqLen/512), at least 1
	Seed           uint64

	Workers       int // goroutines building examples; 0 = min(4, NumCPU)
	Prefetch      int // batches built ahead of the consumer; 0 = 4
	ShuffleBuffer int // examples shuffled together per block; 0 = 1024, 1 = no shuffling at all

	Split corpus.Split // documents to draw from: corpus.Train (the zero value), HeldOut or All

	EvalBatches int // NewEval only: stop after this many batches; 0 = the whole held-out split
}

// Defaults.
const (
	DefaultMaskRate      = 0.15
	DefaultPrefetch      = 4
	DefaultShuffleBuffer = 1024
	// Official max_predictions_per_seq at the official sequence length.
	officialMaxPredictions = 80
	officialSeqLen         = 512
	minSeqLen              = 8
)

// ScaledMaxPredictions is the official 80 predictions per 512 tokens scaled
// to seqLen and rounded, at least 1.
func ScaledMaxPredictions(seqLen int) int {
	return max(1, int(math.Round(float64(officialMaxPredictions*seqLen)/officialSeqLen)))
}

// OptionError names an Options field that is out of range. Callers that
// fill Options from a config file translate Field into their own key (the
// trainer reports data.max_predictions, not Options.MaxPredictions).
type OptionError struct {
	Field string // the Options field, e.g. "MaxPredictions"
	Value any
	Want  string // what the field must be, in words that need no Go names
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("pretrain: Options.%s = %v: %s", e.Field, e.Value, e.Want)
}

// Validate checks o as New and Resume will, without starting anything.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults validates o and fills in the defaults, naming the bad field.
func (o Options) withDefaults() (Options, error) {
	if o.SeqLen < minSeqLen {
		return o, &OptionError{Field: "SeqLen", Value: o.SeqLen, Want: fmt.Sprintf("want at least %d", minSeqLen)}
	}
	if o.BatchSize < 1 {
		return o, &OptionError{Field: "BatchSize", Value: o.BatchSize, Want: "want at least 1"}
	}
	if o.MaskRate == 0 {
		o.MaskRate = DefaultMaskRate
	}
	if !(o.MaskRate > 0 && o.MaskRate <= 1) {
		return o, &OptionError{Field: "MaskRate", Value: o.MaskRate, Want: "want a fraction in (0, 1]"}
	}
	if o.MaxPredictions == 0 {
		o.MaxPredictions = ScaledMaxPredictions(o.SeqLen)
	}
	if o.MaxPredictions < 1 || o.MaxPredictions > o.SeqLen {
		return o, &OptionError{Field: "MaxPredictions", Value: o.MaxPredictions, Want: fmt.Sprintf("want 1 to the sequence length (%d)", o.SeqLen)}
	}
	if o.Workers == 0 {
		o.Workers = min(4, runtime.NumCPU())
	}
	if o.Workers < 1 {
		return o, &OptionError{Field: "Workers", Value: o.Workers, Want: "want at least 1"}
	}
	if o.Prefetch == 0 {
		o.Prefetch = DefaultPrefetch
	}
	if o.Prefetch < 1 {
		return o, &OptionError{Field: "Prefetch", Value: o.Prefetch, Want: "want at least 1"}
	}
	if o.ShuffleBuffer == 0 {
		o.ShuffleBuffer = DefaultShuffleBuffer
	}
	if o.ShuffleBuffer < 1 {
		return o, &OptionError{Field: "ShuffleBuffer", Value: o.ShuffleBuffer, Want: "want at least 1"}
	}
	if o.Split != corpus.Train && o.Split != corpus.HeldOut && o.Split != corpus.All {
		return o, &OptionError{Field: "Split", Value: o.Split, Want: "not a split (want Train, HeldOut or All)"}
	}
	if o.EvalBatches < 0 {
		return o, &OptionError{Field: "EvalBatches", Value: o.EvalBatches, Want: "want 0 (all) or more"}
	}
	return o, nil
}
