package pretrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

func take(t *testing.T, s *Stream, n int) ([]*fnet.Batch, []State) {
	t.Helper()
	var bs []*fnet.Batch
	var sts []State
	for i := range n {
		b, st, err := s.Next(context.Background())
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		bs = append(bs, b)
		sts = append(sts, st)
	}
	return bs, sts
}

func mustNew(t *testing.T, c *corpus.Corpus, tok tokenizer.Tokenizer, o Options) *Stream {
	t.Helper()
	s, err := New(c, tok, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func modelConfig(tok tokenizer.Tokenizer, seqLen int) fnet.Config {
	c := fnet.DefaultConfig()
	c.VocabSize, c.SeqLen = tok.VocabSize(), seqLen
	return c
}

// Every training row traces back to consecutive lines of one training
// document, with the official layout and masking.
func TestStreamBatchesComeFromTheTrainSplit(t *testing.T) {
	sc := writeSynthCorpus(t, 1, 120)
	c := sc.open(t, 0.2)
	o := Options{SeqLen: 32, BatchSize: 8, Seed: 7, Workers: 3, ShuffleBuffer: 16}
	s := mustNew(t, c, sc.tok, o)
	heldOutDocs := heldOutDocNumbers(t, sc, c)
	if len(heldOutDocs) == 0 {
		t.Fatal("no held-out documents; raise the fraction")
	}
	bs, _ := take(t, s, 40)
	for _, b := range bs {
		if err := b.Validate(modelConfig(sc.tok, 32)); err != nil {
			t.Fatal(err)
		}
		if b.B != 8 || b.S != 32 || b.K != 5 {
			t.Fatalf("batch shape B=%d S=%d K=%d, want 8, 32, 5", b.B, b.S, b.K)
		}
		for r := range b.B {
			markers, _ := sc.traceRow(t, b, r)
			checkMasking(t, sc.tok, b, r, 0.15)
			if heldOutDocs[sc.doc[markers[0]]] {
				t.Fatalf("row %d comes from held-out document %d", r, sc.doc[markers[0]])
			}
		}
	}
}

// heldOutDocNumbers maps generated document numbers to whether the corpus
// holds them out, by matching first sentences.
func heldOutDocNumbers(t *testing.T, sc *synthCorpus, c *corpus.Corpus) map[int]bool {
	t.Helper()
	first := map[string]int{}
	for m, s := range sc.sentences {
		if sc.line[m] == 0 {
			first[s] = sc.doc[m]
		}
	}
	out := map[int]bool{}
	for d, err := range c.Split(corpus.HeldOut).Documents() {
		if err != nil {
			t.Fatal(err)
		}
		out[first[d.Sentences[0]]] = true
	}
	return out
}

// The batches depend on the seed only, not on the number of workers or the
// prefetch depth.
func TestStreamDeterministic(t *testing.T) {
	sc := writeSynthCorpus(t, 2, 80)
	c := sc.open(t, 0.1)
	base := Options{SeqLen: 32, BatchSize: 4, Seed: 11, ShuffleBuffer: 9}
	var ref []*fnet.Batch
	for _, wp := range [][2]int{{1, 1}, {4, 8}, {2, 2}} {
		o := base
		o.Workers, o.Prefetch = wp[0], wp[1]
		bs, _ := take(t, mustNew(t, c, sc.tok, o), 50)
		if ref == nil {
			ref = bs
		} else if !reflect.DeepEqual(bs, ref) {
			t.Fatalf("workers %d prefetch %d give different batches", wp[0], wp[1])
		}
	}
	o := base
	o.Seed = 12
	if other, _ := take(t, mustNew(t, c, sc.tok, o), 50); reflect.DeepEqual(other, ref) {
		t.Fatal("seeds 11 and 12 give the same batches")
	}
}

// The property the trainer relies on: stop after any batch k, save the
// State (as JSON), resume, and the rest is byte for byte what the
// uninterrupted stream gives, across shuffle blocks and epochs, with
// background workers.
func TestResumeIsExact(t *testing.T) {
	sc := writeSynthCorpus(t, 5, 40)
	c := sc.open(t, 0.1)
	o := Options{SeqLen: 32, BatchSize: 3, Seed: 3, Workers: 3, Prefetch: 2, ShuffleBuffer: 7}
	const n = 70
	full, states := take(t, mustNew(t, c, sc.tok, o), n)
	if last := states[n-1]; last.Epoch < 2 || last.Block < 20 {
		t.Fatalf("the stream reached only epoch %d block %d; the test must cross epochs and blocks", last.Epoch, last.Block)
	}
	for k := range n - 1 {
		js, err := json.Marshal(states[k])
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if err := json.Unmarshal(js, &st); err != nil {
			t.Fatal(err)
		}
		ro := o
		ro.Workers, ro.Prefetch = 1+k%4, 1+k%3 // resuming on another machine is fine
		r, err := Resume(c, sc.tok, ro, st)
		if err != nil {
			t.Fatalf("resume after batch %d: %v", k, err)
		}
		rest, restStates := take(t, r, n-k-1)
		r.Close()
		for i := range rest {
			if !reflect.DeepEqual(rest[i], full[k+1+i]) {
				t.Fatalf("resumed after batch %d (state %s): batch %d differs", k, js, k+1+i)
			}
			if !reflect.DeepEqual(restStates[i], states[k+1+i]) {
				t.Fatalf("resumed after batch %d: state after batch %d is %+v, want %+v", k, k+1+i, restStates[i], states[k+1+i])
			}
		}
	}
}

// States count examples, so a run may resume with another batch size and
// continue the same example sequence.
func TestResumeWithAnotherBatchSize(t *testing.T) {
	sc := writeSynthCorpus(t, 6, 30)
	c := sc.open(t, 0)
	o := Options{SeqLen: 32, BatchSize: 5, Seed: 9, ShuffleBuffer: 4}
	full, states := take(t, mustNew(t, c, sc.tok, o), 12)
	o2 := o
	o2.BatchSize = 2
	r, err := Resume(c, sc.tok, o2, states[3])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rest, _ := take(t, r, 20)
	for i := range 40 {
		a, b := full[4+i/5], rest[i/2]
		ra, rb := i%5, i%2
		if !reflect.DeepEqual(a.InputIDs[ra*32:(ra+1)*32], b.InputIDs[rb*32:(rb+1)*32]) || a.Labels[ra] != b.Labels[rb] {
			t.Fatalf("example %d after the resume point differs", i)
		}
	}
}

func TestResumeRefusesAnotherStream(t *testing.T) {
	sc := writeSynthCorpus(t, 7, 20)
	c := sc.open(t, 0.1)
	o := Options{SeqLen: 32, BatchSize: 2, Seed: 1}
	_, states := take(t, mustNew(t, c, sc.tok, o), 2)
	st := states[1]
	other := writeSynthCorpus(t, 8, 21).open(t, 0.1)
	for _, tc := range []struct {
		name  string
		o     Options
		c     *corpus.Corpus
		field string
	}{
		{"seed", Options{SeqLen: 32, BatchSize: 2, Seed: 2}, c, "seed"},
		{"seq", Options{SeqLen: 64, BatchSize: 2, Seed: 1}, c, "seq_len"},
		{"split", Options{SeqLen: 32, BatchSize: 2, Seed: 1, Split: corpus.All}, c, "split"},
		{"corpus", o, other, "corpus"},
	} {
		_, err := Resume(tc.c, sc.tok, tc.o, st)
		if err == nil || !strings.Contains(err.Error(), tc.field+" =") {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.field)
		}
	}
	bad := st
	bad.Version = 99
	if _, err := Resume(c, sc.tok, o, bad); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("version mismatch: %v", err)
	}
	bad = st
	bad.Source = 1000
	if _, err := Resume(c, sc.tok, o, bad); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("bad position: %v", err)
	}
}

