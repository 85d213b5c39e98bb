package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// Loaded is a transformers folder read as an fnet-tui model.
type Loaded struct {
	Dir       string
	Class     string // config.json's architectures[0], "" when it names none
	Model     *fnet.LoadedModel
	Tokenizer tokenizer.Tokenizer // nil when the folder has no tokenizer files
}

// IsFolder reports whether dir is a transformers model folder: it holds a
// config.json (fnet-tui's checkpoints never do; theirs keep the config in
// model.safetensors' metadata).
func IsFolder(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil && st.Mode().IsRegular()
}

// IsPickle reports whether path names a PyTorch pickle by its name.
func IsPickle(path string) bool {
	base := filepath.Base(path)
	return base == PickleFile || base == PickleIndexFile || strings.HasSuffix(base, ".bin") ||
		strings.HasSuffix(base, ".pt") || strings.HasSuffix(base, ".pth") || strings.HasSuffix(base, ".ckpt")
}

// PickleError is the refusal of a PyTorch pickle, with the command that
// converts the folder to safetensors.
func PickleError(path, class string) error {
	dir := filepath.Dir(path)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		dir = path
	}
	if class == "" || !strings.Contains(class, "For") && !strings.HasSuffix(class, "Model") {
		class = "AutoModelForPreTraining"
	}
	return fmt.Errorf("%s is a PyTorch pickle, which fnet-tui never loads (unpickling runs whatever code the file holds); "+
		"convert the folder to safetensors with transformers first:\n  python -c \"from transformers import %s as M; M.from_pretrained('%s').save_pretrained('%s', safe_serialization=True)\"\n"+
		"(then load %s)", path, class, dir, dir, filepath.Join(dir, ModelFile))
}

// familyDefaults are the values transformers' FNetConfig and BertConfig
// give fields a config.json leaves out (configuration_fnet.py,
// configuration_bert.py): fnet.ParseConfig's defaults are FNet's, so a
// bert config needs BERT's filled in first.
var familyDefaults = map[string]map[string]any{
	"fnet": {
		"vocab_size": 32000, "hidden_size": 768, "num_hidden_layers": 12, "intermediate_size": 3072,
		"hidden_act": "gelu_new", "hidden_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 4,
		"initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 3, "bos_token_id": 1, "eos_token_id": 2,
	},
	"bert": {
		"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
		"hidden_act": "gelu", "hidden_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
		"initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
	},
}

// readConfig reads config.json as an fnet-tui model config, refusing what
// fnet-tui's model cannot compute the same way.
func readConfig(dir string) (fnet.Config, map[string]any, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fnet.Config{}, nil, fmt.Errorf("%s: no %s: not a transformers model folder", dir, ConfigFile)
		}
		return fnet.Config{}, nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return fnet.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	mt, _ := raw["model_type"].(string)
	defaults, ok := familyDefaults[mt]
	if !ok {
		if mt == "" {
			return fnet.Config{}, nil, fmt.Errorf("%s: no model_type: fnet-tui reads transformers models of model_type fnet or bert", path)
		}
		return fnet.Config{}, nil, fmt.Errorf("%s: model_type %q: fnet-tui reads transformers models of model_type fnet or bert", path, mt)
	}
	refuse := func(format string, a ...any) (fnet.Config, map[string]any, error) {
		return fnet.Config{}, nil, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...))
	}
	if mt == "bert" {
		if p, ok := raw["position_embedding_type"].(string); ok && p != "absolute" {
			return refuse("position_embedding_type %q: fnet-tui's BERT has absolute position embeddings only", p)
		}
		if v, _ := raw["is_decoder"].(bool); v {
			return refuse("is_decoder is set: fnet-tui's BERT is a bidirectional encoder")
		}
		if v, _ := raw["add_cross_attention"].(bool); v {
			return refuse("add_cross_attention is set: fnet-tui's BERT has no cross-attention")
		}
	}
	if v, ok := raw["embedding_size"]; ok && v != raw["hidden_size"] {
		return refuse("embedding_size %v differs from hidden_size: fnet-tui's embeddings are hidden_size wide", v)
	}
	filled := make(map[string]any, len(raw)+len(defaults))
	for k, v := range defaults {
		filled[k] = v
	}
	for k, v := range raw {
		if v != nil {
			filled[k] = v
		}
	}
	fb, err := json.Marshal(filled)
	if err != nil {
		return fnet.Config{}, nil, err
	}
	cfg, err := fnet.ParseConfig(fb)
	if err != nil {
		return fnet.Config{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, raw, nil
}

// Load reads a folder transformers' save_pretrained(..., safe_serialization=True)
// wrote for FNetForPreTraining, FNetForMaskedLM, FNetForSequenceClassification,
// FNetModel or their Bert twins, with its tokenizer. The heads come from the
// tensors present; the tied decoder (cls.predictions.decoder.*) and the
// position_ids/token_type_ids buffers are accepted and ignored; sharded
// weights (model.safetensors.index.json) are joined. Every error names the
// file it is about.
func Load(dir string) (*Loaded, error) {
	cfg, raw, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	class := ""
	if a, ok := raw["architectures"].([]any); ok && len(a) > 0 {
		class, _ = a[0].(string)
	}
	f, err := readWeights(dir, class)
	if err != nil {
		return nil, err
	}
	names := fnet.NormalizedNames(f, cfg)
	heads := fnet.Heads{
		MLM:        names[fnet.MLMDenseW] != "",
		NSP:        names[fnet.NSPWeight] != "",
		Classifier: names[fnet.ClsWeight] != "",
		Pooler:     names[fnet.PoolerWeight] != "",
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	if heads.Classifier {
		t := f.Tensors[names[fnet.ClsWeight]]
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("%s: %s has shape %v, want [num_labels, hidden_size]", f.Path, names[fnet.ClsWeight], t.Shape)
		}
		if id2label, ok := raw["id2label"].(map[string]any); ok && len(id2label) != t.Shape[0] {
			return nil, fmt.Errorf("%s: id2label has %d labels but %s in %s has %d rows", cfgPath, len(id2label), names[fnet.ClsWeight], f.Path, t.Shape[0])
		}
		cfg.NumLabels = t.Shape[0]
	}
	if heads.MLM {
		if tie, ok := raw["tie_word_embeddings"].(bool); ok && !tie {
			if dec, ok := f.Tensors[names[fnet.MLMDecoderWeight]]; ok {
				if emb := f.Tensors[names[fnet.WordEmbName]]; emb != nil && !slices.Equal(dec.F32, emb.F32) {
					return nil, fmt.Errorf("%s: tie_word_embeddings is false and %s differs from the word embeddings: fnet-tui's masked-LM decoder is always the embedding table", cfgPath, fnet.MLMDecoderWeight)
				}
			}
		}
	}
	params, err := fnet.ParamsFromFile(f, cfg, heads)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	tok, err := loadTokenizer(dir)
	if err != nil {
		return nil, err
	}
	if tok != nil && tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("%s: vocab_size %d is smaller than the tokenizer's %d pieces", cfgPath, cfg.VocabSize, tok.VocabSize())
	}
	return &Loaded{Dir: dir, Class: class, Model: &fnet.LoadedModel{Config: cfg, Heads: heads, Params: params}, Tokenizer: tok}, nil
}

