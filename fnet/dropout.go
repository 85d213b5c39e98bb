package fnet

// Dropout masks are counter-based: whether element i of dropout site `site`
// survives in micro-batch `step` is a pure function of (seed, step, site, i).
// A resumed run therefore draws exactly the masks it would have drawn, the
// mask needs no storage between forward and backward, and the CUDA engine
// computes the same bits on the device (the same 64-bit arithmetic).
//
// Sites: 0 = embeddings (after the projection); 1+l = feed-forward output of
// layer l.

// DropoutSiteEmbeddings is the dropout after the embedding projection.
const DropoutSiteEmbeddings = 0

// DropoutSiteFFN is the dropout on layer l's feed-forward output.
func DropoutSiteFFN(l int) uint32 { return uint32(1 + l) }

// dropoutHash is SplitMix64's finaliser over the packed counter.
func dropoutHash(seed, step uint64, site, i uint32) uint64 {
	x := seed ^ (step * 0x9E3779B97F4A7C15) ^ (uint64(site)<<32|uint64(i))*0xD1B54A32D192ED03
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// DropoutThreshold converts a drop probability to the 24-bit threshold
// DropoutKeep compares against.
func DropoutThreshold(p float64) uint32 { return uint32(p * (1 << 24)) }

// DropoutKeep reports whether the element survives: the top 24 bits of the
// hash, uniform in [0, 2^24), are at least the threshold.
func DropoutKeep(seed, step uint64, site, i uint32, threshold uint32) bool {
	return uint32(dropoutHash(seed, step, site, i)>>40) >= threshold
}
