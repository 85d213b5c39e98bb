package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// tinyModel builds a BPE model by hand: reserved pieces, then the given
// NORMAL pieces with descending scores.
func tinyModel(pieces ...string) *modelProto {
	m := trainedModel()
	for i, p := range pieces {
		m.pieces = append(m.pieces, spPiece{p, -float32(i), pieceNormal})
	}
	m.trainer.vocabSize = int32(len(m.pieces))
	return m
}

func mustSP(t *testing.T, m *modelProto) *SentencePiece {
	t.Helper()
	sp, err := NewSentencePiece(m.marshal())
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func pieces(sp *SentencePiece, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = sp.Piece(id)
	}
	return out
}

func TestBPEMergeOrder(t *testing.T) {
	// "▁ab" outranks "bc", so "▁abc" splits as ▁ab|c even though "bc" exists.
	sp := mustSP(t, tinyModel("▁a", "▁ab", "bc", "▁", "a", "b", "c"))
	got := pieces(sp, sp.Encode("abc"))
	if !slices.Equal(got, []string{"▁ab", "c"}) {
		t.Fatalf("abc -> %v", got)
	}
	sp = mustSP(t, tinyModel("bc", "▁a", "▁ab", "▁", "a", "b", "c"))
	if got := pieces(sp, sp.Encode("abc")); !slices.Equal(got, []string{"▁a", "bc"}) {
		t.Fatalf("with bc first: abc -> %v", got)
	}
}

