package tui

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fnet-tui/fnet-tui/rundir"
)

// A data-parallel run (issue 17) is one run folder, owned by rank 0. Its
// status carries the world size; its system lines carry every rank's GPU
// as gpu_util_r<k> / gpu_mem_gib_r<k> beside the mean gpu_util and the
// largest gpu_mem_gib (docs/SCALING.md), and its tokens/s are already the
// sum over the ranks.

// rankGPU is one rank's GPU use from a system metrics line.
type rankGPU struct {
	Rank   int
	Util   float64 // fraction busy; NaN when not reported
	MemGiB float64 // memory in use; NaN when not reported
}

// ranksOf reads the per-rank GPU values of a system line, ordered by rank.
func ranksOf(sys rundir.Metric) []rankGPU {
	byRank := map[int]*rankGPU{}
	get := func(k int) *rankGPU {
		if r, ok := byRank[k]; ok {
			return r
		}
		r := &rankGPU{Rank: k, Util: math.NaN(), MemGiB: math.NaN()}
		byRank[k] = r
		return r
	}
	for key, v := range sys.Values {
		for _, p := range []struct {
			prefix string
			set    func(*rankGPU, float64)
		}{
			{"gpu_util_r", func(r *rankGPU, v float64) { r.Util = v }},
			{"gpu_mem_gib_r", func(r *rankGPU, v float64) { r.MemGiB = v }},
		} {
			rest, ok := strings.CutPrefix(key, p.prefix)
			if !ok {
				continue
			}
			k, err := strconv.Atoi(rest)
			if err != nil || k < 0 || strconv.Itoa(k) != rest {
				continue // not a rank number: some other metric
			}
			p.set(get(k), v)
		}
	}
	out := make([]rankGPU, 0, len(byRank))
	for _, r := range byRank {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rank < out[j].Rank })
	return out
}

// worldSize is how many ranks train the run: the status's world size, else
// as many as its system lines report, else one.
func worldSize(st rundir.Status, sys rundir.Metric) int {
	if st.WorldSize > 1 {
		return st.WorldSize
	}
	if n := len(ranksOf(sys)); n > 1 {
		return n
	}
	return 1
}

// withWorld puts the world size after the device's short name, before its
// parenthesised detail, so that shortening the description keeps it:
// "cuda:0 (NVIDIA H100)" of 8 ranks → "cuda:0 ×8 (NVIDIA H100)".
func withWorld(device string, world int) string {
	if world <= 1 {
		return device
	}
	if device == "" {
		return fmt.Sprintf("%d ranks", world)
	}
	short := shortDevice(device)
	return fmt.Sprintf("%s ×%d%s", short, world, device[len(short):])
}

// utilSpread is the range of the ranks' GPU utilisation, for a panel too
// small to list them ("86–95%"): its low end is the rank to look at, one
// waiting on the others. The largest memory is already gpu_mem_gib.
func utilSpread(rs []rankGPU) string {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rs {
		if finite(r.Util) {
			lo, hi = math.Min(lo, r.Util), math.Max(hi, r.Util)
		}
	}
	switch {
	case !finite(lo):
		return "-"
	case math.Round(100*lo) == math.Round(100*hi):
		return fmtPercent(lo)
	}
	return fmt.Sprintf("%.0f–%s", 100*lo, fmtPercent(hi))
}
