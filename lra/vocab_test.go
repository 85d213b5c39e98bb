package lra

import (
	"reflect"
	"testing"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// The ids are part of every checkpoint: this table is their definition.
func TestListOpsVocabIDsAreStable(t *testing.T) {
	v := ListOpsVocab{}
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
		"[MIN", "[MAX", "[MED", "[SM", "]", "<pad>", "[CLS]", "[SEP]", "[MASK]", "<unk>"}
	if v.VocabSize() != len(want) || ListOpsVocabSize != len(want) {
		t.Fatalf("size %d, want %d", v.VocabSize(), len(want))
	}
	for id, piece := range want {
		if got := v.Piece(id); got != piece {
			t.Errorf("Piece(%d) = %q, want %q", id, got, piece)
		}
		if got, ok := v.ID(piece); !ok || got != id {
			t.Errorf("ID(%q) = %d, %v; want %d", piece, got, ok, id)
		}
	}
	if id, ok := v.ID("X"); !ok || id != ListOpsClose {
		t.Errorf("ID(X) = %d, %v; want ] (%d)", id, ok, ListOpsClose)
	}
	if sp := v.Special(); sp != (tokenizer.Special{Unk: 19, Pad: 15, CLS: 16, SEP: 17, Mask: 18}) {
		t.Errorf("Special = %+v", sp)
	}
	for id := range ListOpsVocabSize {
		if v.IsSpecial(id) != (id >= ListOpsPad) {
			t.Errorf("IsSpecial(%d) = %v", id, v.IsSpecial(id))
		}
	}
	if v.Piece(-1) != "" || v.Piece(ListOpsVocabSize) != "" {
		t.Error("Piece out of range is not empty")
	}
}

func TestByteVocabIDsAreStable(t *testing.T) {
	v := ByteVocab{}
	if v.VocabSize() != 261 || ByteVocabSize != 261 {
		t.Fatalf("size %d", v.VocabSize())
	}
	for b := range 256 {
		if id, ok := v.ID(string([]byte{byte(b)})); !ok || id != b || v.Piece(b) != string([]byte{byte(b)}) {
			t.Fatalf("byte %d: ID %d %v, Piece %q", b, id, ok, v.Piece(b))
		}
	}
	for id, piece := range map[int]string{256: "<pad>", 257: "[CLS]", 258: "[SEP]", 259: "[MASK]", 260: "<unk>"} {
		if v.Piece(id) != piece || !v.IsSpecial(id) {
			t.Errorf("Piece(%d) = %q, IsSpecial %v; want %q", id, v.Piece(id), v.IsSpecial(id), piece)
		}
	}
	if sp := v.Special(); sp != (tokenizer.Special{Unk: 260, Pad: 256, CLS: 257, SEP: 258, Mask: 259}) {
		t.Errorf("Special = %+v", sp)
	}
}

func TestByteVocabUTF8(t *testing.T) {
	v := ByteVocab{}
	text := "café 日本"
	ids, err := v.AppendIDs(nil, text)
	want := []int{'c', 'a', 'f', 0xc3, 0xa9, ' ', 0xe6, 0x97, 0xa5, 0xe6, 0x9c, 0xac}
	if err != nil || !reflect.DeepEqual(ids, want) {
		t.Fatalf("AppendIDs(%q) = %v, %v; want %v", text, ids, err, want)
	}
	if got := v.Decode(ids); got != text {
		t.Errorf("Decode = %q", got)
	}
	// Data is bytes: a review that says [CLS] is five tokens. Typed queries
	// (Encode) get the specials.
	if ids, _ := v.AppendIDs(nil, "[CLS]"); len(ids) != 5 {
		t.Errorf("AppendIDs([CLS]) = %v, want 5 byte ids", ids)
	}
	if got := v.Encode("a[MASK]b[CLS"); !reflect.DeepEqual(got, []int{'a', ByteMask, 'b', '[', 'C', 'L', 'S'}) {
		t.Errorf("Encode = %v", got)
	}
	if got := v.Decode([]int{'a', ByteCLS, ByteMask, BytePad, 'b'}); got != "a[MASK]b" {
		t.Errorf("Decode with specials = %q", got)
	}
}

func TestListOpsVocabEncode(t *testing.T) {
	v := ListOpsVocab{}
	got := v.Encode("( ( [MAX 2 ) [MASK] ) X ) [CLS] 12")
	want := []int{ListOpsMax, 2, ListOpsMask, ListOpsClose, ListOpsCLS, ListOpsUnk}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if s := v.Decode([]int{ListOpsCLS, ListOpsMax, 2, ListOpsMask, ListOpsClose, ListOpsPad}); s != "[MAX 2 [MASK] ]" {
		t.Errorf("Decode = %q", s)
	}
	if _, err := v.AppendIDs(nil, "[MAX 2 12 ]"); err == nil {
		t.Error("AppendIDs accepted 12")
	}
}
