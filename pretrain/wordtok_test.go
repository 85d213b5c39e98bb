package pretrain

import (
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// wordTokenizer is a real, if simple, tokenizer for pipeline tests: lower-cased
// whitespace-separated words over a vocabulary built from the test text, with
// FNet's special-id layout <unk>=0 <s>=1 </s>=2 <pad>=3 [CLS]=4 [SEP]=5
// [MASK]=6. It is read-only after construction, so workers may share it.
type wordTokenizer struct {
	pieces []string
	ids    map[string]int
}

var wordSpecials = []string{"<unk>", "<s>", "</s>", "<pad>", "[CLS]", "[SEP]", "[MASK]"}

func newWordTokenizer(texts ...string) *wordTokenizer {
	set := map[string]bool{}
	for _, t := range texts {
		for _, w := range strings.Fields(strings.ToLower(t)) {
			set[w] = true
		}
	}
	words := make([]string, 0, len(set))
	for w := range set {
		words = append(words, w)
	}
	sort.Strings(words)
	wt := &wordTokenizer{pieces: append(append([]string{}, wordSpecials...), words...), ids: map[string]int{}}
	for i, p := range wt.pieces {
		wt.ids[p] = i
	}
	return wt
}

func (w *wordTokenizer) Encode(text string) []int {
	var ids []int
	for _, f := range strings.Fields(text) {
		if id, ok := w.ids[f]; ok && (f == "[MASK]" || f == "[CLS]" || f == "[SEP]") {
			ids = append(ids, id)
			continue
		}
		if id, ok := w.ids[strings.ToLower(f)]; ok {
			ids = append(ids, id)
		} else {
			ids = append(ids, 0)
		}
	}
	return ids
}

func (w *wordTokenizer) Decode(ids []int) string {
	var parts []string
	for _, id := range ids {
		if id == 6 || !w.IsSpecial(id) {
			parts = append(parts, w.Piece(id))
		}
	}
	return strings.Join(parts, " ")
}

func (w *wordTokenizer) Piece(id int) string {
	if id < 0 || id >= len(w.pieces) {
		return ""
	}
	return w.pieces[id]
}

func (w *wordTokenizer) ID(piece string) (int, bool) { id, ok := w.ids[piece]; return id, ok }
func (w *wordTokenizer) VocabSize() int              { return len(w.pieces) }
func (w *wordTokenizer) Special() tokenizer.Special {
	return tokenizer.Special{Unk: 0, Pad: 3, CLS: 4, SEP: 5, Mask: 6}
}
func (w *wordTokenizer) IsSpecial(id int) bool { return id >= 0 && id < len(wordSpecials) }
func (w *wordTokenizer) Kind() string          { return "words" }
