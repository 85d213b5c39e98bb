package pretrain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// sharedData is ../shared/data beside the repository (or $FNET_DATA).
func sharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FNET_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus", "gutenberg")); err != nil {
		t.Skipf("shared data not found at %s (set FNET_DATA): %v", dir, err)
	}
	return dir
}

func bertTokenizer(t testing.TB, data string) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(data, "tokenizer", "bert-base-uncased-vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// lineIndex holds every sentence of a corpus encoded, to find which
// consecutive lines a row was made from.
type lineIndex struct {
	docs    [][][]int        // [doc][line] token ids
	byFirst map[int][][2]int // first token -> (doc, line)
}

func newLineIndex(t *testing.T, c *corpus.Corpus, tok tokenizer.Tokenizer) *lineIndex {
	t.Helper()
	ix := &lineIndex{byFirst: map[int][][2]int{}}
	for d, err := range c.Documents() {
		if err != nil {
			t.Fatal(err)
		}
		var lines [][]int
		for l, s := range d.Sentences {
			ids := tok.Encode(s)
			lines = append(lines, ids)
			if len(ids) > 0 {
				ix.byFirst[ids[0]] = append(ix.byFirst[ids[0]], [2]int{len(ix.docs), l})
			}
		}
		ix.docs = append(ix.docs, lines)
	}
	return ix
}

// match reports whether seq is lines l, l+1, ... of one document exactly,
// with a line boundary at pivot tokens.
func (ix *lineIndex) match(seq []int, pivot int) bool {
	for _, start := range ix.byFirst[seq[0]] {
		lines := ix.docs[start[0]]
		i, boundary := 0, false
		for l := start[1]; l < len(lines) && i < len(seq); l++ {
			n := len(lines[l])
			if i+n > len(seq) || !slices.Equal(seq[i:i+n], lines[l]) {
				break
			}
			i += n
			boundary = boundary || i == pivot
		}
		if i == len(seq) && boundary {
			return true
		}
	}
	return false
}

// docOrder undoes row r's masking and returns its two segments in document
// order, joined, with the length of the first.
func docOrder(b *fnet.Batch, r int, sp tokenizer.Special) ([]int, int) {
	ids := slices.Clone(b.InputIDs[r*b.S : (r+1)*b.S])
	for i := range b.K {
		if b.MaskedWeight[r*b.K+i] == 1 {
			ids[b.MaskedPos[r*b.K+i]] = b.MaskedLabels[r*b.K+i]
		}
	}
	p1 := slices.Index(ids[1:], sp.SEP) + 1
	p2 := slices.Index(ids[p1+1:], sp.SEP) + p1 + 1
	first, second := ids[1:p1], ids[p1+1:p2]
	if b.Labels[r] == 1 {
		first, second = second, first
	}
	return append(slices.Clone(first), second...), len(first)
}

// Real text, real WordPiece vocabulary: every row is consecutive lines of one
// book chapter, in the right order, with a valid batch layout.
func TestGutenbergWithBERTVocab(t *testing.T) {
	data := sharedData(t)
	tok := bertTokenizer(t, data)
	book := filepath.Join(data, "corpus", "gutenberg", "pg11_alices_adventures_in_wonderland.txt")
	c, err := corpus.Open(book)
	if err != nil {
		t.Fatal(err)
	}
	ix := newLineIndex(t, c, tok)
	cfg := fnet.DefaultConfig()
	cfg.VocabSize = tok.VocabSize()
	s := mustNew(t, c, tok, Options{SeqLen: 128, BatchSize: 8, Seed: 1, ShuffleBuffer: 64})
	bs, states := take(t, s, 25)
	swapped := 0
	for _, b := range bs {
		if err := b.Validate(cfg); err != nil {
			t.Fatal(err)
		}
		for r := range b.B {
			seq, pivot := docOrder(b, r, tok.Special())
			if !ix.match(seq, pivot) {
				t.Fatalf("row %d is not consecutive lines of the book: %q", r, tok.Decode(seq))
			}
			swapped += b.Labels[r]
		}
	}
	if swapped == 0 || swapped == 25*8 {
		t.Fatalf("%d of 200 rows swapped", swapped)
	}
	if last := states[len(states)-1]; last.SourceName != filepath.Base(book) || last.ExamplesTaken != 200 {
		t.Fatalf("state %+v", last)
	}
}

// The offline demo corpus makes examples through the whole pipeline.
func TestGoStdStream(t *testing.T) {
	data := sharedData(t)
	tok := bertTokenizer(t, data)
	c, err := corpus.Open(corpus.GoStd)
	if err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, c, tok, Options{SeqLen: 64, BatchSize: 4, Seed: 2, ShuffleBuffer: 8, Workers: 2})
	cfg := fnet.DefaultConfig()
	cfg.VocabSize = tok.VocabSize()
	bs, _ := take(t, s, 5)
	for _, b := range bs {
		if err := b.Validate(cfg); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("gostd row: %s", tok.Decode(bs[0].InputIDs[:64]))
}

// BenchmarkStream measures examples/s through the whole pipeline (read,
// WordPiece, pack, mask, shuffle, batch) on the Gutenberg corpus.
func BenchmarkStream(b *testing.B) {
	data := sharedData(b)
	tok := bertTokenizer(b, data)
	c, err := corpus.Open(filepath.Join(data, "corpus", "gutenberg"))
	if err != nil {
		b.Fatal(err)
	}
	for _, seq := range []int{128, 512} {
		b.Run(fmt.Sprintf("seq%d", seq), func(b *testing.B) {
			s, err := New(c, tok, Options{SeqLen: seq, BatchSize: 32, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, _, err := s.Next(context.Background()); err != nil { // fill the pipeline
				b.Fatal(err)
			}
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				if _, _, err := s.Next(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*32)/time.Since(start).Seconds(), "examples/s")
		})
	}
}

// BenchmarkBuildDocument is the single-goroutine cost of turning documents
// into masked examples, the work each pipeline worker does.
func BenchmarkBuildDocument(b *testing.B) {
	data := sharedData(b)
	tok := bertTokenizer(b, data)
	c, err := corpus.Open(filepath.Join(data, "corpus", "gutenberg", "pg11_alices_adventures_in_wonderland.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var docs [][]string
	for d, err := range c.Documents() {
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d.Sentences)
	}
	o, _ := Options{SeqLen: 512, BatchSize: 1}.withDefaults()
	bld, err := newBuilder(tok, o)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	b.ResetTimer()
	for i := range b.N {
		n += len(bld.document(docs[i%len(docs)], documentRand(1, 0, 0, i), 0))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "examples/s")
}
