package fnet

import G "gorgonia.org/gorgonia"

// attentionMix is the self-attention sublayer of layer l as Hugging Face
// BERT and the official f_net code build it: q, k, v projections (with
// biases), multi-head scaled dot-product attention over the real keys (pad
// keys masked; dropout on the probabilities while training, at the model's
// dropout rate, the official mixing_dropout_rate), and the output
// projection. x [B·S, H] → [B·S, H]; the caller adds the residual and
// applies attention.output.LayerNorm. keyMask [B·S] is 1 for real tokens.
func attentionMix(x, keyMask *G.Node, lp func(string) *G.Node, spec graphSpec, l int) *G.Node {
	q := linear(x, lp(AttnQueryW), lp(AttnQueryB), ActNone)
	k := linear(x, lp(AttnKeyW), lp(AttnKeyB), ActNone)
	v := linear(x, lp(AttnValueW), lp(AttnValueB), ActNone)
	drop := attentionDropout{layer: l}
	if spec.train && spec.dropout > 0 {
		drop.p, drop.ctr = spec.dropout, spec.ctr
	}
	ctx := selfAttention(q, k, v, keyMask, spec.B, spec.S, spec.cfg.AttentionHeads(), drop)
	return linear(ctx, lp(AttnOutW), lp(AttnOutB), ActNone)
}
