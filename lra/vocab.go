package lra

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Vocab is a task's fixed vocabulary. It is a tokenizer.Tokenizer, so the
// REPL, masked-LM queries and pretraining can take it like any other, and
// it converts an example's Text strictly for Task.Encode.
type Vocab interface {
	tokenizer.Tokenizer
	// AppendIDs appends the ids of an example's Text to dst, without [CLS]
	// or padding. Unlike Encode it gives special-token spellings in the text
	// no meaning (a review that says "[CLS]" is five bytes) and fails on
	// text outside the vocabulary instead of mapping it to <unk>.
	AppendIDs(dst []int, text string) ([]int, error)
}

var (
	_ Vocab = ListOpsVocab{}
	_ Vocab = ByteVocab{}
)

// specialPieces are the names of the five specials at ids base..base+4
// (pad, CLS, SEP, mask, unk in both vocabularies).
var specialPieces = [5]string{piecePad, pieceCLS, pieceSEP, pieceMask, pieceUnk}

func specialAt(base int) tokenizer.Special {
	return tokenizer.Special{Pad: base, CLS: base + 1, SEP: base + 2, Mask: base + 3, Unk: base + 4}
}

// specialID maps a literal special spelling to its id.
func specialID(piece string, base int) (int, bool) {
	for i, p := range specialPieces {
		if p == piece {
			return base + i, true
		}
	}
	return 0, false
}

// VocabByKind returns the vocabulary whose Kind is kind ("lra-listops",
// "lra-bytes"): how a checkpoint names the vocabulary it was trained with.
func VocabByKind(kind string) (Vocab, error) {
	for _, t := range Tasks {
		if t.Vocab.Kind() == kind {
			return t.Vocab, nil
		}
	}
	return nil, fmt.Errorf("unknown LRA vocabulary %q (known: lra-listops, lra-bytes)", kind)
}
