package hf

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/safetensors"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// classifierLogits runs the classifier head on the test sentences.
func classifierLogits(t *testing.T, m *fnet.LoadedModel, tok tokenizer.Tokenizer) []float32 {
	t.Helper()
	eng, err := fnet.NewCPUEngine(m.Config, fnet.ClassifierHeads, fnet.DefaultAdamW, fnet.CPUOptions{Params: m.Params})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	S, sp := m.Config.SeqLen, tok.Special()
	b := &fnet.Batch{B: len(testSentences), S: S, InputIDs: make([]int, len(testSentences)*S), TypeIDs: make([]int, len(testSentences)*S), Labels: make([]int, len(testSentences))}
	for i := range b.InputIDs {
		b.InputIDs[i] = sp.Pad
	}
	for r, s := range testSentences {
		ids := append(append([]int{sp.CLS}, tok.Encode(s)...), sp.SEP)
		copy(b.InputIDs[r*S:(r+1)*S], ids[:min(len(ids), S)])
	}
	_, logits, err := eng.Evaluate(b)
	if err != nil {
		t.Fatal(err)
	}
	return logits
}

// TestExportImportRoundTrip: what Export writes, Load reads back as the
// same model (config, heads and every parameter bit for bit), the same
// tokenizer (ids of every test sentence), and the engine's masked-LM or
// classifier logits are identical.
func TestExportImportRoundTrip(t *testing.T) {
	sp, wp := sentencePieceTok(t), wordPieceTok(t)
	cases := []struct {
		name, arch, class string
		heads             fnet.Heads
		tok               tokenizer.Tokenizer
	}{
		{"fnet-pretraining", "fnet", "", fnet.PretrainingHeads, sp},
		{"fnet-mlm", "fnet", "mlm", fnet.PretrainingHeads, sp},
		{"fnet-classifier", "fnet", "", fnet.ClassifierHeads, sp},
		{"bert-pretraining", "bert", "", fnet.PretrainingHeads, wp},
		{"bert-mlm", "bert", "BertForMaskedLM", fnet.PretrainingHeads, wp},
		{"bert-classifier-sentencepiece", "bert", "", fnet.ClassifierHeads, sp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tinyModel(t, c.arch, c.tok, c.heads, 7)
			out := filepath.Join(t.TempDir(), "export")
			res, err := Export(out, Source{Dir: "ck", Model: m, Tokenizer: c.tok}, Options{Class: c.class})
			if err != nil {
				t.Fatal(err)
			}
			back, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if back.Class != res.Class.Name {
				t.Errorf("class %q, exported %q", back.Class, res.Class.Name)
			}
			if back.Model.Config != m.Config {
				t.Errorf("config changed:\n was %s\n now %s", m.Config.JSON(), back.Model.Config.JSON())
			}
			if back.Model.Heads != res.Class.Heads {
				t.Errorf("heads %s, exported %s", back.Model.Heads, res.Class.Heads)
			}
			for _, ps := range fnet.ParamSpecs(m.Config, res.Class.Heads) {
				if !slices.Equal(back.Model.Params[ps.Name], m.Params[ps.Name]) {
					t.Errorf("%s differs after the round trip", ps.Name)
				}
			}
			if len(back.Model.Params) != len(fnet.ParamSpecs(m.Config, res.Class.Heads)) {
				t.Errorf("%d parameters back, want %d", len(back.Model.Params), len(fnet.ParamSpecs(m.Config, res.Class.Heads)))
			}
			if back.Tokenizer == nil || back.Tokenizer.Kind() != c.tok.Kind() || back.Tokenizer.Special() != c.tok.Special() {
				t.Fatalf("tokenizer %v back", back.Tokenizer)
			}
			for _, s := range testSentences {
				if !slices.Equal(back.Tokenizer.Encode(s), c.tok.Encode(s)) {
					t.Errorf("%q encodes differently", s)
				}
			}
			if res.Class.Heads.MLM {
				a, b := mlmLogits(t, m, c.tok), mlmLogits(t, back.Model, back.Tokenizer)
				if len(a) == 0 || !slices.Equal(a, b) {
					t.Errorf("masked-LM logits differ (%d vs %d values)", len(a), len(b))
				}
			}
			if res.Class.Heads.Classifier {
				a, b := classifierLogits(t, m, c.tok), classifierLogits(t, back.Model, back.Tokenizer)
				if len(a) != 3*len(testSentences) || !slices.Equal(a, b) {
					t.Errorf("classifier logits differ: %v vs %v", a, b)
				}
			}
		})
	}
}