// Without shuffling, epochs are plain passes in file order; each epoch makes
// the same chunks with fresh pivots, swaps and masks.
func TestEpochsRepeatChunksWithNewRandomness(t *testing.T) {
	sc := writeSynthCorpus(t, 9, 30)
	c := sc.open(t, 0)
	o := Options{SeqLen: 32, BatchSize: 1, Seed: 4, ShuffleBuffer: 1}
	s := mustNew(t, c, sc.tok, o)
	var epochs [2][]string
	var masks [2][]string
	for {
		b, st, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Epoch == 2 {
			break
		}
		markers, _ := sc.traceRow(t, b, 0)
		epochs[st.Epoch] = append(epochs[st.Epoch], fmt.Sprint(markers))
		masks[st.Epoch] = append(masks[st.Epoch], fmt.Sprint(b.InputIDs, b.Labels))
	}
	if len(epochs[0]) < 20 || !reflect.DeepEqual(epochs[0], epochs[1]) {
		t.Fatalf("epoch chunks differ or too few (%d, %d)", len(epochs[0]), len(epochs[1]))
	}
	if reflect.DeepEqual(masks[0], masks[1]) {
		t.Fatal("the second epoch repeats the first one's masks and swaps")
	}
}

// The evaluation pass covers every example of the held-out documents once,
// the same way each time, and ends with a short batch and io.EOF.
func TestEvalPass(t *testing.T) {
	sc := writeSynthCorpus(t, 10, 150)
	c := sc.open(t, 0.25)
	o := Options{SeqLen: 32, BatchSize: 4, Seed: 5, Workers: 2}
	heldOut := heldOutDocNumbers(t, sc, c)
	run := func(o Options) ([]*fnet.Batch, [][]int) {
		e, err := NewEval(c, sc.tok, o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		var bs []*fnet.Batch
		var chunks [][]int
		for {
			b, err := e.Next(context.Background())
			if errors.Is(err, io.EOF) {
				if _, err := e.Next(context.Background()); !errors.Is(err, io.EOF) {
					t.Fatalf("Next after the end: %v, want io.EOF again", err)
				}
				return bs, chunks
			}
			if err != nil {
				t.Fatal(err)
			}
			bs = append(bs, b)
			for r := range b.B {
				markers, _ := sc.traceRow(t, b, r)
				if !heldOut[sc.doc[markers[0]]] {
					t.Fatalf("eval row from training document %d", sc.doc[markers[0]])
				}
				chunks = append(chunks, markers)
			}
		}
	}
	bs, chunks := run(o)
	want := 0
	ob, _ := o.withDefaults()
	b, _ := newBuilder(sc.tok, ob)
	for d, err := range c.Split(corpus.HeldOut).Documents() {
		if err != nil {
			t.Fatal(err)
		}
		want += len(b.document(d.Sentences, documentRand(5, 0, d.Source, d.Doc), 0))
	}
	if len(chunks) != want || want < 10 {
		t.Fatalf("eval pass gave %d examples, the held-out documents make %d", len(chunks), want)
	}
	if last := bs[len(bs)-1]; want%4 != 0 && last.B != want%4 {
		t.Fatalf("last batch has %d rows, want %d", last.B, want%4)
	}
	again, _ := run(o)
	if !reflect.DeepEqual(again, bs) {
		t.Fatal("two evaluation passes differ")
	}
	o.EvalBatches = 2
	if capped, _ := run(o); len(capped) != 2 || !reflect.DeepEqual(capped, bs[:2]) {
		t.Fatalf("EvalBatches 2 gave %d batches", len(capped))
	}
}

func TestNoExamples(t *testing.T) {
	dir := t.TempDir()
	// Single-line documents can make no example.
	text := "alpha beta\n\ngamma delta\n\nepsilon\n"
	if err := os.WriteFile(filepath.Join(dir, "one.txt"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := corpus.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = c.WithHeldOut(0.5)
	tok := newWordTokenizer(text)
	s := mustNew(t, c, tok, Options{SeqLen: 16, BatchSize: 2})
	if _, _, err := s.Next(context.Background()); !errors.Is(err, ErrNoExamples) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("train: %v, want ErrNoExamples naming the corpus", err)
	}
	if _, _, err := s.Next(context.Background()); !errors.Is(err, ErrNoExamples) {
		t.Fatalf("the error must stick, got %v", err)
	}
	e, err := NewEval(c, tok, Options{SeqLen: 16, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Next(context.Background()); !errors.Is(err, ErrNoExamples) {
		t.Fatalf("eval: %v, want ErrNoExamples", err)
	}
}

// A corpus error (bad JSON) reaches the consumer with the file and line.
func TestStreamReportsCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(path, []byte(`{"text": "a b\nc d"}`+"\n{oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := corpus.Open(dir)
	c, _ = c.WithHeldOut(0)
	s := mustNew(t, c, newWordTokenizer("a b c d"), Options{SeqLen: 16, BatchSize: 4})
	if _, _, err := s.Next(context.Background()); err == nil || !strings.Contains(err.Error(), path+":2") {
		t.Fatalf("got %v, want an error naming %s:2", err, path)
	}
}

func TestCloseAndWaitShare(t *testing.T) {
	sc := writeSynthCorpus(t, 11, 20)
	c := sc.open(t, 0)
	s := mustNew(t, c, sc.tok, Options{SeqLen: 32, BatchSize: 2, Prefetch: 1, Workers: 2})
	if s.WaitShare() != 0 {
		t.Fatal("wait share before any Next must be 0")
	}
	take(t, s, 3)
	blocked, elapsed := s.WaitTime()
	if share := s.WaitShare(); share < 0 || share > 1 || blocked > elapsed || elapsed <= 0 {
		t.Fatalf("wait share %v, blocked %v of %v", share, blocked, elapsed)
	}
	// The producer is now blocked on a full channel; Close must still return.
	s.Close()
	s.Close()
	if _, _, err := s.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s2 := mustNew(t, c, sc.tok, Options{SeqLen: 32, BatchSize: 2})
	if _, _, err := s2.Next(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Next with a cancelled context: %v", err)
	}
}
