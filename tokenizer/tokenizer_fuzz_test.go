package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkTokenizer is the property both loaders' fuzz targets share: the
// special ids are in range (or -1 where optional), every id Encode returns
// for the text is below VocabSize and names a piece, encoding is
// deterministic (the word cache changes nothing), and Decode takes any
// ids, in range or not, without panicking.
func checkTokenizer(t *testing.T, tok Tokenizer, text string) {
	t.Helper()
	v := tok.VocabSize()
	if v <= 0 {
		t.Fatalf("vocab size %d", v)
	}
	s := tok.Special()
	if s.Unk < 0 || s.Unk >= v {
		t.Fatalf("unk id %d of %d", s.Unk, v)
	}
	for _, id := range []int{s.Pad, s.CLS, s.SEP, s.Mask} {
		if id < -1 || id >= v {
			t.Fatalf("special id %d of %d: %+v", id, v, s)
		}
	}
	ids := tok.Encode(text)
	for i, id := range ids {
		if id < 0 || id >= v {
			t.Fatalf("Encode(%q)[%d] = %d, vocab size %d", text, i, id, v)
		}
		if tok.Piece(id) == "" {
			t.Fatalf("Encode(%q)[%d] = %d has no piece", text, i, id)
		}
		tok.IsSpecial(id)
	}
	if again := tok.Encode(text); !slices.Equal(again, ids) {
		t.Fatalf("Encode(%q) = %v, then %v", text, ids, again)
	}
	if sp, ok := tok.(*SentencePiece); ok {
		for i, id := range sp.EncodeOfficial(text) {
			if id < 0 || id >= v {
				t.Fatalf("EncodeOfficial(%q)[%d] = %d, vocab size %d", text, i, id, v)
			}
		}
		if got := sp.AppendEncode([]int{-7}, text); got[0] != -7 || !slices.Equal(got[1:], ids) {
			t.Fatalf("AppendEncode(%q) = %v, Encode %v", text, got, ids)
		}
	}
	tok.Decode(ids)
	odd := []int{-1, v, v + 1, 1 << 40, -1 << 40}
	for i := 0; i < len(text); i++ {
		odd = append(odd, int(text[i])-16)
	}
	tok.Decode(odd)
	for _, id := range odd {
		tok.Piece(id)
		tok.IsSpecial(id)
	}
}

// spSeed is a small model's bytes after edit.
func spSeed(edit func(m *modelProto), pieces ...string) []byte {
	m := tinyModel(pieces...)
	if edit != nil {
		edit(m)
	}
	return m.marshal()
}

// FuzzSentencePiece: whatever the ModelProto bytes and the text, loading
// (NewSentencePiece, and Parse, which tells the format by content) either
// fails or gives a model that satisfies checkTokenizer.
func FuzzSentencePiece(f *testing.F) {
	f.Add(spSeed(nil, "▁", "a", "b", "▁a", "▁ab", "c"), "ab abc [MASK] ba")
	f.Add(spSeed(func(m *modelProto) { m.trainer.modelType = modelUnigram }, "▁ab", "▁a", "b", "▁", "a"), "ab [CLS] a  b")
	f.Add(spSeed(func(m *modelProto) {
		m.trainer.byteFallback = true
		for b := 0; b < 256; b++ {
			m.pieces = append(m.pieces, spPiece{byteName(b), 0, pieceByte})
		}
	}, "▁", "a"), "aé\xff")
	f.Add(spSeed(func(m *modelProto) {
		m.pieces[IDMask].typ = pieceControl
		m.pieces[NumReserved].typ = pieceUnused
		m.trainer.treatWhitespaceAsSuffix = true
		m.normalizer.addDummyPrefix = false
		m.trainer.unkSurface = "\xff"
	}, "ab▁", "a", "b", "▁"), "a [MASK] b  ")
	f.Add(spSeed(func(m *modelProto) {
		m.normalizer.removeExtraWhitespaces = false
		m.normalizer.escapeWhitespaces = false
		// a one-unit trie (no rules) and a replacement blob
		m.normalizer.precompiledCharsmap = []byte{4, 0, 0, 0, 0, 4, 0, 0, 'x', 0}
	}, " ", "a"), "  a a ")
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00}, "")
	f.Fuzz(func(t *testing.T, model []byte, text string) {
		if sp, err := NewSentencePiece(model); err == nil {
			checkTokenizer(t, sp, text)
		}
		if tok, err := Parse(model); err == nil {
			checkTokenizer(t, tok, text)
		}
	})
}

