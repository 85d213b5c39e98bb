package fnet

import "github.com/fnet-tui/fnet-tui/kernels"

// Dropout masks are counter-based: whether element i of dropout site `site`
// survives in micro-batch `step` is a pure function of (seed, step, site, i).
// A resumed run therefore draws exactly the masks it would have drawn, and
// the CUDA engine computes the same bits on the device with the same 64-bit
// arithmetic (kernels.DropoutHash: SplitMix64's finaliser over
// seed ^ step·0x9E3779B97F4A7C15 ^ (site<<32 | i)·0xD1B54A32D192ED03).
//
// Sites: 0 = embeddings (after the projection); 1+l = feed-forward output of
// layer l. Element indices run over the row-major [B·S, H] activation.

// DropoutSiteEmbeddings is the dropout after the embedding projection.
const DropoutSiteEmbeddings = 0

// DropoutSiteFFN is the dropout on layer l's feed-forward output.
func DropoutSiteFFN(l int) uint32 { return uint32(1 + l) }

// DropoutThreshold converts a drop probability to the 24-bit threshold
// DropoutKeep compares against.
func DropoutThreshold(p float64) uint32 { return uint32(p * (1 << 24)) }

// DropoutKeep reports whether the element survives: the top 24 bits of the
// hash, uniform in [0, 2^24), are at least the threshold.
func DropoutKeep(seed, step uint64, site, i uint32, threshold uint32) bool {
	return uint32(kernels.DropoutHash(seed, step, site, i)>>40) >= threshold
}
