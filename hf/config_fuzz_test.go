package hf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// FuzzReadConfig: any config.json either is refused with an error naming
// the file or gives a valid model config; a valid FNet or BERT config
// written back by ConfigJSON (as Export does) reads back as itself.
func FuzzReadConfig(f *testing.F) {
	for _, s := range []string{
		`{"model_type": "fnet"}`,
		`{"model_type": "bert", "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 20}`,
		`{"architectures": ["FNetForPreTraining"], "model_type": "fnet", "vocab_size": 32000, "hidden_size": 768, "fnet_tui_seq_len": 128, "tpu_short_seq_length": 512}`,
		`{"model_type": "bert", "position_embedding_type": "relative_key"}`,
		`{"model_type": "fnet", "hidden_act": "relu"}`,
		`{"model_type": "fnet", "fnet_tui_architecture": "linear", "fnet_tui_seq_len": 64, "max_position_embeddings": 64}`,
		`{"model_type": "bert", "pad_token_id": null, "id2label": {"0": "a"}}`,
		`[]`, `{"model_type": 3}`, `{"model_type": "bert", "num_attention_heads": 0}`, `{"model_type": "fnet", "num_attention_heads": 4}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ConfigFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := readConfig(dir)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted an invalid config: %v", err)
		}
		c, err := ChooseClass(cfg, fnet.PretrainingHeads, "")
		if err != nil {
			return // linear, random, ff_only, hybrids: no transformers class
		}
		b, err := ConfigJSON(cfg, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, ConfigFile), b, 0o644)
		back, _, err := readConfig(dir)
		if err != nil {
			t.Fatalf("our own config.json is refused: %v\n%s", err, b)
		}
		if norm(back) != norm(cfg) {
			t.Fatalf("config.json round trip:\n was %s\n now %s", cfg.JSON(), back.JSON())
		}
	})
}

// norm spells the attention heads out: 0 means hidden/64, and a model
// without attention layers has none (ConfigJSON writes BERT's count and
// leaves FNet's out).
func norm(c fnet.Config) fnet.Config {
	c.NumHeads = 0
	if c.HasMixing(fnet.MixAttention) {
		c.NumHeads = c.AttentionHeads()
	}
	return c
}
