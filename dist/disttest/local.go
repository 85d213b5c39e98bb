// Package disttest is the in-process Collective of the tests of dist and
// train: ranks are goroutines, and a coordinator goroutine sums their
// contributions in rank order and hands every rank the result. Tests
// only: the product's Collective is NCCL (cuda/nccl.go), never a
// home-made all-reduce.
package disttest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/fnet-tui/fnet-tui/dist"
)

// ErrLeft is what a reduction returns once a rank has closed the group.
var ErrLeft = errors.New("a rank left the group")

type group struct {
	size   int
	submit chan contribution
	done   chan struct{}
	once   sync.Once
}

type contribution struct {
	rank  int
	vals  []float64
	reply chan reduced
}

type reduced struct {
	sum []float64
	err error
}

// Rank is one rank of a local group.
type Rank struct {
	g    *group
	rank int
}

// NewLocalGroup makes size ranks of one group; closing any one of them
// makes every pending and later reduction fail with ErrLeft.
func NewLocalGroup(size int) []*Rank {
	g := &group{size: size, submit: make(chan contribution), done: make(chan struct{})}
	go g.coordinate()
	ranks := make([]*Rank, size)
	for r := range ranks {
		ranks[r] = &Rank{g: g, rank: r}
	}
	return ranks
}

// Collectives is the ranks as the interface the trainer takes.
func Collectives(ranks []*Rank) []dist.Collective {
	out := make([]dist.Collective, len(ranks))
	for i, r := range ranks {
		out[i] = r
	}
	return out
}

func (g *group) coordinate() {
	for {
		round := make([]contribution, g.size)
		for got := 0; got < g.size; got++ {
			select {
			case c := <-g.submit:
				round[c.rank] = c
			case <-g.done:
				for _, c := range round {
					if c.reply != nil {
						c.reply <- reduced{err: ErrLeft}
					}
				}
				return
			}
		}
		var err error
		sum := make([]float64, len(round[0].vals))
		for _, c := range round {
			if len(c.vals) != len(sum) {
				err = fmt.Errorf("rank %d reduced %d values, rank 0 %d: the ranks' calls do not match", c.rank, len(c.vals), len(sum))
				break
			}
			for i, x := range c.vals {
				sum[i] += x
			}
		}
		for _, c := range round {
			c.reply <- reduced{sum: sum, err: err}
		}
	}
}

func (r *Rank) Rank() int { return r.rank }
func (r *Rank) Size() int { return r.g.size }

func (r *Rank) reduce(vals []float64) ([]float64, error) {
	reply := make(chan reduced, 1)
	select {
	case r.g.submit <- contribution{rank: r.rank, vals: vals, reply: reply}:
	case <-r.g.done:
		return nil, ErrLeft
	}
	res := <-reply
	return res.sum, res.err
}

// AllReduceAvg replaces buf with the ranks' mean, as ncclAvg does.
func (r *Rank) AllReduceAvg(buf []float32) error {
	vals := make([]float64, len(buf))
	for i, x := range buf {
		vals[i] = float64(x)
	}
	sum, err := r.reduce(vals)
	if err != nil {
		return err
	}
	for i := range buf {
		buf[i] = float32(sum[i] / float64(r.g.size))
	}
	return nil
}

// AllReduceSum replaces vals with the ranks' sum.
func (r *Rank) AllReduceSum(vals []float64) error {
	sum, err := r.reduce(append([]float64{}, vals...))
	if err != nil {
		return err
	}
	copy(vals, sum)
	return nil
}

// Close leaves the group, failing every other rank's reductions.
func (r *Rank) Close() error {
	r.g.once.Do(func() { close(r.g.done) })
	return nil
}

// Abort leaves the group as Close does (a rank that leaves makes the
// others fail); the double has no destroy barrier to skip.
func (r *Rank) Abort() error { return r.Close() }

var _ dist.Collective = (*Rank)(nil)

// RunRanks runs f on every rank concurrently and returns their errors, in
// rank order.
func RunRanks(ranks []*Rank, f func(r *Rank) error) []error {
	errs := make([]error, len(ranks))
	var wg sync.WaitGroup
	for i, r := range ranks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(r) }()
	}
	wg.Wait()
	return errs
}
