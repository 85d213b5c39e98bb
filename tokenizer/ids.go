package tokenizer

// The reserved pieces of every vocabulary trained by fnet-tui, at fixed ids
// (FNet's official vocabulary uses the same layout). See docs/TOKENIZER.md.
const (
	PieceUnk  = "<unk>"  // UNKNOWN
	PieceBOS  = "<s>"    // CONTROL
	PieceEOS  = "</s>"   // CONTROL
	PiecePad  = "<pad>"  // CONTROL
	PieceCLS  = "[CLS]"  // USER_DEFINED
	PieceSEP  = "[SEP]"  // USER_DEFINED
	PieceMask = "[MASK]" // USER_DEFINED
)

const (
	IDUnk  = 0
	IDBOS  = 1
	IDEOS  = 2
	IDPad  = 3
	IDCLS  = 4
	IDSEP  = 5
	IDMask = 6
	// NumReserved is the number of reserved pieces; learned pieces start here.
	NumReserved = 7
)

// TrainedSpecial is the Special of every vocabulary trained by fnet-tui.
var TrainedSpecial = Special{Unk: IDUnk, Pad: IDPad, CLS: IDCLS, SEP: IDSEP, Mask: IDMask}
