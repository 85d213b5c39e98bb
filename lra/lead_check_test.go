package lra

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListOpsOperators: each operator's value, worked by hand (MED is the
// official generator's int(np.median): an even count averages the middle
// two, then truncates).
func TestListOpsOperators(t *testing.T) {
	for src, want := range map[string]int{
		"[MAX 2 9 ]":                    9,
		"[MIN 4 1 7 ]":                  1,
		"[SM 5 6 7 ]":                   8, // 18 mod 10
		"[MED 3 1 2 ]":                  2,
		"[MAX 1 [MIN 8 9 ] 3 ]":         8,
		"( ( [MAX 2 ) 9 ) ] )":          9, // the official files' parenthesised spelling
		"[SM 9 [MAX 1 2 X 4 X":          5, // LRA's tokenised spelling: ] is X
		"[MED 1 [SM 5 5 ] 9 9 ]":        5, // 0 1 9 9: (1+9)/2
		"[MIN [MAX 3 4 ] [SM 1 1 ] 7 ]": 2,
	} {
		got, err := EvalListOps(src)
		if err != nil || got != want {
			t.Errorf("%q = %d (%v), want %d", src, got, err, want)
		}
	}
	for _, bad := range []string{"[MAX 2 9", "[FOO 1 2 ]", "[MAX 1 2 ] 3", "11"} {
		if _, err := EvalListOps(bad); err == nil {
			t.Errorf("%q evaluated", bad)
		}
	}
}

// TestGenerateListOpsIsDeterministicAndCorrect: the same seed writes the
// same bytes, another seed others; every line's target is its source's
// value, lengths are within the bounds, and no source repeats.
func TestGenerateListOpsIsDeterministicAndCorrect(t *testing.T) {
	opt := DefaultListOpsOptions()
	opt.Count, opt.MinLen, opt.MaxLen, opt.Seed = 300, 20, 80, 5
	var a, b, c bytes.Buffer
	if n, err := GenerateListOps(&a, opt); err != nil || n != 300 {
		t.Fatalf("wrote %d: %v", n, err)
	}
	GenerateListOps(&b, opt)
	opt.Seed = 6
	GenerateListOps(&c, opt)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("generation is not a function of the seed")
	}
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	if lines[0] != "Source\tTarget" || len(lines) != 301 {
		t.Fatalf("header %q, %d lines", lines[0], len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines[1:] {
		src, target, _ := strings.Cut(l, "\t")
		v, err := EvalListOps(src)
		if err != nil || target != string(rune('0'+v)) {
			t.Fatalf("%q: target %s, value %d (%v)", src, target, v, err)
		}
		n := len(ListOpsVocab{}.Encode(src))
		if n <= 20 || n >= 80 {
			t.Errorf("%d tokens, outside (20, 80): %q", n, src)
		}
		if seen[src] {
			t.Errorf("repeated source %q", src)
		}
		seen[src] = true
	}
}

// TestListOpsSplitsLoadAndEncode: generated splits load through the task's
// loader (the official layout) and encode into [CLS]-first rows whose labels
// are the values; no split shares a sequence with another.
func TestListOpsSplitsLoadAndEncode(t *testing.T) {
	dir := t.TempDir()
	opt := DefaultListOpsOptions()
	opt.MinLen, opt.MaxLen, opt.Seed = 10, 60, 1
	if err := GenerateListOpsSplits(dir, opt, ListOpsCounts{Train: 50, Val: 10, Test: 10}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, split := range []string{"train", "val", "test"} {
		ex, err := ListOps.Load(dir, split)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"train": 50, "val": 10, "test": 10}[split]
		if len(ex) != want {
			t.Fatalf("%s: %d examples, want %d", split, len(ex), want)
		}
		for _, e := range ex {
			if other, ok := seen[e.Text]; ok {
				t.Errorf("a %s sequence is also in %s", split, other)
			}
			seen[e.Text] = split
		}
		enc, err := ListOps.Encode(ex, 64)
		if err != nil {
			t.Fatal(err)
		}
		b := enc.Range(0, enc.Len())
		cls := ListOps.Vocab.Special().CLS
		for r := 0; r < b.B; r++ {
			if b.InputIDs[r*b.S] != cls || b.Labels[r] != ex[r].Label {
				t.Fatalf("%s row %d: first id %d (CLS %d), label %d want %d", split, r, b.InputIDs[r*b.S], cls, b.Labels[r], ex[r].Label)
			}
			for _, id := range b.InputIDs[r*b.S : (r+1)*b.S] {
				if id < 0 || id >= ListOps.VocabSize() {
					t.Fatalf("id %d outside the vocabulary", id)
				}
			}
		}
	}
	if _, err := ListOps.Load(filepath.Join(dir, "nowhere"), "train"); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("missing data: %v", err)
	}
}

// TestByteTextLoadsAclImdbAndTSV: the aclImdb folder layout and a
// text<TAB>label file load; bytes are tokens (a multi-byte character is
// several), rows start with [CLS], a bad label names its line.
func TestByteTextLoadsAclImdbAndTSV(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []struct{ path, text string }{
		{"aclImdb/train/pos/1_9.txt", "a fine film, café"},
		{"aclImdb/train/neg/2_1.txt", "dull"},
	} {
		p := filepath.Join(dir, f.path)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(f.text), 0o644)
	}
	ex, err := Text.Load(dir, "train")
	if err != nil || len(ex) != 2 {
		t.Fatalf("aclImdb: %d examples, %v", len(ex), err)
	}
	labels := map[string]int{}
	for _, e := range ex {
		labels[e.Text] = e.Label
	}
	if labels["dull"] != 0 || labels["a fine film, café"] != 1 {
		t.Errorf("labels %v", labels)
	}
	enc, err := Text.Encode(ex, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < enc.Len(); i++ {
		row := enc.Row(i)
		if row[0] != Text.Vocab.Special().CLS {
			t.Errorf("row %d starts with %d", i, row[0])
		}
		if ex[i].Text == "a fine film, café" && len(row) != 1+len("a fine film, café") {
			t.Errorf("%d ids for %d bytes: bytes are the tokens", len(row)-1, len("a fine film, café"))
		}
	}
	tsv := filepath.Join(dir, "mine.tsv")
	os.WriteFile(tsv, []byte("good\t1\nbad\t0\nworse\t7\n"), 0o644)
	if _, err := Text.Load(tsv, "train"); err == nil || !strings.Contains(err.Error(), tsv+":3") {
		t.Errorf("a label outside the classes: %v", err)
	}
}
