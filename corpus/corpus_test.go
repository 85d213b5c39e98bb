package corpus

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	data := []byte(content)
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func collect(t *testing.T, c *Corpus) []Document {
	t.Helper()
	var docs []Document
	for d, err := range c.Documents() {
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs
}

func mustOpen(t *testing.T, spec string) *Corpus {
	t.Helper()
	c, err := Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkResumable checks that reading from every document's cursor yields
// exactly the documents from that one on.
func checkResumable(t *testing.T, c *Corpus, source int, docs []Document) {
	t.Helper()
	for i, d := range docs {
		var tail []Document
		for d, err := range c.SourceDocuments(source, d.Cursor) {
			if err != nil {
				t.Fatal(err)
			}
			tail = append(tail, d)
		}
		if !reflect.DeepEqual(tail, docs[i:]) {
			t.Fatalf("reading from document %d's cursor %+v gives %+v, want %+v", i, d.Cursor, tail, docs[i:])
		}
	}
}

const textSample = "\n\nFirst sentence.\r\n  Second sentence.  \n\n   \n\t\nThird doc line.\n\nLast doc, no final newline"

func TestTextDocuments(t *testing.T) {
	for _, name := range []string{"x.txt", "x.txt.gz"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, name), textSample)
			c := mustOpen(t, dir)
			docs := collect(t, c)
			want := [][]string{{"First sentence.", "Second sentence."}, {"Third doc line."}, {"Last doc, no final newline"}}
			if len(docs) != len(want) {
				t.Fatalf("got %d documents, want %d: %+v", len(docs), len(want), docs)
			}
			for i, d := range docs {
				first := want[i][0]
				wantOff := int64(strings.Index(textSample, first))
				if i == 0 {
					wantOff = 2 // the line "First sentence." starts after two blank lines
				}
				wantLine := strings.Count(textSample[:wantOff], "\n") + 1
				if !reflect.DeepEqual(d.Sentences, want[i]) || d.ID != fmt.Sprintf("%s#%d", name, i) || d.Doc != i ||
					d.Offset != wantOff || d.Line != wantLine || d.Source != 0 {
					t.Errorf("document %d = %+v, want sentences %q id %s#%d offset %d line %d", i, d, want[i], name, i, wantOff, wantLine)
				}
			}
			checkResumable(t, c, 0, docs)
		})
	}
}

func TestJSONLDocuments(t *testing.T) {
	content := `{"text": "One.\nTwo.\r\nThree.", "url": "u", "timestamp": "t"}` + "\n\n" +
		`{"text": "Solo line\u2028after a line separator\n\n  \n"}` + "\n" +
		`{"text": ""}` + "\n" +
		`{"text": "Last\rline"}`
	for _, name := range []string{"c4.jsonl", "c4.jsonl.gz", "c4-train.00000-of-01024.json.gz"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, name), content)
			c := mustOpen(t, dir)
			docs := collect(t, c)
			want := [][]string{{"One.", "Two.", "Three."}, {"Solo line", "after a line separator"}, {"Last", "line"}}
			wantLines := []int{1, 3, 5}
			wantIndex := []int{0, 1, 3} // the record without text keeps its ordinal
			if len(docs) != len(want) {
				t.Fatalf("got %d documents, want %d", len(docs), len(want))
			}
			for i, d := range docs {
				if !reflect.DeepEqual(d.Sentences, want[i]) || d.Line != wantLines[i] || d.ID != fmt.Sprintf("%s#%d", name, wantIndex[i]) || d.Doc != wantIndex[i] {
					t.Errorf("document %d = %+v, want %q on line %d", i, d, want[i], wantLines[i])
				}
			}
			checkResumable(t, c, 0, docs)
		})
	}
}

func TestJSONLErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"bad json", `{"text": "ok"}` + "\n" + `{"text": "ok"}` + "\n" + `{"text": "unterminated` + "\n", ":3: bad JSON"},
		{"no text", `{"text": "ok"}` + "\n" + `{"body": "x"}`, `:2: object has no string field "text"`},
		{"text not a string", `{"text": 5}`, ":1: bad JSON"},
		{"not an object", `["text"]`, ":1: bad JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.jsonl.gz")
			writeFile(t, path, tc.content)
			var err error
			for _, e := range mustOpen(t, path).Documents() {
				if e != nil {
					err = e
				}
			}
			if err == nil || !strings.Contains(err.Error(), path+tc.want) {
				t.Fatalf("error %v, want one containing %q", err, path+tc.want)
			}
		})
	}
}

