package tokenizer

import (
	"cmp"
	"container/heap"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"
)

// TrainOptions configures TrainBPE.
type TrainOptions struct {
	// VocabSize is the exact number of pieces, reserved ones included.
	VocabSize int
	// MaxSentences caps the sentences used (0 = all). When the corpus has
	// more, a uniform sample of this many is kept (reservoir sampling with
	// Seed), which bounds memory on huge corpora.
	MaxSentences int
	// Seed drives the sentence sample.
	Seed uint64
	// CharacterCoverage is the share of character occurrences the
	// vocabulary must cover (default 0.9995, as sentencepiece); rarer
	// characters encode as <unk>.
	CharacterCoverage float64
	// MaxPieceLength caps a piece's length in characters (default 16).
	MaxPieceLength int
	// MaxDistinctWords bounds the word-count table (default 4,000,000):
	// past it the rarest words are dropped.
	MaxDistinctWords int
	// Progress, if set, is called now and then with a stage name
	// ("read", "merge") and counts.
	Progress func(stage string, done, total int)
}

func (o *TrainOptions) defaults() error {
	if o.CharacterCoverage == 0 {
		o.CharacterCoverage = 0.9995
	}
	if o.MaxPieceLength == 0 {
		o.MaxPieceLength = 16
	}
	if o.MaxDistinctWords == 0 {
		o.MaxDistinctWords = 4_000_000
	}
	switch {
	case o.VocabSize <= NumReserved:
		return fmt.Errorf("vocab size %d: must exceed the %d reserved pieces", o.VocabSize, NumReserved)
	case o.CharacterCoverage <= 0 || o.CharacterCoverage > 1:
		return fmt.Errorf("character coverage %g: must be in (0, 1]", o.CharacterCoverage)
	case o.MaxPieceLength < 2:
		return fmt.Errorf("max piece length %d: must be at least 2", o.MaxPieceLength)
	case o.MaxSentences < 0:
		return fmt.Errorf("max sentences %d: must not be negative", o.MaxSentences)
	case o.MaxDistinctWords < 1:
		return fmt.Errorf("max distinct words %d: must be positive", o.MaxDistinctWords)
	}
	return nil
}

// trainedModel returns an empty model with the layout and specs of every
// vocabulary fnet-tui trains: identity normalization, sentencepiece's
// whitespace rules, reserved pieces 0..6.
func trainedModel() *modelProto {
	t := defaultTrainerSpec()
	t.modelType = modelBPE
	t.padID = IDPad
	t.userDefinedSymbols = []string{PieceCLS, PieceSEP, PieceMask}
	n := defaultNormalizerSpec()
	n.name = "identity"
	return &modelProto{
		pieces: []spPiece{
			{PieceUnk, 0, pieceUnknown},
			{PieceBOS, 0, pieceControl},
			{PieceEOS, 0, pieceControl},
			{PiecePad, 0, pieceControl},
			{PieceCLS, 0, pieceUserDefined},
			{PieceSEP, 0, pieceUserDefined},
			{PieceMask, 0, pieceUserDefined},
		},
		trainer: t, normalizer: n,
	}
}

// TrainBPE learns a SentencePiece BPE vocabulary from sentences. The result
// is deterministic for a given input and options: every tie is broken by a
// fixed rule (see docs/TOKENIZER.md). Its ModelProto (WriteFile) loads in
// the official library, which encodes to the same ids as Encode.
func TrainBPE(sentences iter.Seq[string], opt TrainOptions) (*SentencePiece, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	m := trainedModel()
	m.trainer.characterCoverage = float32(opt.CharacterCoverage)
	m.trainer.maxSentencePieceLength = int32(opt.MaxPieceLength)
	m.trainer.inputSentenceSize = uint64(opt.MaxSentences)
	norm, err := newSPNormalizer(m.normalizer, false, newPrefixSet(m.trainer.userDefinedSymbols))
	if err != nil {
		return nil, err
	}

	wordCounts, err := countWords(sentences, norm, &opt)
	if err != nil {
		return nil, err
	}
	tr := newBPETrainer(wordCounts, &opt)
	budget := opt.VocabSize - NumReserved - len(tr.chars)
	if budget < 0 {
		return nil, fmt.Errorf("vocab size %d is too small: %d reserved pieces + %d characters (coverage %g) do not fit",
			opt.VocabSize, NumReserved, len(tr.chars), opt.CharacterCoverage)
	}
	merged := tr.merge(budget, opt.Progress)
	if len(merged) < budget {
		return nil, fmt.Errorf("corpus too small for vocab size %d: only %d pieces can be learned (%d reserved + %d merges + %d characters); lower the vocab size",
			opt.VocabSize, NumReserved+len(merged)+len(tr.chars), NumReserved, len(merged), len(tr.chars))
	}
	// Merged pieces score by creation order, then characters below them, as
	// the official BPE trainer lays them out.
	for i, p := range merged {
		m.pieces = append(m.pieces, spPiece{p, -float32(i), pieceNormal})
	}
	for i, c := range tr.chars {
		m.pieces = append(m.pieces, spPiece{string(c), -float32(len(merged) + i), pieceNormal})
	}
	m.trainer.vocabSize = int32(len(m.pieces))
	return newSentencePiece(m, m.marshal())
}

