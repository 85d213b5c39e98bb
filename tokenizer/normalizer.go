package tokenizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, sentencepiece's stand-in for
// a space inside pieces.
const spaceSymbol = "\u2581"

// maxTrieResults mirrors the C++ normalizer, which looks at no more than the
// first 32 prefix matches of the charsmap trie.
const maxTrieResults = 32

// spNormalizer reproduces sentencepiece's Normalizer: a longest-match rewrite
// driven by the model's precompiled charsmap (a Darts-clone double-array trie
// over UTF-8 plus a blob of NUL-terminated replacements), then whitespace
// handling (dummy prefix, collapsing and trimming spaces, escaping to U+2581).
type spNormalizer struct {
	spec        normalizerSpec
	wsAsSuffix  bool
	trie        []uint32 // double-array units; nil means identity
	replacement []byte   // NUL-terminated replacement strings the trie points into
	userDefined *prefixSet
}

func newSPNormalizer(spec normalizerSpec, wsAsSuffix bool, userDefined *prefixSet) (*spNormalizer, error) {
	n := &spNormalizer{spec: spec, wsAsSuffix: wsAsSuffix, userDefined: userDefined}
	blob := spec.precompiledCharsmap
	if len(blob) == 0 {
		return n, nil
	}
	if len(blob) <= 4 {
		return nil, errors.New("precompiled_charsmap: blob is broken (shorter than its header)")
	}
	size := binary.LittleEndian.Uint32(blob)
	if uint64(size) > uint64(len(blob)-4) { // the trie follows the 4-byte size
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d exceeds the %d-byte blob", size, len(blob))
	}
	if size%4 != 0 {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d is not a multiple of 4", size)
	}
	body := blob[4:]
	n.trie = make([]uint32, size/4)
	for i := range n.trie {
		n.trie[i] = binary.LittleEndian.Uint32(body[4*i:])
	}
	n.replacement = body[size:]
	return n, nil
}

// Darts-clone unit accessors.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) uint32  { return u & (1<<31 - 1) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// longestRule returns the length of the longest charsmap key that prefixes s
// and its replacement, or 0 when no rule applies.
func (n *spNormalizer) longestRule(s string) (int, string) {
	units := n.trie
	if len(units) == 0 {
		return 0, ""
	}
	pos := dartsOffset(units[0])
	bestLen, bestVal, found := 0, uint32(0), 0
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if int(pos) >= len(units) {
			break
		}
		u := units[pos]
		if dartsLabel(u) != c {
			break
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if int(pos) >= len(units) {
				break
			}
			if found < maxTrieResults && i+1 > bestLen {
				bestLen, bestVal = i+1, dartsValue(units[pos])
			}
			found++
		}
	}
	if bestLen == 0 {
		return 0, ""
	}
	if int(bestVal) >= len(n.replacement) {
		return 0, "" // corrupt pointer: treat as no rule rather than panic
	}
	r := n.replacement[bestVal:]
	if end := indexByte(r, 0); end >= 0 {
		r = r[:end]
	}
	return bestLen, string(r)
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// normalizePrefix returns the normalized form of the first unit of s and
// how many input bytes it consumed: a whole user-defined symbol (never
// normalized), the longest charsmap rule, or one UTF-8 character (U+FFFD
// for one malformed byte).
func (n *spNormalizer) normalizePrefix(s string) (string, int) {
	if n.userDefined != nil {
		if l := n.userDefined.longestPrefix(s); l > 0 {
			return s[:l], l
		}
	}
	if l, r := n.longestRule(s); l > 0 {
		return r, l
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return "\uFFFD", 1
	}
	return s[:size], size
}

// normalize turns raw text into the string the model segments.
func (n *spNormalizer) normalize(s string) string {
	if s == "" {
		return ""
	}
	spec := &n.spec
	if spec.removeExtraWhitespaces {
		for s != "" {
			p, l := n.normalizePrefix(s)
			if p != " " {
				break
			}
			s = s[l:]
		}
	}
	if s == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(s) * 3 / 2)
	space := " "
	if spec.escapeWhitespaces {
		space = spaceSymbol
	}
	if !n.wsAsSuffix && spec.addDummyPrefix {
		b.WriteString(space)
	}
	isPrevSpace := spec.removeExtraWhitespaces
	for s != "" {
		// Fast path: an ASCII byte that no rule or user-defined symbol
		// touches is copied as is (identity models see almost only these).
		if c := s[0]; c < utf8.RuneSelf && c != ' ' && n.trie == nil && (n.userDefined == nil || !n.userDefined.first[c]) {
			b.WriteByte(c)
			isPrevSpace = false
			s = s[1:]
			continue
		}
		p, l := n.normalizePrefix(s)
		if isPrevSpace {
			p = strings.TrimLeft(p, " ")
		}
		if p != "" {
			for i := 0; i < len(p); i++ {
				if p[i] == ' ' && spec.escapeWhitespaces {
					b.WriteString(spaceSymbol)
				} else {
					b.WriteByte(p[i])
				}
			}
			isPrevSpace = p[len(p)-1] == ' '
		}
		s = s[l:]
		if !spec.removeExtraWhitespaces {
			isPrevSpace = false
		}
	}
	out := b.String()
	if spec.removeExtraWhitespaces {
		for strings.HasSuffix(out, space) {
			out = out[:len(out)-len(space)]
		}
	}
	if n.wsAsSuffix && spec.addDummyPrefix {
		out += space
	}
	return out
}

// prefixSet finds the longest member of a small string set that prefixes a
// text, for user-defined symbols.
type prefixSet struct {
	byLen   [][]string // members grouped by byte length, longest first
	first   [256]bool  // possible first bytes, to skip most positions fast
	members map[string]bool
}

func newPrefixSet(items []string) *prefixSet {
	if len(items) == 0 {
		return nil
	}
	ps := &prefixSet{members: map[string]bool{}}
	groups := map[int][]string{}
	maxLen := 0
	for _, it := range items {
		if it == "" || ps.members[it] {
			continue
		}
		ps.members[it] = true
		ps.first[it[0]] = true
		groups[len(it)] = append(groups[len(it)], it)
		maxLen = max(maxLen, len(it))
	}
	for l := maxLen; l > 0; l-- {
		if g := groups[l]; len(g) > 0 {
			ps.byLen = append(ps.byLen, g)
		}
	}
	return ps
}

// longestPrefix returns the byte length of the longest member that s starts
// with, or 0.
func (ps *prefixSet) longestPrefix(s string) int {
	if ps == nil || s == "" || !ps.first[s[0]] {
		return 0
	}
	for _, g := range ps.byLen {
		l := len(g[0])
		if l > len(s) {
			continue
		}
		if ps.members[s[:l]] {
			return l
		}
	}
	return 0
}