func TestSplitLinesMatchesPython(t *testing.T) {
	for in, want := range map[string][]string{
		"":           nil,
		"a":          {"a"},
		"a\n":        {"a"},
		"\n":         {""},
		"a\nb":       {"a", "b"},
		"a\r\nb\rc":  {"a", "b", "c"},
		"a\r\n\r\nb": {"a", "", "b"},
		"a\n\nb\n":   {"a", "", "b"},
		"a\vb\fc\x1cd\x1de\x1ef\u0085g\u2028h\u2029i": {"a", "b", "c", "d", "e", "f", "g", "h", "i"},
		"tab\tstays": {"tab\tstays"},
	} {
		if got := splitLines(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitLines(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFolderOrderAndFormats(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"b/d.txt.gz":       "d1\nd2\n",
		"a.txt":            "a1\n\na2\n",
		"b/c.jsonl":        `{"text":"c1\nc2"}` + "\n",
		"g.json.gz":        `{"text":"g1"}` + "\n",
		"h.jsonl.gz":       `{"text":"h1"}` + "\n",
		"notes.md":         "not corpus\n",
		".hidden/f.txt":    "hidden\n",
		"b/.cache.txt":     "hidden\n",
		"b/e/deep.txt":     "deep\n",
		"plain.json":       `{"text":"a .json outside a .gz is not picked from folders"}`,
		"MANIFEST.tsv":     "file\tx\n",
		"z/empty.txt":      "",
		"z/blank-only.txt": "\n \n\n",
	} {
		writeFile(t, filepath.Join(dir, name), content)
	}
	c := mustOpen(t, dir)
	var names []string
	for i := range c.NumSources() {
		names = append(names, c.SourceName(i))
	}
	wantNames := []string{"a.txt", "b/c.jsonl", "b/d.txt.gz", "b/e/deep.txt", "g.json.gz", "h.jsonl.gz", "z/blank-only.txt", "z/empty.txt"}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("sources %q, want %q", names, wantNames)
	}
	var sentences []string
	for s, err := range c.Sentences() {
		if err != nil {
			t.Fatal(err)
		}
		sentences = append(sentences, s)
	}
	if want := []string{"a1", "a2", "c1", "c2", "d1", "d2", "deep", "g1", "h1"}; !reflect.DeepEqual(sentences, want) {
		t.Fatalf("sentences %q, want %q", sentences, want)
	}
	n := 0
	for range c.Sentences() {
		n++
		if n == 3 {
			break // stopping early must not panic
		}
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "readme.md"), "x")
	if _, err := Open(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("folder without corpus files: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing path: %v", err)
	}
	if _, err := Open(""); err == nil {
		t.Error("empty spec accepted")
	}
}

func TestExplicitFileKinds(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "c4.json"), `{"text":"x\ny"}`+"\n")
	writeFile(t, filepath.Join(dir, "book.data"), "x\ny\n")
	for _, name := range []string{"c4.json", "book.data"} {
		docs := collect(t, mustOpen(t, filepath.Join(dir, name)))
		if len(docs) != 1 || !reflect.DeepEqual(docs[0].Sentences, []string{"x", "y"}) || docs[0].ID != name+"#0" {
			t.Errorf("%s: %+v", name, docs)
		}
	}
}

func TestLimits(t *testing.T) {
	defer func(l, d int) { maxLineBytes, maxDocBytes = l, d }(maxLineBytes, maxDocBytes)
	maxLineBytes, maxDocBytes = 100, 50
	dir := t.TempDir()
	long := filepath.Join(dir, "long.txt")
	writeFile(t, long, "short\nshort\n"+strings.Repeat("x", 150)+"\n")
	var err error
	for _, e := range mustOpen(t, long).Documents() {
		if e != nil {
			err = e
		}
	}
	if err == nil || !strings.Contains(err.Error(), long+":3: line longer than 100 bytes") {
		t.Fatalf("over-long line: %v", err)
	}

	// A file without blank lines is cut into bounded documents.
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf("sentence number %02d", i)) // 18 bytes
	}
	nb := filepath.Join(dir, "noblank.txt")
	writeFile(t, nb, strings.Join(lines, "\n")+"\n")
	c := mustOpen(t, nb)
	docs := collect(t, c)
	if len(docs) != 4 {
		t.Fatalf("got %d documents, want 4 of 3 lines (54 bytes >= 50)", len(docs))
	}
	checkResumable(t, c, 0, docs)

	bad := docs[1].Cursor
	bad.Offset = 1 << 20
	var resumeErr error
	for _, e := range c.SourceDocuments(0, bad) {
		resumeErr = e
	}
	if resumeErr == nil || !strings.Contains(resumeErr.Error(), "past the end") {
		t.Fatalf("cursor past the end: %v", resumeErr)
	}
}

func TestSentenceSplitter(t *testing.T) {
	for in, want := range map[string][]string{
		"Package fmt implements formatted I/O. It is like C's printf.": {"Package fmt implements formatted I/O.", "It is like C's printf."},
		"Call os.Open to open a file.  Then read it!\nDone?  Yes.":     {"Call os.Open to open a file.", "Then read it!", "Done?", "Yes."},
		"Use e.g. Reader values. The end is near (really.) 2 more.":    {"Use e.g. Reader values.", "The end is near (really.)", "2 more."},
		"Written by J. Smith in 2001. see below.":                      {"Written by J. Smith in 2001. see below."},
		"   ": nil,
	} {
		if got := splitSentences(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitSentences(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBinaryFilesAreRefused: an executable or any file with NUL bytes or
// invalid UTF-8 given as a corpus fails with its file and line, instead of
// training on garbage.
func TestBinaryFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"elf.bin":    "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00\nmore\n",
		"latin1.txt": "first line\ncaf\xe9 au lait\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		c, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var got error
		for _, err := range c.Documents() {
			if err != nil {
				got = err
				break
			}
		}
		want := map[string]string{"elf.bin": p + ":1: a NUL byte", "latin1.txt": p + ":2: not valid UTF-8"}[name]
		if got == nil || !strings.Contains(got.Error(), want) {
			t.Errorf("%s: %v, want %q", name, got, want)
		}
	}
}
