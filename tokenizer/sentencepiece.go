package tokenizer

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SentencePiece is a loaded SentencePiece model (BPE or unigram) that
// encodes exactly as the official library does, plus the [MASK]/[CLS]/[SEP]
// handling the Tokenizer interface asks for.
type SentencePiece struct {
	raw   []byte // the serialized ModelProto, written back unchanged by WriteFile
	model *modelProto
	norm  *spNormalizer

	pieces      map[string]int // NORMAL, USER_DEFINED and UNUSED pieces
	reserved    map[string]int // CONTROL, UNKNOWN and BYTE pieces
	userDefined *prefixSet
	unkID       int
	byteIDs     [256]int // id of <0xXX>, valid when byteFallback
	isByte      []int16  // byte value of a BYTE piece, -1 otherwise
	hasUnused   bool
	maxPieceLen int // bytes

	// unigram scoring (NORMAL pieces only), as in the C++ UnigramModel
	minScore, maxScore float32

	special Special
	bosID   int
	eosID   int
	// controlMarkers are [MASK]/[CLS]/[SEP] pieces that the model types as
	// CONTROL, so the official encoder would split their literal text into
	// characters; we cut them out of the input first, as Hugging Face does.
	controlMarkers *prefixSet

	wordSplit bool // BPE may run word by word (see wordSplittable)
	cache     *wordCache
}

// NewSentencePiece parses a serialized ModelProto (the bytes of a .model file).
func NewSentencePiece(data []byte) (*SentencePiece, error) {
	m, err := parseModelProto(data)
	if err != nil {
		return nil, err
	}
	return newSentencePiece(m, data)
}

func newSentencePiece(m *modelProto, raw []byte) (*SentencePiece, error) {
	switch m.trainer.modelType {
	case modelBPE, modelUnigram:
	default:
		return nil, fmt.Errorf("SentencePiece model type %v is not supported (only BPE and UNIGRAM)", m.trainer.modelType)
	}
	sp := &SentencePiece{
		raw: raw, model: m,
		pieces:   make(map[string]int, len(m.pieces)),
		reserved: map[string]int{},
		unkID:    -1, bosID: -1, eosID: -1,
		isByte:   make([]int16, len(m.pieces)),
		minScore: math.MaxFloat32, maxScore: 0x1p-126, // C++ FLT_MAX and FLT_MIN
	}
	for i := range sp.byteIDs {
		sp.byteIDs[i] = -1
	}
	var userDefined []string
	for i, p := range m.pieces {
		sp.isByte[i] = -1
		target := sp.reserved
		if p.typ == pieceNormal || p.typ == pieceUserDefined || p.typ == pieceUnused {
			target = sp.pieces
		}
		if _, dup := target[p.piece]; dup {
			return nil, fmt.Errorf("piece %d %q is already defined", i, p.piece)
		}
		target[p.piece] = i
		sp.maxPieceLen = max(sp.maxPieceLen, len(p.piece))
		switch p.typ {
		case pieceNormal:
			sp.minScore = min(sp.minScore, p.score)
			sp.maxScore = max(sp.maxScore, p.score)
		case pieceUserDefined:
			userDefined = append(userDefined, p.piece)
		case pieceUnused:
			sp.hasUnused = true
		case pieceUnknown:
			if sp.unkID >= 0 {
				return nil, fmt.Errorf("piece %d %q: <unk> is already defined as piece %d", i, p.piece, sp.unkID)
			}
			sp.unkID = i
		case pieceByte:
			if !m.trainer.byteFallback {
				return nil, fmt.Errorf("piece %d %q is a byte piece but byte_fallback is false", i, p.piece)
			}
			// exactly <0x00>..<0xFF>, as the official library spells them
			// (Sscanf took "<0x-1>" as byte -1 and "<0x+4>" as byte 4)
			v, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(p.piece, "<0x"), ">"), 16, 8)
			if err != nil || p.piece != fmt.Sprintf("<0x%02X>", v) {
				return nil, fmt.Errorf("piece %d %q is not a byte piece of the form <0xXX>", i, p.piece)
			}
			b := int(v)
			sp.byteIDs[b] = i
			sp.isByte[i] = int16(b)
		}
	}
	if sp.unkID < 0 {
		return nil, fmt.Errorf("no piece of type UNKNOWN (<unk>) is defined")
	}
	if m.trainer.byteFallback {
		for b, id := range sp.byteIDs {
			if id < 0 {
				return nil, fmt.Errorf("byte_fallback is on but byte piece <0x%02X> is missing", b)
			}
		}
	}
	sp.userDefined = newPrefixSet(userDefined)
	norm, err := newSPNormalizer(m.normalizer, m.trainer.treatWhitespaceAsSuffix, sp.userDefined)
	if err != nil {
		return nil, err
	}
	sp.norm = norm
	sp.findSpecials()
	sp.wordSplit = sp.wordSplittable()
	sp.cache = &wordCache{}
	return sp, nil
}

