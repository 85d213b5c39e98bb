package lra

// ListOps vocabulary ids (ListOpsVocab). A digit's id is its value, so a
// row of ids reads as the expression. These ids are part of every ListOps
// checkpoint: never renumber them.
const (
	ListOpsMin   = 10 // [MIN
	ListOpsMax   = 11 // [MAX
	ListOpsMed   = 12 // [MED
	ListOpsSum   = 13 // [SM, the sum mod 10
	ListOpsClose = 14 // ], which LRA's pipeline spells X

	ListOpsPad  = 15 // <pad>
	ListOpsCLS  = 16 // [CLS], first in every row; the classifier reads it
	ListOpsSEP  = 17 // [SEP], never in LRA rows (there for tokenizer.Tokenizer)
	ListOpsMask = 18 // [MASK], never in LRA rows (masked-LM queries, pretraining)
	ListOpsUnk  = 19 // <unk>, only from Encode of free text; loaders reject unknown tokens

	ListOpsVocabSize = 20
)

// Byte vocabulary ids (ByteVocab): byte b is id b, then the same five
// specials in the same order as ListOps'. Part of every byte-level
// checkpoint: never renumber them.
const (
	BytePad  = 256 // <pad>
	ByteCLS  = 257 // [CLS], first in every row
	ByteSEP  = 258 // [SEP], never in LRA rows
	ByteMask = 259 // [MASK], never in LRA rows
	ByteUnk  = 260 // <unk>, never produced: every byte has its own id

	ByteVocabSize = 261
)

// The names of the specials, as the rest of fnet-tui spells them
// (tokenizer.Piece*).
const (
	piecePad  = "<pad>"
	pieceCLS  = "[CLS]"
	pieceSEP  = "[SEP]"
	pieceMask = "[MASK]"
	pieceUnk  = "<unk>"
)
