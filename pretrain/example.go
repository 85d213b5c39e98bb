package pretrain

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// example is one finished, masked sequence. Ids are int32 to halve the
// memory of the shuffle block; they become ints in the batch.
type example struct {
	ids, types  []int32 // [SeqLen]
	maskPos     []int32 // [nPred] sorted positions
	maskLabels  []int32 // [nPred] original ids at those positions
	nsp         int32   // 1 = segments swapped
	realTokens  int     // tokens before padding
	predictions int     // = len(maskPos)
}

// builder makes examples from documents. It only reads its fields, so one
// builder serves all workers.
type builder struct {
	tok            tokenizer.Tokenizer
	seqLen, maxPre int
	maskRate       float64
	cls, sep, pad  int32
	mask           int32
	special        []bool  // by id: never masked, never drawn as a replacement
	normal         []int32 // ids a masked token may be replaced with
}

func newBuilder(tok tokenizer.Tokenizer, o Options) (*builder, error) {
	if tok == nil {
		return nil, errors.New("pretrain: nil tokenizer")
	}
	sp := tok.Special()
	v := tok.VocabSize()
	for _, f := range []struct {
		name string
		id   int
	}{{"pad", sp.Pad}, {"[CLS]", sp.CLS}, {"[SEP]", sp.SEP}, {"[MASK]", sp.Mask}} {
		if f.id < 0 || f.id >= v {
			return nil, fmt.Errorf("pretrain: tokenizer's %s id %d is outside its vocabulary of %d", f.name, f.id, v)
		}
	}
	b := &builder{
		tok: tok, seqLen: o.SeqLen, maxPre: o.MaxPredictions, maskRate: o.MaskRate,
		cls: int32(sp.CLS), sep: int32(sp.SEP), pad: int32(sp.Pad), mask: int32(sp.Mask),
		special: make([]bool, v),
	}
	for id := range v {
		b.special[id] = tok.IsSpecial(id) || id == sp.Pad || id == sp.CLS || id == sp.SEP || id == sp.Mask
		if !b.special[id] {
			b.normal = append(b.normal, int32(id))
		}
	}
	if len(b.normal) == 0 {
		return nil, errors.New("pretrain: the tokenizer's vocabulary has no non-special tokens")
	}
	return b, nil
}

// document turns one document into examples, exactly as the official
// _c4_data_unbatched: starting at line j, if lines j and j+1 together exceed
// SeqLen-3 tokens, line j is skipped; otherwise lines j.. are taken while
// their total stays within SeqLen-3, so a chunk always has at least two lines
// and nothing is ever truncated. A document's last unpaired line, single-line
// documents and over-long lines make no example. The first skip examples are
// built (so the random stream is the same) but not returned, which is how a
// resumed stream re-enters a document.
func (b *builder) document(sentences []string, rng *rand.Rand, skip int) []example {
	lines := make([][]int, len(sentences))
	for i, s := range sentences {
		lines[i] = b.tok.Encode(s)
	}
	limit := b.seqLen - 3
	var out []example
	made := 0
	for j := 0; j < len(lines)-1; {
		if len(lines[j])+len(lines[j+1]) > limit {
			j++
			continue
		}
		k, total := j, 0
		for k < len(lines) && total+len(lines[k]) <= limit {
			total += len(lines[k])
			k++
		}
		chunk := lines[j:k]
		j = k
		pivot := 1 + rng.IntN(len(chunk)-1)
		swapped := rng.Float64() >= 0.5 // official: random() < 0.5 keeps the order
		ex := b.layout(chunk, pivot, swapped)
		b.maskExample(&ex, rng)
		if made >= skip {
			out = append(out, ex)
		}
		made++
	}
	return out
}

// layout writes [CLS] first [SEP] second [SEP] and padding, where first/second
// are chunk[:pivot]/chunk[pivot:], or the other way round when swapped. Type
// ids are 0 for [CLS] first [SEP], 1 for second [SEP], 0 for padding.
func (b *builder) layout(chunk [][]int, pivot int, swapped bool) example {
	first, second := chunk[:pivot], chunk[pivot:]
	if swapped {
		first, second = second, first
	}
	ex := example{ids: make([]int32, b.seqLen), types: make([]int32, b.seqLen)}
	n := 0
	put := func(id int32, typ int32) {
		ex.ids[n], ex.types[n] = id, typ
		n++
	}
	put(b.cls, 0)
	for _, l := range first {
		for _, id := range l {
			put(int32(id), 0)
		}
	}
	put(b.sep, 0)
	for _, l := range second {
		for _, id := range l {
			put(int32(id), 1)
		}
	}
	put(b.sep, 1)
	ex.realTokens = n
	for ; n < b.seqLen; n++ {
		ex.ids[n] = b.pad
	}
	if swapped {
		ex.nsp = 1
	}
	return ex
}
