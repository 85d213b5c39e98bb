package fnet

import "fmt"

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

// Per-layer parameter suffixes, in Hugging Face order.
const (
	MixLNWeight = "fourier.output.LayerNorm.weight"
	MixLNBias   = "fourier.output.LayerNorm.bias"
	FFInW       = "intermediate.dense.weight"
	FFInB       = "intermediate.dense.bias"
	FFOutW      = "output.dense.weight"
	FFOutB      = "output.dense.bias"
	OutLNWeight = "output.LayerNorm.weight"
	OutLNBias   = "output.LayerNorm.bias"
)

// ParamSpecs lists every parameter of a model with the given heads, in the
// order Hugging Face's named_parameters() yields them.
func ParamSpecs(c Config, h Heads) []ParamSpec {
	H, F, V := c.HiddenSize, c.IntermediateSize, c.VocabSize
	p := []ParamSpec{
		{WordEmbName, []int{V, H}, InitNormal},
		{PosEmbName, []int{c.MaxPositions, H}, InitNormal},
		{TypeEmbName, []int{c.TypeVocabSize, H}, InitNormal},
		{EmbLNWeight, []int{H}, InitOnes},
		{EmbLNBias, []int{H}, InitZeros},
		{EmbProjWeight, []int{H, H}, InitLecunNormal},
		{EmbProjBias, []int{H}, InitZeros},
	}
	for i := 0; i < c.NumLayers; i++ {
		p = append(p,
			ParamSpec{LayerParam(i, MixLNWeight), []int{H}, InitOnes},
			ParamSpec{LayerParam(i, MixLNBias), []int{H}, InitZeros},
			ParamSpec{LayerParam(i, FFInW), []int{F, H}, InitNormal},
			ParamSpec{LayerParam(i, FFInB), []int{F}, InitNormal}, // official: bias N(0, 0.02)
			ParamSpec{LayerParam(i, FFOutW), []int{H, F}, InitNormal},
			ParamSpec{LayerParam(i, FFOutB), []int{H}, InitZeros},
			ParamSpec{LayerParam(i, OutLNWeight), []int{H}, InitOnes},
			ParamSpec{LayerParam(i, OutLNBias), []int{H}, InitZeros},
		)
	}
	if h.Pooler {
		p = append(p, ParamSpec{PoolerWeight, []int{H, H}, InitNormal}, ParamSpec{PoolerBias, []int{H}, InitZeros})
	}
	if h.MLM {
		p = append(p,
			ParamSpec{MLMBias, []int{V}, InitNormal}, // official OutputProjection bias: N(0, 0.02)
			ParamSpec{MLMDenseW, []int{H, H}, InitNormal},
			ParamSpec{MLMDenseB, []int{H}, InitZeros},
			ParamSpec{MLMLNWeight, []int{H}, InitOnes},
			ParamSpec{MLMLNBias, []int{H}, InitZeros},
		)
	}
	if h.NSP {
		p = append(p, ParamSpec{NSPWeight, []int{2, H}, InitNormal}, ParamSpec{NSPBias, []int{2}, InitNormal})
	}
	if h.Classifier {
		n := c.NumLabels
		if n <= 0 {
			n = 2
		}
		p = append(p, ParamSpec{ClsWeight, []int{n, H}, InitNormal}, ParamSpec{ClsBias, []int{n}, InitNormal})
	}
	return p
}

// NumElements is the product of a shape.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
