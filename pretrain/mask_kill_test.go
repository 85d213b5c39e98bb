package pretrain

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// idTok is a tokenizer whose text is ids ("3 0 7"), so a test can write
// any id, in the vocabulary or not, and choose what IsSpecial reports.
type idTok struct {
	v       int
	sp      tokenizer.Special
	special map[int]bool
}

func (t *idTok) Encode(text string) []int {
	var ids []int
	for _, f := range strings.Fields(text) {
		id, err := strconv.Atoi(f)
		if err != nil {
			panic(err)
		}
		ids = append(ids, id)
	}
	return ids
}
func (t *idTok) Decode(ids []int) string    { return fmt.Sprint(ids) }
func (t *idTok) Piece(id int) string        { return strconv.Itoa(id) }
func (t *idTok) ID(p string) (int, bool)    { id, err := strconv.Atoi(p); return id, err == nil }
func (t *idTok) VocabSize() int             { return t.v }
func (t *idTok) Special() tokenizer.Special { return t.sp }
func (t *idTok) IsSpecial(id int) bool      { return t.special[id] }
func (t *idTok) Kind() string               { return "ids" }
func (t *idTok) builder(tb testing.TB) *builder {
	return t.builderWith(tb, Options{SeqLen: 32, BatchSize: 1})
}

