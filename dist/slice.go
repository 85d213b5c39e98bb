package dist

import (
	"fmt"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// Shard is a rank's share of a global batch: examples [Start, Start+N).
type Shard struct{ Start, N int }

// ShardOf returns rank's contiguous share of a global batch of batch
// examples split over size ranks: rank r trains on examples
// [r·batch/size, (r+1)·batch/size). Every rank reads the same global batch
// (the data order depends on the seed alone), so the split is the same on
// every rank and in every run; a batch that does not divide evenly is an
// error, because unequal shares would weight the ranks' averaged gradients
// unequally.
func ShardOf(batch, rank, size int) (Shard, error) {
	if size < 1 {
		return Shard{}, fmt.Errorf("world size %d: a world has at least one rank", size)
	}
	if rank < 0 || rank >= size {
		return Shard{}, fmt.Errorf("rank %d is outside a world of %d", rank, size)
	}
	if batch < 1 {
		return Shard{}, fmt.Errorf("batch size %d: a batch holds at least one example", batch)
	}
	if batch%size != 0 {
		return Shard{}, fmt.Errorf("batch size %d does not divide over %d ranks: use a multiple of %d (each rank trains on batch/ranks examples)", batch, size, size)
	}
	n := batch / size
	return Shard{Start: rank * n, N: n}, nil
}

// SliceBatch returns rank's share of the global batch b (ShardOf) as a
// batch of its own. The slices share b's arrays.
func SliceBatch(b *fnet.Batch, rank, size int) (*fnet.Batch, error) {
	sh, err := ShardOf(b.B, rank, size)
	if err != nil {
		return nil, err
	}
	if size == 1 {
		return b, nil
	}
	type field struct {
		name string
		n    int // entries
		per  int // entries per example
	}
	fields := []field{{"InputIDs", len(b.InputIDs), b.S}, {"TypeIDs", len(b.TypeIDs), b.S}}
	if b.MaskedPos != nil || b.MaskedLabels != nil || b.MaskedWeight != nil {
		fields = append(fields, field{"MaskedPos", len(b.MaskedPos), b.K}, field{"MaskedLabels", len(b.MaskedLabels), b.K}, field{"MaskedWeight", len(b.MaskedWeight), b.K})
	}
	if b.Labels != nil {
		fields = append(fields, field{"Labels", len(b.Labels), 1})
	}
	if b.Targets != nil {
		fields = append(fields, field{"Targets", len(b.Targets), 1})
	}
	for _, f := range fields {
		if f.n != b.B*f.per {
			return nil, fmt.Errorf("slicing the batch for rank %d: %s has %d entries, want %d", rank, f.name, f.n, b.B*f.per)
		}
	}
	lo, hi := sh.Start, sh.Start+sh.N
	out := &fnet.Batch{B: sh.N, S: b.S, K: b.K}
	ints := func(xs []int, per int) []int {
		if xs == nil {
			return nil
		}
		return xs[lo*per : hi*per : hi*per]
	}
	out.InputIDs = ints(b.InputIDs, b.S)
	out.TypeIDs = ints(b.TypeIDs, b.S)
	out.MaskedPos = ints(b.MaskedPos, b.K)
	out.MaskedLabels = ints(b.MaskedLabels, b.K)
	if b.MaskedWeight != nil {
		out.MaskedWeight = b.MaskedWeight[lo*b.K : hi*b.K : hi*b.K]
	}
	out.Labels = ints(b.Labels, 1)
	if b.Targets != nil {
		out.Targets = b.Targets[lo:hi:hi]
	}
	return out, nil
}
