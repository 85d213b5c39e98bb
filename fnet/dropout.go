package fnet

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/kernels"
)

// Dropout masks are counter-based: whether element i of dropout site `site`
// survives in micro-batch `step` is a pure function of (seed, step, site, i).
// A resumed run therefore draws exactly the masks it would have drawn, and
// the CUDA engine computes the same bits on the device with the same 64-bit
// arithmetic (kernels.DropoutHash: SplitMix64's finaliser over
// seed ^ step·0x9E3779B97F4A7C15 ^ (site<<32 | i)·0xD1B54A32D192ED03).
//
// Sites: 0 = embeddings (after the projection); 1+l = feed-forward output of
// layer l. Element indices run over the row-major [B·S, H] activation.
//
// Attention probabilities (DropoutSiteAttention): one site per (layer l,
// example b, head h), 1<<30 | l<<20 | (b·nHeads + h), with element index
// i·S + j for query i, key j (S ≤ 65536 keeps it in 32 bits; l < 1024 and
// B·nHeads ≤ 2^20 keep the fields apart, and bit 30 keeps them clear of the
// sites above). Probability P[i, j] of head h of example b is kept when
// DropoutKeep(seed, step, site, i·S+j, DropoutThreshold(p)), and a kept one
// is scaled by 1/(1−p): dropout acts after the softmax over keys j and
// before the product with V.

// DropoutSiteEmbeddings is the dropout after the embedding projection.
const DropoutSiteEmbeddings = 0

// DropoutSiteFFN is the dropout on layer l's feed-forward output.
func DropoutSiteFFN(l int) uint32 { return uint32(1 + l) }

// DropoutSiteAttention is the dropout site of the attention probabilities
// of layer l, example b, head h (of nHeads): see the layout above.
func DropoutSiteAttention(l, b, h, nHeads int) uint32 {
	pair := b*nHeads + h
	if l < 0 || l >= 1<<10 || h < 0 || h >= nHeads || b < 0 || pair >= 1<<20 {
		panic(fmt.Sprintf("fnet: attention dropout site l=%d b=%d h=%d of %d heads out of range (l < 1024, B·heads ≤ 2^20)", l, b, h, nHeads))
	}
	return 1<<30 | uint32(l)<<20 | uint32(pair)
}

// DropoutThreshold converts a drop probability to the 24-bit threshold
// DropoutKeep compares against.
func DropoutThreshold(p float64) uint32 { return uint32(p * (1 << 24)) }

// DropoutKeep reports whether the element survives: the top 24 bits of the
// hash, uniform in [0, 2^24), are at least the threshold.
func DropoutKeep(seed, step uint64, site, i uint32, threshold uint32) bool {
	return uint32(kernels.DropoutHash(seed, step, site, i)>>40) >= threshold
}