// FuzzWordPiece: whatever the vocab.txt and the text, NewWordPiece either
// fails or gives a vocabulary that satisfies checkTokenizer, decodes to
// valid UTF-8, and written out (Marshal) loads again to the same
// vocabulary, encoding the text the same.
func FuzzWordPiece(f *testing.F) {
	f.Add("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\nrun\n##ning\n,\n.\n", "The runs, running.[MASK] x")
	f.Add("[UNK]\nCafé\n##é\n中\n", "Café 中文 cafe\u0301\x00\u00a0x")
	f.Add("[UNK]\r\na\r\n##b\r\n", "ab abb [UNK]")
	f.Add("[UNK]", strings.Repeat("a", 101))
	f.Fuzz(func(t *testing.T, vocab, text string) {
		wp, err := NewWordPiece([]byte(vocab))
		if err != nil {
			return
		}
		checkTokenizer(t, wp, text)
		if out := wp.Decode(wp.Encode(text)); !utf8.ValidString(out) {
			t.Fatalf("Decode gives invalid UTF-8 %q", out)
		}
		data, err := Marshal(wp)
		if err != nil {
			t.Fatal(err)
		}
		again, err := NewWordPiece(data)
		if err != nil {
			t.Fatalf("the written vocabulary does not load: %v\n%q", err, data)
		}
		if !slices.Equal(again.vocab, wp.vocab) || again.lower != wp.lower || again.special != wp.special {
			t.Fatalf("round trip changed the vocabulary: %q -> %q", wp.vocab, again.vocab)
		}
		if a, b := again.Encode(text), wp.Encode(text); !slices.Equal(a, b) {
			t.Fatalf("round trip changed Encode(%q): %v -> %v", text, b, a)
		}
	})
}

// TestMalformedModelsAreErrors: inputs the fuzzer (and review) found that
// panicked the loader are refused with an error: a byte piece "<0x-1>"
// (byte -1) or "<0x+4>" (an alias of <0x04>), and a precompiled charsmap
// whose trie size fits the blob but not what follows the size field.
func TestMalformedModelsAreErrors(t *testing.T) {
	bytes := func(extra string) func(m *modelProto) {
		return func(m *modelProto) {
			m.trainer.byteFallback = true
			for b := 0; b < 256; b++ {
				m.pieces = append(m.pieces, spPiece{byteName(b), 0, pieceByte})
			}
			m.pieces = append(m.pieces, spPiece{extra, 0, pieceByte})
		}
	}
	for name, c := range map[string]struct {
		edit func(m *modelProto)
		want string
	}{
		"byte -1":    {bytes("<0x-1>"), "byte piece of the form"},
		"byte +4":    {bytes("<0x+4>"), "byte piece of the form"},
		"lower case": {bytes("<0x4a>"), "byte piece of the form"},
		"charsmap":   {func(m *modelProto) { m.normalizer.precompiledCharsmap = []byte{8, 0, 0, 0, 0, 0, 0, 0, 0} }, "exceeds"},
	} {
		_, err := NewSentencePiece(spSeed(c.edit, "▁", "a"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", name, err, c.want)
		}
	}
	// a trie exactly filling the blob (no replacements) still loads
	if _, err := NewSentencePiece(spSeed(func(m *modelProto) { m.normalizer.precompiledCharsmap = []byte{4, 0, 0, 0, 0, 0, 0, 0} }, "▁", "a")); err != nil {
		t.Fatal(err)
	}
}
