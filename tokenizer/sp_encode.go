package tokenizer

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// bpeSymbol is one live segment of the normalized text during BPE merging,
// linked to its neighbours; a merged-away symbol has start == end.
type bpeSymbol struct {
	start, end int
	prev, next int
	frozen     bool // a user-defined symbol: never merged
}

// bpeCandidate proposes merging symbols left and right into a piece of
// size bytes whose score orders the merges.
type bpeCandidate struct {
	left, right int
	size        int
	score       float32
}

// better is the order of the C++ agenda: higher score first, then the
// leftmost pair.
func (a bpeCandidate) better(b bpeCandidate) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// candidateHeap is a binary max-heap of merge candidates (no interface
// boxing, since encoding speed matters).
type candidateHeap []bpeCandidate

func (h *candidateHeap) push(c bpeCandidate) {
	*h = append(*h, c)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].better(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *candidateHeap) pop() bpeCandidate {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l, r, best := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].better(s[best]) {
			best = l
		}
		if r < len(s) && s[r].better(s[best]) {
			best = r
		}
		if best == i {
			break
		}
		s[i], s[best] = s[best], s[i]
		i = best
	}
	*h = s
	return top
}

// encodeBPE segments normalized text as the C++ bpe::Model::Encode does.
// When no piece can span a U+2581 (see wordSplittable) each word is
// segmented on its own, which gives the same result, and words seen before
// come from a cache.
func (sp *SentencePiece) encodeBPE(dst []int, text string) []int {
	if !sp.wordSplit {
		return sp.encodeBPEText(dst, text)
	}
	for text != "" {
		end := len(text)
		if i := strings.Index(text[1:], spaceSymbol); i >= 0 {
			end = i + 1
		}
		word := text[:end]
		text = text[end:]
		ids, ok := sp.cache.get(word)
		if !ok {
			ids = sp.encodeBPEText(nil, word)
			sp.cache.put(word, ids)
		}
		// A run of unknowns never crosses a word (U+2581 is a known
		// piece), but keep the official merging rule exact regardless.
		if len(ids) > 0 && len(dst) > 0 && ids[0] == sp.unkID && dst[len(dst)-1] == sp.unkID && !sp.model.trainer.byteFallback {
			ids = ids[1:]
		}
		dst = append(dst, ids...)
	}
	return dst
}

