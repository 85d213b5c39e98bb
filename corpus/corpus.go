// Package corpus streams pretraining text: plain-text files and folders (one
// sentence per line, a blank line between documents), JSON Lines with a
// "text" field (the C4 format), either optionally gzipped, and "gostd", the
// doc comments of the Go standard library, an offline corpus for first runs.
//
// A corpus is an ordered list of sources (files, or packages for gostd), each
// an ordered list of documents. Reading is streaming: at most one document is
// held in memory. Every document has a stable identifier that decides, by
// hashing, whether it belongs to the training or the held-out split. See
// docs/DATA.md.
package corpus

import (
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultHeldOut is the fraction of documents in the held-out split unless
// WithHeldOut says otherwise.
const DefaultHeldOut = 0.01

// GoStd is the spec of the Go standard library doc-comment corpus.
const GoStd = "gostd"

// Document is one document: its sentences (lines) in order, and where it came
// from.
type Document struct {
	ID        string   // stable identifier, "<source>#<index>"; decides the split
	Sentences []string // non-blank lines, trimmed
	Source    int      // index of its source in corpus order
	Cursor             // where it starts inside that source
}

// Cursor locates a document inside its source so reading can restart there.
type Cursor struct {
	Doc    int   `json:"doc"`    // ordinal of the document in its source, counting both splits
	Offset int64 `json:"offset"` // byte offset of its first line (in the decompressed stream)
	Line   int   `json:"line"`   // 1-based number of that line (0 means 1)
}

// Corpus is an opened corpus, possibly restricted to one split. It is
// immutable and safe for concurrent use; every iteration reopens its files.
type Corpus struct {
	spec    string
	sources []source
	split   Split
	heldOut float64
}

// source is one file or package: an ordered list of documents.
type source interface {
	name() string // stable, relative to the corpus root; part of document ids
	// fingerprint distinguishes contents that would break a saved position
	// (e.g. the file size).
	fingerprint() string
	// read yields the documents from cursor on; sourceIndex fills Document.Source.
	read(from Cursor, sourceIndex int, yield func(Document) bool) error
}

// Folder members are recognised by these suffixes (checked in this order).
var (
	jsonlSuffixes = []string{".jsonl.gz", ".json.gz", ".jsonl"}
	textSuffixes  = []string{".txt.gz", ".txt"}
)

// Open opens a corpus: "gostd", a file, or a folder searched recursively for
// *.txt, *.txt.gz, *.jsonl, *.jsonl.gz and *.json.gz in sorted path order.
// A file named explicitly is JSON Lines if it ends in .jsonl, .json,
// .jsonl.gz or .json.gz and plain text otherwise (gzipped if it ends in .gz).
func Open(spec string) (*Corpus, error) {
	if spec == "" {
		return nil, errors.New("corpus: empty corpus spec (want a file, a folder or \"gostd\")")
	}
	c := &Corpus{spec: spec, split: All, heldOut: DefaultHeldOut}
	if spec == GoStd {
		srcs, err := goStdSources()
		if err != nil {
			return nil, err
		}
		c.sources = srcs
		return c, nil
	}
	info, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if !info.IsDir() {
		c.sources = []source{fileSource(spec, filepath.Base(spec), info.Size(), true)}
		return c, nil
	}
	var rels []string
	sizes := map[string]int64{}
	err = filepath.WalkDir(spec, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != spec && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !corpusFile(d.Name()) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(spec, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		rels = append(rels, rel)
		sizes[rel] = fi.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("corpus: reading folder %s: %w", spec, err)
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("corpus: no corpus files (*.txt, *.txt.gz, *.jsonl, *.jsonl.gz, *.json.gz) under %s", spec)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		c.sources = append(c.sources, fileSource(filepath.Join(spec, filepath.FromSlash(rel)), rel, sizes[rel], false))
	}
	return c, nil
}

func corpusFile(name string) bool {
	for _, s := range append(append([]string{}, jsonlSuffixes...), textSuffixes...) {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// fileSource picks the reader for a file by its name. explicit is true when
// the user named the file, which widens what counts as JSON Lines and text.
func fileSource(path, rel string, size int64, explicit bool) source {
	gz := strings.HasSuffix(path, ".gz")
	base := strings.TrimSuffix(path, ".gz")
	if strings.HasSuffix(base, ".jsonl") || (strings.HasSuffix(base, ".json") && (gz || explicit)) {
		return &jsonlSource{path: path, rel: rel, size: size, gz: gz}
	}
	return &textSource{path: path, rel: rel, size: size, gz: gz}
}

// Spec is what the corpus was opened from.
func (c *Corpus) Spec() string { return c.spec }

// Split returns a view of the corpus restricted to split s.
func (c *Corpus) Split(s Split) *Corpus {
	v := *c
	v.split = s
	return &v
}

// CurrentSplit is the split the corpus is restricted to (All after Open).
func (c *Corpus) CurrentSplit() Split { return c.split }

// WithHeldOut returns a view whose held-out split is the given fraction of
// documents (0 = none, 1 = all).
func (c *Corpus) WithHeldOut(fraction float64) (*Corpus, error) {
	if !(fraction >= 0 && fraction <= 1) {
		return nil, fmt.Errorf("corpus: held-out fraction %v is outside [0, 1]", fraction)
	}
	v := *c
	v.heldOut = fraction
	return &v, nil
}

// HeldOut is the fraction of documents in the held-out split.
func (c *Corpus) HeldOut() float64 { return c.heldOut }

// NumSources is the number of files (or packages for gostd).
func (c *Corpus) NumSources() int { return len(c.sources) }

// SourceName is source i's name: its path relative to the corpus root (the
// base name for a single file), or "gostd:<import path>".
func (c *Corpus) SourceName(i int) string { return c.sources[i].name() }

// Fingerprint identifies the corpus's list of sources and their sizes, so a
// saved position is not applied to a different corpus.
func (c *Corpus) Fingerprint() string {
	h := fnv.New64a()
	for _, s := range c.sources {
		fmt.Fprintf(h, "%s\x00%s\x00", s.name(), s.fingerprint())
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// SourceDocuments yields the documents of source i that belong to the
// corpus's split, starting at the document from points to (the zero Cursor
// is the start of the source).
func (c *Corpus) SourceDocuments(i int, from Cursor) iter.Seq2[Document, error] {
	return func(yield func(Document, error) bool) {
		if i < 0 || i >= len(c.sources) {
			yield(Document{}, fmt.Errorf("corpus: source %d out of range [0, %d)", i, len(c.sources)))
			return
		}
		if from.Doc < 0 || from.Offset < 0 || from.Line < 0 {
			yield(Document{}, fmt.Errorf("corpus: %s: bad cursor %+v", c.sources[i].name(), from))
			return
		}
		stopped := false
		err := c.sources[i].read(from, i, func(d Document) bool {
			if !c.split.contains(d.ID, c.heldOut) {
				return true
			}
			if !yield(d, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(Document{}, err)
		}
	}
}

// Documents yields every document of the corpus's split in corpus order.
func (c *Corpus) Documents() iter.Seq2[Document, error] {
	return func(yield func(Document, error) bool) {
		for i := range c.sources {
			for d, err := range c.SourceDocuments(i, Cursor{}) {
				if !yield(d, err) || err != nil {
					return
				}
			}
		}
	}
}

// Sentences yields every sentence of the corpus's split in corpus order.
func (c *Corpus) Sentences() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for d, err := range c.Documents() {
			if err != nil {
				yield("", err)
				return
			}
			for _, s := range d.Sentences {
				if !yield(s, nil) {
					return
				}
			}
		}
	}
}

func docID(source string, index int) string { return fmt.Sprintf("%s#%d", source, index) }
