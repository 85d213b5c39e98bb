package glue

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// wsTokenizer splits on white space and numbers words in order of first
// appearance after the seven special ids of FNet's vocabulary layout.
type wsTokenizer struct {
	ids    map[string]int
	pieces []string
}

func newWS() *wsTokenizer {
	w := &wsTokenizer{ids: map[string]int{}}
	for _, p := range []string{"<unk>", "<s>", "</s>", "<pad>", "[CLS]", "[SEP]", "[MASK]"} {
		w.add(p)
	}
	return w
}

func (w *wsTokenizer) add(p string) int {
	if id, ok := w.ids[p]; ok {
		return id
	}
	w.ids[p] = len(w.pieces)
	w.pieces = append(w.pieces, p)
	return w.ids[p]
}

func (w *wsTokenizer) Encode(text string) []int {
	var out []int
	for _, f := range strings.Fields(text) {
		out = append(out, w.add(f))
	}
	return out
}

func (w *wsTokenizer) Decode(ids []int) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, w.Piece(id))
	}
	return strings.Join(parts, " ")
}

func (w *wsTokenizer) Piece(id int) string {
	if id < 0 || id >= len(w.pieces) {
		return ""
	}
	return w.pieces[id]
}
func (w *wsTokenizer) ID(p string) (int, bool) { id, ok := w.ids[p]; return id, ok }
func (w *wsTokenizer) VocabSize() int          { return len(w.pieces) }
func (w *wsTokenizer) Special() tokenizer.Special {
	return tokenizer.Special{Unk: 0, Pad: 3, CLS: 4, SEP: 5, Mask: 6}
}
func (w *wsTokenizer) IsSpecial(id int) bool { return id >= 0 && id < 7 }
func (w *wsTokenizer) Kind() string          { return "whitespace-test" }

var _ tokenizer.Tokenizer = (*wsTokenizer)(nil)

