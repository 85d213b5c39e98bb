package dist

import "fmt"

// Collective is how data-parallel ranks combine what they computed. Every
// rank calls the same methods in the same order with buffers of the same
// lengths (as NCCL requires); each call returns when every rank has
// contributed. An error (a peer that left, a transport failure) is final:
// the run stops with it.
//
// The NCCL implementation reduces device buffers on the GPU; the trainer
// sees only this interface, so its rank logic is tested on the CPU.
type Collective interface {
	Rank() int
	Size() int
	// AllReduceAvg replaces buf, on every rank, by the element-wise mean
	// of the ranks' bufs (gradients: ncclAllReduce with ncclAvg).
	AllReduceAvg(buf []float32) error
	// AllReduceSum replaces vals, on every rank, by the element-wise sum
	// over the ranks (loss sums, counts and metrics: float64, so a sum of
	// counts stays exact).
	AllReduceSum(vals []float64) error
	// Close leaves the group at the clean end of a run or the agreed stop,
	// when every rank does the same (NCCL's ncclCommDestroy is itself a
	// collective: it waits for the other local ranks).
	Close() error
	// Abort leaves the group at once, without waiting for any peer
	// (ncclCommAbort): a rank that failed, after recording its error. Its
	// peers' pending and later reductions fail rather than complete (on
	// one node, with NCCL, only when their timeout, stop request or the
	// launcher ends them). Close or Abort after Abort does nothing more.
	Abort() error
}

// DefaultBucketElems is the size of a gradient bucket: 4 Mi float32 (16
// MiB, the order of PyTorch DDP's 25 MB buckets), so FNet's many small
// LayerNorm and bias tensors travel together in few reductions.
const DefaultBucketElems = 4 << 20

// Buckets averages many tensors in few reductions: tensors smaller than
// Elems are packed, in order, into a staging buffer that is reduced once
// it would overflow; a tensor of Elems or more is reduced in place. Every
// rank must pass the same tensor lengths in the same order (parameter
// order), so the buckets match across ranks.
type Buckets struct {
	Elems int // bucket size in elements; DefaultBucketElems when 0
	stage []float32
	// Reductions counts the AllReduceAvg calls made (for tests and logs).
	Reductions int
}

// AllReduceAvg averages every tensor over the ranks of c, in place.
func (b *Buckets) AllReduceAvg(c Collective, tensors [][]float32) error {
	limit := b.Elems
	if limit <= 0 {
		limit = DefaultBucketElems
	}
	var pending [][]float32
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := b.reduce(c, b.stage[:n]); err != nil {
			return err
		}
		off := 0
		for _, t := range pending {
			off += copy(t, b.stage[off:off+len(t)])
		}
		pending, n = pending[:0], 0
		return nil
	}
	for _, t := range tensors {
		if len(t) == 0 {
			continue
		}
		if len(t) >= limit {
			if err := flush(); err != nil {
				return err
			}
			if err := b.reduce(c, t); err != nil {
				return err
			}
			continue
		}
		if n+len(t) > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(b.stage) < n+len(t) {
			grown := make([]float32, limit)
			copy(grown, b.stage[:n])
			b.stage = grown
		}
		copy(b.stage[n:], t)
		n += len(t)
		pending = append(pending, t)
	}
	return flush()
}

func (b *Buckets) reduce(c Collective, buf []float32) error {
	b.Reductions++
	if err := c.AllReduceAvg(buf); err != nil {
		return fmt.Errorf("rank %d of %d: averaging a gradient bucket of %d values: %w", c.Rank(), c.Size(), len(buf), err)
	}
	return nil
}