// encodeBPEText runs the BPE merge loop over the whole of text: start from
// characters (and whole user-defined symbols), then repeatedly merge the
// adjacent pair whose concatenation is the highest-scoring piece.
func (sp *SentencePiece) encodeBPEText(dst []int, text string) []int {
	syms := make([]bpeSymbol, 0, len(text))
	for pos := 0; pos < len(text); {
		l := sp.userDefined.longestPrefix(text[pos:])
		frozen := l > 0
		if !frozen {
			l = oneCharLen(text[pos])
			l = min(l, len(text)-pos)
		}
		syms = append(syms, bpeSymbol{start: pos, end: pos + l, prev: len(syms) - 1, next: len(syms) + 1, frozen: frozen})
		pos += l
	}
	syms[len(syms)-1].next = -1

	var agenda candidateHeap = make([]bpeCandidate, 0, len(syms))
	var revMerge map[string][2]string // how UNUSED pieces were formed, to split them again
	maybeAdd := func(left, right int) {
		if left < 0 || right < 0 || syms[left].frozen || syms[right].frozen {
			return
		}
		a, b := syms[left], syms[right]
		size := b.end - a.start // a and b are adjacent in text
		if size > sp.maxPieceLen {
			return
		}
		piece := text[a.start:b.end]
		id, ok := sp.pieces[piece]
		if !ok {
			return
		}
		p := sp.model.pieces[id]
		agenda.push(bpeCandidate{left: left, right: right, size: size, score: p.score})
		if p.typ == pieceUnused {
			if revMerge == nil {
				revMerge = map[string][2]string{}
			}
			revMerge[piece] = [2]string{text[a.start:a.end], text[b.start:b.end]}
		}
	}
	for i := 1; i < len(syms); i++ {
		maybeAdd(i-1, i)
	}
	for len(agenda) > 0 {
		top := agenda.pop()
		l, r := &syms[top.left], &syms[top.right]
		if l.start == l.end || r.start == r.end || (l.end-l.start)+(r.end-r.start) != top.size {
			continue // stale: one side was merged into something else
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.end = r.start
		maybeAdd(l.prev, top.left)
		maybeAdd(top.left, l.next)
	}
	prevUnk := false
	for i := 0; i >= 0; i = syms[i].next {
		seg := text[syms[i].start:syms[i].end]
		if revMerge != nil {
			dst = sp.resegment(dst, seg, revMerge)
			prevUnk = false
			continue
		}
		id := sp.pieceToID(seg)
		dst, prevUnk = sp.emitMergingUnk(dst, seg, id, prevUnk)
	}
	return dst
}

// emitMergingUnk appends one final segment; a run of unknown segments
// becomes a single <unk>, as in the official processor (with byte fallback
// the run is spelled out byte by byte instead, which comes to the same).
func (sp *SentencePiece) emitMergingUnk(dst []int, seg string, id int, prevUnk bool) ([]int, bool) {
	isUnk := id == sp.unkID
	if isUnk && prevUnk && !sp.model.trainer.byteFallback {
		return dst, true
	}
	return sp.emit(dst, seg, id), isUnk
}

// resegment splits a segment that ended as an UNUSED piece back into the
// two pieces it was merged from, recursively.
func (sp *SentencePiece) resegment(dst []int, seg string, revMerge map[string][2]string) []int {
	id := sp.pieceToID(seg)
	if sp.model.pieces[id].typ != pieceUnused {
		return sp.emit(dst, seg, id)
	}
	parts, ok := revMerge[seg]
	if !ok {
		return sp.emit(dst, seg, id)
	}
	dst = sp.resegment(dst, parts[0], revMerge)
	return sp.resegment(dst, parts[1], revMerge)
}

// oneCharLen is the C++ string_util::OneCharLen: the UTF-8 sequence length
// announced by a lead byte.
func oneCharLen(c byte) int {
	return int("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x02\x03\x04"[c>>4])
}

// unigramUnkPenalty is kUnkPenalty of the C++ unigram model.
const unigramUnkPenalty = 10.0

type viterbiNode struct {
	startsAt int
	id       int
	score    float32
}

// encodeUnigram finds the best-scoring segmentation (Viterbi), as the C++
// unigram::Model::Encode does: user-defined symbols get a bonus so they
// always win, and a character no piece covers becomes <unk> with a penalty.
func (sp *SentencePiece) encodeUnigram(dst []int, text string) []int {
	n := len(text)
	best := make([]viterbiNode, n+1)
	for i := range best {
		best[i].startsAt = -1
	}
	best[0].startsAt = 0
	unkScore := sp.minScore - unigramUnkPenalty
	for start := 0; start < n; {
		here := best[start].score
		mblen := min(oneCharLen(text[start]), n-start)
		hasSingle := false
		for end := start + 1; end <= n && end-start <= sp.maxPieceLen; end++ {
			if end < n && !utf8.RuneStart(text[end]) {
				continue
			}
			id, ok := sp.pieces[text[start:end]]
			if !ok {
				continue
			}
			p := &sp.model.pieces[id]
			if p.typ == pieceUnused {
				continue
			}
			length := end - start
			target := &best[end]
			if p.typ == pieceUserDefined {
				// The C++ code computes this bonus in double precision.
				cand := float64(float32(length)*sp.maxScore) - 0.1 + float64(here)
				if target.startsAt == -1 || cand > float64(target.score) {
					*target = viterbiNode{startsAt: start, id: id, score: float32(cand)}
				}
			} else {
				cand := p.score + here
				if target.startsAt == -1 || cand > target.score {
					*target = viterbiNode{startsAt: start, id: id, score: cand}
				}
			}
			if length == mblen {
				hasSingle = true
			}
		}
		if !hasSingle {
			target := &best[start+mblen]
			cand := unkScore + here
			if target.startsAt == -1 || cand > target.score {
				*target = viterbiNode{startsAt: start, id: sp.unkID, score: cand}
			}
		}
		start += mblen
	}
	// Walk back from the end, then append in text order.
	var segs [][2]int
	for end := n; end > 0; end = best[end].startsAt {
		segs = append(segs, [2]int{best[end].startsAt, end})
	}
	prevUnk := false
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		dst, prevUnk = sp.emitMergingUnk(dst, text[s[0]:s[1]], best[s[1]].id, prevUnk)
	}
	return dst
}

// wordCacheLimit bounds the word cache; past it new words are encoded
// every time (memory stays bounded on endless vocabularies of words).
const wordCacheLimit = 1 << 18

// wordCache maps a normalized word to its ids; safe for concurrent use.
type wordCache struct {
	m sync.Map
	n atomic.Int64
}

func (c *wordCache) get(w string) ([]int, bool) {
	v, ok := c.m.Load(w)
	if !ok {
		return nil, false
	}
	return v.([]int), true
}

func (c *wordCache) put(w string, ids []int) {
	if c.n.Load() >= wordCacheLimit {
		return
	}
	if _, loaded := c.m.LoadOrStore(strings.Clone(w), ids); !loaded {
		c.n.Add(1)
	}
}

// wordSplittable reports whether BPE may segment word by word: no piece has
// U+2581 after its first character, whitespace is a prefix (not a suffix),
// and "▁" itself is a piece, so neither merges nor unknown runs can cross a
// word boundary.
func (sp *SentencePiece) wordSplittable() bool {
	if sp.model.trainer.modelType != modelBPE || sp.model.trainer.treatWhitespaceAsSuffix {
		return false
	}
	if _, ok := sp.pieces[spaceSymbol]; !ok {
		return false
	}
	for p := range sp.pieces {
		if len(p) > len(spaceSymbol) && strings.Contains(p[1:], spaceSymbol) {
			return false
		}
	}
	return true
}
