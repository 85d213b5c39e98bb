package train

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/fnet-tui/fnet-tui/corpus"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

// resolveTokenizer loads data.tokenizer, or for "auto" trains a SentencePiece
// BPE vocabulary of model.vocab_size pieces on the corpus's training split
// and caches it under <runs dir>/.cache, keyed by the corpus fingerprint and
// the training options, so later runs on the same corpus reuse it.
func resolveTokenizer(cfg Config, c *corpus.Corpus, vocab int, logf func(string, ...any)) (tokenizer.Tokenizer, error) {
	if cfg.Data.Tokenizer != "auto" {
		tok, err := tokenizer.Load(expandPath(cfg.Data.Tokenizer))
		if err != nil {
			return nil, fmt.Errorf("data.tokenizer: %w", err)
		}
		return tok, nil
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d|%d", c.Fingerprint(), vocab, cfg.Data.TokenizerSentences, cfg.Train.Seed)))
	cache := filepath.Join(cfg.Run.Dir, ".cache", fmt.Sprintf("bpe-%d-%s.model", vocab, hex.EncodeToString(key[:6])))
	if tok, err := tokenizer.Load(cache); err == nil {
		logf("tokenizer: %s (cached BPE, %d pieces)", cache, tok.VocabSize())
		return tok, nil
	}
	logf("tokenizer: training a %d-piece BPE vocabulary on %s (up to %d sentences)...", vocab, c.Spec(), cfg.Data.TokenizerSentences)
	t0 := time.Now()
	var readErr error
	sentences := iter.Seq[string](func(yield func(string) bool) {
		for s, err := range c.Split(corpus.Train).Sentences() {
			if err != nil {
				readErr = err
				return
			}
			if !yield(s) {
				return
			}
		}
	})
	tok, err := tokenizer.TrainBPE(sentences, tokenizer.TrainOptions{VocabSize: vocab, MaxSentences: cfg.Data.TokenizerSentences, Seed: cfg.Train.Seed})
	if readErr != nil {
		return nil, readErr
	}
	if err != nil {
		return nil, fmt.Errorf("training the tokenizer: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err != nil {
		return nil, err
	}
	if err := tokenizer.WriteFile(tok, cache); err != nil {
		return nil, err
	}
	logf("tokenizer: trained in %.1fs, cached at %s", time.Since(t0).Seconds(), cache)
	return tok, nil
}
