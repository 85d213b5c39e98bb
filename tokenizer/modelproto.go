package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// The subset of sentencepiece_model.proto (proto2) that encoding, decoding
// and writing need. Field numbers follow the official .proto file.

// pieceType is ModelProto.SentencePiece.Type.
type pieceType int32

const (
	pieceNormal      pieceType = 1
	pieceUnknown     pieceType = 2
	pieceControl     pieceType = 3
	pieceUserDefined pieceType = 4
	pieceUnused      pieceType = 5
	pieceByte        pieceType = 6
)

func (t pieceType) String() string {
	switch t {
	case pieceNormal:
		return "NORMAL"
	case pieceUnknown:
		return "UNKNOWN"
	case pieceControl:
		return "CONTROL"
	case pieceUserDefined:
		return "USER_DEFINED"
	case pieceUnused:
		return "UNUSED"
	case pieceByte:
		return "BYTE"
	}
	return fmt.Sprintf("type(%d)", int32(t))
}

// modelType is TrainerSpec.ModelType.
type modelType int32

const (
	modelUnigram modelType = 1
	modelBPE     modelType = 2
	modelWord    modelType = 3
	modelChar    modelType = 4
)

func (m modelType) String() string {
	switch m {
	case modelUnigram:
		return "UNIGRAM"
	case modelBPE:
		return "BPE"
	case modelWord:
		return "WORD"
	case modelChar:
		return "CHAR"
	}
	return fmt.Sprintf("type(%d)", int32(m))
}

type spPiece struct {
	piece string
	score float32
	typ   pieceType
}

// trainerSpec holds the TrainerSpec fields we read, plus the ones our
// trainer records so the official tools see how a vocabulary was made.
type trainerSpec struct {
	modelType               modelType
	vocabSize               int32
	characterCoverage       float32
	inputSentenceSize       uint64
	maxSentencePieceLength  int32
	treatWhitespaceAsSuffix bool
	byteFallback            bool
	userDefinedSymbols      []string
	unkID, bosID, eosID     int32
	padID                   int32
	unkPiece, bosPiece      string
	eosPiece, padPiece      string
	unkSurface              string
}

type normalizerSpec struct {
	name                   string
	precompiledCharsmap    []byte
	addDummyPrefix         bool
	removeExtraWhitespaces bool
	escapeWhitespaces      bool
}

type modelProto struct {
	pieces     []spPiece
	trainer    trainerSpec
	normalizer normalizerSpec
}

// defaultUnkSurface is what sentencepiece prints for <unk> when decoding.
const defaultUnkSurface = " \u2047 "

func defaultTrainerSpec() trainerSpec {
	return trainerSpec{
		modelType: modelUnigram, vocabSize: 8000, characterCoverage: 0.9995,
		maxSentencePieceLength: 16,
		unkID:                  0, bosID: 1, eosID: 2, padID: -1,
		unkPiece: "<unk>", bosPiece: "<s>", eosPiece: "</s>", padPiece: "<pad>",
		unkSurface: defaultUnkSurface,
	}
}

func defaultNormalizerSpec() normalizerSpec {
	return normalizerSpec{addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true}
}

