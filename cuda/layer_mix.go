package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// The token-mixing sublayer of layer i, forward beside backward:
//
//	mixLN = LayerNorm(x + mix(x) + bias)
//
// The sublayer reaches its mixing only through mixForward, mixBackward and
// mixGradInput, which dispatch on the layer's kind (fnet.Config.LayerMixing),
// one file per kind:
//
//	fourier    mix_fourier.go    Re(FFT2(x)) as DFT GEMMs, no parameters
//	attention  mix_attention.go  multi-head self-attention (its output bias is the LayerNorm's bias)
//	linear     mix_linear.go     seq·x_b·hidden, both trained
//	random     mix_linear.go     the same with fixed matrices (no gradients)
//	identity   mix_identity.go   x (FF-only): LayerNorm(x + x)

// mixKind is layer i's mixing.
func (p *pass) mixKind(i int) fnet.MixKind { return p.e.cfg.LayerMixing(i) }

// mixLNNames are the names of layer i's mixing LayerNorm γ and β.
func (e *Engine) mixLNNames(i int) (weight, bias string) {
	w, b := fnet.MixLNNames(e.cfg.LayerMixing(i))
	return fnet.LayerParam(i, w), fnet.LayerParam(i, b)
}

func (p *pass) mixingForward(i int) error {
	a := p.a
	out, bias, err := p.mixForward(i)
	if err != nil {
		return err
	}
	lnW, lnB := p.e.mixLNNames(i)
	return p.ln(a.hidden[i], out, bias, noDropout, lnW, lnB,
		p.T, a.mixLNXhat[i], a.mixLNRstd[i], a.mixLN[i], p.gOrNil(a.mixLNG[i]), p.dB())
}

// mixingBackward takes the gradient at the sublayer's output (dMixLN) to the
// gradient at its input hidden[i], in dLayerIn: dpre = the LayerNorm's
// backward, then dx = dpre + mixᵀ(dpre).
func (p *pass) mixingBackward(i int) error {
	a := p.a
	lnW, lnB := p.e.mixLNNames(i)
	if err := p.lnBackward(a.dMixLN, a.mixLNXhat[i], a.mixLNRstd[i], lnW, lnB,
		p.T, a.dLayerIn, p.mixGradInput(i), noDropout, 0); err != nil {
		return err
	}
	return p.mixBackward(i, a.dLayerIn, a.dBranch, a.dLayerIn)
}

// mixForward computes layer i's token mixing of its input hidden[i]: out
// [T, H] (float32) holds mix(x) without its bias, bias (0: none) is a
// per-column bias the LayerNorm adds with it.
func (p *pass) mixForward(i int) (out, bias DevPtr, err error) {
	a := p.a
	switch p.mixKind(i) {
	case fnet.MixAttention:
		return a.branch, p.e.param(p.e.params, fnet.LayerParam(i, fnet.AttnOutB)), p.attentionForward(i, a.branch)
	case fnet.MixLinear, fnet.MixRandom:
		return a.branch, 0, p.denseForward(i, a.branch)
	case fnet.MixIdentity:
		return a.hidden[i], 0, nil // LayerNorm(x + x), nothing to compute
	}
	return a.branch, 0, p.fourierForward(i, a.branch)
}

// mixBackward adds the gradient through layer i's mixing of the gradient
// dPre (float32 [T, H]; dPreG its GEMM-typed copy, written where
// mixGradInput said) into dx, which may be dPre itself, and adds the
// mixing's parameter gradients.
func (p *pass) mixBackward(i int, dPre, dPreG, dx DevPtr) error {
	switch p.mixKind(i) {
	case fnet.MixAttention:
		return p.attentionBackward(i, dPre, dPreG, dx)
	case fnet.MixLinear, fnet.MixRandom:
		return p.denseBackward(i, dPre, dPreG, dx)
	case fnet.MixIdentity:
		return p.identityBackward(dPre, dx)
	}
	return p.fourierBackward(dPre, dPreG, dx)
}

// mixGradInput is where the LayerNorm backward before layer i's mixing
// backward leaves the GEMM-typed copy of its gradient (0: none wanted).
func (p *pass) mixGradInput(i int) DevPtr {
	switch p.mixKind(i) {
	case fnet.MixAttention:
		return p.a.dBranch
	case fnet.MixLinear, fnet.MixRandom:
		return p.denseGradInput()
	case fnet.MixIdentity:
		return 0
	}
	return p.fourierGradInput()
}
