package fnet

import (
	"math"
	"testing"
)

// TestAccumulatedGradientsAreWhatStepApplies: data parallel at the engine
// level. Two engines each run half of a batch; averaging their
// AccumulatedGradients in place and stepping both gives the parameters
// (and norm) of one engine that ran the whole batch, and the buffers are
// the ones Gradients reports.
func TestAccumulatedGradientsAreWhatStepApplies(t *testing.T) {
	cfg := tinyConfig()
	cfg.DropoutProb = 0
	full := SyntheticBatch(cfg, BenchShape{B: 4, S: 12, K: 3}, 5)
	half := func(lo int) *Batch {
		return &Batch{B: 2, S: 12, K: 3,
			InputIDs: full.InputIDs[lo*12 : (lo+2)*12], TypeIDs: full.TypeIDs[lo*12 : (lo+2)*12],
			MaskedPos: full.MaskedPos[lo*3 : (lo+2)*3], MaskedLabels: full.MaskedLabels[lo*3 : (lo+2)*3],
			MaskedWeight: full.MaskedWeight[lo*3 : (lo+2)*3], Labels: full.Labels[lo : lo+2]}
	}
	params := InitParams(cfg, PretrainingHeads, 3)
	one, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	r0, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	r1, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	if _, err := r0.AccumulatedGradients(); err == nil {
		t.Fatal("gradients before any ForwardBackward")
	}
	if _, err := one.ForwardBackward(full, 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r0.ForwardBackward(half(0), 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.ForwardBackward(half(2), 0, 1); err != nil {
		t.Fatal(err)
	}
	g0, err := r0.AccumulatedGradients()
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := r1.AccumulatedGradients()
	want := r0.Gradients()
	for i, ps := range r0.trained {
		for k, x := range g0[i] {
			if x != want[ps.Name][k] {
				t.Fatalf("%s[%d]: AccumulatedGradients %v, Gradients %v", ps.Name, k, x, want[ps.Name][k])
			}
		}
	}
	for i := range g0 {
		for k := range g0[i] {
			avg := (g0[i][k] + g1[i][k]) / 2
			g0[i][k], g1[i][k] = avg, avg
		}
	}
	n, _ := one.Step(1e-3, 0.5)
	n0, _ := r0.Step(1e-3, 0.5)
	n1, _ := r1.Step(1e-3, 0.5)
	if n0 != n1 || math.Abs(n-n0) > 1e-5*n {
		t.Fatalf("norms: one batch %v, ranks %v and %v", n, n0, n1)
	}
	p, p0, p1 := mustParams(t, one), mustParams(t, r0), mustParams(t, r1)
	for name := range p {
		for k := range p[name] {
			if p0[name][k] != p1[name][k] {
				t.Fatalf("%s[%d]: the ranks' parameters differ", name, k)
			}
			if d := math.Abs(float64(p[name][k] - p0[name][k])); d > 1e-6 {
				t.Fatalf("%s[%d]: one batch %v, averaged halves %v", name, k, p[name][k], p0[name][k])
			}
		}
	}
}
