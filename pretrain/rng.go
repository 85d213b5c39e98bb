package pretrain

import "math/rand/v2"

// Randomness is counter-based: every random decision draws from a PCG seeded
// by the stream seed and the coordinates of what it decides about (epoch and
// document, block, epoch order). Nothing depends on which worker ran first,
// and resuming needs positions only, never a generator's internal state.

// Domain tags keep the generators for different purposes independent.
const (
	tagDocument uint64 = 0x646f63756d656e74 // "document"
	tagBlock    uint64 = 0x73687566666c6521 // "shuffle!"
	tagOrder    uint64 = 0x66696c656f726472 // "fileordr"
)

// mix is splitmix64's finaliser: a bijection that scatters nearby inputs.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func newRand(seed, tag, a, b uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix(mix(seed^tag)^a), mix(mix(b)^tag)))
}

// documentRand drives the pivots, swaps and masks of one document in one
// epoch; source is the file's index in sorted corpus order.
func documentRand(seed uint64, epoch, source, doc int) *rand.Rand {
	return newRand(seed, tagDocument, uint64(epoch), uint64(source)<<40^uint64(doc))
}

// blockRand permutes shuffle block number block.
func blockRand(seed uint64, block int64) *rand.Rand {
	return newRand(seed, tagBlock, uint64(block), 0)
}

// epochOrder is the order sources are read in during epoch: a permutation
// when shuffling (the official pipeline shuffles files), else sorted order.
func epochOrder(seed uint64, epoch, sources int, shuffle bool) []int {
	if !shuffle {
		order := make([]int, sources)
		for i := range order {
			order[i] = i
		}
		return order
	}
	return newRand(seed, tagOrder, uint64(epoch), 0).Perm(sources)
}
