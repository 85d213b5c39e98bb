package pretrain

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/corpus"
)

// stateVersion changes whenever the meaning of a State or the examples a
// seed produces change, so an old checkpoint is refused rather than resumed
// into a different stream.
const stateVersion = 1

// State is where a Stream stands after a batch, as plain JSON for
// trainer.json. The stream is a sequence of shuffle blocks; a block is the
// next ShuffleBuffer examples of the corpus read in epoch order, permuted by a
// generator seeded with its number. Resuming re-reads the current block from
// its first example, permutes it again and skips what was already taken, so
// neither the block's contents nor any generator state need storing.
type State struct {
	Version int `json:"version"`

	// What the stream was made with. Resume refuses a mismatch, because the
	// same position would then mean different examples.
	Seed           uint64  `json:"seed"`
	SeqLen         int     `json:"seq_len"`
	MaxPredictions int     `json:"max_predictions"`
	MaskRate       float64 `json:"mask_rate"`
	ShuffleBuffer  int     `json:"shuffle_buffer"`
	Split          string  `json:"split"`
	HeldOut        float64 `json:"held_out"`
	Corpus         string  `json:"corpus"` // corpus.Fingerprint

	// First example of the current block.
	Epoch         int           `json:"epoch"`          // passes over the corpus completed before it
	Source        int           `json:"source"`         // its file's position in the epoch's file order
	SourceName    string        `json:"source_name"`    // that file, for people reading trainer.json
	Doc           corpus.Cursor `json:"doc"`            // its document within the file
	DocExample    int           `json:"doc_example"`    // examples of that document before it
	Block         int64         `json:"block"`          // number of the current block
	TakenInBlock  int           `json:"taken_in_block"` // examples of the block already delivered
	ExamplesTaken int64         `json:"examples_taken"` // examples delivered since the stream began
	BatchesTaken  int64         `json:"batches_taken"`  // batches delivered since the stream began
}

// initialState is the State of a stream that has delivered nothing.
func initialState(c *corpus.Corpus, o Options) State {
	return State{
		Version: stateVersion, Seed: o.Seed, SeqLen: o.SeqLen, MaxPredictions: o.MaxPredictions,
		MaskRate: o.MaskRate, ShuffleBuffer: o.ShuffleBuffer, Split: o.Split.String(),
		HeldOut: c.HeldOut(), Corpus: c.Fingerprint(),
	}
}

// compatible reports the first field in which s differs from what a stream
// over c with options o would produce.
func (s State) compatible(c *corpus.Corpus, o Options) error {
	if s.Version != stateVersion {
		return fmt.Errorf("pretrain: data state has version %d, this build reads version %d", s.Version, stateVersion)
	}
	want := initialState(c, o)
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"seed", s.Seed, want.Seed},
		{"seq_len", s.SeqLen, want.SeqLen},
		{"max_predictions", s.MaxPredictions, want.MaxPredictions},
		{"mask_rate", s.MaskRate, want.MaskRate},
		{"shuffle_buffer", s.ShuffleBuffer, want.ShuffleBuffer},
		{"split", s.Split, want.Split},
		{"held_out", s.HeldOut, want.HeldOut},
		{"corpus", s.Corpus, want.Corpus},
	} {
		if f.got != f.want {
			return fmt.Errorf("pretrain: cannot resume: data state has %s = %v but the stream would have %v (corpus %s)", f.name, f.got, f.want, c.Spec())
		}
	}
	if s.Epoch < 0 || s.Source < 0 || s.Source >= c.NumSources() || s.DocExample < 0 || s.Block < 0 ||
		s.TakenInBlock < 0 || s.TakenInBlock > s.ShuffleBuffer || s.Doc.Doc < 0 || s.Doc.Offset < 0 || s.Doc.Line < 0 {
		return fmt.Errorf("pretrain: cannot resume: data state position is out of range: epoch %d source %d of %d, doc %+v, example %d, block %d taken %d",
			s.Epoch, s.Source, c.NumSources(), s.Doc, s.DocExample, s.Block, s.TakenInBlock)
	}
	return nil
}