func TestEncodePair(t *testing.T) {
	tok := newWS()
	a, b, c, d, e := tok.add("a"), tok.add("b"), tok.add("c"), tok.add("d"), tok.add("e")
	rte := mustTask(t, "rte")
	ex := []Example{
		{TextA: "a b", TextB: "c", Label: 1},
		{TextA: "d", TextB: "e e", Label: 0},
	}
	batch, err := Encode(tok, rte, ex, 8)
	if err != nil {
		t.Fatal(err)
	}
	const CLS, SEP, PAD = 4, 5, 3
	wantIDs := []int{
		CLS, a, b, SEP, c, SEP, PAD, PAD,
		CLS, d, SEP, e, e, SEP, PAD, PAD,
	}
	wantTypes := []int{
		0, 0, 0, 0, 1, 1, 0, 0,
		0, 0, 0, 1, 1, 1, 0, 0,
	}
	if batch.B != 2 || batch.S != 8 || batch.K != 0 {
		t.Errorf("shape B=%d S=%d K=%d", batch.B, batch.S, batch.K)
	}
	if !reflect.DeepEqual(batch.InputIDs, wantIDs) || !reflect.DeepEqual(batch.TypeIDs, wantTypes) {
		t.Errorf("ids %v\ntypes %v\nwant %v\n%v", batch.InputIDs, batch.TypeIDs, wantIDs, wantTypes)
	}
	if !reflect.DeepEqual(batch.Labels, []int{1, 0}) || batch.Targets != nil || batch.MaskedPos != nil {
		t.Errorf("labels %v targets %v masked %v", batch.Labels, batch.Targets, batch.MaskedPos)
	}
	cfg := fnet.DefaultConfig()
	cfg.VocabSize = tok.VocabSize()
	if err := batch.Validate(cfg); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestEncodeSingleRegressionAndUnlabelled(t *testing.T) {
	tok := newWS()
	x := tok.add("x")
	batch, err := Encode(tok, mustTask(t, "sst2"), []Example{{TextA: "x", Label: -1, Score: -1}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(batch.InputIDs, []int{4, x, 5, 3}) || !reflect.DeepEqual(batch.TypeIDs, []int{0, 0, 0, 0}) {
		t.Errorf("single: ids %v types %v", batch.InputIDs, batch.TypeIDs)
	}
	if batch.Labels != nil || batch.Targets != nil {
		t.Errorf("unlabelled batch has labels %v targets %v", batch.Labels, batch.Targets)
	}
	batch, err = Encode(tok, mustTask(t, "stsb"), []Example{{TextA: "x", TextB: "x", Label: -1, Score: 3.5}, {TextA: "x", TextB: "x", Label: -1, Score: 0}}, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(batch.Targets, []float32{3.5, 0}) || batch.Labels != nil {
		t.Errorf("stsb targets %v labels %v", batch.Targets, batch.Labels)
	}
	// A pair task keeps both [SEP]s even with an empty second text.
	batch, err = Encode(tok, mustTask(t, "rte"), []Example{{TextA: "x", Label: 0}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(batch.InputIDs, []int{4, x, 5, 5, 3}) || !reflect.DeepEqual(batch.TypeIDs, []int{0, 0, 0, 1, 0}) {
		t.Errorf("empty B: ids %v types %v", batch.InputIDs, batch.TypeIDs)
	}
}

func TestTruncation(t *testing.T) {
	tok := newWS()
	long := "a1 a2 a3 a4 a5 a6"
	short := "b1 b2"
	ex := []Example{{TextA: long, TextB: short, Label: 1}}
	rte := mustTask(t, "rte")
	id := func(words string) []int { return tok.Encode(words) }
	row := func(parts ...[]int) []int {
		var out []int
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	CLS, SEP := []int{4}, []int{5}

	// Official tail truncation: the packed row is cut at 8; B and the last
	// [SEP] fall off.
	enc, err := Tokenize(tok, rte, ex, 8)
	if err != nil {
		t.Fatal(err)
	}
	ids, types := enc.Row(0)
	if want := row(CLS, id("a1 a2 a3 a4 a5 a6"), SEP); !reflect.DeepEqual(ids, want) || enc.Truncated != 1 {
		t.Errorf("tail: %v (truncated %d), want %v", ids, enc.Truncated, want)
	}
	if !reflect.DeepEqual(types, make([]int, 8)) {
		t.Errorf("tail types %v", types)
	}
	enc, _ = Tokenize(tok, rte, ex, 9)
	ids, types = enc.Row(0)
	if want := row(CLS, id(long), SEP, id("b1")); !reflect.DeepEqual(ids, want) || !reflect.DeepEqual(types, []int{0, 0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Errorf("tail 9: %v %v, want %v", ids, types, want)
	}

}

func TestBatchSelection(t *testing.T) {
	tok := newWS()
	var ex []Example
	for i, w := range []string{"zero", "one", "two", "three"} {
		ex = append(ex, Example{Index: i, TextA: w, Label: i % 2})
	}
	enc, err := Tokenize(tok, mustTask(t, "sst2"), ex, 4)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Len() != 4 || !enc.Labelled {
		t.Fatalf("Len %d Labelled %v", enc.Len(), enc.Labelled)
	}
	b := enc.Batch([]int{3, 0})
	w3, _ := tok.ID("three")
	w0, _ := tok.ID("zero")
	if !reflect.DeepEqual(b.InputIDs, []int{4, w3, 5, 3, 4, w0, 5, 3}) || !reflect.DeepEqual(b.Labels, []int{1, 0}) {
		t.Errorf("Batch([3 0]) ids %v labels %v", b.InputIDs, b.Labels)
	}
	r := enc.Range(1, 3)
	if r.B != 2 || !reflect.DeepEqual(r.Labels, []int{1, 0}) {
		t.Errorf("Range(1,3) B=%d labels %v", r.B, r.Labels)
	}
}

func TestTokenizeRejects(t *testing.T) {
	tok := newWS()
	rte := mustTask(t, "rte")
	if _, err := Tokenize(tok, rte, []Example{{TextA: "x", Label: 0}}, 2); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("seqLen 2: %v", err)
	}
	if _, err := Tokenize(tok, rte, nil, 8); err == nil || !strings.Contains(err.Error(), "no examples") {
		t.Errorf("no examples: %v", err)
	}
	mixed := []Example{{TextA: "x", Label: 0}, {TextA: "y", Label: -1, Line: 7}}
	if _, err := Tokenize(tok, rte, mixed, 8); err == nil || !strings.Contains(err.Error(), "line 7") {
		t.Errorf("mixed labels: %v", err)
	}
}

// The real files encode into valid batches at the official length.
func TestEncodeShared(t *testing.T) {
	dir := sharedGlueDir(t)
	ex, err := Load(dir, "mrpc", "dev")
	if err != nil {
		t.Fatal(err)
	}
	tok := newWS()
	enc, err := Tokenize(tok, mustTask(t, "mrpc"), ex, 32)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fnet.DefaultConfig()
	cfg.VocabSize = tok.VocabSize()
	b := enc.Range(0, enc.Len())
	if err := b.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	// MRPC sentences run past 16 words each, so some rows were cut; a cut
	// row is exactly the first 32 ids of the whole packed pair.
	if enc.Truncated == 0 {
		t.Error("no MRPC dev example was truncated at 32 tokens")
	}
	cut := 0
	for i := 0; i < enc.Len(); i++ {
		ids, _ := enc.Row(i)
		whole := append(append(append(append([]int{4}, tok.Encode(ex[i].TextA)...), 5), tok.Encode(ex[i].TextB)...), 5)
		if len(whole) > 32 {
			cut++
			whole = whole[:32]
		}
		if !reflect.DeepEqual(ids, whole) {
			t.Fatalf("row %d = %v, want the packed pair's first 32 ids %v", i, ids, whole)
		}
	}
	if cut != enc.Truncated {
		t.Errorf("Truncated = %d, but %d rows were cut", enc.Truncated, cut)
	}
}
