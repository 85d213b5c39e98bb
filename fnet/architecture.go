package fnet

import (
	"fmt"
	"slices"
	"strings"
)

// The token-mixing sublayer of each encoder layer. FNet's paper compares
// Fourier mixing with the alternatives the official code builds
// (f_net configs/base.py ModelArchitecture): self-attention (BERT), learned
// dense mixing (Linear), fixed random mixing (Random) and none (FF-only),
// and with hybrids where some layers use attention.
type MixKind string

const (
	MixFourier   MixKind = "fourier"   // Re(FFT2(x)), no parameters
	MixAttention MixKind = "attention" // multi-head self-attention with a key padding mask
	MixLinear    MixKind = "linear"    // Y_b = seq_kernel · X_b · hidden_kernel, both trained
	MixRandom    MixKind = "random"    // the same with fixed lecun-normal matrices
	MixIdentity  MixKind = "identity"  // Y = X (FF-only)
)

// Architectures are the names of model.architecture (the official code's
// ModelArchitecture, lower-cased).
var Architectures = []string{"fnet", "bert", "linear", "random", "ff_only"}

// AttentionLayouts are where a hybrid's attention layers go (f_net's
// HybridAttentionLayout).
var AttentionLayouts = []string{"top", "bottom", "middle", "mixed"}

// Arch is the architecture, "fnet" when unset (checkpoints written before
// the field existed).
func (c Config) Arch() string {
	if c.Architecture == "" {
		return "fnet"
	}
	return c.Architecture
}

// Layout is the hybrid attention layout, "top" when unset.
func (c Config) Layout() string {
	if c.AttentionLayout == "" {
		return "top"
	}
	return c.AttentionLayout
}

// baseMixing is the mixing of the layers that are not attention layers.
func (c Config) baseMixing() MixKind {
	switch c.Arch() {
	case "bert":
		return MixAttention
	case "linear":
		return MixLinear
	case "random":
		return MixRandom
	case "ff_only":
		return MixIdentity
	}
	return MixFourier
}

// LayerMixing is the mixing of layer l (0-based): attention for every layer
// of bert and for a hybrid's attention layers, the architecture's own
// mixing otherwise. The layout rules are f_net's _is_attention_layer (N =
// attention_layers, L = num_hidden_layers): top l ≥ L−N, bottom l < N,
// middle L−N ≤ 2l < L+N, mixed l mod ⌊L/N⌋ = 0 (which gives more than N
// layers when N does not divide L, as the official code does).
func (c Config) LayerMixing(l int) MixKind {
	base := c.baseMixing()
	N, L := c.AttentionLayers, c.NumLayers
	if base == MixAttention || N <= 0 {
		return base
	}
	attn := false
	switch c.Layout() {
	case "top":
		attn = l >= L-N
	case "bottom":
		attn = l < N
	case "middle":
		attn = L-N <= 2*l && 2*l < L+N
	case "mixed":
		attn = l%max(L/N, 1) == 0
	}
	if attn {
		return MixAttention
	}
	return base
}

// Mixings lists every layer's mixing.
func (c Config) Mixings() []MixKind {
	out := make([]MixKind, c.NumLayers)
	for l := range out {
		out[l] = c.LayerMixing(l)
	}
	return out
}

// HasMixing reports whether any layer mixes with k.
func (c Config) HasMixing(k MixKind) bool { return slices.Contains(c.Mixings(), k) }

// AttentionHeads is the number of attention heads: num_attention_heads, or
// hidden/64 (at least 1) when unset, as the paper's models use.
func (c Config) AttentionHeads() int {
	if c.NumHeads > 0 {
		return c.NumHeads
	}
	return max(1, c.HiddenSize/64)
}

// HFModelType is the model_type of the Hugging Face family whose layout
// the checkpoint follows: "bert" for bert, "fnet" for every other
// architecture (their parameters carry FNet's names).
func (c Config) HFModelType() string {
	if c.Arch() == "bert" {
		return "bert"
	}
	return "fnet"
}

// HasEmbeddingProjection: FNet's embeddings end in a dense projection
// (hidden_mapping_in); BERT's do not.
func (c Config) HasEmbeddingProjection() bool { return c.Arch() != "bert" }

// ArchString names the architecture with its hybrid layout, e.g. "fnet",
// "bert", "fnet+2 top attention".
func (c Config) ArchString() string {
	a := c.Arch()
	if c.AttentionLayers > 0 && a != "bert" {
		a += fmt.Sprintf("+%d %s attention", c.AttentionLayers, c.Layout())
	}
	return a
}

func (c Config) validateArchitecture() error {
	if !slices.Contains(Architectures, c.Arch()) {
		return fmt.Errorf("model config: architecture %q is not one of %s", c.Architecture, strings.Join(Architectures, ", "))
	}
	if !slices.Contains(AttentionLayouts, c.Layout()) {
		return fmt.Errorf("model config: attention_layout %q is not one of %s", c.AttentionLayout, strings.Join(AttentionLayouts, ", "))
	}
	if c.AttentionLayers < 0 || c.AttentionLayers > c.NumLayers {
		return fmt.Errorf("model config: attention_layers = %d, want 0 to num_hidden_layers (%d)", c.AttentionLayers, c.NumLayers)
	}
	if c.Arch() == "bert" && c.AttentionLayers != 0 && c.AttentionLayers != c.NumLayers {
		return fmt.Errorf("model config: attention_layers = %d with architecture bert, whose every layer is attention (hybrids are fnet, linear, random or ff_only with attention_layers)", c.AttentionLayers)
	}
	if c.NumHeads < 0 {
		return fmt.Errorf("model config: num_attention_heads = %d", c.NumHeads)
	}
	if c.HasMixing(MixAttention) && c.HiddenSize%c.AttentionHeads() != 0 {
		return fmt.Errorf("model config: num_attention_heads = %d does not divide hidden_size %d", c.AttentionHeads(), c.HiddenSize)
	}
	return nil
}

// HFName is a parameter's name in the Hugging Face checkpoint of this
// architecture: the engines name every parameter as FNet does ("fnet."
// prefix); a bert model's are BERT's ("bert." prefix) in files.
func (c Config) HFName(name string) string {
	if c.Arch() == "bert" {
		if rest, ok := strings.CutPrefix(name, "fnet."); ok {
			return "bert." + rest
		}
	}
	return name
}

// EngineName is the inverse of HFName.
func (c Config) EngineName(name string) string {
	if c.Arch() == "bert" {
		if rest, ok := strings.CutPrefix(name, "bert."); ok {
			return "fnet." + rest
		}
	}
	return name
}
