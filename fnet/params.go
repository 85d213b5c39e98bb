package fnet

import (
	"fmt"
	"strings"
)

// Heads selects which task heads a parameter set includes besides the encoder.
type Heads struct {
	MLM        bool // cls.predictions.* (decoder tied to the word embeddings)
	NSP        bool // cls.seq_relationship.*
	Classifier bool // classifier.* with Config.NumLabels outputs
	Pooler     bool // fnet.pooler.* (needed by NSP and the classifier)
}

// PretrainingHeads is FNetForPreTraining: MLM + NSP + pooler.
var PretrainingHeads = Heads{MLM: true, NSP: true, Pooler: true}

// MaskedLMHeads is FNetForMaskedLM as the PyTorch reference dumps it (no
// pooler: nothing of the MLM loss depends on it).
var MaskedLMHeads = Heads{MLM: true}

// ClassifierHeads is FNetForSequenceClassification.
var ClassifierHeads = Heads{Classifier: true, Pooler: true}

// ParamSpec names one parameter tensor: its Hugging Face name, shape
// (Linear weights are [out, in]) and initializer.
type ParamSpec struct {
	Name  string
	Shape []int
	Init  InitKind
	// Fixed parameters (the Random model's mixing matrices) are part of the
	// model and its checkpoint but never trained: no gradient, no optimizer
	// moments, no weight decay, not in the gradient norm.
	Fixed bool
}

// InitKind is how a parameter is initialised from scratch (FNET.md §1.2,
// the official Flax code).
type InitKind int

const (
	InitNormal      InitKind = iota // N(0, initializer_range)
	InitZeros                       // biases that Flax Dense leaves at zero
	InitOnes                        // LayerNorm scale
	InitLecunNormal                 // Flax Dense default kernel: truncated normal, variance 1/fan_in
)

func (k InitKind) String() string {
	return [...]string{"normal", "zeros", "ones", "lecun_normal"}[k]
}

// Names of the parameters the code refers to individually.
const (
	WordEmbName   = "fnet.embeddings.word_embeddings.weight"
	PosEmbName    = "fnet.embeddings.position_embeddings.weight"
	TypeEmbName   = "fnet.embeddings.token_type_embeddings.weight"
	EmbLNWeight   = "fnet.embeddings.LayerNorm.weight"
	EmbLNBias     = "fnet.embeddings.LayerNorm.bias"
	EmbProjWeight = "fnet.embeddings.projection.weight"
	EmbProjBias   = "fnet.embeddings.projection.bias"
	PoolerWeight  = "fnet.pooler.dense.weight"
	PoolerBias    = "fnet.pooler.dense.bias"
	MLMBias       = "cls.predictions.bias"
	MLMDenseW     = "cls.predictions.transform.dense.weight"
	MLMDenseB     = "cls.predictions.transform.dense.bias"
	MLMLNWeight   = "cls.predictions.transform.LayerNorm.weight"
	MLMLNBias     = "cls.predictions.transform.LayerNorm.bias"
	NSPWeight     = "cls.seq_relationship.weight"
	NSPBias       = "cls.seq_relationship.bias"
	ClsWeight     = "classifier.weight"
	ClsBias       = "classifier.bias"
	// Tied aliases a Hugging Face state dict may also carry.
	MLMDecoderWeight = "cls.predictions.decoder.weight" // == word embeddings
	MLMDecoderBias   = "cls.predictions.decoder.bias"   // == cls.predictions.bias
	PositionIDs      = "fnet.embeddings.position_ids"   // buffer, not a parameter
)

// LayerParam returns the name of a per-layer parameter, e.g.
// LayerParam(3, "intermediate.dense.weight").
func LayerParam(i int, suffix string) string {
	return fmt.Sprintf("fnet.encoder.layer.%d.%s", i, suffix)
}

// Per-layer parameter suffixes, in Hugging Face order. MixLNWeight and
// MixLNBias are the Fourier layer's; MixLNNames gives every kind's.
const (
	MixLNWeight = "fourier.output.LayerNorm.weight"
	MixLNBias   = "fourier.output.LayerNorm.bias"
	FFInW       = "intermediate.dense.weight"
	FFInB       = "intermediate.dense.bias"
	FFOutW      = "output.dense.weight"
	FFOutB      = "output.dense.bias"
	OutLNWeight = "output.LayerNorm.weight"
	OutLNBias   = "output.LayerNorm.bias"

	// attention layers (Hugging Face BERT's names)
	AttnQueryW = "attention.self.query.weight"
	AttnQueryB = "attention.self.query.bias"
	AttnKeyW   = "attention.self.key.weight"
	AttnKeyB   = "attention.self.key.bias"
	AttnValueW = "attention.self.value.weight"
	AttnValueB = "attention.self.value.bias"
	AttnOutW   = "attention.output.dense.weight"
	AttnOutB   = "attention.output.dense.bias"

	// linear and random layers: Y_b = seq · X_b · hidden
	LinearHiddenKernel = "linear.hidden_kernel" // [H, H], layout [in, out]
	LinearSeqKernel    = "linear.seq_kernel"    // [S, S], layout [out, in]
	RandomHiddenMatrix = "random.hidden_matrix" // fixed, same layouts
	RandomSeqMatrix    = "random.seq_matrix"
)

