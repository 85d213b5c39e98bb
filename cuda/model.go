package cuda

import "fmt"

// The model as a sequence of layers (llm.c style: each layer's forward
// sits beside its backward in its own file): embeddings (layer_embed.go),
// per encoder layer the token-mixing sublayer (layer_mix.go) and the
// feed-forward sublayer (layer_ffn.go), then the heads (heads.go). The
// backward runs the same sequence in reverse, passing the gradient of the
// residual stream in dLayerOut (at a layer's output) and dLayerIn (at its
// input). The buffers and their shapes are listed in activations.go.

// forward runs the encoder and the heads; with train it also leaves the
// loss gradients (dMLMLogits, dSeqLogits) for backward.
func (p *pass) forward() error {
	if err := p.embeddingsForward(); err != nil {
		return err
	}
	for i := 0; i < p.e.cfg.NumLayers; i++ {
		if err := p.mixingForward(i); err != nil {
			return err
		}
		if err := p.ffnForward(i); err != nil {
			return err
		}
	}
	if p.mlm {
		if err := p.mlmForward(); err != nil {
			return err
		}
	}
	if p.seqN > 0 {
		if err := p.seqForward(); err != nil {
			return err
		}
	}
	return nil
}

// backward propagates the loss gradients left by forward and adds the
// parameter gradients (already scaled: the loss gradients carry scale).
func (p *pass) backward() error {
	a := p.a
	if err := p.e.memsetD32(a.dLayerOut, 0, p.T*p.e.cfg.HiddenSize); err != nil {
		return err
	}
	if p.mlm {
		if err := p.mlmBackward(); err != nil {
			return err
		}
	}
	if p.seqN > 0 {
		if err := p.seqBackward(); err != nil {
			return err
		}
	}
	// gradientsFinal: each group's gradients are complete; on the step's
	// last micro-batch its all-reduce starts now (grad_average.go)
	if err := p.gradientsFinal("heads"); err != nil {
		return err
	}
	for i := p.e.cfg.NumLayers - 1; i >= 0; i-- {
		if err := p.ffnBackward(i); err != nil {
			return err
		}
		if err := p.mixingBackward(i); err != nil {
			return err
		}
		if err := p.gradientsFinal(fmt.Sprintf("layer %d", i)); err != nil {
			return err
		}
		a.dLayerOut, a.dLayerIn = a.dLayerIn, a.dLayerOut
	}
	if err := p.embeddingsBackward(); err != nil {
		return err
	}
	return p.gradientsFinal("embeddings")
}
