package fnet

import (
	"fmt"
	"math"
	"testing"
)

// TestGradientAccumulation: two half-weighted micro-batches give the same
// gradients (and the same update) as one batch holding both.
func TestGradientAccumulation(t *testing.T) {
	cfg := tinyConfig()
	cfg.DropoutProb = 0
	shape := BenchShape{B: 4, S: 12, K: 3}
	full := SyntheticBatch(cfg, shape, 5)
	half := func(lo int) *Batch {
		h := &Batch{B: 2, S: 12, K: 3}
		h.InputIDs = full.InputIDs[lo*12 : (lo+2)*12]
		h.TypeIDs = full.TypeIDs[lo*12 : (lo+2)*12]
		h.MaskedPos = full.MaskedPos[lo*3 : (lo+2)*3]
		h.MaskedLabels = full.MaskedLabels[lo*3 : (lo+2)*3]
		h.MaskedWeight = full.MaskedWeight[lo*3 : (lo+2)*3]
		h.Labels = full.Labels[lo : lo+2]
		return h
	}
	params := InitParams(cfg, PretrainingHeads, 3)
	a, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	b, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	if _, err := a.ForwardBackward(full, 0, 1); err != nil {
		t.Fatal(err)
	}
	for _, lo := range []int{0, 2} {
		if _, err := b.ForwardBackward(half(lo), 0, 0.5); err != nil {
			t.Fatal(err)
		}
	}
	// The MLM loss is a mean over the batch's masked slots and NSP over its
	// sequences; both halves have the same counts, so halves average exactly.
	ga, gb := a.Gradients(), b.Gradients()
	for name, g := range ga {
		for i := range g {
			if d := math.Abs(float64(g[i] - gb[name][i])); d > 1e-5*(1+math.Abs(float64(g[i]))) {
				t.Fatalf("%s[%d]: one batch %v, two accumulated halves %v", name, i, g[i], gb[name][i])
			}
		}
	}
	na, _ := a.Step(1e-3, 0)
	nb, _ := b.Step(1e-3, 0)
	if math.Abs(na-nb) > 1e-5*na {
		t.Errorf("gradient norms %v vs %v", na, nb)
	}
	pa, pb := mustParams(t, a), mustParams(t, b)
	for name := range pa {
		for i := range pa[name] {
			if d := math.Abs(float64(pa[name][i] - pb[name][i])); d > 1e-6 {
				t.Fatalf("%s[%d] after the step: %v vs %v", name, i, pa[name][i], pb[name][i])
			}
		}
	}
}

// TestClippingScalesTheUpdate: with max norm far below the gradient norm,
// the reported norm is the unclipped one and the first AdamW step is the
// same (Adam's first update is scale-invariant) but the moments shrink.
func TestClippingScalesTheUpdate(t *testing.T) {
	cfg := tinyConfig()
	cfg.DropoutProb = 0
	batch := SyntheticBatch(cfg, BenchShape{B: 2, S: 12, K: 3}, 6)
	params := InitParams(cfg, PretrainingHeads, 4)
	a, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	b, _ := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: params})
	a.ForwardBackward(batch, 0, 1)
	b.ForwardBackward(batch, 0, 1)
	na, _ := a.Step(1e-3, 0)
	nb, _ := b.Step(1e-3, na/10)
	if na != nb {
		t.Errorf("reported norms differ: %v vs %v", na, nb)
	}
	ma, mb := mustOptimizer(t, a).M[WordEmbName], mustOptimizer(t, b).M[WordEmbName]
	for i := range ma {
		if ma[i] != 0 && math.Abs(float64(mb[i]/ma[i])-0.1) > 1e-3 {
			t.Fatalf("clipped first moment ratio %v, want 0.1", mb[i]/ma[i])
		}
	}
}

// TestHiddenStatesMatchActivations: the inference forward's hidden states
// equal the training forward's activations when dropout is off.
func TestHiddenStatesMatchActivations(t *testing.T) {
	cfg := tinyConfig()
	cfg.DropoutProb = 0
	b := SyntheticBatch(cfg, BenchShape{B: 3, S: 12, K: 2}, 9)
	e, err := NewCPUEngine(cfg, PretrainingHeads, DefaultAdamW, CPUOptions{Params: InitParams(cfg, PretrainingHeads, 4)})
	if err != nil {
		t.Fatal(err)
	}
	emb, layers, err := e.HiddenStates(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != cfg.NumLayers || len(emb) != 3*12*cfg.HiddenSize {
		t.Fatalf("%d layers, %d embedding values", len(layers), len(emb))
	}
	if _, err := e.ForwardBackward(b, 0, 1); err != nil {
		t.Fatal(err)
	}
	act := e.Activations()
	check := func(name string, got []float32) {
		want := act[name]
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5 {
				t.Fatalf("%s[%d] = %v, training forward %v", name, i, got[i], want[i])
			}
		}
	}
	check("act.embeddings", emb)
	for i, l := range layers {
		check(fmt.Sprintf("act.layer.%d", i), l)
	}
}

func mustParams(t *testing.T, e Engine) map[string][]float32 {
	t.Helper()
	p, err := e.Params()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOptimizer(t *testing.T, e Engine) OptimizerState {
	t.Helper()
	s, err := e.Optimizer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
