package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/fnet-tui/fnet-tui/fnet"
	"github.com/fnet-tui/fnet-tui/kernels"
)

// The host side of Step on a dry run: two launches, sumsq_partial over the
// flat gradients and adamw with the coefficients of the 1-based update
// step+1 (fnet.AdamWConfig.Step, i.e. kernels.AdamWCoefficients) and
// max_norm passed through, then the one read of the norm.
func TestDryRunStepArguments(t *testing.T) {
	opt := fnet.AdamWConfig{Beta1: 0.85, Beta2: 0.995, Eps: 1e-7, WeightDecay: 0.02}
	for _, prec := range []Precision{BF16, TF32, FP32} {
		cfg := smallConfig(0)
		e, d := dryEngine(t, cfg, fnet.PretrainingHeads, prec, Options{})
		e.opt = opt
		if err := e.SetOptimizer(fnet.OptimizerState{Step: 4, M: zeroParams(e), V: zeroParams(e)}); err != nil {
			t.Fatal(err)
		}
		for i, c := range []struct{ lr, maxNorm, norm float64 }{{2e-4, 1, 1.5}, {1e-3, 0, 0.25}, {5e-5, 0.5, 3}} {
			d.ops, d.norm = nil, float32(c.norm)
			got, err := e.Step(c.lr, c.maxNorm)
			if err != nil {
				t.Fatalf("%v step %d: %v", prec, i, err)
			}
			if got != float64(float32(c.norm)) {
				t.Errorf("%v step %d: Step returned norm %g, the device read %g", prec, i, got, c.norm)
			}
			if e.step != 5+i {
				t.Errorf("%v step %d: step counter %d, want %d", prec, i, e.step, 5+i)
			}
			checkStepOps(t, e, d.ops, c.lr, c.maxNorm, 5+i)
		}
		st, err := e.Optimizer()
		if err != nil {
			t.Fatal(err)
		}
		if st.Step != 7 {
			t.Errorf("%v: Optimizer().Step = %d after three steps from 4, want 7", prec, st.Step)
		}
	}
}

// checkStepOps checks one Step's operations: the launches and every
// argument value, for AdamW update t (1-based).
func checkStepOps(t *testing.T, e *Engine, ops []dryOp, lr, maxNorm float64, tUpd int) {
	t.Helper()
	if len(ops) != 3 || ops[0].name != "sumsq_partial" || ops[1].name != "adamw" || ops[2].name != "dtoh" {
		t.Fatalf("Step ran %v, want sumsq_partial adamw dtoh", (&dryRun{ops: ops}).names())
	}
	n := int64(e.nTrained) // the fixed parameters after them are never touched
	sum := ops[0]
	wantArgs(t, "sumsq_partial", sum.args, e.grads, n, e.normParts)
	if sum.grid != [3]uint32{normPartials, 1, 1} || sum.block != block1D {
		t.Errorf("sumsq_partial grid %v block %v", sum.grid, sum.block)
	}
	c := e.opt.Step(lr, tUpd)
	if k := kernels.AdamWCoefficients(lr, e.opt.Beta1, e.opt.Beta2, e.opt.Eps, e.opt.WeightDecay, tUpd); k != c {
		t.Fatalf("fnet.AdamWConfig.Step %+v != kernels.AdamWCoefficients %+v", c, k)
	}
	// the coefficients from their definition: bias corrections of update t
	bc1, bc2 := 1-math.Pow(e.opt.Beta1, float64(tUpd)), 1-math.Pow(e.opt.Beta2, float64(tUpd))
	if c.StepSize != float32(lr/bc1) || c.InvSqrtBC2 != float32(1/math.Sqrt(bc2)) || c.Decay != float32(lr*e.opt.WeightDecay) {
		t.Fatalf("coefficients %+v are not those of update %d", c, tUpd)
	}
	var pg DevPtr
	if e.prec == BF16 {
		pg = e.shadow
	}
	ad := ops[1]
	wantArgs(t, "adamw", ad.args, e.params, e.grads, e.m, e.v, pg, n, c.Beta1, c.Beta2, c.Eps, c.Decay, c.StepSize, c.InvSqrtBC2,
		e.normParts, int32(normPartials), float32(maxNorm), e.normOut)
	if ad.grid != [3]uint32{drySMs * 8, 1, 1} || ad.block != block1D {
		t.Errorf("adamw grid %v block %v", ad.grid, ad.block)
	}
	wantArgs(t, "norm read", ops[2].args, e.normOut, int64(4))
}

