// Package fnet is the FNet encoder (Lee-Thorp et al., "FNet: Mixing Tokens
// with Fourier Transforms") on gorgonia: the model graph, its fused custom
// operators, seeded initialisation, and safetensors checkpoints under Hugging
// Face FNet parameter names.
package fnet

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Config describes an FNet model. JSON names follow Hugging Face's FNetConfig
// so a config.json from the hub loads as is; fields HF does not have carry an
// fnet_tui_ prefix or are documented below. The config is stored as JSON in
// every checkpoint's safetensors __metadata__ under the key "config".
type Config struct {
	ModelType        string  `json:"model_type"`                // "fnet", or "bert" for the BERT baseline (HFModelType)
	VocabSize        int     `json:"vocab_size"`                // V
	HiddenSize       int     `json:"hidden_size"`               // H (= embedding size, as in every released FNet)
	NumLayers        int     `json:"num_hidden_layers"`         // L
	IntermediateSize int     `json:"intermediate_size"`         // F, feed-forward width
	MaxPositions     int     `json:"max_position_embeddings"`   // rows of the position table
	TypeVocabSize    int     `json:"type_vocab_size"`           // token-type (segment) ids
	LayerNormEps     float64 `json:"layer_norm_eps"`            // 1e-12 in the official code
	DropoutProb      float64 `json:"hidden_dropout_prob"`       // embeddings and FFN output
	InitializerRange float64 `json:"initializer_range"`         // stddev of the N(0, r) initialisers
	HiddenAct        string  `json:"hidden_act"`                // "gelu_new" (tanh GELU, FNet's) or "gelu" (exact, BERT's)
	PadTokenID       int     `json:"pad_token_id"`              // 3 in the official vocabulary
	BOSTokenID       int     `json:"bos_token_id"`              // informational
	EOSTokenID       int     `json:"eos_token_id"`              // informational
	SeqLen           int     `json:"fnet_tui_seq_len"`          // length every input is padded to (the DFT length)
	NumLabels        int     `json:"fnet_tui_num_labels"`       // classifier outputs; 1 = regression; 0 = no classifier
	Task             string  `json:"fnet_tui_task,omitempty"`   // GLUE task of a finetuned model
	Preset           string  `json:"fnet_tui_preset,omitempty"` // name of the preset it came from, if any

	// The token mixing (architecture.go): fnet (default), bert, linear,
	// random or ff_only; a hybrid replaces AttentionLayers layers, placed
	// by AttentionLayout, with self-attention of NumHeads heads.
	Architecture    string `json:"fnet_tui_architecture,omitempty"`
	AttentionLayers int    `json:"fnet_tui_attention_layers,omitempty"`
	AttentionLayout string `json:"fnet_tui_attention_layout,omitempty"` // top (default), bottom, middle, mixed
	NumHeads        int    `json:"num_attention_heads,omitempty"`       // 0 = hidden/64
}

// Presets are the model sizes fnet-tui knows by name. mini and small are
// sized for CPUs; base and large are the paper's models.
var Presets = map[string]Config{
	"mini":  preset("mini", 8192, 256, 4, 1024, 512, 128),
	"small": preset("small", 16384, 512, 8, 2048, 512, 256),
	"base":  preset("base", 32000, 768, 12, 3072, 512, 512),
	"large": preset("large", 32000, 1024, 24, 4096, 512, 512),
}

func preset(name string, v, h, l, f, pos, seq int) Config {
	c := DefaultConfig()
	c.Preset = name
	c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize = v, h, l, f
	c.MaxPositions, c.SeqLen = pos, seq
	return c
}

// DefaultConfig is FNet-Base as Hugging Face's FNetConfig defaults describe it.
func DefaultConfig() Config {
	return Config{
		ModelType: "fnet", VocabSize: 32000, HiddenSize: 768, NumLayers: 12, IntermediateSize: 3072,
		MaxPositions: 512, TypeVocabSize: 4, LayerNormEps: 1e-12, DropoutProb: 0.1,
		InitializerRange: 0.02, HiddenAct: "gelu_new", PadTokenID: 3, BOSTokenID: 1, EOSTokenID: 2,
		SeqLen: 512,
	}
}

