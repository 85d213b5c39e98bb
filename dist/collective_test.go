package dist

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
)

// localGroup is the in-process Collective of the tests: ranks are
// goroutines, and a coordinator goroutine sums their contributions in rank
// order and hands every rank the result. It stands in for NCCL in tests
// only.
type localGroup struct {
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

type localRank struct {
	g    *localGroup
	rank int
}

func newLocalGroup(size int) []*localRank {
	g := &localGroup{size: size, submit: make(chan contribution), done: make(chan struct{})}
	go g.coordinate()
	ranks := make([]*localRank, size)
	for r := range ranks {
		ranks[r] = &localRank{g: g, rank: r}
	}
	return ranks
}

var errGroupClosed = errors.New("a rank left the group")

func (g *localGroup) coordinate() {
	for {
		round := make([]contribution, g.size)
		for got := 0; got < g.size; got++ {
			select {
			case c := <-g.submit:
				round[c.rank] = c
			case <-g.done:
				for _, c := range round {
					if c.reply != nil {
						c.reply <- reduced{err: errGroupClosed}
					}
				}
				return
			}
		}
		var err error
		sum := make([]float64, len(round[0].vals))
		for _, c := range round {
			if len(c.vals) != len(sum) {
				err = fmt.Errorf("rank %d reduced %d values, rank 0 %d", c.rank, len(c.vals), len(sum))
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

func (r *localRank) Rank() int { return r.rank }
func (r *localRank) Size() int { return r.g.size }

func (r *localRank) reduce(vals []float64) ([]float64, error) {
	reply := make(chan reduced, 1)
	select {
	case r.g.submit <- contribution{rank: r.rank, vals: vals, reply: reply}:
	case <-r.g.done:
		return nil, errGroupClosed
	}
	res := <-reply
	return res.sum, res.err
}

func (r *localRank) AllReduceAvg(buf []float32) error {
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

func (r *localRank) AllReduceSum(vals []float64) error {
	sum, err := r.reduce(append([]float64{}, vals...))
	if err != nil {
		return err
	}
	copy(vals, sum)
	return nil
}

func (r *localRank) Close() error {
	r.g.once.Do(func() { close(r.g.done) })
	return nil
}

var _ Collective = (*localRank)(nil)

// runRanks runs f on every rank concurrently and returns their errors.
func runRanks(ranks []*localRank, f func(r *localRank) error) []error {
	errs := make([]error, len(ranks))
	var wg sync.WaitGroup
	for i, r := range ranks {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(r) }()
	}
	wg.Wait()
	return errs
}

func TestLocalGroupSums(t *testing.T) {
	ranks := newLocalGroup(3)
	defer ranks[0].Close()
	got := make([][]float64, 3)
	errs := runRanks(ranks, func(r *localRank) error {
		v := []float64{float64(r.rank), 1, 10 * float64(r.rank)}
		if err := r.AllReduceSum(v); err != nil {
			return err
		}
		got[r.rank] = v
		return nil
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		if want := []float64{3, 3, 30}; fmt.Sprint(got[r]) != fmt.Sprint(want) {
			t.Fatalf("rank %d: %v, want %v", r, got[r], want)
		}
	}
}

func TestBucketsAverageEveryTensor(t *testing.T) {
	const size = 3
	lengths := []int{5, 1, 7, 20, 3, 0, 2, 9} // 20 and 9 reach the bucket size of 8 and go alone
	ranks := newLocalGroup(size)
	defer ranks[0].Close()
	inputs := make([][][]float32, size)
	rng := rand.New(rand.NewSource(1))
	for r := range inputs {
		for _, n := range lengths {
			t := make([]float32, n)
			for i := range t {
				t[i] = float32(rng.NormFloat64())
			}
			inputs[r] = append(inputs[r], t)
		}
	}
	want := make([][]float32, len(lengths))
	for k, n := range lengths {
		want[k] = make([]float32, n)
		for i := 0; i < n; i++ {
			var s float64
			for r := 0; r < size; r++ {
				s += float64(inputs[r][k][i])
			}
			want[k][i] = float32(s / size)
		}
	}
	reductions := make([]int, size)
	errs := runRanks(ranks, func(r *localRank) error {
		b := &Buckets{Elems: 8}
		err := b.AllReduceAvg(r, inputs[r.rank])
		reductions[r.rank] = b.Reductions
		return err
	})
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		for k := range lengths {
			if fmt.Sprint(inputs[r][k]) != fmt.Sprint(want[k]) {
				t.Fatalf("rank %d tensor %d: %v, want %v", r, k, inputs[r][k], want[k])
			}
		}
	}
	// [5 1] [7] [20] [3 2] [9]: five reductions on every rank
	for r, n := range reductions {
		if n != 5 {
			t.Errorf("rank %d made %d reductions, want 5", r, n)
		}
	}
}

func TestBucketsReportALeavingPeer(t *testing.T) {
	ranks := newLocalGroup(2)
	ranks[1].Close()
	b := &Buckets{}
	err := b.AllReduceAvg(ranks[0], [][]float32{{1, 2}})
	if !errors.Is(err, errGroupClosed) {
		t.Fatalf("error %v should wrap the group's", err)
	}
	if want := "rank 0 of 2: averaging a gradient bucket of 2 values"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v should say %q", err, want)
	}
}
