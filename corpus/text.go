package corpus

import (
	"bytes"
	"fmt"
	"io"
)

// maxDocBytes bounds a plain-text document: a file without blank lines is cut
// into documents of about this size so memory stays bounded. A variable so
// tests can lower it.
var maxDocBytes = 8 << 20

// textSource is a plain-text file: one sentence per line, documents separated
// by one or more blank (or whitespace-only) lines.
type textSource struct {
	path, rel string
	size      int64
	gz        bool
}

func (s *textSource) name() string        { return s.rel }
func (s *textSource) fingerprint() string { return fmt.Sprint(s.size) }

func (s *textSource) read(from Cursor, sourceIndex int, yield func(Document) bool) error {
	lf, err := openLines(s.path, s.gz, from.Offset, from.Line)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer lf.Close()
	doc := Document{Source: sourceIndex}
	index, bytesInDoc := from.Doc, 0
	flush := func() bool {
		if len(doc.Sentences) == 0 {
			return true
		}
		doc.Doc = index
		doc.ID = docID(s.rel, index)
		index++
		ok := yield(doc)
		doc = Document{Source: sourceIndex}
		bytesInDoc = 0
		return ok
	}
	for {
		text, off, line, err := lf.next()
		if err == io.EOF {
			flush()
			return nil
		}
		if err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			if !flush() {
				return nil
			}
			continue
		}
		if len(doc.Sentences) == 0 {
			doc.Offset, doc.Line = off, line
		}
		doc.Sentences = append(doc.Sentences, string(text))
		bytesInDoc += len(text)
		if bytesInDoc >= maxDocBytes && !flush() {
			return nil
		}
	}
}
