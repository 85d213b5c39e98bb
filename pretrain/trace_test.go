package pretrain

import (
	"slices"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// traceRow checks the [CLS] A [SEP] B [SEP] layout, type ids and padding of
// row r, undoes its masking with the masked-LM labels, and checks that the
// segments, put back in document order (B before A when the NSP label is 1),
// are whole consecutive lines of one generated document, split between two
// lines. It returns the markers of those lines and the number of lines in
// the first segment (the pivot, in document order).
func (sc *synthCorpus) traceRow(t *testing.T, b *fnet.Batch, r int) (markers []int, pivot int) {
	t.Helper()
	s, k := b.S, b.K
	ids := slices.Clone(b.InputIDs[r*s : (r+1)*s])
	types := b.TypeIDs[r*s : (r+1)*s]
	for i := range k {
		if b.MaskedWeight[r*k+i] == 1 {
			ids[b.MaskedPos[r*k+i]] = b.MaskedLabels[r*k+i]
		}
	}
	sp := sc.tok.Special()
	if ids[0] != sp.CLS {
		t.Fatalf("row %d starts with %d, not [CLS]", r, ids[0])
	}
	var seps []int
	for i, id := range ids {
		if id == sp.SEP {
			seps = append(seps, i)
		}
	}
	if len(seps) != 2 {
		t.Fatalf("row %d has [SEP] at %v, want exactly two", r, seps)
	}
	p1, p2 := seps[0], seps[1]
	for i := range s {
		want := 0
		if i > p1 && i <= p2 {
			want = 1
		}
		if types[i] != want {
			t.Fatalf("row %d: type id %d at %d (seps %d,%d), want %d", r, types[i], i, p1, p2, want)
		}
		if (i > p2) != (ids[i] == sp.Pad) {
			t.Fatalf("row %d: id %d at %d; padding must be exactly the positions after the last [SEP] %d", r, ids[i], i, p2)
		}
	}
	if p2+1 > s || p2-2 > s-3 {
		t.Fatalf("row %d: %d tokens exceed the budget", r, p2+1)
	}
	first, second := ids[1:p1], ids[p1+1:p2]
	if b.Labels[r] == 1 {
		first, second = second, first
	} else if b.Labels[r] != 0 {
		t.Fatalf("row %d: NSP label %d", r, b.Labels[r])
	}
	if len(first) == 0 || len(second) == 0 || sc.marker(first[0]) < 0 || sc.marker(second[0]) < 0 {
		t.Fatalf("row %d: segments do not both start at a line: %v | %v", r, first, second)
	}
	seq := append(slices.Clone(first), second...)
	for i := 0; i < len(seq); {
		m := sc.marker(seq[i])
		if m < 0 {
			t.Fatalf("row %d: token %d at %d is not at a line start", r, seq[i], i)
		}
		line := sc.tok.Encode(sc.sentences[m])
		if i+len(line) > len(seq) || !slices.Equal(seq[i:i+len(line)], line) {
			t.Fatalf("row %d: tokens at %d are not line s%d", r, i, m)
		}
		if len(markers) > 0 {
			prev := markers[len(markers)-1]
			if sc.doc[m] != sc.doc[prev] || sc.line[m] != sc.line[prev]+1 {
				t.Fatalf("row %d: line s%d does not follow s%d in one document", r, m, prev)
			}
		}
		if i == len(first) {
			pivot = len(markers)
		}
		markers = append(markers, m)
		i += len(line)
	}
	return markers, pivot
}

// checkMasking checks row r's masked-LM slots against the unmasked ids:
// the exact official count, sorted distinct candidate positions, labels
// equal to the original ids, padding slots zero. It returns, per prediction,
// what the input holds: 'm' for [MASK], 'k' for the original, 'r' for a
// random non-special token.
func checkMasking(t *testing.T, tok *wordTokenizer, b *fnet.Batch, r int, rate float64) []byte {
	t.Helper()
	s, k := b.S, b.K
	in := b.InputIDs[r*s : (r+1)*s]
	sp := tok.Special()
	real, cand := 0, 0
	orig := slices.Clone(in)
	for i := range k {
		if b.MaskedWeight[r*k+i] == 1 {
			orig[b.MaskedPos[r*k+i]] = b.MaskedLabels[r*k+i]
		}
	}
	for _, id := range orig {
		if id != sp.Pad {
			real++
			if !tok.IsSpecial(id) {
				cand++
			}
		}
	}
	want := min(k, max(1, int(float64(real)*rate)), cand)
	var kinds []byte
	last := -1
	for i := range k {
		pos, label, w := b.MaskedPos[r*k+i], b.MaskedLabels[r*k+i], b.MaskedWeight[r*k+i]
		if i >= want {
			if pos != 0 || label != 0 || w != 0 {
				t.Fatalf("row %d slot %d: padding slot holds pos %d label %d weight %v", r, i, pos, label, w)
			}
			continue
		}
		if w != 1 {
			t.Fatalf("row %d slot %d: weight %v, want 1 (expect %d predictions)", r, i, w, want)
		}
		if pos <= last {
			t.Fatalf("row %d: masked positions not sorted and distinct at slot %d", r, i)
		}
		last = pos
		if tok.IsSpecial(label) || label == sp.Pad || label == sp.CLS || label == sp.SEP {
			t.Fatalf("row %d: special token %d at %d was masked", r, label, pos)
		}
		switch got := in[pos]; {
		case got == sp.Mask:
			kinds = append(kinds, 'm')
		case got == label:
			kinds = append(kinds, 'k')
		case tok.IsSpecial(got):
			t.Fatalf("row %d: random replacement %d at %d is special", r, got, pos)
		default:
			kinds = append(kinds, 'r')
		}
	}
	return kinds
}
