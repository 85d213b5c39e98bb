package lra

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzEvalListOps: EvalListOps accepts exactly what the recursive-descent
// reference parses and agrees with the textbook to_value (median by
// sorting, numpy's truncation); a value's compact and official spellings
// evaluate to it again.
func FuzzEvalListOps(f *testing.F) {
	for _, s := range []string{"7", "[MAX 2 9 ]", "( ( ( [MED 1 ) 2 ) ] )", "[SM 9 [MAX 1 2 X 4 X", "[MED 9 0 0 9 ]",
		"[MIN [MED 1 2 3 4 ] [SM 5 5 5 ] ]", "[MAX ]", "]", "1 2", "[MA(X 1 ]", "[MAX 1", "((", "[MED [MED [MED 3 ] ] ]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		v, err := EvalListOps(src)
		root, rerr := refParse(src)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%q: EvalListOps error %v, reference error %v", src, err, rerr)
		}
		if err != nil {
			return
		}
		if want := root.refValue(); v != want || v < 0 || v > 9 {
			t.Fatalf("%q = %d, reference %d", src, v, want)
		}
		var p listOpsParser
		ids, _ := p.tokenize(src)
		compact := string(appendCompact(nil, ids))
		official, err := FormatListOpsSource(src)
		if err != nil || official != root.refOfficial() {
			t.Fatalf("%q: official %q (%v), reference %q", src, official, err, root.refOfficial())
		}
		for _, s := range []string{compact, official} {
			if w, err := EvalListOps(s); err != nil || w != v {
				t.Fatalf("%q re-spelt %q = %d (%v), want %d", src, s, w, err, v)
			}
		}
	})
}

// FuzzListOpsTSV: whatever loads is data to learn from: every target is
// 0..9 and the value of its source (by the reference too), lines ascend,
// Text is compact, and encoding gives [CLS]-first rows inside the
// vocabulary. What does not load is a ParseError on a line of the input.
func FuzzListOpsTSV(f *testing.F) {
	f.Add([]byte("Source\tTarget\n( ( ( [MAX 2 ) 9 ) ] )\t9\n( ( ( [MED 1 ) 2 ) ] )\t1\n"))
	f.Add([]byte("9\t[MAX 2 9 ]\r\n5\t[SM 2 3 X\r\n"))
	f.Add([]byte("Target\tSource\n7\t7\n"))
	f.Add([]byte("Source\tTarget\n[MAX 2 9 ]\t8\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ex, err := parseListOpsTSV(bytes.NewReader(data), "fuzz.tsv")
		if err != nil {
			checkParseError(t, err, data)
			return
		}
		prev := 0
		for i, e := range ex {
			if e.Label < 0 || e.Label > 9 {
				t.Fatalf("example %d: target %d", i, e.Label)
			}
			if v, err := EvalListOps(e.Text); err != nil || v != e.Label {
				t.Fatalf("example %d %q: value %d (%v), target %d", i, e.Text, v, err, e.Label)
			}
			if root, err := refParse(e.Text); err != nil || root.refValue() != e.Label {
				t.Fatalf("example %d %q: reference disagrees (%v)", i, e.Text, err)
			}
			if strings.ContainsAny(e.Text, "()\t\n") || e.Line <= prev {
				t.Fatalf("example %d: Text %q, line %d after %d", i, e.Text, e.Line, prev)
			}
			prev = e.Line
		}
		checkEncoded(t, ListOps, ex, 12)
	})
}

// FuzzByteTSV: labels are classes, every id is in the byte vocabulary, a
// row is [CLS] and the head of the text's bytes, padding is <pad>, and
// Truncated counts exactly the texts that did not fit.
func FuzzByteTSV(f *testing.F) {
	f.Add([]byte("sentence\tlabel\nit 's a charming journey \t1\nunfunny\t0\n"), uint8(8))
	f.Add([]byte("café\tpos\r\n日本語\tneg"), uint8(3))
	f.Add([]byte("a\tb\t1\n"), uint8(2))
	f.Add([]byte("text\n\nx\t0\n"), uint8(40))
	f.Fuzz(func(t *testing.T, data []byte, seq uint8) {
		ex, err := parseTextTSV(bytes.NewReader(data), "fuzz.tsv")
		if err != nil {
			checkParseError(t, err, data)
			return
		}
		seqLen := max(2, int(seq))
		e := checkEncoded(t, Text, ex, seqLen)
		truncated := 0
		for i, x := range ex {
			if x.Label < 0 || x.Label >= Text.NumClasses() || strings.ContainsAny(x.Text, "\n") {
				t.Fatalf("example %d: label %d, text %q", i, x.Label, x.Text)
			}
			n := min(len(x.Text), seqLen-1)
			if len(x.Text) > n {
				truncated++
			}
			row := e.Row(i)
			for j := range n {
				if row[1+j] != int(x.Text[j]) {
					t.Fatalf("example %d: id %d at %d, byte %d", i, row[1+j], 1+j, x.Text[j])
				}
			}
			if len(row) != 1+n {
				t.Fatalf("example %d: row of %d for %d bytes", i, len(row), len(x.Text))
			}
		}
		if e.Truncated != truncated {
			t.Fatalf("Truncated %d, want %d", e.Truncated, truncated)
		}
	})
}

// checkParseError: a load failure names a line of the input, or the input
// holds no examples.
func checkParseError(t *testing.T, err error, data []byte) {
	t.Helper()
	var pe *ParseError
	if errors.As(err, &pe) {
		if lines := bytes.Count(data, []byte("\n")) + 1; pe.File != "fuzz.tsv" || pe.Line < 1 || pe.Line > lines {
			t.Fatalf("ParseError %v outside the %d lines", err, lines)
		}
		return
	}
	if !strings.Contains(err.Error(), "holds no") {
		t.Fatalf("unexpected error %v", err)
	}
}

// checkEncoded encodes examples and checks rows and a batch of them all.
func checkEncoded(t *testing.T, task Task, ex []Example, seqLen int) *Encoded {
	t.Helper()
	e, err := task.Encode(ex, seqLen)
	if err != nil {
		t.Fatalf("loaded examples do not encode: %v", err)
	}
	b := e.Range(0, e.Len())
	sp := task.Vocab.Special()
	for r := range b.B {
		row := b.InputIDs[r*b.S : (r+1)*b.S]
		if row[0] != sp.CLS || b.Labels[r] != ex[r].Label {
			t.Fatalf("row %d starts %d, label %d; want [CLS] %d, label %d", r, row[0], b.Labels[r], sp.CLS, ex[r].Label)
		}
		n := len(e.Row(r))
		for j, id := range row {
			if id < 0 || id >= task.VocabSize() {
				t.Fatalf("row %d: id %d outside the vocabulary of %d", r, id, task.VocabSize())
			}
			if (j >= n) != (id == sp.Pad) {
				t.Fatalf("row %d: id %d at %d with %d real ids", r, id, j, n)
			}
		}
	}
	if !reflect.DeepEqual(b.TypeIDs, make([]int, b.B*b.S)) {
		t.Fatal("type ids are not all 0")
	}
	return e
}
