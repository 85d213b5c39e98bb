package kernels

// DropoutHash is SplitMix64's finaliser over a packed (seed, step, site,
// index) counter: the randomness behind fnet's counter-based dropout.
func DropoutHash(seed, step uint64, site, i uint32) uint64 {
	x := seed ^ (step * 0x9E3779B97F4A7C15) ^ (uint64(site)<<32|uint64(i))*0xD1B54A32D192ED03
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

// DropoutForward writes y = x·keep/(1−p) where element i is kept when the
// top 24 bits of DropoutHash(seed, step, site, i) reach threshold, and
// records the mask (1 kept, 0 dropped) for the backward pass. y may alias x.
func DropoutForward(x, y []float32, mask []uint8, seed, step uint64, site uint32, threshold uint32, p float64) {
	scale := float32(1 / (1 - p))
	ParallelFor(len(x), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if uint32(DropoutHash(seed, step, site, uint32(i))>>40) >= threshold {
				mask[i] = 1
				y[i] = x[i] * scale
			} else {
				mask[i] = 0
				y[i] = 0
			}
		}
	})
}

// DropoutBackward writes dx = dy·mask/(1−p). dx may alias dy.
func DropoutBackward(dy, dx []float32, mask []uint8, p float64) {
	scale := float32(1 / (1 - p))
	ParallelFor(len(dy), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dx[i] = dy[i] * scale * float32(mask[i])
		}
	})
}