func TestNormalizerWhitespace(t *testing.T) {
	sp := mustSP(t, tinyModel("▁", "a", "b"))
	cases := map[string]string{
		"a b":       "▁a▁b",
		"  a   b  ": "▁a▁b",
		"a\tb":      "▁a\tb", // identity: only U+0020 is a space
		"":          "",
		"   ":       "",
	}
	for in, want := range cases {
		if got := sp.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	m := tinyModel("▁", "a", "b")
	m.normalizer.addDummyPrefix = false
	m.normalizer.removeExtraWhitespaces = false
	sp = mustSP(t, m)
	if got := sp.Normalize(" a  b "); got != "▁a▁▁b▁" {
		t.Errorf("no dummy prefix, keep spaces: %q", got)
	}
	// malformed UTF-8 becomes U+FFFD, one per bad byte
	if got := sp.Normalize("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("malformed UTF-8: %q", got)
	}
}

func TestUnknownRunsAndByteFallback(t *testing.T) {
	sp := mustSP(t, tinyModel("▁", "a"))
	// unknown characters in a row merge into one <unk>, like the official encoder
	if got := sp.Encode("axyza"); !slices.Equal(got, []int{sp.pieces["▁"], sp.pieces["a"], IDUnk, sp.pieces["a"]}) {
		t.Fatalf("axyza -> %v (%v)", got, pieces(sp, got))
	}
	if got := sp.Decode(sp.Encode("axyza")); got != "a \u2047 a" {
		t.Errorf("decode with unk = %q", got)
	}

	m := tinyModel("▁", "a")
	m.trainer.byteFallback = true
	for b := 0; b < 256; b++ {
		m.pieces = append(m.pieces, spPiece{byteName(b), 0, pieceByte})
	}
	sp = mustSP(t, m)
	ids := sp.Encode("aé")
	want := []int{sp.pieces["▁"], sp.pieces["a"], sp.reserved["<0xC3>"], sp.reserved["<0xA9>"]}
	if !slices.Equal(ids, want) {
		t.Fatalf("byte fallback: %v want %v", ids, want)
	}
	if got := sp.Decode(ids); got != "aé" {
		t.Errorf("byte fallback decode = %q", got)
	}
	if got := sp.Decode(ids[:3]); got != "a\uFFFD" {
		t.Errorf("half a character decodes to %q", got)
	}
}

func byteName(b int) string { return fmt.Sprintf("<0x%02X>", b) }

func TestUnusedPiecesResegment(t *testing.T) {
	m := tinyModel("▁ab", "▁a", "▁", "a", "b")
	m.pieces[NumReserved].typ = pieceUnused // "▁ab" may be formed but not emitted
	sp := mustSP(t, m)
	if got := pieces(sp, sp.Encode("ab")); !slices.Equal(got, []string{"▁a", "b"}) {
		t.Fatalf("unused piece not split back: %v", got)
	}
}

func TestUnigramViterbi(t *testing.T) {
	m := tinyModel()
	m.trainer.modelType = modelUnigram
	m.pieces = append(m.pieces,
		spPiece{"▁ab", -3, pieceNormal}, spPiece{"▁a", -1, pieceNormal}, spPiece{"b", -1, pieceNormal},
		spPiece{"▁", -2, pieceNormal}, spPiece{"a", -2, pieceNormal})
	sp := mustSP(t, m)
	if sp.Kind() != "sentencepiece-unigram" {
		t.Fatal(sp.Kind())
	}
	// ▁ab scores -3 alone, ▁a + b scores -2: the best path wins.
	if got := pieces(sp, sp.Encode("ab")); !slices.Equal(got, []string{"▁a", "b"}) {
		t.Fatalf("ab -> %v", got)
	}
	m.pieces[NumReserved].score = -1.5
	sp = mustSP(t, m)
	if got := pieces(sp, sp.Encode("ab")); !slices.Equal(got, []string{"▁ab"}) {
		t.Fatalf("ab -> %v after raising ▁ab", got)
	}
	if got := sp.Encode("[MASK] ab"); !slices.Contains(got, IDMask) {
		t.Fatalf("user-defined [MASK] lost in unigram: %v", got)
	}
}

func TestControlMarkersAreCutOut(t *testing.T) {
	// A model where [MASK] is CONTROL (as in some official vocabularies):
	// the official encoder spells the literal text out; Encode maps it to
	// the id as the Tokenizer contract requires.
	m := tinyModel("▁", "[", "]", "M", "A", "S", "K", "a")
	m.pieces[IDMask].typ = pieceControl
	sp := mustSP(t, m)
	if got := sp.Encode("a [MASK] a"); !slices.Equal(got, []int{sp.pieces["▁"], sp.pieces["a"], IDMask, sp.pieces["▁"], sp.pieces["a"]}) {
		t.Fatalf("Encode = %v", pieces(sp, got))
	}
	if got := sp.EncodeOfficial("[MASK]"); slices.Contains(got, IDMask) {
		t.Fatalf("EncodeOfficial matched a CONTROL piece: %v", got)
	}
	if got := sp.Decode(sp.Encode("a [MASK] a")); got != "a [MASK] a" {
		t.Fatalf("decode = %q", got)
	}
}

func TestSpecialFallbacks(t *testing.T) {
	m := &modelProto{trainer: defaultTrainerSpec(), normalizer: defaultNormalizerSpec()}
	m.trainer.modelType = modelBPE
	m.pieces = []spPiece{{"<unk>", 0, pieceUnknown}, {"<s>", 0, pieceControl}, {"</s>", 0, pieceControl}, {"a", 0, pieceNormal}}
	sp := mustSP(t, m)
	if s := sp.Special(); s != (Special{Unk: 0, Pad: -1, CLS: 1, SEP: 2, Mask: -1}) {
		t.Fatalf("fallback specials %+v", s)
	}
	if !sp.IsSpecial(1) || sp.IsSpecial(3) || sp.IsSpecial(-1) || sp.IsSpecial(99) {
		t.Fatal("IsSpecial wrong")
	}
}

func TestBadModels(t *testing.T) {
	good := tinyModel("▁", "a").marshal()
	bad := func(edit func(m *modelProto)) []byte {
		m := tinyModel("▁", "a")
		edit(m)
		return m.marshal()
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)-7], "truncated"},
		{"cut in a piece", good[:20], "truncated"},
		{"bad wire type", append([]byte{0x0b}, good...), "wire type"},
		{"no pieces", []byte{0x12, 0x02, 0x18, 0x02}, "no pieces"},
		{"word model", bad(func(m *modelProto) { m.trainer.modelType = modelWord }), "WORD is not supported"},
		{"no unk", bad(func(m *modelProto) { m.pieces[0].typ = pieceControl }), "UNKNOWN"},
		{"duplicate", bad(func(m *modelProto) { m.pieces[8].piece = "▁" }), "already defined"},
		{"byte without fallback", bad(func(m *modelProto) { m.pieces[8] = spPiece{"<0x41>", 0, pieceByte} }), "byte_fallback"},
		{"broken charsmap", bad(func(m *modelProto) { m.normalizer.precompiledCharsmap = []byte{0xff, 0, 0, 0, 1} }), "charsmap"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".model")
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and mentioning %q", c.name, err, path, c.want)
		}
		if c.want == "truncated" && !errors.Is(err, errTruncated) {
			t.Errorf("%s: error does not wrap errTruncated: %v", c.name, err)
		}
	}
}