// MixLNNames are the suffixes of the LayerNorm after a layer's mixing.
func MixLNNames(k MixKind) (weight, bias string) {
	if k == MixAttention {
		return "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias"
	}
	return string(k) + ".output.LayerNorm.weight", string(k) + ".output.LayerNorm.bias"
}

// MixKernelNames are the suffixes of a linear or random layer's matrices.
func MixKernelNames(k MixKind) (hidden, seq string) {
	if k == MixRandom {
		return RandomHiddenMatrix, RandomSeqMatrix
	}
	return LinearHiddenKernel, LinearSeqKernel
}

// ParamSpecs lists every parameter of a model with the given heads, in the
// order Hugging Face's named_parameters() yields them.
func ParamSpecs(c Config, h Heads) []ParamSpec {
	H, F, V, S := c.HiddenSize, c.IntermediateSize, c.VocabSize, c.SeqLen
	p := []ParamSpec{
		{Name: WordEmbName, Shape: []int{V, H}, Init: InitNormal},
		{Name: PosEmbName, Shape: []int{c.MaxPositions, H}, Init: InitNormal},
		{Name: TypeEmbName, Shape: []int{c.TypeVocabSize, H}, Init: InitNormal},
		{Name: EmbLNWeight, Shape: []int{H}, Init: InitOnes},
		{Name: EmbLNBias, Shape: []int{H}, Init: InitZeros},
	}
	if c.HasEmbeddingProjection() {
		p = append(p,
			ParamSpec{Name: EmbProjWeight, Shape: []int{H, H}, Init: InitLecunNormal},
			ParamSpec{Name: EmbProjBias, Shape: []int{H}, Init: InitZeros})
	}
	for i := 0; i < c.NumLayers; i++ {
		kind := c.LayerMixing(i)
		add := func(suffix string, shape []int, init InitKind, fixed bool) {
			p = append(p, ParamSpec{Name: LayerParam(i, suffix), Shape: shape, Init: init, Fixed: fixed})
		}
		switch kind {
		case MixAttention: // official: kernels and biases N(0, 0.02)
			for _, n := range []string{AttnQueryW, AttnQueryB, AttnKeyW, AttnKeyB, AttnValueW, AttnValueB, AttnOutW, AttnOutB} {
				shape := []int{H, H}
				if strings.HasSuffix(n, ".bias") {
					shape = []int{H}
				}
				add(n, shape, InitNormal, false)
			}
		case MixLinear:
			add(LinearHiddenKernel, []int{H, H}, InitNormal, false)
			add(LinearSeqKernel, []int{S, S}, InitNormal, false)
		case MixRandom:
			add(RandomHiddenMatrix, []int{H, H}, InitLecunNormal, true)
			add(RandomSeqMatrix, []int{S, S}, InitLecunNormal, true)
		}
		lnW, lnB := MixLNNames(kind)
		add(lnW, []int{H}, InitOnes, false)
		add(lnB, []int{H}, InitZeros, false)
		add(FFInW, []int{F, H}, InitNormal, false)
		add(FFInB, []int{F}, InitNormal, false) // official: bias N(0, 0.02)
		add(FFOutW, []int{H, F}, InitNormal, false)
		add(FFOutB, []int{H}, InitZeros, false)
		add(OutLNWeight, []int{H}, InitOnes, false)
		add(OutLNBias, []int{H}, InitZeros, false)
	}
	if h.Pooler {
		p = append(p, ParamSpec{Name: PoolerWeight, Shape: []int{H, H}, Init: InitNormal}, ParamSpec{Name: PoolerBias, Shape: []int{H}, Init: InitZeros})
	}
	if h.MLM {
		p = append(p,
			ParamSpec{Name: MLMBias, Shape: []int{V}, Init: InitNormal}, // official OutputProjection bias: N(0, 0.02)
			ParamSpec{Name: MLMDenseW, Shape: []int{H, H}, Init: InitNormal},
			ParamSpec{Name: MLMDenseB, Shape: []int{H}, Init: InitZeros},
			ParamSpec{Name: MLMLNWeight, Shape: []int{H}, Init: InitOnes},
			ParamSpec{Name: MLMLNBias, Shape: []int{H}, Init: InitZeros},
		)
	}
	if h.NSP {
		p = append(p, ParamSpec{Name: NSPWeight, Shape: []int{2, H}, Init: InitNormal}, ParamSpec{Name: NSPBias, Shape: []int{2}, Init: InitNormal})
	}
	if h.Classifier {
		n := c.ClassifierOutputs()
		p = append(p, ParamSpec{Name: ClsWeight, Shape: []int{n, H}, Init: InitNormal}, ParamSpec{Name: ClsBias, Shape: []int{n}, Init: InitNormal})
	}
	return p
}

// TrainedSpecs drops the fixed parameters: what the optimizer, the
// gradients and the gradient norm cover.
func TrainedSpecs(specs []ParamSpec) []ParamSpec {
	out := make([]ParamSpec, 0, len(specs))
	for _, ps := range specs {
		if !ps.Fixed {
			out = append(out, ps)
		}
	}
	return out
}

// NumElements is the product of a shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
