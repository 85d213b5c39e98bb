package train

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/rundir"
	"github.com/fnet-tui/fnet-tui/safetensors"
)

// writeHFBert writes a folder laid out as transformers' save_pretrained
// writes a BertForPreTraining: config.json (model_type bert, the exact
// "gelu", num_attention_heads), model.safetensors under BERT's names with
// the tied decoder alias and the position_ids buffer, and BERT's vocab.txt.
// It returns the model's config and weights as the engines name them.
func writeHFBert(t *testing.T, dir, vocab string) (fnet.Config, map[string][]float32) {
	t.Helper()
	hf := `{"architectures": ["BertForPreTraining"], "model_type": "bert", "vocab_size": 30522,
 "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 32,
 "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
 "max_position_embeddings": 64, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
 "pad_token_id": 0, "position_embedding_type": "absolute", "transformers_version": "4.46.0"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(hf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := fnet.ParseConfig([]byte(hf))
	if err != nil {
		t.Fatal(err)
	}
	params := fnet.InitParams(cfg, fnet.PretrainingHeads, 11)
	var entries []safetensors.Entry
	for _, ps := range fnet.ParamSpecs(cfg, fnet.PretrainingHeads) {
		entries = append(entries, safetensors.Entry{Name: cfg.HFName(ps.Name), Shape: ps.Shape, F32: params[ps.Name]})
	}
	entries = append(entries,
		safetensors.Entry{Name: fnet.MLMDecoderWeight, Shape: []int{cfg.VocabSize, cfg.HiddenSize}, F32: params[fnet.WordEmbName]},
		safetensors.Entry{Name: fnet.MLMDecoderBias, Shape: []int{cfg.VocabSize}, F32: params[fnet.MLMBias]},
		safetensors.Entry{Name: "bert.embeddings.position_ids", Shape: []int{1, cfg.MaxPositions}, Int: make([]int, cfg.MaxPositions)})
	if err := safetensors.WriteFile(filepath.Join(dir, fnet.ModelFile), entries, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(vocab)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, WordPieceVocabFile), b, 0o644)
	return cfg, params
}

// TestFinetuneFromAHuggingFaceBERT: a BertForPreTraining folder (as the
// hub's small BERTs come) loads as a bert model with every weight in place
// and finetunes on GLUE with BERT's WordPiece vocabulary.
func TestFinetuneFromAHuggingFaceBERT(t *testing.T) {
	gd := glueDir(t)
	vocab := filepath.Join("..", "..", "shared", "data", "tokenizer", "bert-base-uncased-vocab.txt")
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("BERT vocab not found: %v", err)
	}
	dir := t.TempDir()
	hub := filepath.Join(dir, "bert-tiny")
	os.MkdirAll(hub, 0o755)
	cfg, params := writeHFBert(t, hub, vocab)
	ck, err := LoadCheckpoint(hub)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Model.Config.Arch() != "bert" || ck.Model.Config.GELU() != fnet.ActGELUErf || ck.Model.Config.AttentionHeads() != 2 || ck.Model.Heads != fnet.PretrainingHeads {
		t.Fatalf("loaded %s, gelu %q, %d heads, heads %s", ck.Model.Config.ArchString(), ck.Model.Config.HiddenAct, ck.Model.Config.AttentionHeads(), ck.Model.Heads)
	}
	for name, want := range params {
		if !slices.Equal(ck.Model.Params[name], want) {
			t.Errorf("%s not loaded as saved", name)
		}
	}
	if ck.Tokenizer == nil || ck.Tokenizer.Special().Pad != cfg.PadTokenID {
		t.Fatalf("tokenizer %v: [PAD] must be BERT's id %d", ck.Tokenizer, cfg.PadTokenID)
	}
	toml := `kind = "finetune"
[finetune]
task = "rte"
glue_dir = "` + gd + `"
max_train = 32
max_eval = 16
eval_batch = 16
epochs = 1
[data]
seq_len = 48
batch_size = 8
[train]
lr = 1e-3
threads = 2
[run]
dir = "` + filepath.Join(dir, "runs") + `"
`
	p := filepath.Join(dir, "rte.toml")
	os.WriteFile(p, []byte(toml), 0o644)
	run, err := Finetune(context.Background(), Options{ConfigPath: p, RunName: "ft"}, hub)
	if err != nil {
		t.Fatal(err)
	}
	best, err := LoadCheckpoint(filepath.Join(run, rundir.CheckpointsDir, BestLink))
	if err != nil {
		t.Fatal(err)
	}
	if best.Model.Config.Arch() != "bert" || best.Model.Config.HiddenAct != "gelu" || !best.Model.Heads.Classifier {
		t.Errorf("finetuned: %s gelu %q heads %s", best.Model.Config.ArchString(), best.Model.Config.HiddenAct, best.Model.Heads)
	}
	f, err := safetensors.ReadFile(filepath.Join(run, rundir.CheckpointsDir, BestLink, fnet.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	for n := range f.Tensors {
		if strings.HasPrefix(n, "fnet.") {
			t.Errorf("the finetuned bert checkpoint holds %s", n)
			break
		}
	}
}