// readWeights reads model.safetensors, or the shards a
// model.safetensors.index.json names, and refuses pickles and the other
// frameworks' files with the command that converts them.
func readWeights(dir, class string) (*safetensors.File, error) {
	single := filepath.Join(dir, ModelFile)
	if _, err := os.Stat(single); err == nil {
		return safetensors.ReadFile(single)
	}
	index := filepath.Join(dir, ShardIndexFile)
	if _, err := os.Stat(index); err == nil {
		return readShards(dir, index)
	}
	for _, p := range []string{PickleFile, PickleIndexFile} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			return nil, PickleError(filepath.Join(dir, p), class)
		}
	}
	for _, p := range []struct{ file, flag string }{{TFFile, "from_tf=True"}, {FlaxFile, "from_flax=True"}} {
		if _, err := os.Stat(filepath.Join(dir, p.file)); err == nil {
			return nil, fmt.Errorf("%s: fnet-tui reads safetensors; convert with transformers first: python -c \"from transformers import %s as M; M.from_pretrained('%s', %s).save_pretrained('%s', safe_serialization=True)\"",
				filepath.Join(dir, p.file), orAuto(class), dir, p.flag, dir)
		}
	}
	return nil, fmt.Errorf("%s: no %s (nor %s): no weights to load", dir, ModelFile, ShardIndexFile)
}

func orAuto(class string) string {
	if class == "" {
		return "AutoModelForPreTraining"
	}
	return class
}

// readShards joins the shards of a sharded safetensors checkpoint.
func readShards(dir, index string) (*safetensors.File, error) {
	b, err := os.ReadFile(index)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: empty weight_map", index)
	}
	var shards []string
	for _, s := range idx.WeightMap {
		if !slices.Contains(shards, s) {
			shards = append(shards, s)
		}
	}
	sort.Strings(shards)
	out := &safetensors.File{Path: index, Metadata: map[string]string{}, Tensors: map[string]*safetensors.Tensor{}}
	for _, s := range shards {
		if s != filepath.Base(s) {
			return nil, fmt.Errorf("%s: shard %q is not a file name in the folder", index, s)
		}
		f, err := safetensors.ReadFile(filepath.Join(dir, s))
		if err != nil {
			return nil, err
		}
		for n, t := range f.Tensors {
			if idx.WeightMap[n] != s {
				return nil, fmt.Errorf("%s: %s holds %s, which the index places in %q", index, f.Path, n, idx.WeightMap[n])
			}
			out.Tensors[n] = t
		}
	}
	for n, s := range idx.WeightMap {
		if out.Tensors[n] == nil {
			return nil, fmt.Errorf("%s: %s is not in its shard %s", index, n, s)
		}
	}
	return out, nil
}
