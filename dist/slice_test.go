package dist

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

func TestShardOf(t *testing.T) {
	cases := []struct {
		batch, rank, size int
		want              Shard
		err               string
	}{
		{8, 0, 1, Shard{0, 8}, ""},
		{8, 0, 2, Shard{0, 4}, ""},
		{8, 1, 2, Shard{4, 4}, ""},
		{12, 2, 4, Shard{6, 3}, ""},
		{12, 3, 4, Shard{9, 3}, ""},
		{4, 3, 4, Shard{3, 1}, ""},
		{10, 0, 4, Shard{}, "does not divide over 4 ranks"},
		{3, 0, 4, Shard{}, "does not divide"},
		{0, 0, 1, Shard{}, "at least one example"},
		{8, 2, 2, Shard{}, "rank 2 is outside a world of 2"},
		{8, -1, 2, Shard{}, "rank -1"},
		{8, 0, 0, Shard{}, "world size 0"},
	}
	for _, c := range cases {
		got, err := ShardOf(c.batch, c.rank, c.size)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ShardOf(%d, %d, %d): error %v, want one saying %q", c.batch, c.rank, c.size, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ShardOf(%d, %d, %d) = %+v, %v; want %+v", c.batch, c.rank, c.size, got, err, c.want)
		}
	}
}

// TestShardsCoverTheBatchOnce: the ranks' shards tile the global batch in order.
func TestShardsCoverTheBatchOnce(t *testing.T) {
	for _, size := range []int{1, 2, 3, 4, 8} {
		batch := 24
		next := 0
		for r := 0; r < size; r++ {
			sh, err := ShardOf(batch, r, size)
			if err != nil {
				t.Fatal(err)
			}
			if sh.Start != next {
				t.Fatalf("size %d rank %d starts at %d, want %d", size, r, sh.Start, next)
			}
			next += sh.N
		}
		if next != batch {
			t.Fatalf("size %d: shards cover %d of %d examples", size, next, batch)
		}
	}
}

func testBatch(B, S, K int, labels, targets bool) *fnet.Batch {
	b := &fnet.Batch{B: B, S: S, K: K}
	for i := 0; i < B*S; i++ {
		b.InputIDs = append(b.InputIDs, 100+i)
		b.TypeIDs = append(b.TypeIDs, i%2)
	}
	if K > 0 {
		for i := 0; i < B*K; i++ {
			b.MaskedPos = append(b.MaskedPos, i%S)
			b.MaskedLabels = append(b.MaskedLabels, 1000+i)
			b.MaskedWeight = append(b.MaskedWeight, float32(i%3))
		}
	}
	if labels {
		for i := 0; i < B; i++ {
			b.Labels = append(b.Labels, i)
		}
	}
	if targets {
		for i := 0; i < B; i++ {
			b.Targets = append(b.Targets, float32(i)/2)
		}
	}
	return b
}

func TestSliceBatch(t *testing.T) {
	b := testBatch(6, 4, 2, true, true)
	var joined fnet.Batch
	for r := 0; r < 3; r++ {
		s, err := SliceBatch(b, r, 3)
		if err != nil {
			t.Fatal(err)
		}
		if s.B != 2 || s.S != 4 || s.K != 2 {
			t.Fatalf("rank %d: shape %d×%d×%d", r, s.B, s.S, s.K)
		}
		if s.InputIDs[0] != 100+r*2*4 || s.Labels[0] != r*2 || s.MaskedLabels[0] != 1000+r*2*2 {
			t.Fatalf("rank %d starts at the wrong example: %v %v %v", r, s.InputIDs[:1], s.Labels, s.MaskedLabels[:1])
		}
		joined.InputIDs = append(joined.InputIDs, s.InputIDs...)
		joined.TypeIDs = append(joined.TypeIDs, s.TypeIDs...)
		joined.MaskedPos = append(joined.MaskedPos, s.MaskedPos...)
		joined.MaskedLabels = append(joined.MaskedLabels, s.MaskedLabels...)
		joined.MaskedWeight = append(joined.MaskedWeight, s.MaskedWeight...)
		joined.Labels = append(joined.Labels, s.Labels...)
		joined.Targets = append(joined.Targets, s.Targets...)
		// a shard may not grow into its neighbour's examples
		if cap(s.InputIDs) != len(s.InputIDs) || cap(s.Labels) != len(s.Labels) {
			t.Fatalf("rank %d: slices can be appended into the next rank's rows", r)
		}
	}
	joined.B, joined.S, joined.K = 6, 4, 2
	if !reflect.DeepEqual(&joined, b) {
		t.Fatalf("the shards do not put the batch back together:\n%+v\n%+v", joined, *b)
	}
	// no masked-LM or label fields stay nil
	s, err := SliceBatch(testBatch(4, 3, 0, false, false), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if s.MaskedPos != nil || s.Labels != nil || s.Targets != nil || len(s.InputIDs) != 6 {
		t.Fatalf("unused fields should stay nil: %+v", s)
	}
	// a world of one is the batch itself
	if s, _ := SliceBatch(b, 0, 1); s != b {
		t.Fatal("world size 1 should return the batch unchanged")
	}
}

func TestSliceBatchErrors(t *testing.T) {
	if _, err := SliceBatch(testBatch(5, 2, 0, false, false), 0, 2); err == nil || !strings.Contains(err.Error(), "does not divide over 2 ranks") {
		t.Errorf("odd batch over 2 ranks: %v", err)
	}
	bad := testBatch(4, 2, 1, true, false)
	bad.Labels = bad.Labels[:3]
	if _, err := SliceBatch(bad, 1, 2); err == nil || !strings.Contains(err.Error(), "Labels has 3 entries, want 4") {
		t.Errorf("short labels: %v", err)
	}
	bad = testBatch(4, 2, 1, false, false)
	bad.MaskedWeight = nil
	if _, err := SliceBatch(bad, 1, 2); err == nil || !strings.Contains(err.Error(), "MaskedWeight has 0 entries") {
		t.Errorf("missing masked weights: %v", err)
	}
}