// rewrite replaces model.safetensors with the tensors edit returns.
func rewrite(t *testing.T, dir string, edit func(map[string]safetensors.Entry)) {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	es := map[string]safetensors.Entry{}
	for n, tn := range f.Tensors {
		es[n] = safetensors.Entry{Name: n, Shape: tn.Shape, F32: tn.F32, Int: tn.Int}
	}
	edit(es)
	var list []safetensors.Entry
	for n, e := range es {
		e.Name = n
		list = append(list, e)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, ModelFile), list, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites one JSON file of the folder.
func editJSON(t *testing.T, dir, name string, edit func(map[string]any)) {
	t.Helper()
	m, err := readJSONObject(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ := json.Marshal(m)
	writeFile(t, dir, name, string(b))
}

// TestLoadWhatTransformersWrites: the layouts other transformers versions
// save load as the same parameters: a persistent position_ids buffer and
// the tied decoder's weight and bias written out (before 4.31), the bias
// only under its decoder name, the weights in shards with an index, and
// AddedToken objects for the special tokens.
func TestLoadWhatTransformersWrites(t *testing.T) {
	wp := wordPieceTok(t)
	for _, arch := range []string{"fnet", "bert"} {
		m := tinyModel(t, arch, wp, fnet.PretrainingHeads, 5)
		prefix := map[string]string{"fnet": "fnet.", "bert": "bert."}[arch]
		V, H, P := m.Config.VocabSize, m.Config.HiddenSize, m.Config.MaxPositions
		variants := map[string]func(t *testing.T, dir string){
			"old-buffers-and-tied-copies": func(t *testing.T, dir string) {
				rewrite(t, dir, func(es map[string]safetensors.Entry) {
					pos := make([]int, P)
					for i := range pos {
						pos[i] = i
					}
					es[prefix+"embeddings.position_ids"] = safetensors.Entry{Shape: []int{1, P}, Int: pos}
					es[fnet.MLMDecoderWeight] = safetensors.Entry{Shape: []int{V, H}, F32: m.Params[fnet.WordEmbName]}
					es[fnet.MLMDecoderBias] = safetensors.Entry{Shape: []int{V}, F32: m.Params[fnet.MLMBias]}
				})
			},
			"decoder-bias-name": func(t *testing.T, dir string) {
				rewrite(t, dir, func(es map[string]safetensors.Entry) {
					es[fnet.MLMDecoderBias] = es[fnet.MLMBias]
					delete(es, fnet.MLMBias)
				})
			},
			"sharded": func(t *testing.T, dir string) {
				f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
				if err != nil {
					t.Fatal(err)
				}
				shards := map[string][]safetensors.Entry{}
				weightMap := map[string]string{}
				for n, tn := range f.Tensors {
					s := "model-00001-of-00002.safetensors"
					if strings.HasPrefix(n, "cls.") || strings.Contains(n, "layer.1.") {
						s = "model-00002-of-00002.safetensors"
					}
					shards[s] = append(shards[s], safetensors.Entry{Name: n, Shape: tn.Shape, F32: tn.F32})
					weightMap[n] = s
				}
				for s, es := range shards {
					if err := safetensors.WriteFile(filepath.Join(dir, s), es, map[string]string{"format": "pt"}); err != nil {
						t.Fatal(err)
					}
				}
				b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": weightMap})
				writeFile(t, dir, ShardIndexFile, string(b))
				os.Remove(filepath.Join(dir, ModelFile))
			},
			"added-token-objects": func(t *testing.T, dir string) {
				editJSON(t, dir, SpecialTokensFile, func(m map[string]any) {
					m["mask_token"] = map[string]any{"content": "[MASK]", "lstrip": true, "normalized": false, "rstrip": false, "single_word": false}
				})
				editJSON(t, dir, TokenizerConfigFile, func(m map[string]any) {
					m["added_tokens_decoder"] = map[string]any{"0": map[string]any{"content": "[PAD]", "special": true}}
					m["tokenizer_class"] = "BertTokenizerFast"
				})
			},
		}
		for name, mutate := range variants {
			t.Run(arch+"/"+name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "m")
				if _, err := Export(dir, Source{Model: m, Tokenizer: wp}, Options{}); err != nil {
					t.Fatal(err)
				}
				mutate(t, dir)
				back, err := Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				if back.Model.Heads != fnet.PretrainingHeads {
					t.Errorf("heads %s", back.Model.Heads)
				}
				for n, v := range m.Params {
					if !slices.Equal(back.Model.Params[n], v) {
						t.Errorf("%s differs", n)
					}
				}
			})
		}
	}
}