// PresetNames lists the presets in size order.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return Presets[names[i]].HiddenSize*Presets[names[i]].NumLayers < Presets[names[j]].HiddenSize*Presets[names[j]].NumLayers
	})
	return names
}

// PresetConfig returns the named preset or an error listing the known ones.
func PresetConfig(name string) (Config, error) {
	c, ok := Presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	return c, nil
}

// Validate reports the first field that cannot describe a model, by its JSON name.
func (c Config) Validate() error {
	check := []struct {
		name string
		ok   bool
		v    any
	}{
		{"vocab_size", c.VocabSize > 0, c.VocabSize},
		{"hidden_size", c.HiddenSize > 0, c.HiddenSize},
		{"num_hidden_layers", c.NumLayers > 0, c.NumLayers},
		{"intermediate_size", c.IntermediateSize > 0, c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositions > 0, c.MaxPositions},
		{"type_vocab_size", c.TypeVocabSize > 0, c.TypeVocabSize},
		{"layer_norm_eps", c.LayerNormEps > 0 && c.LayerNormEps < 1, c.LayerNormEps},
		{"hidden_dropout_prob", c.DropoutProb >= 0 && c.DropoutProb < 1, c.DropoutProb},
		{"initializer_range", c.InitializerRange > 0, c.InitializerRange},
		{"fnet_tui_seq_len", c.SeqLen > 0 && c.SeqLen <= c.MaxPositions, c.SeqLen},
		{"fnet_tui_num_labels", c.NumLabels >= 0, c.NumLabels},
		{"pad_token_id", c.PadTokenID >= 0 && c.PadTokenID < c.VocabSize, c.PadTokenID},
	}
	for _, k := range check {
		if !k.ok {
			return fmt.Errorf("model config: invalid %s = %v", k.name, k.v)
		}
	}
	switch c.HiddenAct {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu":
	default:
		return fmt.Errorf("model config: hidden_act %q is not supported (the tanh GELU \"gelu_new\", as in FNet, or the exact \"gelu\", as in BERT)", c.HiddenAct)
	}
	return c.validateArchitecture()
}

// ParseConfig reads a model config from JSON (ours or a Hugging Face
// config.json); fields it does not name keep DefaultConfig's values, and a
// missing fnet_tui_seq_len defaults to max_position_embeddings.
func ParseConfig(data []byte) (Config, error) {
	c := DefaultConfig()
	c.SeqLen = 0
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("model config: %w", err)
	}
	if c.SeqLen == 0 {
		c.SeqLen = c.MaxPositions
	}
	switch c.ModelType {
	case "", "fnet":
		c.ModelType = "fnet"
	case "bert": // a Hugging Face BERT config.json: every layer attention
		if c.Architecture == "" {
			c.Architecture = "bert"
		}
	default:
		return Config{}, fmt.Errorf("model config: model_type %q is neither fnet nor bert", c.ModelType)
	}
	c.ModelType = c.HFModelType()
	return c, c.Validate()
}

// GELU is the activation hidden_act names: the tanh approximation for
// "gelu_new" and its aliases, the exact erf GELU for "gelu".
func (c Config) GELU() Activation {
	if c.HiddenAct == "gelu" {
		return ActGELUErf
	}
	return ActGELU
}

// JSON returns the config as compact JSON.
func (c Config) JSON() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// NumParams counts the parameters of the encoder with pooler (no heads), the
// figure the paper and keras-hub report (82,861,056 for FNet-Base).
func (c Config) NumParams() int {
	H, F := c.HiddenSize, c.IntermediateSize
	emb := (c.VocabSize+c.MaxPositions+c.TypeVocabSize)*H + 2*H + H*H + H
	layer := 2*H + H*F + F + F*H + H + 2*H
	return emb + c.NumLayers*layer + H*H + H
}

// String is a one-line summary such as "V8192 H256 L4 F1024 S128".
func (c Config) String() string {
	return fmt.Sprintf("V%d H%d L%d F%d S%d", c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize, c.SeqLen)
}
