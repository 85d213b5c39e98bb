// Package infer answers masked-word queries ("The [MASK] sat on the mat.")
// from any checkpoint with a masked-LM head, on the CPU or CUDA engine.
package infer

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/tokenizer"
	"github.com/fnet-tui/fnet-tui/train"
)

// Candidate is one proposed token for a masked position.
type Candidate struct {
	ID    int
	Token string  // the piece as text: the word-boundary marker becomes a leading space
	Prob  float64 // softmax probability over the vocabulary
}

// MaskResult is the top-k for one [MASK] of a query.
type MaskResult struct {
	Position   int // token position in the encoded input (0 is [CLS])
	Candidates []Candidate
}

// Predictor is a loaded checkpoint ready for queries. It is not safe for
// concurrent use.
type Predictor struct {
	dir  string
	step int
	cfg  fnet.Config
	tok  tokenizer.Tokenizer
	eng  fnet.Engine
}

// Load reads a checkpoint (a run directory, a checkpoint directory or a
// model file beside its tokenizer) and prepares the masked-LM model on the
// device inf names (train.Inference: cpu — the zero value —, cuda or auto).
func Load(path string, inf train.Inference) (*Predictor, error) {
	ck, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	if !ck.Model.Heads.MLM {
		return nil, fmt.Errorf("%s has no masked-LM head (heads: %s)", ck.Dir, ck.Model.Heads)
	}
	if ck.Tokenizer == nil {
		return nil, fmt.Errorf("%s has no tokenizer (%s or %s)", ck.Dir, train.SPTokenizerFile, train.WordPieceVocabFile)
	}
	if sp := ck.Tokenizer.Special(); sp.Mask < 0 || sp.CLS < 0 || sp.SEP < 0 {
		return nil, fmt.Errorf("%s: the tokenizer has no [MASK]/[CLS]/[SEP] pieces", ck.Dir)
	}
	cfg := ck.Model.Config
	cfg.DropoutProb = 0
	// Only the encoder and the MLM head are needed; the NSP head and pooler
	// of a pretraining checkpoint are left out of the graph.
	eng, err := inf.Engine(cfg, fnet.MaskedLMHeads, ck.Model.Params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ck.Dir, err)
	}
	p := &Predictor{dir: ck.Dir, cfg: cfg, tok: ck.Tokenizer, eng: eng}
	if ck.Trainer != nil {
		p.step = ck.Trainer.Step
	}
	return p, nil
}

// Close releases the engine (device memory on a GPU).
func (p *Predictor) Close() error { return p.eng.Close() }

// Device is where the model runs.
func (p *Predictor) Device() string { return p.eng.Device() }

// Describe is a one-line summary of the loaded model.
func (p *Predictor) Describe() string {
	s := fmt.Sprintf("%s, %s tokenizer (%d pieces), %s", p.cfg, p.tok.Kind(), p.tok.VocabSize(), p.dir)
	if p.step > 0 {
		s += fmt.Sprintf(", step %d", p.step)
	}
	return s
}

// SeqLen is the length queries are padded to (the model's training length:
// FNet's Fourier mixing sees padding, so queries use the same length).
func (p *Predictor) SeqLen() int { return p.cfg.SeqLen }

// Encode turns a query into ids with [CLS] ... [SEP] and reports where the
// masks are. A lone word-boundary piece just before a [MASK] is dropped:
// SentencePiece emits "▁" "[MASK]" for " [MASK]", but in pretraining a masked
// word's own "▁word" piece is what [MASK] replaced.
func (p *Predictor) Encode(text string) (ids []int, masks []int, err error) {
	sp := p.tok.Special()
	raw := p.tok.Encode(text)
	ids = append(ids, sp.CLS)
	for i, id := range raw {
		if i+1 < len(raw) && raw[i+1] == sp.Mask && p.tok.Piece(id) == "▁" {
			continue
		}
		if id == sp.Mask {
			masks = append(masks, len(ids))
		}
		ids = append(ids, id)
	}
	ids = append(ids, sp.SEP)
	if len(masks) == 0 {
		return nil, nil, fmt.Errorf("no [MASK] in %q", text)
	}
	if len(ids) > p.cfg.SeqLen {
		return nil, nil, fmt.Errorf("the query is %d tokens with [CLS] and [SEP]; this model takes at most %d", len(ids), p.cfg.SeqLen)
	}
	return ids, masks, nil
}

// FillMask returns the k most likely tokens for each [MASK] in text.
func (p *Predictor) FillMask(text string, k int) ([]MaskResult, error) {
	if k < 1 {
		return nil, fmt.Errorf("k = %d: want at least 1", k)
	}
	ids, masks, err := p.Encode(text)
	if err != nil {
		return nil, err
	}
	S, K := p.cfg.SeqLen, len(masks)
	b := &fnet.Batch{B: 1, S: S, K: K, InputIDs: make([]int, S), TypeIDs: make([]int, S),
		MaskedPos: masks, MaskedLabels: make([]int, K), MaskedWeight: make([]float32, K)}
	for i := range b.InputIDs {
		b.InputIDs[i] = p.tok.Special().Pad
	}
	copy(b.InputIDs, ids)
	for i := range b.MaskedWeight {
		b.MaskedWeight[i] = 1
	}
	logits, err := p.eng.MaskedLMLogits(b)
	if err != nil {
		return nil, err
	}
	V := p.cfg.VocabSize
	out := make([]MaskResult, K)
	for m := 0; m < K; m++ {
		out[m] = MaskResult{Position: masks[m], Candidates: topK(logits[m*V:(m+1)*V], k, p.tok)}
	}
	return out, nil
}

// topK is the softmax's k largest entries, most likely first, skipping
// special tokens (never a useful answer).
func topK(logits []float32, k int, tok tokenizer.Tokenizer) []Candidate {
	mx := float32(math.Inf(-1))
	for _, x := range logits {
		mx = max(mx, x)
	}
	var z float64
	for _, x := range logits {
		z += math.Exp(float64(x - mx))
	}
	// one pass keeping the k best (k is small; V is tens of thousands)
	idx := make([]int, 0, k+1)
	for i, x := range logits {
		if tok.IsSpecial(i) || (len(idx) == k && x <= logits[idx[k-1]]) {
			continue
		}
		j := sort.Search(len(idx), func(j int) bool { return logits[idx[j]] < x })
		idx = append(idx, 0)
		copy(idx[j+1:], idx[j:])
		idx[j] = i
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	out := make([]Candidate, len(idx))
	for i, id := range idx {
		out[i] = Candidate{ID: id, Token: display(tok.Piece(id)), Prob: math.Exp(float64(logits[id]-mx)) / z}
	}
	return out
}

// display turns a piece into text: "▁cat" → " cat" is shown as "cat" and
// WordPiece's "##s" as "##s" (a word continuation stays visibly so).
func display(piece string) string {
	if piece == "▁" {
		return piece // a bare word boundary: shown as itself rather than as nothing
	}
	return strings.TrimPrefix(piece, "▁")
}
