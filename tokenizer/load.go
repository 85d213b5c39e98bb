package tokenizer

import (
	"fmt"
	"os"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// LoadSentencePiece reads a SentencePiece .model file.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sp, err := NewSentencePiece(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sp, nil
}

// WriteFile writes tok in its native format (a SentencePiece ModelProto or
// a WordPiece vocab.txt), atomically, so checkpoints can carry it.
func WriteFile(tok Tokenizer, path string) error {
	var data []byte
	switch t := tok.(type) {
	case *SentencePiece:
		data = t.raw
	default:
		return fmt.Errorf("write %s: cannot serialize a %T tokenizer", path, tok)
	}
	if err := rundir.WriteFileAtomic(path, data, 0o644); err != nil {
		return fmt.Errorf("write tokenizer %s: %w", path, err)
	}
	return nil
}
