package lra

import (
	"strings"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// ListOpsVocab is ListOps' vocabulary of 20 ids: the digits 0–9 at their
// own value, [MIN [MAX [MED [SM at 10–13, ] at 14, then <pad> 15, [CLS] 16,
// [SEP] 17, [MASK] 18 and <unk> 19 (constants ListOps*). Text is split as
// LRA's pipeline splits it: on whitespace, parentheses dropped, X read as ].
type ListOpsVocab struct{}

// ListOpsVocab's id layout has the specials after the symbols.
const listOpsSpecialBase = ListOpsPad

// AppendIDs appends the ids of a ListOps expression in any spelling
// EvalListOps reads; a token outside the vocabulary is an error.
func (ListOpsVocab) AppendIDs(dst []int, text string) ([]int, error) {
	p := listOpsParser{ids: make([]byte, 0, len(text)/2)} // a token and a space at least
	ids, err := p.tokenize(text)
	if err != nil {
		return dst, err
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst, nil
}

// Encode splits text as AppendIDs does, with literal [CLS], [SEP], [MASK],
// <pad> and <unk> as their specials and any other unknown token as <unk>.
func (ListOpsVocab) Encode(text string) []int {
	var out []int
	for field := range strings.FieldsSeq(text) {
		if id, ok := specialID(field, listOpsSpecialBase); ok {
			out = append(out, id)
			continue
		}
		tok := stripParens(field)
		if tok == "" {
			continue
		}
		if id, ok := listOpsID(tok); ok {
			out = append(out, int(id))
		} else {
			out = append(out, ListOpsUnk)
		}
	}
	return out
}

// Decode writes ids in the compact spelling "[MAX 2 9 ]", dropping the
// specials except [MASK].
func (v ListOpsVocab) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if v.IsSpecial(id) && id != ListOpsMask || id < 0 || id >= ListOpsVocabSize {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v.Piece(id))
	}
	return b.String()
}

// Piece is the spelling of id: "0".."9", "[MIN", …, "]", "<pad>", "[CLS]", ….
func (ListOpsVocab) Piece(id int) string {
	switch {
	case id < 0 || id >= ListOpsVocabSize:
		return ""
	case id >= listOpsSpecialBase:
		return specialPieces[id-listOpsSpecialBase]
	}
	return symbolName(byte(id))
}

// ID looks a piece up; X is accepted for ] as LRA spells it.
func (ListOpsVocab) ID(piece string) (int, bool) {
	if id, ok := specialID(piece, listOpsSpecialBase); ok {
		return id, true
	}
	id, ok := listOpsID(piece)
	return int(id), ok
}

func (ListOpsVocab) VocabSize() int             { return ListOpsVocabSize }
func (ListOpsVocab) Special() tokenizer.Special { return specialAt(listOpsSpecialBase) }
func (ListOpsVocab) IsSpecial(id int) bool {
	return id >= listOpsSpecialBase && id < ListOpsVocabSize
}
func (ListOpsVocab) Kind() string { return "lra-listops" }