// countWords normalizes each sentence as the model will and counts its
// words: a word is a maximal run starting at U+2581, with user-defined
// symbols cut out (they are never merged).
func countWords(sentences iter.Seq[string], norm *spNormalizer, opt *TrainOptions) (map[string]int64, error) {
	counts := map[string]int64{}
	add := func(s string) {
		s = norm.normalize(s)
		for s != "" {
			i, l := indexUserDefined(s, norm.userDefined)
			if i < 0 {
				addWords(counts, s)
				break
			}
			addWords(counts, s[:i])
			s = s[i+l:]
		}
		if len(counts) > opt.MaxDistinctWords {
			pruneRare(counts, opt.MaxDistinctWords)
		}
	}
	n := 0
	if opt.MaxSentences == 0 {
		for s := range sentences {
			add(s)
			n++
			if opt.Progress != nil && n%100000 == 0 {
				opt.Progress("read", n, 0)
			}
		}
	} else {
		// Reservoir sampling keeps a uniform sample of MaxSentences.
		rng := rand.New(rand.NewPCG(opt.Seed, 0x746f6b656e697a65))
		sample := make([]string, 0, opt.MaxSentences)
		for s := range sentences {
			n++
			if len(sample) < opt.MaxSentences {
				sample = append(sample, s)
			} else if j := rng.IntN(n); j < opt.MaxSentences {
				sample[j] = s
			}
			if opt.Progress != nil && n%100000 == 0 {
				opt.Progress("read", n, 0)
			}
		}
		for _, s := range sample {
			add(s)
		}
	}
	if len(counts) == 0 {
		return nil, errors.New("corpus has no text")
	}
	return counts, nil
}

// indexUserDefined finds the first user-defined symbol in s: its byte
// offset and length, or -1.
func indexUserDefined(s string, ps *prefixSet) (int, int) {
	for i := 0; i < len(s); i++ {
		if l := ps.longestPrefix(s[i:]); l > 0 {
			return i, l
		}
	}
	return -1, 0
}

// addWords counts the words of normalized text: each U+2581 starts a new
// word. (Searching from byte 1 keeps a leading U+2581 with its word; UTF-8
// cannot match inside another character.)
func addWords(counts map[string]int64, s string) {
	for s != "" {
		next := strings.Index(s[1:], spaceSymbol)
		if next < 0 {
			counts[s]++
			return
		}
		counts[s[:next+1]]++
		s = s[next+1:]
	}
}

// pruneRare drops the rarest words until at most half of limit remain, so
// the table stays bounded on corpora with endless distinct tokens.
func pruneRare(counts map[string]int64, limit int) {
	for threshold := int64(1); len(counts) > limit/2; threshold++ {
		for w, c := range counts {
			if c <= threshold {
				delete(counts, w)
			}
		}
	}
}

// Symbol classes keep pieces within one script, numbers apart from
// letters, and U+2581 only at the start, like sentencepiece's trainer.
const (
	classAny    = -1 // a lone U+2581 or a combining mark: joins anything
	classNumber = -2
	classOther  = -3 // punctuation, symbols: sentencepiece's "Common" script
)

type trainSymbol struct {
	piece    string
	runes    int
	leadWS   bool // starts with U+2581
	class    int
	rankChar int // index in chars for character symbols, -1 for merged ones
}

type trainWord struct {
	syms []int32
	freq int64
}

type pairKey uint64

