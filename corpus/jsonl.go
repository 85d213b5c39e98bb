package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// jsonlSource is a JSON Lines file whose lines are objects with a string
// field "text", as C4's c4-*.json.gz files. Each line is one document; its
// text is split into sentences with splitLines; blank sentences are dropped
// (they would make empty segments) and a document without any is skipped,
// though it keeps its ordinal so identifiers stay stable. Blank lines
// between records are skipped.
type jsonlSource struct {
	path, rel string
	size      int64
	gz        bool
}

func (s *jsonlSource) name() string        { return s.rel }
func (s *jsonlSource) fingerprint() string { return fmt.Sprint(s.size) }

func (s *jsonlSource) read(from Cursor, sourceIndex int, yield func(Document) bool) error {
	lf, err := openLines(s.path, s.gz, from.Offset, from.Line)
	if err != nil {
		return fmt.Errorf("corpus: %w", err)
	}
	defer lf.Close()
	index := from.Doc
	for {
		text, off, line, err := lf.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(text, &rec); err != nil {
			return fmt.Errorf("corpus: %s:%d: bad JSON: %v", s.path, line, err)
		}
		if rec.Text == nil {
			return fmt.Errorf("corpus: %s:%d: object has no string field \"text\"", s.path, line)
		}
		doc := Document{ID: docID(s.rel, index), Source: sourceIndex, Cursor: Cursor{Doc: index, Offset: off, Line: line}}
		for _, l := range splitLines(*rec.Text) {
			if l = strings.TrimSpace(l); l != "" {
				doc.Sentences = append(doc.Sentences, l)
			}
		}
		index++
		if len(doc.Sentences) > 0 && !yield(doc) {
			return nil
		}
	}
}

// splitLines splits text at the line boundaries Python's str.splitlines
// recognises (\n, \r\n, \r, \v, \f, \x1c, \x1d, \x1e, \x85, U+2028, U+2029),
// which is how the official FNet pipeline turns a C4 document into lines.
func splitLines(text string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch r {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, text[start:i])
			start = i + size
		case '\r':
			lines = append(lines, text[start:i])
			if i+1 < len(text) && text[i+1] == '\n' {
				size++
			}
			start = i + size
		}
		i += size
	}
	if start < len(text) {
		lines = append(lines, text[start:])
	}
	return lines
}