// parseModelProto decodes a serialized ModelProto. Unknown fields are
// skipped, as protobuf readers do.
func parseModelProto(b []byte) (*modelProto, error) {
	m := &modelProto{trainer: defaultTrainerSpec(), normalizer: defaultNormalizerSpec()}
	sawTrainer := false
	err := walkMessage(b, 0, func(f wireField) error {
		switch f.num {
		case 1, 2, 3:
			if f.typ != wireBytes {
				return fmt.Errorf("ModelProto field %d: wire type %d, want length-delimited", f.num, f.typ)
			}
		}
		switch f.num {
		case 1:
			p, err := parsePiece(f.data, int(f.u))
			if err != nil {
				return fmt.Errorf("piece %d: %w", len(m.pieces), err)
			}
			m.pieces = append(m.pieces, p)
		case 2:
			sawTrainer = true
			if err := parseTrainerSpec(f.data, int(f.u), &m.trainer); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
		case 3:
			if err := parseNormalizerSpec(f.data, int(f.u), &m.normalizer); err != nil {
				return fmt.Errorf("normalizer_spec: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(m.pieces) == 0 {
		return nil, errors.New("not a SentencePiece model: no pieces")
	}
	if !sawTrainer {
		return nil, errors.New("not a SentencePiece model: no trainer_spec")
	}
	return m, nil
}

func parsePiece(b []byte, base int) (spPiece, error) {
	p := spPiece{typ: pieceNormal}
	err := walkMessage(b, base, func(f wireField) error {
		switch {
		case f.num == 1 && f.typ == wireBytes:
			p.piece = string(f.data)
		case f.num == 2 && f.typ == wireFixed32:
			p.score = f.float32()
		case f.num == 3 && f.typ == wireVarint:
			p.typ = pieceType(int32(f.u))
		case f.num <= 3:
			return fmt.Errorf("field %d has wire type %d", f.num, f.typ)
		}
		return nil
	})
	if err != nil {
		return p, err
	}
	if p.piece == "" {
		return p, errors.New("empty piece")
	}
	if !utf8.ValidString(p.piece) && p.typ != pieceByte {
		return p, fmt.Errorf("piece %q is not valid UTF-8", p.piece)
	}
	if p.typ < pieceNormal || p.typ > pieceByte {
		return p, fmt.Errorf("piece %q has unknown type %d", p.piece, int32(p.typ))
	}
	return p, nil
}

// scalar checks a field's wire type before its value is used.
func scalar(f wireField, want wireType, name string) error {
	if f.typ != want {
		return fmt.Errorf("%s (field %d) has wire type %d, want %d", name, f.num, f.typ, want)
	}
	return nil
}

func parseTrainerSpec(b []byte, base int, t *trainerSpec) error {
	return walkMessage(b, base, func(f wireField) error {
		var err error
		switch f.num {
		case 3:
			if err = scalar(f, wireVarint, "model_type"); err == nil {
				t.modelType = modelType(int32(f.u))
			}
		case 4:
			if err = scalar(f, wireVarint, "vocab_size"); err == nil {
				t.vocabSize = int32(f.u)
			}
		case 24:
			if err = scalar(f, wireVarint, "treat_whitespace_as_suffix"); err == nil {
				t.treatWhitespaceAsSuffix = f.u != 0
			}
		case 35:
			if err = scalar(f, wireVarint, "byte_fallback"); err == nil {
				t.byteFallback = f.u != 0
			}
		case 31:
			if err = scalar(f, wireBytes, "user_defined_symbols"); err == nil {
				t.userDefinedSymbols = append(t.userDefinedSymbols, string(f.data))
			}
		case 44:
			if err = scalar(f, wireBytes, "unk_surface"); err == nil {
				t.unkSurface = string(f.data)
			}
		}
		return err
	})
}

func parseNormalizerSpec(b []byte, base int, n *normalizerSpec) error {
	return walkMessage(b, base, func(f wireField) error {
		var err error
		switch f.num {
		case 1:
			if err = scalar(f, wireBytes, "name"); err == nil {
				n.name = string(f.data)
			}
		case 2:
			if err = scalar(f, wireBytes, "precompiled_charsmap"); err == nil {
				n.precompiledCharsmap = f.data
			}
		case 3:
			if err = scalar(f, wireVarint, "add_dummy_prefix"); err == nil {
				n.addDummyPrefix = f.u != 0
			}
		case 4:
			if err = scalar(f, wireVarint, "remove_extra_whitespaces"); err == nil {
				n.removeExtraWhitespaces = f.u != 0
			}
		case 5:
			if err = scalar(f, wireVarint, "escape_whitespaces"); err == nil {
				n.escapeWhitespaces = f.u != 0
			}
		}
		return err
	})
}

// marshal serializes the model with every field our trainer sets, so the
// official library sees explicit values rather than its defaults.
func (m *modelProto) marshal() []byte {
	var w wireWriter
	for _, p := range m.pieces {
		var pw wireWriter
		pw.string(1, p.piece)
		pw.float32(2, p.score)
		if p.typ != pieceNormal {
			pw.varint(3, uint64(p.typ))
		}
		w.bytes(1, pw.b)
	}

	t := &m.trainer
	var tw wireWriter
	tw.varint(3, uint64(t.modelType))
	tw.int32(4, t.vocabSize)
	tw.float32(10, t.characterCoverage)
	tw.varint(11, t.inputSentenceSize)
	tw.int32(20, t.maxSentencePieceLength)
	tw.bool(21, true) // split_by_unicode_script
	tw.bool(22, true) // split_by_whitespace
	tw.bool(23, true) // split_by_number
	tw.bool(24, t.treatWhitespaceAsSuffix)
	for _, s := range t.userDefinedSymbols {
		tw.string(31, s)
	}
	tw.bool(32, true) // vocabulary_output_piece_score
	tw.bool(33, true) // hard_vocab_limit
	tw.bool(35, t.byteFallback)
	tw.int32(40, t.unkID)
	tw.int32(41, t.bosID)
	tw.int32(42, t.eosID)
	tw.int32(43, t.padID)
	tw.string(44, t.unkSurface)
	tw.string(45, t.unkPiece)
	tw.string(46, t.bosPiece)
	tw.string(47, t.eosPiece)
	tw.string(48, t.padPiece)
	w.bytes(2, tw.b)

	n := &m.normalizer
	var nw wireWriter
	nw.string(1, n.name)
	if len(n.precompiledCharsmap) > 0 {
		nw.bytes(2, n.precompiledCharsmap)
	}
	nw.bool(3, n.addDummyPrefix)
	nw.bool(4, n.removeExtraWhitespaces)
	nw.bool(5, n.escapeWhitespaces)
	w.bytes(3, nw.b)
	return w.b
}
