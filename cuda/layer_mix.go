package cuda

import "github.com/fnet-tui/fnet-tui/fnet"

// The token-mixing sublayer of layer i, forward beside backward:
//
//	mixLN = LayerNorm(x + mix(x))
//
// The sublayer reaches its mixing only through mixForward, mixBackward and
// mixGradInput. FNet's mixing is the Fourier transform (mix_fourier.go);
// another kind (attention, linear, random) is one more file of the same
// three and a case in each below.

func (p *pass) mixingForward(i int) error {
	a := p.a
	if err := p.mixForward(i, a.branch); err != nil {
		return err
	}
	return p.ln(a.hidden[i], a.branch, 0, noDropout, fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
		p.T, a.mixLNXhat[i], a.mixLNRstd[i], a.mixLN[i], p.gOrNil(a.mixLNG[i]), p.dB())
}

// mixingBackward takes the gradient at the sublayer's output (dMixLN) to the
// gradient at its input hidden[i], in dLayerIn: dpre = the LayerNorm's
// backward, then dx = dpre + mixᵀ(dpre).
func (p *pass) mixingBackward(i int) error {
	a := p.a
	if err := p.lnBackward(a.dMixLN, a.mixLNXhat[i], a.mixLNRstd[i], fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
		p.T, a.dLayerIn, p.mixGradInput(i), noDropout, 0); err != nil {
		return err
	}
	return p.mixBackward(i, a.dLayerIn, a.dBranch, a.dLayerIn)
}

// mixForward writes layer i's token mixing of its input hidden[i] into out
// [T, H] (float32).
func (p *pass) mixForward(i int, out DevPtr) error {
	return p.fourierForward(i, out)
}

// mixBackward adds the gradient through layer i's mixing of the gradient
// dPre (float32 [T, H]; dPreG its GEMM-typed copy, written where
// mixGradInput said) into dx, which may be dPre itself.
func (p *pass) mixBackward(i int, dPre, dPreG, dx DevPtr) error {
	return p.fourierBackward(dPre, dPreG, dx)
}

// mixGradInput is where the LayerNorm backward before layer i's mixing
// backward leaves the GEMM-typed copy of its gradient (0: none wanted).
func (p *pass) mixGradInput(i int) DevPtr {
	return p.fourierGradInput()
}
