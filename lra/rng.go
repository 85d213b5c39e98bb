package lra

import "math/bits"

// splitMix64 is the generator's random source. It is written out here, not
// taken from math/rand, so that a seed names the same data set on every Go
// release: the files are part of an experiment's record.
type splitMix64 struct{ state uint64 }

func newRNG(seed uint64) *splitMix64 { return &splitMix64{state: seed} }

func (r *splitMix64) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn is uniform in [0, n) by Lemire's multiply-shift; the bias (n/2^64)
// is far below anything a data set of this size could show.
func (r *splitMix64) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

// quarter is true with probability exactly 1/4.
func (r *splitMix64) quarter() bool { return r.next()>>62 == 0 }
