package cuda

import (
	"fmt"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// The fnet.Engine methods that run the model on a batch (the optimizer
// step is in optimizer.go, parameters and state in engine.go).

// ForwardBackward runs one micro-batch with dropout and adds scale × its
// gradients into the gradient buffers.
func (e *Engine) ForwardBackward(b *fnet.Batch, dropoutStep uint64, scale float32) (fnet.Stats, error) {
	unlock, err := e.enter()
	if err != nil {
		return fnet.Stats{}, err
	}
	defer unlock()
	p, err := e.newPass(b, true, dropoutStep, scale)
	if err != nil {
		return fnet.Stats{}, err
	}
	if err := p.forward(); err != nil {
		return fnet.Stats{}, err
	}
	if err := p.backward(); err != nil {
		return fnet.Stats{}, err
	}
	return p.readStats()
}

// Evaluate runs the forward pass without dropout. For a classifier it also
// returns the logits [B × NumLabels].
func (e *Engine) Evaluate(b *fnet.Batch) (fnet.Stats, []float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return fnet.Stats{}, nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return fnet.Stats{}, nil, err
	}
	if err := p.forward(); err != nil {
		return fnet.Stats{}, nil, err
	}
	st, err := p.readStats()
	if err != nil || !p.task {
		return st, nil, err
	}
	logits := make([]float32, b.B*p.seqN)
	err = e.dtoh(unsafe.Pointer(&logits[0]), p.a.seqLogits, 4*len(logits))
	return st, logits, err
}

// MaskedLMLogits runs the model without dropout and returns the masked-LM
// logits (with the output bias) at the batch's masked positions, [B·K, V]
// row-major, as the CPU engine's method of the same name does for the REPL.
func (e *Engine) MaskedLMLogits(b *fnet.Batch) ([]float32, error) {
	if !e.heads.MLM {
		return nil, fmt.Errorf("cuda engine: the model has no masked-LM head")
	}
	if b.K == 0 {
		return nil, fmt.Errorf("cuda engine: MaskedLMLogits needs masked positions (K > 0)")
	}
	unlock, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return nil, err
	}
	if err := p.forward(); err != nil {
		return nil, err
	}
	V, M := e.cfg.VocabSize, p.M
	logits := make([]float32, M*V)
	bias := make([]float32, V)
	if err := e.dtoh(unsafe.Pointer(&logits[0]), p.a.mlmLogits, 4*len(logits)); err != nil {
		return nil, err
	}
	if err := e.dtoh(unsafe.Pointer(&bias[0]), e.param(e.params, fnet.MLMBias), 4*V); err != nil {
		return nil, err
	}
	for r := 0; r < M; r++ {
		row := logits[r*V : (r+1)*V]
		for v := range row {
			row[v] += bias[v]
		}
	}
	return logits, nil
}

// HiddenStates runs the model without dropout and returns the embedding
// output and every layer's output, each [B·S × H] in batch order (b·S + s),
// as the CPU engine's method of the same name does for probes.
func (e *Engine) HiddenStates(b *fnet.Batch) ([]float32, [][]float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	p, err := e.newPass(b, false, 0, 1)
	if err != nil {
		return nil, nil, err
	}
	if err := p.forward(); err != nil {
		return nil, nil, err
	}
	T, H := b.B*b.S, e.cfg.HiddenSize
	outs := make([][]float32, e.cfg.NumLayers+1)
	for l := range outs {
		x := make([]float32, T*H)
		if err := e.dtoh(unsafe.Pointer(&x[0]), p.a.hidden[l], 4*len(x)); err != nil {
			return nil, nil, fmt.Errorf("cuda engine: reading layer %d's output: %w", l, err)
		}
		if e.seqMajor {
			x = fromSeqMajor(x, b.B, b.S)
		}
		outs[l] = x
	}
	return outs[0], outs[1:], nil
}
