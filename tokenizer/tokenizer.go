// Package tokenizer turns text into FNet token ids: SentencePiece models
// (BPE, as FNet's official c4_bpe_sentencepiece.model, and unigram), BERT
// WordPiece vocab.txt files, and a SentencePiece BPE trainer.
package tokenizer

// Special holds the ids of the special tokens a model relies on. Vocabularies
// trained by fnet-tui use the layout of FNet's official vocabulary:
// <unk>=0, <s>=1, </s>=2, <pad>=3, [CLS]=4, [SEP]=5, [MASK]=6.
type Special struct {
	Unk, Pad, CLS, SEP, Mask int
}

// Tokenizer is what the data pipeline, the REPL and GLUE need of a vocabulary.
type Tokenizer interface {
	// Encode splits text into ids without adding [CLS]/[SEP]. Literal
	// "[MASK]", "[CLS]" and "[SEP]" in the text become their special ids.
	Encode(text string) []int
	// Decode joins ids back into text (special tokens other than [MASK] dropped).
	Decode(ids []int) string
	// Piece is the vocabulary entry of id ("" when out of range).
	Piece(id int) string
	// ID looks a vocabulary entry up.
	ID(piece string) (int, bool)
	VocabSize() int
	Special() Special
	// IsSpecial reports ids that are never masked or drawn as random
	// replacements (pad, unk, bos/eos, [CLS], [SEP], [MASK]).
	IsSpecial(id int) bool
	// Kind names the format: "sentencepiece-bpe", "sentencepiece-unigram" or "wordpiece".
	Kind() string
}