// findSpecials resolves the ids the data pipeline needs. Models without
// [CLS]/[SEP] fall back to <s>/</s>; a missing [MASK] or pad is -1.
func (sp *SentencePiece) findSpecials() {
	look := func(names ...string) int {
		for _, n := range names {
			if id, ok := sp.ID(n); ok {
				return id
			}
		}
		return -1
	}
	sp.bosID = look(sp.model.trainer.bosPiece, "<s>")
	sp.eosID = look(sp.model.trainer.eosPiece, "</s>")
	sp.special = Special{
		Unk:  sp.unkID,
		Pad:  look(sp.model.trainer.padPiece, "<pad>", "[PAD]"),
		CLS:  look(PieceCLS, sp.model.trainer.bosPiece, "<s>"),
		SEP:  look(PieceSEP, sp.model.trainer.eosPiece, "</s>"),
		Mask: look(PieceMask, "<mask>"),
	}
	var markers []string
	for _, name := range []string{PieceCLS, PieceSEP, PieceMask} {
		if id, ok := sp.reserved[name]; ok && sp.model.pieces[id].typ == pieceControl {
			markers = append(markers, name)
		}
	}
	sp.controlMarkers = newPrefixSet(markers)
}

// Kind implements Tokenizer.
func (sp *SentencePiece) Kind() string {
	if sp.model.trainer.modelType == modelUnigram {
		return "sentencepiece-unigram"
	}
	return "sentencepiece-bpe"
}

// VocabSize implements Tokenizer.
func (sp *SentencePiece) VocabSize() int { return len(sp.model.pieces) }

// Special implements Tokenizer.
func (sp *SentencePiece) Special() Special { return sp.special }

// Piece implements Tokenizer.
func (sp *SentencePiece) Piece(id int) string {
	if id < 0 || id >= len(sp.model.pieces) {
		return ""
	}
	return sp.model.pieces[id].piece
}

// ID implements Tokenizer: any piece, of any type.
func (sp *SentencePiece) ID(piece string) (int, bool) {
	if id, ok := sp.reserved[piece]; ok {
		return id, true
	}
	id, ok := sp.pieces[piece]
	return id, ok
}

// IsSpecial implements Tokenizer: CONTROL and UNKNOWN pieces plus the
// special ids (which are USER_DEFINED in vocabularies we train).
func (sp *SentencePiece) IsSpecial(id int) bool {
	if id < 0 || id >= len(sp.model.pieces) {
		return false
	}
	switch sp.model.pieces[id].typ {
	case pieceControl, pieceUnknown:
		return true
	}
	s := sp.special
	return id == s.Pad || id == s.CLS || id == s.SEP || id == s.Mask || id == sp.bosID || id == sp.eosID
}

// Normalize returns the text the model segments (the official library's
// normalizer output, with spaces escaped as U+2581).
func (sp *SentencePiece) Normalize(text string) string { return sp.norm.normalize(text) }

// Encode implements Tokenizer.
func (sp *SentencePiece) Encode(text string) []int {
	return sp.AppendEncode(nil, text)
}

// AppendEncode appends the ids of text to dst, so callers can reuse a buffer.
func (sp *SentencePiece) AppendEncode(dst []int, text string) []int {
	if sp.controlMarkers == nil {
		return sp.encodeSegment(dst, text)
	}
	start := 0
	for i := 0; i < len(text); i++ {
		l := sp.controlMarkers.longestPrefix(text[i:])
		if l == 0 {
			continue
		}
		dst = sp.encodeSegment(dst, text[start:i])
		dst = append(dst, sp.reserved[text[i:i+l]])
		i += l - 1
		start = i + 1
	}
	return sp.encodeSegment(dst, text[start:])
}

