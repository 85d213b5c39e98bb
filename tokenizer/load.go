package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/fnet-tui/fnet-tui/atomicfile"
)

// Load reads a tokenizer file, telling the format by its content: a
// SentencePiece ModelProto (binary protobuf) or a WordPiece vocab.txt
// (UTF-8 text, one token per line). Errors name the file.
func Load(path string) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tok, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}

// Parse is Load for bytes already in memory.
func Parse(data []byte) (Tokenizer, error) {
	if len(data) == 0 {
		return nil, errors.New("empty tokenizer file")
	}
	if looksLikeText(data) {
		wp, err := NewWordPiece(data)
		if err != nil {
			return nil, fmt.Errorf("WordPiece vocab: %w", err)
		}
		return wp, nil
	}
	sp, err := NewSentencePiece(data)
	if err != nil {
		return nil, fmt.Errorf("SentencePiece model: %w", err)
	}
	return sp, nil
}

// looksLikeText is true for UTF-8 without control bytes other than tab, CR
// and LF. A ModelProto never passes: its piece entries carry tag bytes such
// as 0x15 (score) and short length bytes.
func looksLikeText(data []byte) bool {
	if !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}

// LoadSentencePiece reads a SentencePiece .model file.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sp, err := NewSentencePiece(data)
	if err != nil {
		return nil, fmt.Errorf("%s: SentencePiece model: %w", path, err)
	}
	return sp, nil
}

// Marshal returns tok in its native file format: the ModelProto bytes of a
// SentencePiece model, the vocab.txt lines of a WordPiece vocabulary.
func Marshal(tok Tokenizer) ([]byte, error) {
	switch t := tok.(type) {
	case *SentencePiece:
		return t.raw, nil
	case *WordPiece:
		return t.marshal(), nil
	}
	return nil, fmt.Errorf("cannot serialize a %T tokenizer", tok)
}

// WriteFile writes tok in its native format, atomically (temp file +
// rename), so checkpoints can carry it; Load reads it back.
func WriteFile(tok Tokenizer, path string) error {
	data, err := Marshal(tok)
	if err != nil {
		return fmt.Errorf("write tokenizer %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data, 0o644); err != nil {
		return fmt.Errorf("write tokenizer %s: %w", path, err)
	}
	return nil
}