func TestLoadDetectsFormatAndWriteFileRoundTrips(t *testing.T) {
	dir := t.TempDir()
	lines := readSentences(t, gutenbergPath(t, "pg11_alices_adventures_in_wonderland.txt"), 500)
	sp, err := TrainBPE(seqOf(lines), TrainOptions{VocabSize: 400})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []Tokenizer{sp, loadBERT(t)} {
		path := filepath.Join(dir, tok.Kind())
		if err := WriteFile(tok, path); err != nil {
			t.Fatal(err)
		}
		back, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if back.Kind() != tok.Kind() || back.VocabSize() != tok.VocabSize() || back.Special() != tok.Special() {
			t.Fatalf("%s: reloaded %s/%d/%+v", tok.Kind(), back.Kind(), back.VocabSize(), back.Special())
		}
		for _, l := range lines[:50] {
			if !slices.Equal(back.Encode(l), tok.Encode(l)) {
				t.Fatalf("%s: reloaded tokenizer encodes %q differently", tok.Kind(), l)
			}
		}
		if matches, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(matches) > 0 {
			t.Fatalf("temp files left behind: %v", matches)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.model")); err == nil || !strings.Contains(err.Error(), "missing.model") {
		t.Fatalf("missing file error %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if _, err := Load(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Fatalf("empty file error %v", err)
	}
}

// TestWordSplitMatchesWholeText checks the word-by-word BPE (with its
// cache) against the merge loop run over whole lines.
func TestWordSplitMatchesWholeText(t *testing.T) {
	lines := readSentences(t, gutenbergPath(t, "pg16_peter_pan.txt"), 2000)
	sp, err := TrainBPE(seqOf(lines[:1000]), TrainOptions{VocabSize: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if !sp.wordSplit {
		t.Fatal("a trained model should allow word-by-word encoding")
	}
	for _, l := range append(lines[1000:], trickyLines...) {
		n := sp.Normalize(l)
		if n == "" {
			continue
		}
		whole := sp.encodeBPEText(nil, n)
		if got := sp.Encode(l); !slices.Equal(got, whole) {
			t.Fatalf("%q: word-split %v, whole-text %v", l, got, whole)
		}
	}
	// A piece spanning a space turns word splitting off, and whole-text
	// merging then reaches it.
	sp = mustSP(t, tinyModel("▁a▁b", "▁a", "▁b", "▁", "a", "b"))
	if sp.wordSplit {
		t.Fatal("word splitting left on with a piece containing an inner ▁")
	}
	if got := pieces(sp, sp.Encode("a b")); !slices.Equal(got, []string{"▁a▁b"}) {
		t.Fatalf("a b -> %v, want [▁a▁b]", got)
	}
}

// TestConcurrentEncode runs encoders from several goroutines (run with
// -race): the word cache is shared.
func TestConcurrentEncode(t *testing.T) {
	lines := readSentences(t, gutenbergPath(t, "pg11_alices_adventures_in_wonderland.txt"), 400)
	sp, err := TrainBPE(seqOf(lines), TrainOptions{VocabSize: 800})
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]int, len(lines))
	for i, l := range lines {
		want[i] = sp.encodeBPEText(nil, sp.Normalize(l))
	}
	errs := make(chan string, 4)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range lines {
				i := (k*7 + g*13) % len(lines)
				if got := sp.Encode(lines[i]); !slices.Equal(got, want[i]) {
					errs <- lines[i]
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for l := range errs {
		t.Errorf("concurrent encode of %q differs", l)
	}
}
