package tokenizer

import (
	"sync"
	"testing"
)

var (
	benchOnce  sync.Once
	benchSP    *SentencePiece
	benchLines []string
	benchErr   error
)

// benchSetup trains an 8000-piece vocabulary on two books (outside the
// timer) and takes the text to encode from a third.
func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		train := readSentences(b, gutenbergPath(b, "pg1184_the_count_of_monte_cristo.txt"), 0)
		train = append(train, readSentences(b, gutenbergPath(b, "pg16_peter_pan.txt"), 0)...)
		benchSP, benchErr = TrainBPE(seqOf(train), TrainOptions{VocabSize: 8000})
		benchLines = readSentences(b, gutenbergPath(b, "pg11_alices_adventures_in_wonderland.txt"), 0)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

func benchEncode(b *testing.B, tok Tokenizer) {
	var bytes int64
	for _, l := range benchLines {
		bytes += int64(len(l))
	}
	b.SetBytes(bytes)
	b.ResetTimer()
	tokens := 0
	for b.Loop() {
		for _, l := range benchLines {
			tokens += len(tok.Encode(l))
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeSentencePieceBPE encodes Alice in Wonderland with a
// trained 8000-piece BPE vocabulary (MB/s of input text and tokens/s).
func BenchmarkEncodeSentencePieceBPE(b *testing.B) {
	benchSetup(b)
	benchEncode(b, benchSP)
}

// BenchmarkEncodeWordPiece encodes the same text with BERT's uncased vocab.
func BenchmarkEncodeWordPiece(b *testing.B) {
	benchSetup(b)
	benchEncode(b, loadBERT(b))
}

// BenchmarkTrainBPE trains a 4000-piece vocabulary on one book.
func BenchmarkTrainBPE(b *testing.B) {
	lines := readSentences(b, gutenbergPath(b, "pg16_peter_pan.txt"), 0)
	for b.Loop() {
		if _, err := TrainBPE(seqOf(lines), TrainOptions{VocabSize: 4000}); err != nil {
			b.Fatal(err)
		}
	}
}