func wantArgs(t *testing.T, what string, got []any, want ...any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d arguments, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] { // same Go type and value
			t.Errorf("%s argument %d: %T %v, want %T %v", what, i, got[i], got[i], want[i], want[i])
		}
	}
}

func zeroParams(e *Engine) map[string][]float32 {
	out := map[string][]float32{}
	for _, ps := range e.trained {
		out[ps.Name] = make([]float32, fnet.NumElements(ps.Shape))
	}
	return out
}

// A NaN or Inf gradient norm: the adamw kernel has skipped the update (and
// dropped the gradients); Step reports it as an error and does not advance
// the step, so the next update uses the same bias corrections.
func TestDryRunStepRefusesNonFiniteNorm(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{})
		e.step = 9
		d.norm = bad
		norm, err := e.Step(1e-3, 1)
		if err == nil || !strings.Contains(err.Error(), "gradient norm") {
			t.Errorf("norm %v: Step error %v, want a gradient-norm error", bad, err)
		}
		if !math.IsNaN(norm) && !math.IsInf(norm, 0) {
			t.Errorf("norm %v: Step returned %g", bad, norm)
		}
		if e.step != 9 {
			t.Errorf("norm %v: step advanced to %d", bad, e.step)
		}
		checkStepOps(t, e, d.ops, 1e-3, 1, 10)
		// the next, finite step is update 10, as the refused one was
		d.ops, d.norm = nil, 0.5
		if _, err := e.Step(1e-3, 1); err != nil {
			t.Fatal(err)
		}
		checkStepOps(t, e, d.ops, 1e-3, 1, 10)
		if e.step != 10 {
			t.Errorf("step %d after the next update, want 10", e.step)
		}
	}
}

// A failed read of the norm is an error, and the step does not advance.
func TestDryRunStepReadError(t *testing.T) {
	e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, FP32, Options{})
	d.readErr = errors.New("device lost")
	if _, err := e.Step(1e-3, 1); err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Errorf("Step error %v", err)
	}
	if e.step != 0 {
		t.Errorf("step advanced to %d", e.step)
	}
}

// Params, Optimizer and Gradients return a failed device read as an error
// (they panicked once), and refuse a closed engine the same way.
func TestDryRunStateReadsReturnErrors(t *testing.T) {
	e, d := dryEngine(t, smallConfig(0), fnet.PretrainingHeads, BF16, Options{})
	p, err := e.Params()
	if err != nil || len(p) != len(e.specs) {
		t.Fatalf("Params: %d tensors, %v", len(p), err)
	}
	for _, ps := range e.specs {
		if len(p[ps.Name]) != fnet.NumElements(ps.Shape) {
			t.Errorf("Params()[%s] has %d values", ps.Name, len(p[ps.Name]))
		}
	}
	d.readErr = errors.New("device lost")
	if _, err := e.Params(); err == nil || !strings.Contains(err.Error(), "reading parameters") || !errors.Is(err, d.readErr) {
		t.Errorf("Params error %v", err)
	}
	if _, err := e.Optimizer(); err == nil || !strings.Contains(err.Error(), "first moments") || !errors.Is(err, d.readErr) {
		t.Errorf("Optimizer error %v", err)
	}
	if _, err := e.Gradients(); !errors.Is(err, d.readErr) {
		t.Errorf("Gradients error %v", err)
	}
	closed := &Engine{closed: true}
	if _, err := closed.Params(); err == nil {
		t.Error("Params on a closed engine: no error")
	}
	if _, err := closed.Optimizer(); err == nil {
		t.Error("Optimizer on a closed engine: no error")
	}
	if _, err := closed.Step(1e-3, 1); err == nil {
		t.Error("Step on a closed engine: no error")
	}
}

