package hf

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// transformersStateDict is the state dict transformers builds for a
// 2-layer model of the class, key → shape, written out from its source
// (models/fnet/modeling_fnet.py, models/bert/modeling_bert.py):
// FNetEmbeddings has word/position/token_type embeddings, LayerNorm and
// the projection (BertEmbeddings no projection); position_ids and
// token_type_ids are non-persistent buffers (persistent=False), so not in
// the state dict; each FNetLayer is fourier.output.LayerNorm +
// intermediate.dense + output.{dense,LayerNorm}, each BertLayer
// attention.self.{query,key,value} + attention.output.{dense,LayerNorm} +
// the same feed-forward; FNetModel always has its pooler, BertForMaskedLM
// builds BertModel(add_pooling_layer=False); the LM head holds
// cls.predictions.bias and the decoder Linear whose weight and bias are
// the word embeddings and that bias (_tied_weights_keys).
func transformersStateDict(class string, V, H, F, P, T, labels int) map[string][]int {
	bert := strings.HasPrefix(class, "Bert")
	prefix := "fnet"
	if bert {
		prefix = "bert"
	}
	sd := map[string][]int{
		prefix + ".embeddings.word_embeddings.weight":       {V, H},
		prefix + ".embeddings.position_embeddings.weight":   {P, H},
		prefix + ".embeddings.token_type_embeddings.weight": {T, H},
		prefix + ".embeddings.LayerNorm.weight":             {H},
		prefix + ".embeddings.LayerNorm.bias":               {H},
	}
	if !bert {
		sd["fnet.embeddings.projection.weight"] = []int{H, H}
		sd["fnet.embeddings.projection.bias"] = []int{H}
	}
	ff := map[string][]int{
		"intermediate.dense.weight": {F, H}, "intermediate.dense.bias": {F},
		"output.dense.weight": {H, F}, "output.dense.bias": {H},
		"output.LayerNorm.weight": {H}, "output.LayerNorm.bias": {H},
	}
	mix := map[string][]int{"fourier.output.LayerNorm.weight": {H}, "fourier.output.LayerNorm.bias": {H}}
	if bert {
		mix = map[string][]int{
			"attention.self.query.weight": {H, H}, "attention.self.query.bias": {H},
			"attention.self.key.weight": {H, H}, "attention.self.key.bias": {H},
			"attention.self.value.weight": {H, H}, "attention.self.value.bias": {H},
			"attention.output.dense.weight": {H, H}, "attention.output.dense.bias": {H},
			"attention.output.LayerNorm.weight": {H}, "attention.output.LayerNorm.bias": {H},
		}
	}
	for _, tpls := range []map[string][]int{mix, ff} {
		for tpl, shape := range tpls {
			for _, k := range layerKeys(prefix, 2, []string{tpl}) {
				sd[k] = shape
			}
		}
	}
	pooler := !(bert && strings.HasSuffix(class, "ForMaskedLM"))
	if pooler {
		sd[prefix+".pooler.dense.weight"], sd[prefix+".pooler.dense.bias"] = []int{H, H}, []int{H}
	}
	if strings.HasSuffix(class, "ForPreTraining") || strings.HasSuffix(class, "ForMaskedLM") {
		for k, s := range map[string][]int{
			"cls.predictions.bias":                       {V},
			"cls.predictions.transform.dense.weight":     {H, H},
			"cls.predictions.transform.dense.bias":       {H},
			"cls.predictions.transform.LayerNorm.weight": {H},
			"cls.predictions.transform.LayerNorm.bias":   {H},
			"cls.predictions.decoder.weight":             {V, H}, // tied
			"cls.predictions.decoder.bias":               {V},    // tied
		} {
			sd[k] = s
		}
	}
	if strings.HasSuffix(class, "ForPreTraining") {
		sd["cls.seq_relationship.weight"], sd["cls.seq_relationship.bias"] = []int{2, H}, []int{2}
	}
	if strings.HasSuffix(class, "ForSequenceClassification") {
		sd["classifier.weight"], sd["classifier.bias"] = []int{labels, H}, []int{labels}
	}
	if strings.HasSuffix(class, "Model") { // base_model_prefix is not in a base model's keys
		base := map[string][]int{}
		for k, s := range sd {
			base[strings.TrimPrefix(k, prefix+".")] = s
		}
		sd = base
	}
	return sd
}

// savedByTransformers is what save_pretrained(safe_serialization=True)
// writes of that state dict: safetensors holds no aliases, and the tied
// keys (cls.predictions.decoder.weight / .bias) are the ones it removes
// (modeling_utils' shared-tensor handling keeps the tensor under the name
// that is not in _tied_weights_keys).
func savedByTransformers(sd map[string][]int) map[string][]int {
	out := map[string][]int{}
	for k, s := range sd {
		if k != "cls.predictions.decoder.weight" && k != "cls.predictions.decoder.bias" {
			out[k] = s
		}
	}
	return out
}

