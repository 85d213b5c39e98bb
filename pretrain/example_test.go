package pretrain

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// lengthsDoc builds a document whose line i has lengths[i] tokens, the first
// being the marker s<i>.
func lengthsDoc(lengths []int) (*synthCorpus, []string) {
	sc := &synthCorpus{}
	for i, n := range lengths {
		words := []string{fmt.Sprintf("s%d", i)}
		for j := 1; j < n; j++ {
			words = append(words, fmt.Sprintf("w%d", j))
		}
		sc.sentences = append(sc.sentences, strings.Join(words, " "))
		sc.doc = append(sc.doc, 0)
		sc.line = append(sc.line, i)
	}
	sc.tok = newWordTokenizer(strings.Join(sc.sentences, " "))
	return sc, sc.sentences
}

func examplesBatch(exs []example, o Options) *fnet.Batch {
	return (&pipeline{o: o}).batch(exs)
}

// The packing must be the official loop's: chunks are maximal runs of at
// least two consecutive lines within SeqLen-3 tokens, a line is left out only
// if it is the last one or does not fit together with the next, and the
// packing never depends on the random stream. These properties determine
// the official output uniquely.
func TestDocumentPacking(t *testing.T) {
	lengths := []int{3, 27, 5, 5, 20, 2, 2, 2, 40, 1, 1, 29, 3, 26, 1, 12, 12, 12, 30, 4}
	sc, sentences := lengthsDoc(lengths)
	o, err := Options{SeqLen: 32, BatchSize: 1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	limit := o.SeqLen - 3
	b, err := newBuilder(sc.tok, o)
	if err != nil {
		t.Fatal(err)
	}
	var reference [][]int
	pivots := map[[2]int]int{} // (chunk lines, pivot) -> count
	swaps, total := 0, 0
	for seed := range uint64(200) {
		exs := b.document(sentences, rand.New(rand.NewPCG(seed, 1)), 0)
		batch := examplesBatch(exs, o)
		var chunks [][]int
		for r := range exs {
			markers, pivot := sc.traceRow(t, batch, r)
			chunks = append(chunks, markers)
			pivots[[2]int{len(markers), pivot}]++
			swaps += batch.Labels[r]
			total++
		}
		if reference == nil {
			reference = chunks
			checkPacking(t, lengths, chunks, limit)
		} else if fmt.Sprint(chunks) != fmt.Sprint(reference) {
			t.Fatalf("seed %d packs %v, seed 0 packed %v: packing must not depend on randomness", seed, chunks, reference)
		}
	}
	if swapShare := float64(swaps) / float64(total); math.Abs(swapShare-0.5) > 0.05 {
		t.Errorf("segments swapped in %.3f of %d examples, want 0.5", swapShare, total)
	}
	for _, c := range reference {
		for p := 1; p < len(c); p++ {
			if pivots[[2]int{len(c), p}] == 0 {
				t.Errorf("a %d-line chunk was never split after line %d: pivots must be uniform over 1..n-1", len(c), p)
			}
		}
		if pivots[[2]int{len(c), 0}] != 0 || pivots[[2]int{len(c), len(c)}] != 0 {
			t.Errorf("a %d-line chunk got an empty segment", len(c))
		}
	}
}

func checkPacking(t *testing.T, lengths []int, chunks [][]int, limit int) {
	t.Helper()
	covered := make([]bool, len(lengths))
	next := 0
	for _, c := range chunks {
		sum := 0
		for i, line := range c {
			if i == 0 && line < next {
				t.Fatalf("chunk %v overlaps or goes back", c)
			}
			covered[line] = true
			sum += lengths[line]
		}
		next = c[len(c)-1] + 1
		if len(c) < 2 || sum > limit {
			t.Fatalf("chunk %v: %d lines, %d tokens (limit %d)", c, len(c), sum, limit)
		}
		if end := c[len(c)-1] + 1; end < len(lengths) && sum+lengths[end] <= limit {
			t.Fatalf("chunk %v stops although line %d (%d tokens) still fits", c, end, lengths[end])
		}
	}
	for j, ok := range covered {
		if !ok && j+1 < len(lengths) && lengths[j]+lengths[j+1] <= limit {
			t.Fatalf("line %d left out although it fits with line %d", j, j+1)
		}
	}
	if len(chunks) < 5 {
		t.Fatalf("only %d chunks; the test document should make more", len(chunks))
	}
}

// A resumed stream re-enters a document by building and dropping its first
// examples; what remains must be identical.
func TestDocumentSkip(t *testing.T) {
	sc, sentences := lengthsDoc([]int{3, 5, 7, 9, 11, 4, 6, 8, 10, 12, 2, 2, 2, 2})
	o, _ := Options{SeqLen: 24, BatchSize: 1}.withDefaults()
	b, err := newBuilder(sc.tok, o)
	if err != nil {
		t.Fatal(err)
	}
	all := b.document(sentences, documentRand(5, 1, 2, 3), 0)
	if len(all) < 4 {
		t.Fatalf("want at least 4 examples, got %d", len(all))
	}
	for skip := range len(all) + 1 {
		rest := b.document(sentences, documentRand(5, 1, 2, 3), skip)
		if fmt.Sprint(rest) != fmt.Sprint(all[skip:]) {
			t.Fatalf("skip %d: examples differ from the tail of the full list", skip)
		}
	}
}

// Masking over many examples: the official per-row count, ~15% of tokens,
// 80/10/10, specials (including <unk>) never selected.
func TestMaskingRates(t *testing.T) {
	sc := writeSynthCorpus(t, 3, 400)
	// A vocabulary from every other sentence leaves some words <unk>, which
	// IsSpecial reports and which must therefore never be masked.
	var half []string
	for i, s := range sc.sentences {
		if i%2 == 0 {
			half = append(half, s)
		}
	}
	tok := newWordTokenizer(half...)
	o, _ := Options{SeqLen: 64, BatchSize: 1}.withDefaults()
	b, err := newBuilder(tok, o)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[byte]int{}
	realTokens, predictions, unks := 0, 0, 0
	for d, doc := range sc.documents() {
		exs := b.document(doc, documentRand(1, 0, 0, d), 0)
		batch := examplesBatch(exs, o)
		for r, ex := range exs {
			for _, k := range checkMasking(t, tok, batch, r, o.MaskRate) {
				counts[k]++
			}
			realTokens += ex.realTokens
			predictions += ex.predictions
			for _, id := range ex.ids[:ex.realTokens] {
				if id == 0 {
					unks++
				}
			}
		}
	}
	if unks == 0 {
		t.Fatal("the test text has no <unk> tokens; it cannot show they are never masked")
	}
	if predictions < 2000 {
		t.Fatalf("only %d predictions; too few for rates", predictions)
	}
	if share := float64(predictions) / float64(realTokens); share < 0.12 || share > 0.155 {
		t.Errorf("%.4f of tokens predicted, want about 0.15 (int() rounds down per row)", share)
	}
	for kind, want := range map[byte]float64{'m': 0.8, 'r': 0.1, 'k': 0.1} {
		if got := float64(counts[kind]) / float64(predictions); math.Abs(got-want) > 0.02 {
			t.Errorf("%c: %.4f of %d predictions, want %.2f", kind, got, predictions, want)
		}
	}
}

// MaxPredictions caps the count per row and is the batch's K.
func TestMaskingCap(t *testing.T) {
	sc := writeSynthCorpus(t, 4, 60)
	o, _ := Options{SeqLen: 48, BatchSize: 1, MaskRate: 0.5, MaxPredictions: 4}.withDefaults()
	b, err := newBuilder(sc.tok, o)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for d, doc := range sc.documents() {
		exs := b.document(doc, documentRand(1, 0, 0, d), 0)
		batch := examplesBatch(exs, o)
		if len(exs) > 0 && batch.K != 4 {
			t.Fatalf("batch K = %d, want 4", batch.K)
		}
		for r, ex := range exs {
			checkMasking(t, sc.tok, batch, r, o.MaskRate)
			if ex.realTokens*5/10 >= 4 && ex.predictions != 4 {
				t.Fatalf("%d predictions for %d tokens, want the cap 4", ex.predictions, ex.realTokens)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no examples")
	}
}

func TestScaledMaxPredictions(t *testing.T) {
	for seq, want := range map[int]int{512: 80, 256: 40, 128: 20, 64: 10, 100: 16, 8: 1, 2: 1} {
		if got := ScaledMaxPredictions(seq); got != want {
			t.Errorf("ScaledMaxPredictions(%d) = %d, want %d", seq, got, want)
		}
	}
}

func TestOptionErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		field string
	}{
		{Options{SeqLen: 4, BatchSize: 1}, "SeqLen"},
		{Options{SeqLen: 32}, "BatchSize"},
		{Options{SeqLen: 32, BatchSize: 1, MaskRate: 1.5}, "MaskRate"},
		{Options{SeqLen: 32, BatchSize: 1, MaxPredictions: 33}, "MaxPredictions"},
		{Options{SeqLen: 32, BatchSize: 1, Workers: -1}, "Workers"},
		{Options{SeqLen: 32, BatchSize: 1, Prefetch: -2}, "Prefetch"},
		{Options{SeqLen: 32, BatchSize: 1, ShuffleBuffer: -1}, "ShuffleBuffer"},
		{Options{SeqLen: 32, BatchSize: 1, Split: 7}, "Split"},
	} {
		err := tc.o.Validate()
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != tc.field || !strings.Contains(err.Error(), "Options."+tc.field) {
			t.Errorf("%+v: error %v, want an OptionError naming %s", tc.o, err, tc.field)
		}
	}
	o, err := Options{SeqLen: 128, BatchSize: 2}.withDefaults()
	if err != nil || o.MaskRate != 0.15 || o.MaxPredictions != 20 || o.ShuffleBuffer != 1024 || o.Prefetch != 4 || o.Workers < 1 {
		t.Errorf("defaults: %+v, %v", o, err)
	}
}
