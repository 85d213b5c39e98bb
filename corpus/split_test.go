package corpus

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestHeldOutFractionAndDeterminism(t *testing.T) {
	const n = 50000
	held := 0
	for i := range n {
		id := fmt.Sprintf("books/b%d.txt#%d", i%37, i)
		h := IsHeldOut(id, 0.01)
		if h != IsHeldOut(id, 0.01) {
			t.Fatal("IsHeldOut is not deterministic")
		}
		if h && !IsHeldOut(id, 0.02) {
			t.Fatal("raising the fraction must keep held-out documents held out")
		}
		if h {
			held++
		}
		if IsHeldOut(id, 0) || !IsHeldOut(id, 1) {
			t.Fatal("fractions 0 and 1 must hold out nothing and everything")
		}
	}
	if share := float64(held) / n; share < 0.0085 || share > 0.0115 {
		t.Fatalf("held out %.4f of ids, want 0.01", share)
	}
}

// Train and HeldOut partition All, and membership does not depend on the
// reading position.
func TestSplitsPartitionTheCorpus(t *testing.T) {
	dir := t.TempDir()
	var sb strings.Builder
	for i := range 300 {
		fmt.Fprintf(&sb, "doc %d line one\ndoc %d line two\n\n", i, i)
	}
	writeFile(t, filepath.Join(dir, "a.txt"), sb.String())
	writeFile(t, filepath.Join(dir, "b.txt.gz"), sb.String())
	c, err := mustOpen(t, dir).WithHeldOut(0.1)
	if err != nil {
		t.Fatal(err)
	}
	if c.HeldOut() != 0.1 || c.CurrentSplit() != All {
		t.Fatalf("view: held out %v split %v", c.HeldOut(), c.CurrentSplit())
	}
	ids := func(s Split) map[string]bool {
		m := map[string]bool{}
		for _, d := range collect(t, c.Split(s)) {
			m[d.ID] = true
		}
		return m
	}
	all, train, held := ids(All), ids(Train), ids(HeldOut)
	if len(all) != 600 || len(train)+len(held) != 600 || len(held) < 30 || len(held) > 90 {
		t.Fatalf("all %d, train %d, held out %d", len(all), len(train), len(held))
	}
	for id := range held {
		if train[id] {
			t.Fatalf("%s is in both splits", id)
		}
	}
	for _, d := range collect(t, c.Split(HeldOut)) {
		// Starting from the document itself must keep it in the split.
		for got, err := range c.Split(HeldOut).SourceDocuments(d.Source, d.Cursor) {
			if err != nil || got.ID != d.ID {
				t.Fatalf("resuming at %s gave %s, %v", d.ID, got.ID, err)
			}
			break
		}
	}
	if _, err := c.WithHeldOut(1.5); err == nil {
		t.Error("fraction 1.5 accepted")
	}
	for _, s := range []Split{Train, HeldOut, All} {
		if p, err := ParseSplit(s.String()); err != nil || p != s {
			t.Errorf("ParseSplit(%q) = %v, %v", s.String(), p, err)
		}
	}
	if _, err := ParseSplit("dev"); err == nil {
		t.Error("ParseSplit accepted dev")
	}
}
