package lra

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

func TestEncodeTruncatesAndPads(t *testing.T) {
	ex := []Example{
		{Text: "abc", Label: 1, Line: 1},
		{Text: "", Label: 0, Line: 2},
		{Text: "éabcdefgh", Label: 0, Line: 3}, // 10 bytes
	}
	e, err := Text.Encode(ex, 6)
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 3 || e.Truncated != 1 || e.Longest != 10 {
		t.Errorf("Len %d, Truncated %d, Longest %d; want 3, 1, 10", e.Len(), e.Truncated, e.Longest)
	}
	wantRows := [][]int{
		{ByteCLS, 'a', 'b', 'c'},
		{ByteCLS},
		{ByteCLS, 0xc3, 0xa9, 'a', 'b', 'c'}, // LRA keeps the head
	}
	for i, want := range wantRows {
		if got := e.Row(i); !reflect.DeepEqual(got, want) {
			t.Errorf("Row(%d) = %v, want %v", i, got, want)
		}
	}
	b := e.Batch([]int{2, 0})
	P := BytePad
	want := &fnet.Batch{B: 2, S: 6,
		InputIDs: []int{ByteCLS, 0xc3, 0xa9, 'a', 'b', 'c', ByteCLS, 'a', 'b', 'c', P, P},
		TypeIDs:  make([]int, 12),
		Labels:   []int{0, 1}}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("Batch = %+v\nwant %+v", b, want)
	}
	if r := e.Range(1, 3); r.B != 2 || r.Labels[0] != 0 || r.InputIDs[0] != ByteCLS || r.InputIDs[1] != P {
		t.Errorf("Range(1, 3) = %+v", r)
	}
}

// A model configured by ApplyTo accepts the task's batches.
func TestApplyToMakesBatchesValid(t *testing.T) {
	for _, task := range Tasks {
		c := fnet.Presets["mini"]
		task.ApplyTo(&c)
		c.MaxPositions, c.SeqLen = 64, 64
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", task.Name, err)
		}
		if c.VocabSize != task.VocabSize() || c.PadTokenID != task.PadID() || c.NumLabels != task.NumClasses() {
			t.Errorf("%s: config %d/%d/%d", task.Name, c.VocabSize, c.PadTokenID, c.NumLabels)
		}
		text := "[MAX 2 9 [MIN 1 2 ] ]"
		if task.Name == "text" {
			text = "\xff\x00 any bytes ü"
		}
		e, err := task.Encode([]Example{{Text: text, Label: 1}}, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Range(0, 1).Validate(c); err != nil {
			t.Errorf("%s: %v", task.Name, err)
		}
	}
	if ListOps.NumClasses() != 10 || Text.NumClasses() != 2 {
		t.Error("class counts")
	}
}

func TestEncodeErrors(t *testing.T) {
	for _, c := range []struct {
		task Task
		ex   []Example
		seq  int
		want string
	}{
		{ListOps, []Example{{Text: "[MAX 1 ]", Label: 1, Line: 7}}, 1, "sequence length 1 is too short"},
		{ListOps, nil, 8, "no examples"},
		{ListOps, []Example{{Text: "[MAX 1 ]", Label: 1}, {Text: "[MAX 1 ]", Label: 10, Line: 7}}, 8, "example 1 (line 7) has label 10, outside 0..9"},
		{ListOps, []Example{{Text: "[MAX one ]", Label: 1, Line: 4}}, 8, `example 0 (line 4): token 2 "one" is not ListOps`},
		{Text, []Example{{Text: "x", Label: 2, Name: "pos/1_9.txt"}}, 8, "example 0 (pos/1_9.txt) has label 2, outside 0..1"},
	} {
		_, err := c.task.Encode(c.ex, c.seq)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
