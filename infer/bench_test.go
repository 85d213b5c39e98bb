package infer

import (
	"iter"
	"path/filepath"
	"testing"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
	"github.com/fnet-tui/fnet-tui/train"
)

// BenchmarkFillMaskMini times one REPL query on a mini-preset model
// (V8192 H256 L4 F1024, padded to 128 tokens) with random weights.
func BenchmarkFillMaskMini(b *testing.B) {
	c, err := corpus.Open("gostd")
	if err != nil {
		b.Skip(err)
	}
	sentences := iter.Seq[string](func(yield func(string) bool) {
		for s, err := range c.Sentences() {
			if err != nil || !yield(s) {
				return
			}
		}
	})
	tok, err := tokenizer.TrainBPE(sentences, tokenizer.TrainOptions{VocabSize: 8192, MaxSentences: 50000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := fnet.PresetConfig("mini")
	dir := b.TempDir()
	if err := fnet.SaveModel(filepath.Join(dir, fnet.ModelFile), cfg, fnet.PretrainingHeads, fnet.InitParams(cfg, fnet.PretrainingHeads, 1)); err != nil {
		b.Fatal(err)
	}
	if err := tokenizer.WriteFile(tok, filepath.Join(dir, train.SPTokenizerFile)); err != nil {
		b.Fatal(err)
	}
	p, err := Load(dir, train.Inference{})
	if err != nil {
		b.Fatal(err)
	}
	q := "The [MASK] function returns the number of bytes [MASK] and any error encountered."
	if _, err := p.FillMask(q, 5); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.FillMask(q, 5); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/query")
}
