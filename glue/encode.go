package glue

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Encoded holds tokenized, truncated examples ready to be cut into batches:
// tokenize once, then call Batch for every step of every epoch.
type Encoded struct {
	Task      Task
	SeqLen    int
	Labelled  bool // every example has a gold value: batches carry Labels or Targets
	Truncated int  // examples that did not fit SeqLen

	pad     int
	ids     []int32 // all packed rows back to back, unpadded
	start   []int   // row i is ids[start[i]:start[i+1]]
	lenA    []int32 // ids of row i with type 0 ([CLS] A [SEP]); the rest are type 1
	labels  []int
	targets []float32
}

// Tokenize packs every example as [CLS] A [SEP] (B [SEP]) with tok's ids and
// keeps the first seqLen ids of each, as the official FNet input pipeline
// does (a long A can push out the final [SEP] and all of B). Examples must
// be all labelled or all unlabelled.
// The tokenizer is called from this goroutine only.
func Tokenize(tok tokenizer.Tokenizer, task Task, examples []Example, seqLen int) (*Encoded, error) {
	if seqLen < 3 {
		return nil, fmt.Errorf("glue: sequence length %d is too short (need room for [CLS], a token and [SEP])", seqLen)
	}
	if len(examples) == 0 {
		return nil, fmt.Errorf("glue: %s: no examples to encode", task.Name)
	}
	sp := tok.Special()
	e := &Encoded{Task: task, SeqLen: seqLen, pad: sp.Pad, start: make([]int, 1, len(examples)+1), lenA: make([]int32, 0, len(examples))}
	e.Labelled = hasGold(task, examples[0])
	for i, ex := range examples {
		if hasGold(task, ex) != e.Labelled {
			return nil, fmt.Errorf("glue: %s: example %d (line %d) and example 0 differ in having a gold label; encode labelled and unlabelled examples separately", task.Name, i, ex.Line)
		}
		a := tok.Encode(ex.TextA)
		var b []int
		pair := task.Pair
		if pair {
			b = tok.Encode(ex.TextB)
		}
		row, nA, cut := pack(sp.CLS, sp.SEP, a, b, pair, seqLen)
		if cut {
			e.Truncated++
		}
		for _, id := range row {
			e.ids = append(e.ids, int32(id))
		}
		e.start = append(e.start, len(e.ids))
		e.lenA = append(e.lenA, int32(nA))
		if e.Labelled {
			if task.IsRegression {
				e.targets = append(e.targets, float32(ex.Score))
			} else {
				e.labels = append(e.labels, ex.Label)
			}
		}
	}
	return e, nil
}

func hasGold(task Task, ex Example) bool {
	if task.IsRegression {
		return ex.Score >= 0
	}
	return ex.Label >= 0
}

// pack builds one row and returns it, the length of its type-0 part and
// whether anything was cut.
func pack(cls, sep int, a, b []int, pair bool, seqLen int) (row []int, lenA int, cut bool) {
	row = make([]int, 0, len(a)+len(b)+3)
	row = append(row, cls)
	row = append(row, a...)
	row = append(row, sep)
	lenA = len(row)
	if pair {
		row = append(row, b...)
		row = append(row, sep)
	}
	if len(row) > seqLen {
		row, cut = row[:seqLen], true
		lenA = min(lenA, seqLen)
	}
	return row, lenA, cut
}

// Len is the number of encoded examples.
func (e *Encoded) Len() int { return len(e.lenA) }

// Row returns example i's packed ids and type ids, unpadded.
func (e *Encoded) Row(i int) (ids, types []int) {
	seg := e.ids[e.start[i]:e.start[i+1]]
	ids = make([]int, len(seg))
	types = make([]int, len(seg))
	for j, id := range seg {
		ids[j] = int(id)
		if j >= int(e.lenA[i]) {
			types[j] = 1
		}
	}
	return ids, types
}

// Batch assembles the examples at idx (positions in the slice given to
// Tokenize) into one batch padded to SeqLen: type ids 0 for [CLS] A [SEP]
// and padding, 1 for B [SEP]; Labels (classification) or Targets (stsb)
// when Labelled; K = 0 (no masked LM). It panics on an out-of-range index.
func (e *Encoded) Batch(idx []int) *fnet.Batch {
	B, S := len(idx), e.SeqLen
	b := &fnet.Batch{B: B, S: S, InputIDs: make([]int, B*S), TypeIDs: make([]int, B*S)}
	for r, i := range idx {
		row := b.InputIDs[r*S : (r+1)*S]
		seg := e.ids[e.start[i]:e.start[i+1]]
		for j := range row {
			row[j] = e.pad
		}
		for j, id := range seg {
			row[j] = int(id)
		}
		types := b.TypeIDs[r*S : (r+1)*S]
		for j := int(e.lenA[i]); j < len(seg); j++ {
			types[j] = 1
		}
	}
	if e.Labelled {
		if e.Task.IsRegression {
			b.Targets = make([]float32, B)
			for r, i := range idx {
				b.Targets[r] = e.targets[i]
			}
		} else {
			b.Labels = make([]int, B)
			for r, i := range idx {
				b.Labels[r] = e.labels[i]
			}
		}
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

// Encode tokenizes examples and returns them as one batch with the official
// tail truncation.
func Encode(tok tokenizer.Tokenizer, task Task, examples []Example, seqLen int) (*fnet.Batch, error) {
	e, err := Tokenize(tok, task, examples, seqLen)
	if err != nil {
		return nil, err
	}
	return e.Range(0, e.Len()), nil
}

// Indices returns the examples' Index values, in order, for WriteSubmission.
func Indices(examples []Example) []int {
	out := make([]int, len(examples))
	for i, ex := range examples {
		out[i] = ex.Index
	}
	return out
}