// TestLoadRefusesPickles: a folder whose weights are pytorch_model.bin is
// refused with the command that converts it (the class from config.json),
// and the pickle is never read.
func TestLoadRefusesPickles(t *testing.T) {
	wp := wordPieceTok(t)
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := Export(dir, Source{Model: tinyModel(t, "bert", wp, fnet.PretrainingHeads, 1), Tokenizer: wp}, Options{}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, ModelFile))
	writeFile(t, dir, PickleFile, "\x80\x04not read")
	_, err := Load(dir)
	mustContain(t, err, filepath.Join(dir, PickleFile), "never loads", "BertForPreTraining", "save_pretrained('"+dir+"', safe_serialization=True)")
	os.Rename(filepath.Join(dir, PickleFile), filepath.Join(dir, TFFile))
	_, err = Load(dir)
	mustContain(t, err, TFFile, "from_tf=True")
	os.Remove(filepath.Join(dir, TFFile))
	_, err = Load(dir)
	mustContain(t, err, dir, "no model.safetensors")
	if !IsPickle("x/pytorch_model.bin") || !IsPickle("m.pt") || IsPickle("model.safetensors") {
		t.Error("IsPickle")
	}
}

// TestLoadBadInputs: each broken folder is refused by an error naming the
// file at fault.
func TestLoadBadInputs(t *testing.T) {
	sp, wp := sentencePieceTok(t), wordPieceTok(t)
	fresh := func(t *testing.T, arch string, tok tokenizer.Tokenizer) string {
		dir := filepath.Join(t.TempDir(), "m")
		if _, err := Export(dir, Source{Model: tinyModel(t, arch, tok, fnet.PretrainingHeads, 1), Tokenizer: tok}, Options{}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	cfgPath := func(dir string) string { return filepath.Join(dir, ConfigFile) }
	cases := []struct {
		name   string
		arch   string
		tok    tokenizer.Tokenizer
		break_ func(t *testing.T, dir string)
		want   func(dir string) []string
	}{
		{"no config.json", "fnet", sp, func(t *testing.T, dir string) { os.Remove(cfgPath(dir)) },
			func(dir string) []string { return []string{dir, "no config.json"} }},
		{"config.json not JSON", "fnet", sp, func(t *testing.T, dir string) { writeFile(t, dir, ConfigFile, "{model_type: fnet") },
			func(dir string) []string { return []string{cfgPath(dir)} }},
		{"wrong model_type", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["model_type"] = "roberta" })
		}, func(dir string) []string { return []string{cfgPath(dir), `model_type "roberta"`, "fnet or bert"} }},
		{"no model_type", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { delete(m, "model_type") })
		}, func(dir string) []string { return []string{cfgPath(dir), "no model_type"} }},
		{"shape mismatch", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["intermediate_size"] = 48 })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, ModelFile), "fnet.encoder.layer.0.intermediate.dense.weight", "[32 16]", "[48 16]"}
		}},
		{"missing tensor", "bert", wp, func(t *testing.T, dir string) {
			rewrite(t, dir, func(es map[string]safetensors.Entry) { delete(es, "bert.encoder.layer.1.attention.self.key.bias") })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, ModelFile), "missing 1", "layer.1.attention.self.key.bias"}
		}},
		{"unknown tensor", "bert", wp, func(t *testing.T, dir string) {
			rewrite(t, dir, func(es map[string]safetensors.Entry) {
				es["bert.encoder.layer.0.attention.self.distance_embedding.weight"] = safetensors.Entry{Shape: []int{2}, F32: []float32{1, 2}}
			})
		}, func(dir string) []string {
			return []string{filepath.Join(dir, ModelFile), "unexpected 1", "distance_embedding"}
		}},
		{"truncated weights", "fnet", sp, func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, ModelFile))
			os.WriteFile(filepath.Join(dir, ModelFile), b[:len(b)/2], 0o644)
		}, func(dir string) []string { return []string{filepath.Join(dir, ModelFile)} }},
		{"relative positions", "bert", wp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["position_embedding_type"] = "relative_key" })
		}, func(dir string) []string { return []string{cfgPath(dir), "relative_key", "absolute"} }},
		{"unsupported activation", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["hidden_act"] = "relu" })
		}, func(dir string) []string { return []string{cfgPath(dir), `hidden_act "relu"`} }},
		{"untied decoder", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["tie_word_embeddings"] = false })
			rewrite(t, dir, func(es map[string]safetensors.Entry) {
				w := es[fnet.WordEmbName]
				dec := slices.Clone(w.F32)
				dec[0]++
				es[fnet.MLMDecoderWeight] = safetensors.Entry{Shape: w.Shape, F32: dec}
			})
		}, func(dir string) []string { return []string{cfgPath(dir), "tie_word_embeddings", fnet.MLMDecoderWeight} }},
		{"special token moved", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, SpecialTokensFile, func(m map[string]any) { m["mask_token"] = "[SEP]" })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, SpecialTokensFile), "mask_token", `"[SEP]"`}
		}},
		{"special token unknown", "bert", wp, func(t *testing.T, dir string) {
			editJSON(t, dir, TokenizerConfigFile, func(m map[string]any) { m["cls_token"] = "<s>" })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, TokenizerConfigFile), "cls_token", "not in the vocabulary"}
		}},
		{"lower-casing differs", "bert", wp, func(t *testing.T, dir string) {
			editJSON(t, dir, TokenizerConfigFile, func(m map[string]any) { m["do_lower_case"] = false })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, TokenizerConfigFile), "do_lower_case is false", "uncased"}
		}},
		{"sentencepiece lower-cased", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, TokenizerConfigFile, func(m map[string]any) { m["do_lower_case"] = true })
		}, func(dir string) []string {
			return []string{filepath.Join(dir, TokenizerConfigFile), "do_lower_case is on"}
		}},
		{"fast tokenizer only", "fnet", sp, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, SentencePieceFile))
			writeFile(t, dir, FastTokenizerFile, "{}")
		}, func(dir string) []string { return []string{dir, FastTokenizerFile, "use_fast=False"} }},
		{"vocabulary larger than the model", "fnet", sp, func(t *testing.T, dir string) {
			editJSON(t, dir, ConfigFile, func(m map[string]any) { m["vocab_size"] = 100 })
		}, func(dir string) []string { return []string{filepath.Join(dir, ModelFile), "word_embeddings"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := fresh(t, c.arch, c.tok)
			c.break_(t, dir)
			_, err := Load(dir)
			mustContain(t, err, c.want(dir)...)
		})
	}
	// a classifier whose id2label disagrees with its weights
	dir := filepath.Join(t.TempDir(), "cls")
	if _, err := Export(dir, Source{Model: tinyModel(t, "fnet", sp, fnet.ClassifierHeads, 1), Tokenizer: sp}, Options{}); err != nil {
		t.Fatal(err)
	}
	editJSON(t, dir, ConfigFile, func(m map[string]any) { m["id2label"] = map[string]any{"0": "a", "1": "b"} })
	_, err := Load(dir)
	mustContain(t, err, cfgPath(dir), "id2label has 2 labels", "3 rows")
}