// EncodeOfficial encodes exactly as the official library's EncodeAsIds,
// without cutting out CONTROL-typed [MASK]/[CLS]/[SEP] markers first. For
// vocabularies trained by fnet-tui it equals Encode.
func (sp *SentencePiece) EncodeOfficial(text string) []int {
	return sp.encodeSegment(nil, text)
}

func (sp *SentencePiece) encodeSegment(dst []int, text string) []int {
	normalized := sp.norm.normalize(text)
	if normalized == "" {
		return dst
	}
	if sp.model.trainer.modelType == modelUnigram {
		return sp.encodeUnigram(dst, normalized)
	}
	return sp.encodeBPE(dst, normalized)
}

// pieceToID looks a segment up the way the C++ ModelInterface does:
// reserved pieces first, then ordinary ones, else <unk>.
func (sp *SentencePiece) pieceToID(s string) int {
	if id, ok := sp.reserved[s]; ok {
		return id
	}
	if id, ok := sp.pieces[s]; ok {
		return id
	}
	return sp.unkID
}

// emit appends the id of one final segment, spelling unknown segments as
// bytes when the model has byte fallback.
func (sp *SentencePiece) emit(dst []int, seg string, id int) []int {
	if id == sp.unkID && sp.model.trainer.byteFallback {
		for i := 0; i < len(seg); i++ {
			dst = append(dst, sp.byteIDs[seg[i]])
		}
		return dst
	}
	return append(dst, id)
}

// Decode implements Tokenizer. It follows the official decoder: pieces are
// joined with U+2581 turned back into spaces, the dummy-prefix space of the
// first piece dropped, byte pieces reassembled into UTF-8 and <unk> shown
// as the model's unk_surface (" ⁇ "). Special ids other than [MASK] are
// dropped together with a lone "▁" piece just before them, so
// "[CLS] a [SEP]" decodes to "a".
func (sp *SentencePiece) Decode(ids []int) string {
	var b strings.Builder
	var pending []byte // bytes of consecutive byte pieces
	atStart := true    // nothing written yet: the first "▁" is the dummy prefix
	lastLoneSpace := -1
	flush := func() {
		for len(pending) > 0 {
			r, n := utf8.DecodeRune(pending)
			if r == utf8.RuneError && n <= 1 {
				b.WriteString("\uFFFD")
				n = 1
			} else {
				b.Write(pending[:n])
			}
			pending = pending[n:]
			atStart = false
		}
	}
	spec := sp.model.normalizer
	stripFirst := (spec.addDummyPrefix || spec.removeExtraWhitespaces) && !sp.model.trainer.treatWhitespaceAsSuffix
	for _, id := range ids {
		if id < 0 || id >= len(sp.model.pieces) {
			continue
		}
		if bv := sp.isByte[id]; bv >= 0 {
			pending = append(pending, byte(bv))
			continue
		}
		flush()
		p := sp.model.pieces[id]
		switch {
		case id == sp.special.Mask:
			if p.typ == pieceControl && b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
				b.WriteByte(' ') // markers cut out before encoding lost their space
			}
			b.WriteString(p.piece)
			atStart = false
		case p.typ == pieceUnknown:
			b.WriteString(sp.model.trainer.unkSurface)
			atStart = false
		case sp.IsSpecial(id):
			if lastLoneSpace >= 0 && lastLoneSpace == b.Len()-1 {
				s := b.String()[:lastLoneSpace]
				b.Reset()
				b.WriteString(s)
			}
		default:
			piece := p.piece
			if atStart && stripFirst {
				piece = strings.TrimPrefix(piece, spaceSymbol)
			}
			if piece == spaceSymbol {
				lastLoneSpace = b.Len()
			}
			b.WriteString(strings.ReplaceAll(piece, spaceSymbol, " "))
			if piece != "" {
				atStart = false
			}
		}
	}
	flush()
	return b.String()
}

// String describes the model in one line, for logs.
func (sp *SentencePiece) String() string {
	n := sp.model.normalizer.name
	if n == "" {
		n = "custom"
	}
	return fmt.Sprintf("%s, %d pieces, normalizer %s, byte_fallback %v",
		sp.Kind(), sp.VocabSize(), n, sp.model.trainer.byteFallback)
}
