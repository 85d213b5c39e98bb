package fnet

import "fmt"

// Batch is one step's input, row-major and already padded to SeqLen. Token and
// label ids are Go ints because gorgonia's integer tensors are.
type Batch struct {
	B, S, K int // sequences, sequence length, masked-LM slots per sequence

	InputIDs []int // [B*S] token ids (with [MASK] substituted at masked positions)
	TypeIDs  []int // [B*S] token-type ids: 0 for [CLS] A [SEP], 1 for B [SEP], 0 for padding

	// Masked LM (pretraining); nil when K == 0.
	MaskedPos    []int     // [B*K] positions within the row; padding slots point at 0
	MaskedLabels []int     // [B*K] original token ids
	MaskedWeight []float32 // [B*K] 1 for a real prediction, 0 for a padding slot

	// Sequence-level labels: NSP (1 = segments swapped) in pretraining, the
	// class in classification; nil when unused.
	Labels []int // [B]
	// Regression targets (STS-B); nil when unused.
	Targets []float32 // [B]
}

// Validate checks shapes and id ranges against a model config, naming the
// offending field and index.
func (b *Batch) Validate(c Config) error {
	if b.B <= 0 || b.S <= 0 || b.K < 0 {
		return fmt.Errorf("batch: bad shape B=%d S=%d K=%d", b.B, b.S, b.K)
	}
	if b.S > c.MaxPositions {
		return fmt.Errorf("batch: sequence length %d exceeds max_position_embeddings %d", b.S, c.MaxPositions)
	}
	if (c.HasMixing(MixLinear) || c.HasMixing(MixRandom)) && b.S != c.SeqLen {
		return fmt.Errorf("batch: sequence length %d, but %s mixing multiplies by a [%d, %d] matrix: its inputs are padded to seq_len %d", b.S, c.baseMixing(), c.SeqLen, c.SeqLen, c.SeqLen)
	}
	if err := checkLen("InputIDs", len(b.InputIDs), b.B*b.S); err != nil {
		return err
	}
	if err := checkLen("TypeIDs", len(b.TypeIDs), b.B*b.S); err != nil {
		return err
	}
	if err := checkRange("InputIDs", b.InputIDs, c.VocabSize); err != nil {
		return err
	}
	if err := checkRange("TypeIDs", b.TypeIDs, c.TypeVocabSize); err != nil {
		return err
	}
	if b.K > 0 {
		for _, f := range []struct {
			name string
			n    int
		}{{"MaskedPos", len(b.MaskedPos)}, {"MaskedLabels", len(b.MaskedLabels)}, {"MaskedWeight", len(b.MaskedWeight)}} {
			if err := checkLen(f.name, f.n, b.B*b.K); err != nil {
				return err
			}
		}
		if err := checkRange("MaskedPos", b.MaskedPos, b.S); err != nil {
			return err
		}
		if err := checkRange("MaskedLabels", b.MaskedLabels, c.VocabSize); err != nil {
			return err
		}
	}
	if b.Labels != nil {
		if err := checkLen("Labels", len(b.Labels), b.B); err != nil {
			return err
		}
	}
	if b.Targets != nil {
		if err := checkLen("Targets", len(b.Targets), b.B); err != nil {
			return err
		}
	}
	return nil
}

func checkLen(name string, got, want int) error {
	if got != want {
		return fmt.Errorf("batch: %s has %d entries, want %d", name, got, want)
	}
	return nil
}

func checkRange(name string, xs []int, n int) error {
	for i, x := range xs {
		if x < 0 || x >= n {
			return fmt.Errorf("batch: %s[%d] = %d is outside [0, %d)", name, i, x, n)
		}
	}
	return nil
}
