package corpus

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sharedData is ../shared/data beside the repository (or $FNET_DATA).
func sharedData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FNET_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus", "gutenberg")); err != nil {
		t.Skipf("shared data not found at %s (set FNET_DATA): %v", dir, err)
	}
	return dir
}

// The Gutenberg corpus's MANIFEST.tsv counts documents and sentences per
// file; the reader must find exactly those.
func TestGutenbergMatchesManifest(t *testing.T) {
	data := sharedData(t)
	f, err := os.Open(filepath.Join(data, "corpus", "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type counts struct{ docs, sentences int }
	want := map[string]counts{}
	sc := bufio.NewScanner(f)
	var header []string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if header == nil {
			header = cols
			continue
		}
		row := map[string]string{}
		for i, h := range header {
			row[h] = cols[i]
		}
		d, _ := strconv.Atoi(row["documents"])
		s, _ := strconv.Atoi(row["sentences"])
		want[strings.TrimPrefix(row["file"], "gutenberg/")] = counts{d, s}
	}
	c := mustOpen(t, filepath.Join(data, "corpus", "gutenberg"))
	if c.NumSources() != len(want) {
		t.Fatalf("%d files, manifest lists %d", c.NumSources(), len(want))
	}
	got := map[string]counts{}
	for d, err := range c.Documents() {
		if err != nil {
			t.Fatal(err)
		}
		n := got[c.SourceName(d.Source)]
		n.docs++
		n.sentences += len(d.Sentences)
		got[c.SourceName(d.Source)] = n
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %+v, manifest says %+v", name, got[name], w)
		}
	}
	names := make([]string, c.NumSources())
	for i := range names {
		names[i] = c.SourceName(i)
	}
	if !sort.StringsAreSorted(names) {
		t.Error("sources are not in sorted order")
	}
}

func TestGoStd(t *testing.T) {
	c, err := Open(GoStd)
	if err != nil {
		t.Fatal(err)
	}
	fmtIndex := -1
	prev := ""
	for i := range c.NumSources() {
		name := c.SourceName(i)
		if strings.Contains(name, "internal") || strings.Contains(name, "vendor") || strings.Contains(name, "testdata") {
			t.Fatalf("source %s should have been skipped", name)
		}
		if name <= prev {
			t.Fatalf("sources not sorted: %s after %s", name, prev)
		}
		prev = name
		if name == "gostd:fmt" {
			fmtIndex = i
		}
	}
	if fmtIndex < 0 {
		t.Fatal("no gostd:fmt source")
	}
	var fmtDoc Document
	for d, err := range c.SourceDocuments(fmtIndex, Cursor{}) {
		if err != nil {
			t.Fatal(err)
		}
		fmtDoc = d
	}
	if fmtDoc.ID != "gostd:fmt#0" || len(fmtDoc.Sentences) < 50 ||
		fmtDoc.Sentences[0] != "Package fmt implements formatted I/O with functions analogous to C's printf and scanf." {
		t.Fatalf("fmt document: id %s, %d sentences, first %q", fmtDoc.ID, len(fmtDoc.Sentences), fmtDoc.Sentences)
	}
	for _, s := range fmtDoc.Sentences {
		if strings.ContainsAny(s, "\t\n") || strings.TrimSpace(s) != s || s == "" {
			t.Fatalf("sentence %q is not normalised prose (code blocks must be skipped)", s)
		}
	}
	// Every fourth package keeps the test quick under -race.
	docs, sentences := 0, 0
	for i := 0; i < c.NumSources(); i += 4 {
		for d, err := range c.SourceDocuments(i, Cursor{}) {
			if err != nil {
				t.Fatal(err)
			}
			docs++
			sentences += len(d.Sentences)
		}
	}
	if docs < 35 || sentences < 1200 {
		t.Fatalf("gostd has %d documents and %d sentences; want a real corpus", docs, sentences)
	}
	t.Logf("gostd: %d packages; every fourth gives %d documents, %d sentences", c.NumSources(), docs, sentences)
}
