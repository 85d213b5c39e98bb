package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func loadBERT(t testing.TB) *WordPiece {
	t.Helper()
	tok, err := Load(bertVocabPath(t))
	if err != nil {
		t.Fatal(err)
	}
	wp, ok := tok.(*WordPiece)
	if !ok {
		t.Fatalf("Load gave %T for vocab.txt", tok)
	}
	return wp
}

// Golden ids checked by hand against the line numbers of
// bert-base-uncased-vocab.txt (id = line - 1), e.g. grep -nFx hello.
func TestWordPieceGolden(t *testing.T) {
	wp := loadBERT(t)
	if wp.VocabSize() != 30522 || !wp.Lowercase() || wp.Kind() != "wordpiece" {
		t.Fatalf("vocab %d lower %v kind %s", wp.VocabSize(), wp.Lowercase(), wp.Kind())
	}
	if s := wp.Special(); s != (Special{Unk: 100, Pad: 0, CLS: 101, SEP: 102, Mask: 103}) {
		t.Fatalf("specials %+v", s)
	}
	cases := []struct {
		text string
		ids  []int
	}{
		{"Hello, my dog is cute", []int{7592, 1010, 2026, 3899, 2003, 10140}},
		{"The [MASK] sat on the mat.", []int{1996, 103, 2938, 2006, 1996, 13523, 1012}},
		{"[CLS] dogs [SEP]", []int{101, 6077, 102}},
		{"Café naïve PIÑATA", []int{7668, 15743, 9231, 6790}},      // accents stripped; pin ##ata
		{"東京 hugging\tface!", []int{1879, 1755, 17662, 2227, 999}}, // CJK split, tab is space
		{"don't", []int{2123, 1005, 1056}},
		{"hel\u200blo\x00", []int{7592}}, // format and control characters removed
		{"running", []int{2770}},
		{strings.Repeat("a", 101), []int{100}}, // longer than 100 characters
		{"\U0001F600", []int{100}},             // no piece matches
		{"", nil},
	}
	for _, c := range cases {
		if got := wp.Encode(c.text); !slices.Equal(got, c.ids) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.ids)
		}
	}
}

func TestWordPieceContinuations(t *testing.T) {
	wp := loadBERT(t)
	ids := wp.Encode("puppeteer")
	var pieces []string
	for _, id := range ids {
		pieces = append(pieces, wp.Piece(id))
	}
	if strings.Join(pieces, " ") != "puppet ##eer" {
		t.Fatalf("puppeteer -> %v", pieces)
	}
	if !wp.IsSpecial(103) || wp.IsSpecial(1996) {
		t.Error("IsSpecial wrong for [MASK] or 'the'")
	}
}

func TestWordPieceRoundTrip(t *testing.T) {
	wp := loadBERT(t)
	if got := wp.Decode(wp.Encode("The [MASK] sat on the mat.")); got != "the [MASK] sat on the mat ." {
		t.Errorf("decode = %q", got)
	}
	if got := wp.Decode([]int{101, 7592, 102, 0, 0}); got != "hello" {
		t.Errorf("specials not dropped: %q", got)
	}
	lines := readSentences(t, gutenbergPath(t, "pg11_alices_adventures_in_wonderland.txt"), 300)
	for _, l := range lines {
		ids := wp.Encode(l)
		if again := wp.Encode(wp.Decode(ids)); !slices.Equal(again, ids) {
			t.Fatalf("encode(decode(encode(%q))) changed:\n%v\n%v", l, ids, again)
		}
	}
}

func TestWordPieceCased(t *testing.T) {
	wp, err := NewWordPiece([]byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\n##s\n!\n"))
	if err != nil {
		t.Fatal(err)
	}
	if wp.Lowercase() {
		t.Fatal("a vocabulary with upper-case entries was taken as uncased")
	}
	if got := wp.Encode("Hello hellos Héllo!"); !slices.Equal(got, []int{5, 6, 7, 1, 8}) {
		t.Fatalf("cased encode = %v", got)
	}
}

func TestWordPieceBadVocab(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"[PAD]\nhello\n", "[UNK]"},
		{"[UNK]\na\n\nb\n", "line 3: empty token"},
		{"[UNK]\na\na\n", "line 3: token \"a\" already on line 2"},
	} {
		_, err := NewWordPiece([]byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.data, err, c.want)
		}
	}
}