// A pretraining batch without next-sentence labels is refused before any
// launch, as the CPU engine refuses it (fnet.PlanHeads), for training and
// evaluation alike; so is a classifier batch without labels and a
// regression batch without targets.
func TestDryRunRefusesBatchWithoutHeadLabels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name      string
		heads     fnet.Heads
		numLabels int
		strip     func(b *fnet.Batch)
	}{
		{"pretraining without NSP labels", fnet.PretrainingHeads, 0, func(b *fnet.Batch) { b.Labels = nil }},
		{"classifier without labels", fnet.ClassifierHeads, 3, func(b *fnet.Batch) { b.Labels = nil }},
		{"regression without targets", fnet.ClassifierHeads, 1, func(b *fnet.Batch) { b.Targets = nil }},
		{"masked LM without masked positions", fnet.MaskedLMHeads, 0, func(b *fnet.Batch) {
			b.K, b.MaskedPos, b.MaskedLabels, b.MaskedWeight, b.Labels = 0, nil, nil, nil, nil
		}},
	}
	for _, tc := range cases {
		cfg := smallConfig(tc.numLabels)
		b := randomBatch(rng, cfg, 3, 6, tc.numLabels)
		tc.strip(b)
		cpu, err := fnet.PlanHeads(cfg, tc.heads, b)
		if err == nil {
			t.Fatalf("%s: fnet.PlanHeads accepted the batch (%+v)", tc.name, cpu)
		}
		e, d := dryEngine(t, cfg, tc.heads, BF16, Options{})
		_, fbErr := e.ForwardBackward(b, 1, 1)
		_, _, evErr := e.Evaluate(b)
		for what, err2 := range map[string]error{"ForwardBackward": fbErr, "Evaluate": evErr} {
			if err2 == nil || !strings.Contains(err2.Error(), err.Error()) {
				t.Errorf("%s: %s error %v, want the CPU engine's %q", tc.name, what, err2, err)
			}
		}
		for _, op := range d.ops {
			if op.name != "htod" { // the DFT tables may be uploaded; nothing runs
				t.Errorf("%s: %s ran before the batch was refused", tc.name, op.name)
			}
		}
		if tc.heads.NSP {
			if _, err := e.passFor(b, true, 0, 1, nil, nil); err == nil || !strings.Contains(err.Error(), "next-sentence") {
				t.Errorf("passFor error %v", err)
			}
		}
	}
}

// HiddenStates on a dry run: the forward pass only (no backward, no loss
// gradients), then one read per hidden state, returned in batch order
// (b·S + s) from the device's seq-major rows.
func TestDryRunHiddenStates(t *testing.T) {
	for _, o := range []Options{{}, {BatchMajor: true}} {
		cfg := smallConfig(0)
		e, d := dryEngine(t, cfg, fnet.PretrainingHeads, BF16, o)
		b := randomBatch(rand.New(rand.NewPCG(3, 4)), cfg, 3, 6, 0)
		T, H, L := b.B*b.S, cfg.HiddenSize, cfg.NumLayers
		// each hidden state reads back as value = 1000·layer + device row
		d.fill = func(src DevPtr, dst []byte) {
			for l := 0; l <= L; l++ {
				if e.act == nil || src != e.act.hidden[l] {
					continue
				}
				w := unsafe.Slice((*float32)(unsafe.Pointer(&dst[0])), len(dst)/4)
				for i := range w {
					w[i] = float32(1000*l + i/H)
				}
			}
		}
		emb, layers, err := e.HiddenStates(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(emb) != T*H || len(layers) != L {
			t.Fatalf("%+v: embeddings %d values, %d layers", o, len(emb), len(layers))
		}
		all := append([][]float32{emb}, layers...)
		for l, x := range all {
			if len(x) != T*H {
				t.Fatalf("%+v: hidden state %d has %d values", o, l, len(x))
			}
			for bb := 0; bb < b.B; bb++ {
				for s := 0; s < b.S; s++ {
					row := bb*b.S + s
					if !o.BatchMajor {
						row = s*b.B + bb
					}
					want := float32(1000*l + row)
					if got := x[(bb*b.S+s)*H]; got != want {
						t.Fatalf("%+v: hidden state %d, sequence %d position %d holds device row %g, want %g", o, l, bb, s, got-float32(1000*l), want-float32(1000*l))
					}
				}
			}
		}
		var reads int
		for _, op := range d.ops {
			switch op.name {
			case "mlm_xent":
				if op.args[len(op.args)-1] != DevPtr(0) {
					t.Errorf("%+v: HiddenStates wrote loss gradients", o)
				}
			case "ln_bwd_reg", "embed_bwd", "adamw":
				t.Errorf("%+v: HiddenStates ran %s", o, op.name)
			case "dtoh":
				reads++
			}
		}
		if reads != L+1 {
			t.Errorf("%+v: %d reads, want one per hidden state (%d)", o, reads, L+1)
		}
	}
}
