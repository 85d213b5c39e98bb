// Package hf moves models between fnet-tui and Hugging Face transformers,
// both ways, without Python: Export writes a folder that
// transformers' from_pretrained loads (config.json, model.safetensors in
// the layout save_pretrained writes, the tokenizer files and a README.md
// model card), and Load reads a folder that save_pretrained wrote
// (safe_serialization=True) as an fnet-tui model and tokenizer. A
// PyTorch pickle (pytorch_model.bin) is refused with the command that
// converts it: fnet-tui never unpickles.
//
// The layouts follow transformers' source (docs/INTEROP.md cites the
// files): models/fnet/modeling_fnet.py, configuration_fnet.py,
// tokenization_fnet.py and models/bert/modeling_bert.py,
// tokenization_bert.py.
package hf

import (
	"fmt"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Files of a Hugging Face model folder.
const (
	ConfigFile          = "config.json"
	ModelFile           = "model.safetensors" // = fnet.ModelFile
	ShardIndexFile      = "model.safetensors.index.json"
	PickleFile          = "pytorch_model.bin"
	PickleIndexFile     = "pytorch_model.bin.index.json"
	TFFile              = "tf_model.h5"
	FlaxFile            = "flax_model.msgpack"
	SentencePieceFile   = "spiece.model" // FNetTokenizer's VOCAB_FILES_NAMES
	WordPieceFile       = "vocab.txt"    // BertTokenizer's VOCAB_FILES_NAMES
	FastTokenizerFile   = "tokenizer.json"
	TokenizerConfigFile = "tokenizer_config.json"
	SpecialTokensFile   = "special_tokens_map.json"
	CardFile            = "README.md"
)

// Head sets of the transformers classes fnet-tui maps to. The families
// differ in one place: FNetForMaskedLM keeps FNetModel's pooler
// (FNetModel(config), add_pooling_layer defaults to True) while
// BertForMaskedLM drops it (BertModel(config, add_pooling_layer=False)).
var (
	pretrainingHeads = fnet.PretrainingHeads
	fnetMaskedLM     = fnet.Heads{MLM: true, Pooler: true}
	bertMaskedLM     = fnet.Heads{MLM: true}
	classifierHeads  = fnet.ClassifierHeads
	baseModelHeads   = fnet.Heads{Pooler: true}
)

// Class is a transformers model class and the parameters it holds.
type Class struct {
	Name  string     // e.g. "FNetForPreTraining"
	Heads fnet.Heads // the heads its state dict has
	// Base is true for FNetModel/BertModel, whose state dict keys carry no
	// "fnet."/"bert." prefix (base_model_prefix).
	Base bool
}

// classKinds are the class suffixes --class accepts, with short names.
var classKinds = []struct{ suffix, short string }{
	{"ForPreTraining", "pretraining"},
	{"ForMaskedLM", "mlm"},
	{"ForSequenceClassification", "classifier"},
	{"Model", "model"},
}

// family is the transformers class prefix of a config: "FNet" or "Bert".
// Every other architecture (linear, random, ff_only, hybrids) has no
// transformers class.
func family(cfg fnet.Config) (string, error) {
	switch {
	case cfg.Arch() == "bert":
		return "Bert", nil
	case cfg.Arch() == "fnet" && cfg.AttentionLayers == 0:
		return "FNet", nil
	}
	return "", fmt.Errorf("architecture %s has no transformers class: transformers has FNet (every layer Fourier) and BERT (every layer attention), "+
		"while linear, random, ff_only and the hybrids exist only in fnet-tui; keep this model as an fnet-tui checkpoint", cfg.ArchString())
}

// classFor is the class of a family and kind suffix.
func classFor(fam, suffix string) Class {
	c := Class{Name: fam + suffix}
	switch suffix {
	case "ForPreTraining":
		c.Heads = pretrainingHeads
	case "ForMaskedLM":
		c.Heads = fnetMaskedLM
		if fam == "Bert" {
			c.Heads = bertMaskedLM
		}
	case "ForSequenceClassification":
		c.Heads = classifierHeads
	case "Model":
		c.Heads, c.Base = baseModelHeads, true
	}
	return c
}

// ChooseClass picks the transformers class a model exports as. want is
// empty (the class whose heads the checkpoint has exactly), a full class
// name ("FNetForMaskedLM") or a short one (pretraining, mlm, classifier,
// model); a class whose heads are a subset of the checkpoint's drops the
// others (a pretraining run exported as FNetForMaskedLM leaves out the
// next-sentence head).
func ChooseClass(cfg fnet.Config, heads fnet.Heads, want string) (Class, error) {
	fam, err := family(cfg)
	if err != nil {
		return Class{}, err
	}
	if want == "" {
		for _, k := range classKinds {
			if c := classFor(fam, k.suffix); c.Heads == heads {
				return c, nil
			}
		}
		return Class{}, fmt.Errorf("heads %q match no transformers %s class exactly (%s); name one with --class", heads, fam, classList(fam))
	}
	for _, k := range classKinds {
		if !strings.EqualFold(want, fam+k.suffix) && !strings.EqualFold(want, k.short) {
			continue
		}
		c := classFor(fam, k.suffix)
		if missing := lacks(heads, c.Heads); missing != "" {
			return Class{}, fmt.Errorf("%s needs the %s, which this checkpoint (heads %q) does not have", c.Name, missing, heads)
		}
		return c, nil
	}
	return Class{}, fmt.Errorf("--class %q: a %s model exports as %s", want, cfg.ArchString(), classList(fam))
}

func classList(fam string) string {
	var names []string
	for _, k := range classKinds {
		names = append(names, fmt.Sprintf("%s%s (%s)", fam, k.suffix, k.short))
	}
	return strings.Join(names, ", ")
}

// lacks names the first head need has and have does not.
func lacks(have, need fnet.Heads) string {
	switch {
	case need.MLM && !have.MLM:
		return "masked-LM head"
	case need.NSP && !have.NSP:
		return "next-sentence head"
	case need.Classifier && !have.Classifier:
		return "classifier head"
	case need.Pooler && !have.Pooler:
		return "pooler"
	}
	return ""
}

// keyName is a parameter's key in the class's state dict: Hugging Face's
// name for the architecture ("bert." for BERT), without the base-model
// prefix for FNetModel/BertModel.
func (c Class) keyName(cfg fnet.Config, name string) string {
	n := cfg.HFName(name)
	if c.Base {
		if _, rest, ok := strings.Cut(n, "."); ok && (strings.HasPrefix(n, "fnet.") || strings.HasPrefix(n, "bert.")) {
			return rest
		}
	}
	return n
}
