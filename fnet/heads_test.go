package fnet

import (
	"strings"
	"testing"
)

// TestPlanHeads: which heads a batch runs, and the batches both engines
// refuse (each engine calls PlanHeads, so they refuse the same ones).
func TestPlanHeads(t *testing.T) {
	cfg := tinyConfig()
	base := func(k int) *Batch { return SyntheticBatch(cfg, BenchShape{B: 2, S: 8, K: k}, 1) }
	withLabels := func(b *Batch, l ...int) *Batch { b.Labels = l; return b }
	withTargets := func(b *Batch) *Batch { b.Labels, b.Targets = nil, []float32{0.5, 4}; return b }
	noLabels := func(b *Batch) *Batch { b.Labels = nil; return b }
	reg, three := cfg, cfg
	reg.NumLabels, three.NumLabels = 1, 3
	cases := []struct {
		name  string
		cfg   Config
		heads Heads
		b     *Batch
		want  BatchHeads
		err   string
	}{
		{"masked LM", cfg, MaskedLMHeads, base(3), BatchHeads{MLM: true}, ""},
		{"masked LM without masked positions", cfg, MaskedLMHeads, base(0), BatchHeads{}, "no masked positions"},
		{"pretraining", cfg, PretrainingHeads, withLabels(base(3), 0, 1), BatchHeads{MLM: true, NSP: true, SeqOutputs: 2}, ""},
		{"pretraining without NSP labels", cfg, PretrainingHeads, noLabels(base(3)), BatchHeads{}, "no labels for the next-sentence head"},
		{"pretraining, NSP label out of range", cfg, PretrainingHeads, withLabels(base(3), 0, 2), BatchHeads{}, "Labels[1] = 2 is outside [0, 2)"},
		{"binary classifier (NumLabels unset)", cfg, ClassifierHeads, withLabels(base(0), 1, 0), BatchHeads{Task: true, SeqOutputs: 2}, ""},
		{"3-way classifier", three, ClassifierHeads, withLabels(base(0), 2, 0), BatchHeads{Task: true, SeqOutputs: 3}, ""},
		{"3-way classifier, label out of range", three, ClassifierHeads, withLabels(base(0), 3, 0), BatchHeads{}, "Labels[0] = 3 is outside [0, 3)"},
		{"classifier without labels", three, ClassifierHeads, noLabels(base(0)), BatchHeads{}, "no labels for the classifier head"},
		{"regression", reg, ClassifierHeads, withTargets(base(0)), BatchHeads{Task: true, SeqOutputs: 1, Regression: true}, ""},
		{"regression without targets", reg, ClassifierHeads, withLabels(base(0), 0, 1), BatchHeads{}, "no regression targets"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanHeads(tc.cfg, tc.heads, tc.b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				// the CPU engine refuses it with the same words
				e, eerr := NewCPUEngine(tc.cfg, tc.heads, DefaultAdamW, CPUOptions{Seed: 1})
				if eerr != nil {
					t.Fatal(eerr)
				}
				if _, ferr := e.ForwardBackward(tc.b, 0, 1); ferr == nil || !strings.Contains(ferr.Error(), tc.err) {
					t.Errorf("CPU engine: err = %v, want %q", ferr, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PlanHeads = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestClassifierOutputs(t *testing.T) {
	for _, tc := range []struct{ labels, want int }{{0, 2}, {-1, 2}, {1, 1}, {3, 3}} {
		c := DefaultConfig()
		c.NumLabels = tc.labels
		if got := c.ClassifierOutputs(); got != tc.want {
			t.Errorf("NumLabels %d: ClassifierOutputs = %d, want %d", tc.labels, got, tc.want)
		}
	}
}

// TestAdamWStepCoefficients: the coefficients both engines' kernels take
// fold the bias corrections of update t (checked in float64 by hand).
func TestAdamWStepCoefficients(t *testing.T) {
	o := AdamWConfig{Beta1: 0.8, Beta2: 0.95, Eps: 1e-7, WeightDecay: 0.1}
	c := o.Step(0.01, 3)
	want := map[string][2]float64{
		"step size":      {float64(c.StepSize), 0.01 / (1 - 0.8*0.8*0.8)},
		"1/sqrt(bc2)":    {float64(c.InvSqrtBC2), 1 / 0.377657252015634}, // sqrt(1 - 0.95^3) = sqrt(0.142625)
		"decay":          {float64(c.Decay), 0.01 * 0.1},
		"beta1":          {float64(c.Beta1), 0.8},
		"beta2":          {float64(c.Beta2), 0.95},
		"eps":            {float64(c.Eps), 1e-7},
		"step 1 β1 bias": {float64(o.Step(0.01, 1).StepSize), 0.01 / 0.2},
	}
	for name, v := range want {
		if d := v[0] - v[1]; d > 1e-6*v[1] || d < -1e-6*v[1] {
			t.Errorf("%s = %.9g, want %.9g", name, v[0], v[1])
		}
	}
}
