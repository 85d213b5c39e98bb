package cuda

import (
	"fmt"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Activations copies out the last forward pass's encoder outputs under the
// reference's names: act.embeddings, act.layer.<i>, and act.mlm_logits
// (with the output bias) when the masked-LM head ran; act.pooled and
// act.nsp_logits or act.logits when the pooler and a sentence head ran.
func (e *Engine) Activations() (map[string][]float32, error) {
	unlock, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer unlock()
	a := e.act
	if a == nil {
		return nil, fmt.Errorf("cuda engine: no forward pass has run")
	}
	H, L, V := e.cfg.HiddenSize, e.cfg.NumLayers, e.cfg.VocabSize
	T, M := a.B*a.S, a.B*a.K
	out := map[string][]float32{}
	read := func(p DevPtr, n int) ([]float32, error) {
		h := make([]float32, n)
		return h, e.dtoh(unsafe.Pointer(&h[0]), p, 4*n)
	}
	for l := 0; l <= L; l++ {
		x, err := read(a.hidden[l], T*H)
		if err != nil {
			return nil, err
		}
		if e.seqMajor {
			x = fromSeqMajor(x, a.B, a.S)
		}
		name := fmt.Sprintf("act.layer.%d", l-1)
		if l == 0 {
			name = "act.embeddings"
		}
		out[name] = x
	}
	if e.heads.MLM && M > 0 {
		lg, err := read(a.mlmLogits, M*V)
		if err != nil {
			return nil, err
		}
		bias, err := read(e.param(e.params, fnet.MLMBias), V)
		if err != nil {
			return nil, err
		}
		for r := 0; r < M; r++ {
			for v := 0; v < V; v++ {
				lg[r*V+v] += bias[v]
			}
		}
		out["act.mlm_logits"] = lg
	}
	if e.heads.Pooler && (e.heads.NSP || e.heads.Classifier) {
		pooled, err := read(a.pooled, a.B*H)
		if err != nil {
			return nil, err
		}
		out["act.pooled"] = pooled
		n, name := 2, "act.nsp_logits"
		if e.heads.Classifier {
			n, name = e.cfg.ClassifierOutputs(), "act.logits"
		}
		if out[name], err = read(a.seqLogits, a.B*n); err != nil { // [B, n], bias included
			return nil, err
		}
	}
	return out, nil
}

// RunParity checks the CUDA engine against a PyTorch reference pair (as
// fnet.RunParity does for the CPU engine): the loss, every activation, every
// gradient after one forward/backward, every parameter update after one
// AdamW step and the loss curve, each as a relative error, with the heads
// the reference has (masked LM, pretraining, classifier).
func RunParity(weightsPath, expectPath string, mode Precision) (*fnet.ParityReport, error) {
	return RunParityWithOptions(weightsPath, expectPath, mode, Options{})
}

// RunParityWithOptions is RunParity with engine Options (Params is ignored).
func RunParityWithOptions(weightsPath, expectPath string, mode Precision, o Options) (*fnet.ParityReport, error) {
	return fnet.RunParityOn(weightsPath, expectPath, func(cfg fnet.Config, heads fnet.Heads, opt fnet.AdamWConfig, params map[string][]float32) (*fnet.ParityTarget, error) {
		o.Params = params
		eng, err := NewEngineWithOptions(cfg, heads, opt, 0, mode, o)
		if err != nil {
			return nil, err
		}
		return &fnet.ParityTarget{Engine: eng, Activations: eng.Activations, Gradients: eng.Gradients}, nil
	})
}
