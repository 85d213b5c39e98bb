package lra

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Encoded holds a task's examples as [CLS]-first rows of ids, ready to be
// cut into batches: encode once, then call Batch for every step of every
// epoch. Rows are stored unpadded as uint16 (both vocabularies are far
// below 65536), half of glue.Encoded's int32: LRA's ListOps training split
// is about 10^8 tokens.
type Encoded struct {
	Task   Task
	SeqLen int
	// Truncated counts examples with more than SeqLen-1 tokens; as LRA does
	// (inputs[:max_length]), their first tokens are kept.
	Truncated int
	// Longest is the most tokens any example had before truncation, not
	// counting [CLS]: SeqLen = Longest+1 would cut nothing.
	Longest int

	pad    int
	ids    []uint16 // all rows back to back
	start  []int    // row i is ids[start[i]:start[i+1]]
	labels []int
}

// Encode converts examples to rows of at most seqLen ids: [CLS], then the
// text's tokens (ListOpsVocab's or ByteVocab's AppendIDs). A label outside
// the task's classes or text outside its vocabulary is an error naming the
// example and its line or file.
func (t Task) Encode(examples []Example, seqLen int) (*Encoded, error) {
	if seqLen < 2 {
		return nil, fmt.Errorf("lra: sequence length %d is too short (need room for [CLS] and a token)", seqLen)
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("lra: %s: no examples to encode", t.Name)
	}
	sp := t.Vocab.Special()
	e := &Encoded{Task: t, SeqLen: seqLen, pad: sp.Pad,
		start: make([]int, 1, len(examples)+1), labels: make([]int, 0, len(examples))}
	var tokens []int
	for i, ex := range examples {
		if ex.Label < 0 || ex.Label >= t.NumClasses() {
			return nil, fmt.Errorf("lra: %s: example %d (%s) has label %d, outside 0..%d", t.Name, i, where(ex), ex.Label, t.NumClasses()-1)
		}
		var err error
		if tokens, err = t.Vocab.AppendIDs(tokens[:0], ex.Text); err != nil {
			return nil, fmt.Errorf("lra: %s: example %d (%s): %w", t.Name, i, where(ex), err)
		}
		e.Longest = max(e.Longest, len(tokens))
		if len(tokens) > seqLen-1 {
			tokens = tokens[:seqLen-1]
			e.Truncated++
		}
		e.ids = append(e.ids, uint16(sp.CLS))
		for _, id := range tokens {
			e.ids = append(e.ids, uint16(id))
		}
		e.start = append(e.start, len(e.ids))
		e.labels = append(e.labels, ex.Label)
	}
	return e, nil
}

func where(ex Example) string {
	switch {
	case ex.Name != "":
		return ex.Name
	case ex.Line > 0:
		return fmt.Sprintf("line %d", ex.Line)
	}
	return "no line"
}

// Len is the number of encoded examples.
func (e *Encoded) Len() int { return len(e.labels) }

// Row returns example i's ids, [CLS] first, unpadded.
func (e *Encoded) Row(i int) []int {
	seg := e.ids[e.start[i]:e.start[i+1]]
	out := make([]int, len(seg))
	for j, id := range seg {
		out[j] = int(id)
	}
	return out
}

// Label is example i's class.
func (e *Encoded) Label(i int) int { return e.labels[i] }

// Batch assembles the examples at idx (positions in the slice given to
// Encode) into one batch padded to SeqLen with the pad id: type ids all 0
// (one segment), Labels set, K = 0 (no masked LM). It panics on an
// out-of-range index.
func (e *Encoded) Batch(idx []int) *fnet.Batch {
	B, S := len(idx), e.SeqLen
	b := &fnet.Batch{B: B, S: S, InputIDs: make([]int, B*S), TypeIDs: make([]int, B*S), Labels: make([]int, B)}
	for r, i := range idx {
		row := b.InputIDs[r*S : (r+1)*S]
		seg := e.ids[e.start[i]:e.start[i+1]]
		for j, id := range seg {
			row[j] = int(id)
		}
		for j := len(seg); j < S; j++ {
			row[j] = e.pad
		}
		b.Labels[r] = e.labels[i]
	}
	return b
}

// Range is Batch over the examples lo..hi-1, e.g. for evaluation in order.
func (e *Encoded) Range(lo, hi int) *fnet.Batch {
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = lo + i
	}
	return e.Batch(idx)
}