func readExport(t *testing.T, dir string) (*safetensors.File, map[string]any) {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cj map[string]any
	if err := json.Unmarshal(b, &cj); err != nil {
		t.Fatal(err)
	}
	return f, cj
}

// TestExportedKeysAreTransformers: every class of both families writes
// exactly the keys and shapes save_pretrained writes for it, F32, and a
// config.json with its architectures, model_type and sizes.
func TestExportedKeysAreTransformers(t *testing.T) {
	sp, wp := sentencePieceTok(t), wordPieceTok(t)
	cases := []struct {
		arch, class string
		heads       fnet.Heads
		tok         tokenizer.Tokenizer
	}{
		{"fnet", "FNetForPreTraining", fnet.PretrainingHeads, sp},
		{"fnet", "FNetForMaskedLM", fnet.PretrainingHeads, sp},
		{"fnet", "FNetForSequenceClassification", fnet.ClassifierHeads, sp},
		{"fnet", "FNetModel", fnet.PretrainingHeads, wp},
		{"bert", "BertForPreTraining", fnet.PretrainingHeads, wp},
		{"bert", "BertForMaskedLM", fnet.PretrainingHeads, wp},
		{"bert", "BertForSequenceClassification", fnet.ClassifierHeads, sp},
		{"bert", "BertModel", fnet.ClassifierHeads, wp},
	}
	for _, c := range cases {
		t.Run(c.class, func(t *testing.T) {
			m := tinyModel(t, c.arch, c.tok, c.heads, 3)
			out := filepath.Join(t.TempDir(), "export")
			res, err := Export(out, Source{Dir: "ck", Model: m, Tokenizer: c.tok}, Options{Class: c.class})
			if err != nil {
				t.Fatal(err)
			}
			if res.Class.Name != c.class {
				t.Fatalf("exported as %s", res.Class.Name)
			}
			cfg := m.Config
			want := savedByTransformers(transformersStateDict(c.class, cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.MaxPositions, cfg.TypeVocabSize, 3))
			f, cj := readExport(t, out)
			var got, wantKeys []string
			for n, tn := range f.Tensors {
				got = append(got, n)
				if tn.DType != "F32" {
					t.Errorf("%s is %s", n, tn.DType)
				}
				if s, ok := want[n]; ok && !slices.Equal(s, tn.Shape) {
					t.Errorf("%s has shape %v, transformers %v", n, tn.Shape, s)
				}
			}
			for n := range want {
				wantKeys = append(wantKeys, n)
			}
			sort.Strings(got)
			sort.Strings(wantKeys)
			if !slices.Equal(got, wantKeys) {
				t.Errorf("keys differ from transformers'\n got  %v\n want %v", got, wantKeys)
			}
			if f.Metadata["format"] != "pt" || len(f.Metadata) != 1 {
				t.Errorf("metadata %v, want save_pretrained's {format: pt}", f.Metadata)
			}
			if a, _ := cj["architectures"].([]any); len(a) != 1 || a[0] != c.class {
				t.Errorf("architectures %v", cj["architectures"])
			}
			if cj["model_type"] != c.arch {
				t.Errorf("model_type %v", cj["model_type"])
			}
			for k, v := range map[string]int{"vocab_size": cfg.VocabSize, "hidden_size": 16, "num_hidden_layers": 2,
				"intermediate_size": 32, "max_position_embeddings": 40, "type_vocab_size": cfg.TypeVocabSize, "pad_token_id": cfg.PadTokenID} {
				if n, _ := cj[k].(float64); int(n) != v {
					t.Errorf("config.json %s = %v, want %d", k, cj[k], v)
				}
			}
			if c.arch == "bert" && cj["num_attention_heads"] != 2.0 {
				t.Errorf("num_attention_heads %v", cj["num_attention_heads"])
			}
			if c.arch == "fnet" && cj["use_tpu_fourier_optimizations"] != false {
				t.Errorf("use_tpu_fourier_optimizations %v", cj["use_tpu_fourier_optimizations"])
			}
			if c.heads.Classifier && !strings.HasSuffix(c.class, "Model") {
				if id2, _ := cj["id2label"].(map[string]any); len(id2) != 3 || id2["0"] != "entailment" {
					t.Errorf("id2label %v", cj["id2label"])
				}
			}
		})
	}
}