func (t *idTok) builderWith(tb testing.TB, o Options) *builder {
	tb.Helper()
	o, err := o.withDefaults()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := newBuilder(t, o)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// testVocab: 20 ids; 0..14 ordinary words; 15 <unk> (the only id IsSpecial
// reports); 16 [MASK], 17 [SEP], 18 [CLS], 19 pad, which the builder must
// treat as special by itself.
func testVocab() *idTok {
	return &idTok{v: 20, sp: tokenizer.Special{Unk: 15, Mask: 16, SEP: 17, CLS: 18, Pad: 19}, special: map[int]bool{15: true}}
}

// layoutIDs lays two lines of ids out as [CLS] a [SEP] b [SEP] pad...
func layoutIDs(b *builder, a, c []int) example {
	return b.layout([][]int{a, c}, 1, false)
}

// TestMaskSelection draws the masking of one row many times: only ordinary
// in-vocabulary tokens are chosen (id 0 among them; never [CLS], [SEP], pad,
// <unk>, a literal [MASK], nor ids outside the vocabulary), each candidate
// equally often, positions sorted, labels the original ids, the official
// count, and replacements that are [MASK], the token itself, or an ordinary
// id drawn from the whole ordinary vocabulary.
func TestMaskSelection(t *testing.T) {
	tok := testVocab()
	b := tok.builder(t)
	// candidates: the ordinary ids at positions 1, 2, 3, 5, 9, 11, 12, 13, 14
	first := []int{0, 3, 0, 15, 7, -1}
	second := []int{20, 5, 16, 14, 2, 0, 11}
	base := layoutIDs(b, first, second)
	var cand []int
	for i, id := range base.ids[:base.realTokens] {
		if id >= 0 && id < 15 {
			cand = append(cand, i)
		}
	}
	if len(cand) != 9 || base.realTokens != 16 {
		t.Fatalf("layout: %d candidates, %d real tokens: %v", len(cand), base.realTokens, base.ids)
	}
	wantN := min(b.maxPre, max(1, int(float64(base.realTokens)*0.15)), len(cand)) // 2
	const trials = 4000
	chosen := map[int]int{}
	kinds := map[string]int{}
	drawn := map[int32]bool{}
	for s := range trials {
		ex := base
		ex.ids = slices.Clone(base.ids)
		b.maskExample(&ex, rand.New(rand.NewPCG(uint64(s), 9)))
		if ex.predictions != wantN || len(ex.maskPos) != wantN || len(ex.maskLabels) != wantN {
			t.Fatalf("trial %d: %d predictions (%d positions), want %d", s, ex.predictions, len(ex.maskPos), wantN)
		}
		for i, p := range ex.maskPos {
			if i > 0 && p <= ex.maskPos[i-1] {
				t.Fatalf("trial %d: positions %v not sorted and distinct", s, ex.maskPos)
			}
			if !slices.Contains(cand, int(p)) {
				t.Fatalf("trial %d: position %d (id %d) is not an ordinary token", s, p, base.ids[p])
			}
			if ex.maskLabels[i] != base.ids[p] {
				t.Fatalf("trial %d: label %d at %d, the original id is %d", s, ex.maskLabels[i], p, base.ids[p])
			}
			chosen[int(p)]++
			switch got := ex.ids[p]; {
			case got == int32(tok.sp.Mask):
				kinds["mask"]++
			case got == base.ids[p]:
				kinds["kept"]++ // or a random draw of the same id
			case got >= 0 && got < 15:
				kinds["random"]++
				drawn[got] = true
			default:
				t.Fatalf("trial %d: position %d replaced by %d, not [MASK] nor an ordinary id", s, p, got)
			}
		}
		for i := range ex.ids {
			if !slices.Contains(ex.maskPos, int32(i)) && ex.ids[i] != base.ids[i] {
				t.Fatalf("trial %d: unmasked position %d changed", s, i)
			}
		}
	}
	// uniform without replacement: each candidate in trials·n/9 ≈ 889 draws (sd ≈ 26)
	for _, p := range cand {
		want := trials * float64(wantN) / float64(len(cand))
		if c := chosen[p]; math.Abs(float64(c)-want) > 120 {
			t.Errorf("position %d chosen %d times in %d draws of %d, want about %.0f", p, c, trials, wantN, want)
		}
	}
	total := float64(trials * wantN)
	// kept: 10%, plus the random draws that hit the same id (10%/15)
	for kind, want := range map[string]float64{"mask": 0.8, "random": 0.1 * 14 / 15, "kept": 0.1 + 0.1/15} {
		if got := float64(kinds[kind]) / total; math.Abs(got-want) > 0.02 {
			t.Errorf("%s: %.3f of predictions, want %.3f", kind, got, want)
		}
	}
	if len(drawn) != 15 {
		t.Errorf("random replacements drew %d distinct ids, want all 15 ordinary ones (0 included): %v", len(drawn), drawn)
	}
}

// TestShortRowPredictsOne: int(real·rate) is 0 for rows under 7 tokens;
// the official count is still at least one.
func TestShortRowPredictsOne(t *testing.T) {
	tok := testVocab()
	b := tok.builder(t)
	for _, row := range [][2][]int{{{4}, {9}}, {{4, 5}, {9, 1}}} {
		ex := layoutIDs(b, row[0], row[1])
		b.maskExample(&ex, rand.New(rand.NewPCG(1, 2)))
		if ex.predictions != 1 || len(ex.maskPos) != 1 {
			t.Errorf("%d real tokens: %d predictions, want 1", ex.realTokens, ex.predictions)
		}
	}
	// and a row of specials only has nothing to predict
	ex := layoutIDs(b, []int{15}, []int{16})
	b.maskExample(&ex, rand.New(rand.NewPCG(1, 2)))
	if ex.predictions != 0 {
		t.Errorf("a row without ordinary tokens has %d predictions", ex.predictions)
	}
}

// TestBuilderSpecialIDs: the builder refuses a tokenizer whose special ids
// lie outside its vocabulary (at either end), treats pad/[CLS]/[SEP]/[MASK]
// as special even when IsSpecial does not say so, and works with a single
// ordinary token (every random replacement is that token).
func TestBuilderSpecialIDs(t *testing.T) {
	o, _ := Options{SeqLen: 32, BatchSize: 1}.withDefaults()
	for _, sp := range []tokenizer.Special{
		{Unk: 15, Mask: 20, SEP: 17, CLS: 18, Pad: 19}, // [MASK] = vocab size
		{Unk: 15, Mask: 16, SEP: 17, CLS: -1, Pad: 19}, // [CLS] negative
		{Unk: 15, Mask: 16, SEP: 21, CLS: 18, Pad: 19},
	} {
		tok := testVocab()
		tok.sp = sp
		if _, err := newBuilder(tok, o); err == nil {
			t.Errorf("special ids %+v outside a vocabulary of 20: accepted", sp)
		}
	}
	tok := testVocab()
	b := tok.builder(t)
	for id := 15; id < 20; id++ {
		if !b.special[id] || slices.Contains(b.normal, int32(id)) {
			t.Errorf("id %d (a special token) is not special to the builder", id)
		}
	}
	if len(b.normal) != 15 {
		t.Errorf("%d ordinary ids, want 15", len(b.normal))
	}

	one := &idTok{v: 6, sp: tokenizer.Special{Unk: 1, Mask: 2, SEP: 3, CLS: 4, Pad: 5}, special: map[int]bool{1: true}}
	b1 := one.builder(t)
	if !slices.Equal(b1.normal, []int32{0}) {
		t.Fatalf("ordinary ids %v, want [0]", b1.normal)
	}
	for s := range 50 {
		ex := b1.layout([][]int{{0, 0, 0, 0}, {0, 0, 0, 0, 0}}, 1, false)
		b1.maskExample(&ex, rand.New(rand.NewPCG(uint64(s), 3)))
		for _, p := range ex.maskPos {
			if id := ex.ids[p]; id != 0 && id != 2 {
				t.Fatalf("replacement %d: the only ordinary id is 0", id)
			}
		}
	}
	none := &idTok{v: 5, sp: tokenizer.Special{Unk: 0, Mask: 1, SEP: 2, CLS: 3, Pad: 4}, special: map[int]bool{0: true}}
	if _, err := newBuilder(none, o); err == nil {
		t.Error("a vocabulary without ordinary tokens was accepted")
	}
}
