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
	if err := p.mixForward(i, a.tmpH); err != nil {
		return err
	}
	return p.ln(a.x[i], a.tmpH, 0, noDropout, fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
		p.T, a.xhat1[i], a.rstd1[i], a.a[i], p.gOrNil(a.aG[i]), p.dB())
}

// mixingBackward takes the gradient at the sublayer's output (dA) to the
// gradient at its input, x[i], in dNext: dpre = LN backward, then
// dx = dpre + mixᵀ(dpre).
func (p *pass) mixingBackward(i int) error {
	a := p.a
	if err := p.lnBackward(a.dA, a.xhat1[i], a.rstd1[i], fnet.LayerParam(i, fnet.MixLNWeight), fnet.LayerParam(i, fnet.MixLNBias),
		p.T, a.dNext, p.mixGradInput(i), noDropout, 0); err != nil {
		return err
	}
	return p.mixBackward(i, a.dNext, a.dG, a.dNext)
}

// mixForward writes layer i's token mixing of its input x[i] into out
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