// TestExportedTokenizerFiles: a SentencePiece vocabulary is exported for
// FNetTokenizer (spiece.model byte for byte), a WordPiece one for
// BertTokenizer, each with our special tokens' pieces.
func TestExportedTokenizerFiles(t *testing.T) {
	for _, tc := range []struct {
		tok         tokenizer.Tokenizer
		vocab, cls  string
		lower, arch string
	}{
		{sentencePieceTok(t), SentencePieceFile, "FNetTokenizer", "false", "fnet"},
		{wordPieceTok(t), WordPieceFile, "BertTokenizer", "true", "bert"},
	} {
		out := filepath.Join(t.TempDir(), "x")
		if _, err := Export(out, Source{Model: tinyModel(t, tc.arch, tc.tok, fnet.PretrainingHeads, 1), Tokenizer: tc.tok}, Options{}); err != nil {
			t.Fatal(err)
		}
		raw, _ := tokenizer.Marshal(tc.tok)
		if b, err := os.ReadFile(filepath.Join(out, tc.vocab)); err != nil || string(b) != string(raw) {
			t.Errorf("%s not the tokenizer's bytes (%v)", tc.vocab, err)
		}
		tcfg, err := readJSONObject(filepath.Join(out, TokenizerConfigFile))
		if err != nil {
			t.Fatal(err)
		}
		if tcfg["tokenizer_class"] != tc.cls || tcfg["model_max_length"] != 24.0 {
			t.Errorf("tokenizer_config.json %v", tcfg)
		}
		if b, _ := json.Marshal(tcfg["do_lower_case"]); string(b) != tc.lower {
			t.Errorf("do_lower_case %s, want %s", b, tc.lower)
		}
		st, err := readJSONObject(filepath.Join(out, SpecialTokensFile))
		if err != nil {
			t.Fatal(err)
		}
		sp := tc.tok.Special()
		for _, s := range specialNames {
			if st[s.key] != tc.tok.Piece(s.id(sp)) {
				t.Errorf("%s %v, want %q (id %d)", s.key, st[s.key], tc.tok.Piece(s.id(sp)), s.id(sp))
			}
		}
		card, _ := os.ReadFile(filepath.Join(out, CardFile))
		if !strings.Contains(string(card), "library_name: transformers") || !strings.Contains(string(card), tc.vocab) {
			t.Errorf("README.md:\n%s", card)
		}
	}
}

// TestExportRefuses: architectures transformers has no class for, head
// sets no class holds, a class needing a missing head, a non-empty output
// folder (unless --force, which replaces it whole), the checkpoint's own
// folder, a tokenizer larger than the model's vocabulary.
func TestExportRefuses(t *testing.T) {
	wp := wordPieceTok(t)
	for _, arch := range []string{"linear", "random", "ff_only"} {
		m := tinyModel(t, arch, wp, fnet.PretrainingHeads, 1)
		_, err := Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: m, Tokenizer: wp}, Options{})
		mustContain(t, err, "ck", arch, "no transformers class")
	}
	hy := tinyModel(t, "fnet", wp, fnet.PretrainingHeads, 1)
	hy.Config.AttentionLayers, hy.Config.NumHeads = 1, 2
	hy.Params = fnet.InitParams(hy.Config, hy.Heads, 1)
	_, err := Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: hy}, Options{})
	mustContain(t, err, "fnet+1 top attention", "no transformers class")

	mlmOnly := tinyModel(t, "fnet", wp, fnet.MaskedLMHeads, 1)
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: mlmOnly}, Options{})
	mustContain(t, err, "match no transformers FNet class", "--class")
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: mlmOnly}, Options{Class: "mlm"})
	mustContain(t, err, "FNetForMaskedLM needs the pooler")
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: tinyModel(t, "fnet", wp, fnet.ClassifierHeads, 1)}, Options{Class: "pretraining"})
	mustContain(t, err, "FNetForPreTraining needs the masked-LM head")
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: mlmOnly}, Options{Class: "BertForMaskedLM"})
	mustContain(t, err, `--class "BertForMaskedLM"`, "FNetForPreTraining (pretraining)")

	m := tinyModel(t, "fnet", wp, fnet.PretrainingHeads, 1)
	out := filepath.Join(t.TempDir(), "out")
	os.MkdirAll(out, 0o755)
	writeFile(t, out, "keep.txt", "mine")
	_, err = Export(out, Source{Dir: "ck", Model: m, Tokenizer: wp}, Options{})
	mustContain(t, err, out, "not empty", "--force")
	if _, err := os.Stat(filepath.Join(out, "keep.txt")); err != nil {
		t.Fatal("a refused export touched the folder")
	}
	if _, err := Export(out, Source{Dir: "ck", Model: m, Tokenizer: wp}, Options{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "keep.txt")); err == nil {
		t.Error("--force kept the old folder's files")
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("left beside the export: %v", ents)
	}
	_, err = Export(filepath.Dir(out), Source{Dir: out, Model: m}, Options{Force: true})
	mustContain(t, err, "holds the checkpoint being exported")

	small := tinyModel(t, "fnet", wp, fnet.PretrainingHeads, 1)
	small.Config.VocabSize = 10
	small.Params = fnet.InitParams(small.Config, small.Heads, 1)
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: small, Tokenizer: wp}, Options{})
	mustContain(t, err, "30 pieces", "vocab_size is 10")

	bad := tinyModel(t, "fnet", wp, fnet.PretrainingHeads, 1)
	bad.Params[fnet.PoolerBias][1] = float32(math.NaN())
	_, err = Export(filepath.Join(t.TempDir(), "x"), Source{Dir: "ck", Model: bad}, Options{})
	mustContain(t, err, fnet.PoolerBias+"[1]", "diverged")
}
