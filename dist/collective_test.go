package dist_test

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/dist"
	"github.com/fnet-tui/fnet-tui/dist/disttest"
)

func TestLocalGroupSums(t *testing.T) {
	ranks := disttest.NewLocalGroup(3)
	defer ranks[0].Close()
	got := make([][]float64, 3)
	errs := disttest.RunRanks(ranks, func(r *disttest.Rank) error {
		v := []float64{float64(r.Rank()), 1, 10 * float64(r.Rank())}
		if err := r.AllReduceSum(v); err != nil {
			return err
		}
		got[r.Rank()] = v
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
	ranks := disttest.NewLocalGroup(size)
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
	errs := disttest.RunRanks(ranks, func(r *disttest.Rank) error {
		b := &dist.Buckets{Elems: 8}
		err := b.AllReduceAvg(r, inputs[r.Rank()])
		reductions[r.Rank()] = b.Reductions
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
	ranks := disttest.NewLocalGroup(2)
	ranks[1].Close()
	b := &dist.Buckets{}
	err := b.AllReduceAvg(ranks[0], [][]float32{{1, 2}})
	if !errors.Is(err, disttest.ErrLeft) {
		t.Fatalf("error %v should wrap the group's", err)
	}
	if want := "rank 0 of 2: averaging a gradient bucket of 2 values"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v should say %q", err, want)
	}
}
