package lra

import (
	"strings"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// ByteVocab is the byte-level vocabulary of LRA's Text task: byte b is id
// b (0–255), so a UTF-8 character of n bytes is n tokens, then <pad> 256,
// [CLS] 257, [SEP] 258, [MASK] 259 and <unk> 260 (constants Byte*). LRA
// itself uses tfds' ByteTextEncoder, which shifts bytes up by one to make
// 0 the padding; the layout differs, the information is the same.
type ByteVocab struct{}

const byteSpecialBase = BytePad

// AppendIDs appends one id per byte of text; it never fails.
func (ByteVocab) AppendIDs(dst []int, text string) ([]int, error) {
	for i := 0; i < len(text); i++ {
		dst = append(dst, int(text[i]))
	}
	return dst, nil
}

// Encode is one id per byte, except that the literal spellings [CLS],
// [SEP] and [MASK] become their specials (the tokenizer.Tokenizer
// contract, for masked-LM queries typed in the REPL).
func (v ByteVocab) Encode(text string) []int {
	var out []int
	for len(text) > 0 {
		if text[0] == '[' {
			if id, n := leadingSpecial(text); n > 0 {
				out = append(out, id)
				text = text[n:]
				continue
			}
		}
		out = append(out, int(text[0]))
		text = text[1:]
	}
	return out
}

func leadingSpecial(text string) (id, n int) {
	for _, p := range []string{pieceCLS, pieceSEP, pieceMask} {
		if strings.HasPrefix(text, p) {
			id, _ := specialID(p, byteSpecialBase)
			return id, len(p)
		}
	}
	return 0, 0
}

// Decode joins the bytes back (a cut multi-byte character stays cut);
// specials other than [MASK] are dropped.
func (ByteVocab) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id >= 0 && id < 256:
			b.WriteByte(byte(id))
		case id == ByteMask:
			b.WriteString(pieceMask)
		}
	}
	return b.String()
}

// Piece is the one-byte string of a byte id or a special's name.
func (ByteVocab) Piece(id int) string {
	switch {
	case id < 0 || id >= ByteVocabSize:
		return ""
	case id >= byteSpecialBase:
		return specialPieces[id-byteSpecialBase]
	}
	return string([]byte{byte(id)})
}

// ID looks up a one-byte piece or a special's name.
func (ByteVocab) ID(piece string) (int, bool) {
	if len(piece) == 1 {
		return int(piece[0]), true
	}
	return specialID(piece, byteSpecialBase)
}

func (ByteVocab) VocabSize() int             { return ByteVocabSize }
func (ByteVocab) Special() tokenizer.Special { return specialAt(byteSpecialBase) }
func (ByteVocab) IsSpecial(id int) bool      { return id >= byteSpecialBase && id < ByteVocabSize }
func (ByteVocab) Kind() string               { return "lra-bytes" }
