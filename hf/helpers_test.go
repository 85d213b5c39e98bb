package hf

import (
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
)

var (
	spOnce sync.Once
	spTok  *tokenizer.SentencePiece
	spErr  error
)

// testSentences are the texts the tests tokenize and score.
var testSentences = []string{
	"The cat sat on the mat and looked at the door.",
	"A small dog ran across the green field, barking at birds.",
	"She opened the old book and read the first page aloud.",
	"Rain fell on the roof all night while the fire burned low.",
}

// sentencePieceTok trains (once) a small SentencePiece BPE vocabulary in
// fnet-tui's layout (<unk> <s> </s> <pad> [CLS] [SEP] [MASK] first).
func sentencePieceTok(t *testing.T) *tokenizer.SentencePiece {
	t.Helper()
	spOnce.Do(func() {
		var lines []string
		for i := 0; i < 40; i++ {
			for _, s := range testSentences {
				lines = append(lines, strings.Repeat(s+" ", 1+i%3))
			}
		}
		var seq iter.Seq[string] = slices.Values(lines)
		spTok, spErr = tokenizer.TrainBPE(seq, tokenizer.TrainOptions{VocabSize: 120, Seed: 1})
	})
	if spErr != nil {
		t.Fatal(spErr)
	}
	return spTok
}

// wordPieceTok is a tiny uncased BERT vocabulary.
func wordPieceTok(t *testing.T) *tokenizer.WordPiece {
	t.Helper()
	words := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "and", "a", "dog", "ran",
		"she", "book", "rain", "fell", "roof", "night", ".", ",", "##s", "##ed", "look", "at", "door", "small", "green", "field"}
	wp, err := tokenizer.NewWordPiece([]byte(strings.Join(words, "\n") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return wp
}

// tinyModel is a 2-layer model of the architecture with random weights of
// every head: seq_len below max_positions, so the export has to carry it.
func tinyModel(t *testing.T, arch string, tok tokenizer.Tokenizer, heads fnet.Heads, seed uint64) *fnet.LoadedModel {
	t.Helper()
	cfg := fnet.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.NumLayers, cfg.IntermediateSize = tok.VocabSize(), 16, 2, 32
	cfg.MaxPositions, cfg.SeqLen, cfg.PadTokenID = 40, 24, tok.Special().Pad
	cfg.DropoutProb = 0
	if arch != "fnet" {
		cfg.Architecture = arch
	}
	if arch == "bert" {
		cfg.ModelType, cfg.HiddenAct, cfg.NumHeads, cfg.TypeVocabSize = "bert", "gelu", 2, 2
	}
	if heads.Classifier {
		cfg.NumLabels, cfg.Task = 3, "mnli"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p := fnet.InitParams(cfg, heads, seed)
	// no zero biases or unit LayerNorms: a swapped pair of tensors must show
	for name, v := range p {
		for i := range v {
			v[i] += float32(len(name)%7+1) * 1e-3 * float32(i%5)
		}
	}
	return &fnet.LoadedModel{Config: cfg, Heads: heads, Params: p}
}

// mlmLogits runs the masked-LM head on the test sentences (with every
// fourth token masked) on the CPU engine.
func mlmLogits(t *testing.T, m *fnet.LoadedModel, tok tokenizer.Tokenizer) []float32 {
	t.Helper()
	eng, err := fnet.NewCPUEngine(m.Config, fnet.MaskedLMHeads, fnet.DefaultAdamW, fnet.CPUOptions{Params: m.Params})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	S := m.Config.SeqLen
	var out []float32
	for _, s := range testSentences {
		sp := tok.Special()
		ids := append(append([]int{sp.CLS}, tok.Encode(s)...), sp.SEP)
		if len(ids) > S {
			ids = append(ids[:S-1], sp.SEP)
		}
		b := &fnet.Batch{B: 1, S: S, InputIDs: make([]int, S), TypeIDs: make([]int, S)}
		for i := range b.InputIDs {
			b.InputIDs[i] = sp.Pad
		}
		copy(b.InputIDs, ids)
		for p := 1; p < len(ids)-1; p += 4 {
			b.InputIDs[p] = sp.Mask
			b.MaskedPos = append(b.MaskedPos, p)
			b.MaskedLabels = append(b.MaskedLabels, ids[p])
			b.MaskedWeight = append(b.MaskedWeight, 1)
		}
		b.K = len(b.MaskedPos)
		l, err := eng.MaskedLMLogits(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l...)
	}
	return out
}

// writeFile writes a file under dir, failing the test on error.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustContain fails unless err's message holds every part.
func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func layerKeys(prefix string, layers int, templates []string) []string {
	var out []string
	for i := 0; i < layers; i++ {
		for _, tpl := range templates {
			out = append(out, fmt.Sprintf("%s.encoder.layer.%d.%s", prefix, i, tpl))
		}
	}
	return out
}
