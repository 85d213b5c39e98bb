package tokenizer

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// WordPiece is a BERT vocab.txt tokenizer: BERT's basic tokenizer (clean
// up, CJK split, lower-casing and accent stripping for uncased vocabularies,
// punctuation split) followed by greedy longest-match-first WordPiece with
// "##" continuations.
type WordPiece struct {
	vocab   []string
	ids     map[string]int
	special Special
	lower   bool // uncased vocabulary: lower-case and strip accents
	markers *prefixSet
	maxWord int // longer words (in characters) become [UNK]
}

// WordPiece special pieces, looked up in the vocabulary.
const (
	wpPad  = "[PAD]"
	wpUnk  = "[UNK]"
	wpCLS  = "[CLS]"
	wpSEP  = "[SEP]"
	wpMask = "[MASK]"
)

// NewWordPiece parses a vocab.txt (one token per line; line number = id).
// Whether it is uncased is read from the vocabulary: no entry outside
// [brackets] has an upper-case letter.
func NewWordPiece(data []byte) (*WordPiece, error) {
	wp := &WordPiece{ids: map[string]int{}, maxWord: 100}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	upper := 0
	for line := 1; sc.Scan(); line++ {
		tok := strings.TrimRight(sc.Text(), "\r")
		if !utf8.ValidString(tok) {
			return nil, fmt.Errorf("line %d: not valid UTF-8", line)
		}
		if tok == "" {
			return nil, fmt.Errorf("line %d: empty token", line)
		}
		if prev, dup := wp.ids[tok]; dup {
			return nil, fmt.Errorf("line %d: token %q already on line %d", line, tok, prev+1)
		}
		wp.ids[tok] = len(wp.vocab)
		wp.vocab = append(wp.vocab, tok)
		if !(strings.HasPrefix(tok, "[") && strings.HasSuffix(tok, "]")) && strings.ToLower(tok) != tok {
			upper++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(wp.vocab) == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	wp.lower = upper == 0
	look := func(p string) int {
		if id, ok := wp.ids[p]; ok {
			return id
		}
		return -1
	}
	wp.special = Special{Unk: look(wpUnk), Pad: look(wpPad), CLS: look(wpCLS), SEP: look(wpSEP), Mask: look(wpMask)}
	if wp.special.Unk < 0 {
		return nil, fmt.Errorf("vocabulary has no %s token", wpUnk)
	}
	var markers []string
	for _, p := range []string{wpPad, wpUnk, wpCLS, wpSEP, wpMask} {
		if look(p) >= 0 {
			markers = append(markers, p)
		}
	}
	wp.markers = newPrefixSet(markers)
	return wp, nil
}

// Kind implements Tokenizer.
func (wp *WordPiece) Kind() string { return "wordpiece" }

// VocabSize implements Tokenizer.
func (wp *WordPiece) VocabSize() int { return len(wp.vocab) }

// Special implements Tokenizer.
func (wp *WordPiece) Special() Special { return wp.special }

// Lowercase reports whether the vocabulary is uncased.
func (wp *WordPiece) Lowercase() bool { return wp.lower }

// Piece implements Tokenizer.
func (wp *WordPiece) Piece(id int) string {
	if id < 0 || id >= len(wp.vocab) {
		return ""
	}
	return wp.vocab[id]
}

// ID implements Tokenizer.
func (wp *WordPiece) ID(piece string) (int, bool) {
	id, ok := wp.ids[piece]
	return id, ok
}

// IsSpecial implements Tokenizer.
func (wp *WordPiece) IsSpecial(id int) bool {
	s := wp.special
	return id >= 0 && (id == s.Unk || id == s.Pad || id == s.CLS || id == s.SEP || id == s.Mask)
}

// Encode implements Tokenizer. Literal special tokens ([MASK], [CLS], ...)
// are cut out first and map to their ids, as Hugging Face's added tokens do.
func (wp *WordPiece) Encode(text string) []int {
	var ids []int
	start := 0
	for i := 0; i < len(text); i++ {
		l := wp.markers.longestPrefix(text[i:])
		if l == 0 {
			continue
		}
		ids = wp.encodeText(ids, text[start:i])
		ids = append(ids, wp.ids[text[i:i+l]])
		i += l - 1
		start = i + 1
	}
	return wp.encodeText(ids, text[start:])
}

func (wp *WordPiece) encodeText(ids []int, text string) []int {
	for _, word := range wp.basicTokens(text) {
		ids = wp.wordPieces(ids, word)
	}
	return ids
}

// basicTokens is BERT's BasicTokenizer: drop control characters, split on
// whitespace and around CJK ideographs, lower-case and strip accents
// (uncased vocabularies), then split off each punctuation character.
func (wp *WordPiece) basicTokens(text string) []string {
	var out []string
	var cur []byte
	flush := func() {
		if len(cur) > 0 {
			out = wp.splitPunct(out, string(cur))
			cur = cur[:0]
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf { // ASCII fast path
			i++
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
				flush()
			case c < 0x20 || c == 0x7f: // control characters are removed
			default:
				cur = append(cur, c)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		switch {
		case r == utf8.RuneError || isBertControl(r):
		case isBertWhitespace(r):
			flush()
		case isCJK(r):
			flush()
			out = append(out, string(r))
		default:
			cur = utf8.AppendRune(cur, r)
		}
	}
	flush()
	return out
}

// splitPunct lower-cases and strips accents (uncased vocabularies) and
// appends the token's pieces between punctuation characters, each
// punctuation character being a token of its own.
func (wp *WordPiece) splitPunct(out []string, tok string) []string {
	if wp.lower {
		tok = stripAccents(strings.ToLower(tok))
	}
	start := 0
	for i, r := range tok {
		if isBertPunct(r) {
			if i > start {
				out = append(out, tok[start:i])
			}
			n := utf8.RuneLen(r)
			out = append(out, tok[i:i+n])
			start = i + n
		}
	}
	if start < len(tok) {
		out = append(out, tok[start:])
	}
	return out
}

// wordPieces splits one word greedily, longest match first; a word with an
// unmatchable rest, or longer than maxWord characters, is a single [UNK].
func (wp *WordPiece) wordPieces(ids []int, word string) []int {
	if utf8.RuneCountInString(word) > wp.maxWord {
		return append(ids, wp.special.Unk)
	}
	mark := len(ids)
	buf := make([]byte, 0, len(word)+2)
	for start := 0; start < len(word); {
		found := -1
		end := len(word)
		for ; end > start; end-- {
			if end < len(word) && !utf8.RuneStart(word[end]) {
				continue
			}
			buf = buf[:0]
			if start > 0 {
				buf = append(buf, "##"...)
			}
			buf = append(buf, word[start:end]...)
			if id, ok := wp.ids[string(buf)]; ok {
				found = id
				break
			}
		}
		if found < 0 {
			return append(ids[:mark], wp.special.Unk)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

// Decode implements Tokenizer: tokens joined by spaces, "##" pieces glued
// to the previous one, special tokens other than [MASK] dropped ([UNK]
// stays visible).
func (wp *WordPiece) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(wp.vocab) {
			continue
		}
		if wp.IsSpecial(id) && id != wp.special.Mask && id != wp.special.Unk {
			continue
		}
		tok := wp.vocab[id]
		if rest, ok := strings.CutPrefix(tok, "##"); ok && b.Len() > 0 {
			b.WriteString(rest)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func (wp *WordPiece) marshal() []byte {
	return []byte(strings.Join(wp.vocab, "\n") + "\n")
}

// stripAccents removes combining marks after canonical decomposition
// (Python: NFD, drop category Mn).
func stripAccents(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	d := norm.NFD.String(s)
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, d)
}

func isBertWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// isBertControl: categories C* except tab/newline/return (Hugging Face's
// rule), with unassigned code points counted as C (Cn).
func isBertControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isBertPunct: ASCII non-alphanumeric symbols count as punctuation too.
func isBertPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

// isCJK is BERT's _is_chinese_char: the CJK Unified Ideographs blocks.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
