package glue

import (
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// The encoder with a real SentencePiece vocabulary trained by fnet-tui on
// RTE's training text: dev batches are valid model input and rows start
// with [CLS] and carry both [SEP]s.
func TestEncodeWithSentencePiece(t *testing.T) {
	dir := sharedGlueDir(t)
	train, err := Load(dir, "rte", "train")
	if err != nil {
		t.Fatal(err)
	}
	sentences := func(yield func(string) bool) {
		for _, ex := range train {
			if !yield(ex.TextA) || !yield(ex.TextB) {
				return
			}
		}
	}
	tok, err := tokenizer.TrainBPE(sentences, tokenizer.TrainOptions{VocabSize: 500, MaxSentences: 1500, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := Load(dir, "rte", "dev")
	if err != nil {
		t.Fatal(err)
	}
	enc, err := Tokenize(tok, mustTask(t, "rte"), dev, 128)
	if err != nil {
		t.Fatal(err)
	}
	b := enc.Range(0, enc.Len())
	cfg := fnet.DefaultConfig()
	cfg.VocabSize = tok.VocabSize()
	if err := b.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	sp := tok.Special()
	for r := 0; r < b.B; r++ {
		row := b.InputIDs[r*b.S : (r+1)*b.S]
		seps := 0
		for _, id := range row {
			if id == sp.SEP {
				seps++
			}
		}
		// a whole pair has two [SEP]s; tail truncation can cut the second
		// (and all of B), never the first part of A
		n := 2 + len(tok.Encode(dev[r].TextA)) + 1 + len(tok.Encode(dev[r].TextB))
		if row[0] != sp.CLS || (n <= b.S && seps != 2) || (n > b.S && seps > 1) {
			t.Fatalf("row %d (%d ids packed): starts with %d, %d [SEP]s: %v", r, n, row[0], seps, row)
		}
		if b.Labels[r] != dev[r].Label {
			t.Fatalf("row %d: label %d, want %d", r, b.Labels[r], dev[r].Label)
		}
	}
}