func mkPair(a, b int32) pairKey       { return pairKey(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func (p pairKey) split() (a, b int32) { return int32(uint32(p >> 32)), int32(uint32(p)) }

type bpeTrainer struct {
	opt       *TrainOptions
	syms      []trainSymbol
	bySymbol  map[string]int32
	chars     []rune // kept characters, most frequent first
	words     []trainWord
	pairCount map[pairKey]int64
	pairWords map[pairKey][]int32
	queue     pairQueue
	scripts   map[rune]int
}

func newBPETrainer(counts map[string]int64, opt *TrainOptions) *bpeTrainer {
	tr := &bpeTrainer{opt: opt, bySymbol: map[string]int32{}, pairCount: map[pairKey]int64{},
		pairWords: map[pairKey][]int32{}, scripts: map[rune]int{}}
	// Words in sorted order make every later step independent of map order.
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.Sort(words)

	charCount := map[rune]int64{}
	var total int64
	for _, w := range words {
		for _, r := range w {
			charCount[r] += counts[w]
			total += counts[w]
		}
	}
	chars := make([]rune, 0, len(charCount))
	for r := range charCount {
		chars = append(chars, r)
	}
	slices.SortFunc(chars, func(a, b rune) int {
		if c := cmp.Compare(charCount[b], charCount[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var covered int64
	keep := 0
	for keep < len(chars) && float64(covered)/float64(total) < opt.CharacterCoverage {
		covered += charCount[chars[keep]]
		keep++
	}
	tr.chars = chars[:keep]
	for i, r := range tr.chars {
		s := string(r)
		tr.bySymbol[s] = int32(len(tr.syms))
		tr.syms = append(tr.syms, trainSymbol{piece: s, runes: 1, leadWS: s == spaceSymbol, class: tr.classOf(r), rankChar: i})
	}

	for _, w := range words {
		tw := trainWord{freq: counts[w]}
		for _, r := range w {
			id, ok := tr.bySymbol[string(r)]
			if !ok {
				id = -1 // a dropped rare character: breaks pairs
			}
			tw.syms = append(tw.syms, id)
		}
		tr.words = append(tr.words, tw)
	}
	for wi := range tr.words {
		tr.addPairs(int32(wi), +1)
	}
	keys := make([]pairKey, 0, len(tr.pairCount))
	for p := range tr.pairCount {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	tr.queue = pairQueue{tr: tr}
	for _, p := range keys {
		tr.queue.items = append(tr.queue.items, pairItem{p, tr.pairCount[p]})
	}
	heap.Init(&tr.queue)
	return tr
}

func (tr *bpeTrainer) classOf(r rune) int {
	switch {
	case r == '\u2581' || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		return classAny
	case unicode.IsDigit(r):
		return classNumber
	case !unicode.IsLetter(r) && !unicode.Is(unicode.Mc, r):
		return classOther
	}
	if c, ok := tr.scripts[r]; ok {
		return c
	}
	c := classOther
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			switch name {
			case "Han", "Hiragana", "Katakana":
				name = "Han" // sentencepiece treats Japanese kana as Han
			}
			c = scriptClass(name)
			break
		}
	}
	tr.scripts[r] = c
	return c
}

// scriptClass maps a script name to a stable non-negative class.
func scriptClass(name string) int {
	h := 0
	for _, c := range []byte(name) {
		h = h*131 + int(c)
		h &= 1<<30 - 1
	}
	return h
}

// mergeable reports whether the pair may form a piece.
func (tr *bpeTrainer) mergeable(a, b int32) bool {
	if a < 0 || b < 0 {
		return false
	}
	sa, sb := &tr.syms[a], &tr.syms[b]
	if sb.leadWS || sa.runes+sb.runes > tr.opt.MaxPieceLength {
		return false
	}
	return sa.class == classAny || sb.class == classAny || sa.class == sb.class
}

// addPairs adds (sign=+1) or removes (-1) word wi's pairs from the counts.
func (tr *bpeTrainer) addPairs(wi int32, sign int64) {
	w := &tr.words[wi]
	for i := 0; i+1 < len(w.syms); i++ {
		a, b := w.syms[i], w.syms[i+1]
		if !tr.mergeable(a, b) {
			continue
		}
		p := mkPair(a, b)
		tr.pairCount[p] += sign * w.freq
		if sign > 0 {
			tr.pairWords[p] = append(tr.pairWords[p], wi)
		} else if tr.pairCount[p] == 0 {
			delete(tr.pairCount, p)
		}
	}
}

// merge performs up to budget merges and returns the new pieces in order.
func (tr *bpeTrainer) merge(budget int, progress func(string, int, int)) []string {
	var pieces []string
	seen := make([]int32, len(tr.words)) // last merge that touched each word, +1
	for step := int32(1); len(pieces) < budget; step++ {
		best, ok := tr.queue.popBest()
		if !ok {
			break
		}
		a, b := best.split()
		piece := tr.syms[a].piece + tr.syms[b].piece
		id, dup := tr.bySymbol[piece]
		if !dup {
			id = int32(len(tr.syms))
			tr.bySymbol[piece] = id
			cls := tr.syms[a].class
			if cls == classAny {
				cls = tr.syms[b].class
			}
			tr.syms = append(tr.syms, trainSymbol{piece: piece, runes: tr.syms[a].runes + tr.syms[b].runes,
				leadWS: tr.syms[a].leadWS, class: cls, rankChar: -1})
			pieces = append(pieces, piece)
		}
		touched := map[pairKey]bool{}
		for _, wi := range tr.pairWords[best] {
			if seen[wi] == step {
				continue
			}
			seen[wi] = step
			w := &tr.words[wi]
			if !containsPair(w.syms, a, b) {
				continue
			}
			tr.addPairs(wi, -1)
			out := w.syms[:0]
			for i := 0; i < len(w.syms); i++ {
				if i+1 < len(w.syms) && w.syms[i] == a && w.syms[i+1] == b {
					out = append(out, id)
					i++
				} else {
					out = append(out, w.syms[i])
				}
			}
			w.syms = out
			tr.addPairs(wi, +1)
			for i := 0; i+1 < len(out); i++ {
				touched[mkPair(out[i], out[i+1])] = true
			}
		}
		delete(tr.pairWords, best)
		delete(tr.pairCount, best)
		// Counts that grew need fresh queue entries; shrunk ones are fixed
		// lazily when popped.
		keys := make([]pairKey, 0, len(touched))
		for p := range touched {
			keys = append(keys, p)
		}
		slices.Sort(keys)
		for _, p := range keys {
			if c := tr.pairCount[p]; c > 0 {
				heap.Push(&tr.queue, pairItem{p, c})
			}
		}
		if progress != nil && len(pieces)%1000 == 0 && !dup {
			progress("merge", len(pieces), budget)
		}
	}
	return pieces
}

func containsPair(s []int32, a, b int32) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}

type pairItem struct {
	pair  pairKey
	count int64
}

// pairQueue is a max-heap of pairs by count; ties go to the pair whose
// merged piece sorts first (bytewise), then to the shorter left part.
type pairQueue struct {
	tr    *bpeTrainer
	items []pairItem
}

func (q *pairQueue) Len() int { return len(q.items) }
func (q *pairQueue) Less(i, j int) bool {
	x, y := q.items[i], q.items[j]
	if x.count != y.count {
		return x.count > y.count
	}
	return q.tr.pairBefore(x.pair, y.pair)
}
func (q *pairQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *pairQueue) Push(x any)    { q.items = append(q.items, x.(pairItem)) }
func (q *pairQueue) Pop() any {
	it := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return it
}

// popBest returns the pair with the highest current count, discarding
// entries made stale by earlier merges.
func (q *pairQueue) popBest() (pairKey, bool) {
	for q.Len() > 0 {
		it := heap.Pop(q).(pairItem)
		cur := q.tr.pairCount[it.pair]
		if cur == it.count && cur > 0 {
			return it.pair, true
		}
		if cur > 0 && cur < it.count {
			heap.Push(q, pairItem{it.pair, cur})
		}
	}
	return 0, false
}

func (tr *bpeTrainer) pairBefore(p, q pairKey) bool {
	pa, pb := p.split()
	qa, qb := q.split()
	x1, x2 := tr.syms[pa].piece, tr.syms[pb].piece
	y1, y2 := tr.syms[qa].piece, tr.syms[qb].piece
	if c := compareConcat(x1, x2, y1, y2); c != 0 {
		return c < 0
	}
	return len(x1) < len(y1)
}

// compareConcat compares a1+a2 with b1+b2 bytewise without allocating.
func compareConcat(a1, a2, b1, b2 string) int {
	at := func(s1, s2 string, i int) byte {
		if i < len(s1) {
			return s1[i]
		}
		return s2[i-len(s1)]
	}
	la, lb := len(a1)+len(a2), len(b1)+len(b2)
	for i := 0; i < la && i < lb; i++ {
		if x, y := at(a1, a2, i), at(b1, b2, i); x != y {
			return cmp.Compare(x, y)
		}
	}
	return cmp.Compare(la, lb)
}
