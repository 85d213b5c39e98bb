package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fnet-tui/fnet-tui/fnet"
)

// smallConfig is a model with awkward sizes (nothing a multiple of 32).
func smallConfig(numLabels int) fnet.Config {
	c := fnet.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumLayers, c.IntermediateSize = 397, 72, 2, 200
	c.MaxPositions, c.SeqLen, c.NumLabels = 64, 40, numLabels
	c.DropoutProb = 0.1
	return c
}

// randomBatch draws a pretraining/classification batch: ids, segments,
// masked slots (some of them padding, weight 0, pointing at 0), labels.
func randomBatch(rng *rand.Rand, c fnet.Config, B, K int, numLabels int) *fnet.Batch {
	S := c.SeqLen
	b := &fnet.Batch{B: B, S: S, K: K}
	for i := 0; i < B*S; i++ {
		b.InputIDs = append(b.InputIDs, 5+rng.IntN(c.VocabSize-5))
		seg := 0
		if i%S >= S/2 {
			seg = 1
		}
		b.TypeIDs = append(b.TypeIDs, seg)
	}
	for bb := 0; bb < B; bb++ {
		perm := rng.Perm(S - 1)
		for k := 0; k < K; k++ {
			if k >= K-1-bb%2 { // padding slots
				b.MaskedPos = append(b.MaskedPos, 0)
				b.MaskedLabels = append(b.MaskedLabels, 0)
				b.MaskedWeight = append(b.MaskedWeight, 0)
				continue
			}
			p := 1 + perm[k]
			b.MaskedPos = append(b.MaskedPos, p)
			b.MaskedLabels = append(b.MaskedLabels, b.InputIDs[bb*S+p])
			b.InputIDs[bb*S+p] = 4
			b.MaskedWeight = append(b.MaskedWeight, 1)
		}
		switch {
		case numLabels == 1:
			b.Targets = append(b.Targets, float32(rng.NormFloat64()))
		case numLabels > 1:
			b.Labels = append(b.Labels, rng.IntN(numLabels))
		default:
			b.Labels = append(b.Labels, rng.IntN(2))
		}
	}
	if numLabels == 1 {
		b.Labels = nil
	}
	if numLabels > 0 {
		b.K, b.MaskedPos, b.MaskedLabels, b.MaskedWeight = 0, nil, nil, nil
	}
	return b
}

func relL2F32(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	return math.Sqrt(num) / math.Max(math.Sqrt(den), 1e-12)
}

// The CUDA engine against the CPU engine on the same weights, batches and
// dropout masks: two accumulated micro-batches, then a clipped AdamW step,
// for the pretraining heads (MLM + NSP) and the classifier heads.
func TestEngineMatchesCPUEngine(t *testing.T) {
	requireGPU(t)
	for _, tc := range engineHeadCases {
		for _, v := range []struct {
			prec Precision
			o    Options
		}{{FP32, Options{}}, {TF32, Options{}}, {BF16, Options{}}, {BF16, Options{MixBF16: true}}, {FP32, Options{BatchMajor: true}}, {BF16, Options{BatchMajor: true}}} {
			name := tc.name + "/" + variantName(v.prec, v.o)
			t.Run(name, func(t *testing.T) {
				matchCPUEngine(t, smallConfig(tc.numLabels), tc.heads, tc.numLabels, v.prec, parityTol(v.prec), false, gpuEngine(v.prec, v.o))
			})
		}
	}
}

// Every other architecture (bert, linear, random, FF-only and hybrids, with
// padded batches so attention masks keys) on the GPU against the CPU
// engine, as TestEngineMatchesCPUEngine does for FNet.
func TestEngineMatchesCPUEngineArchitectures(t *testing.T) {
	requireGPU(t)
	for _, arch := range dryArchs {
		for _, tc := range engineHeadCases {
			for _, v := range []struct {
				prec Precision
				o    Options
			}{{FP32, Options{}}, {TF32, Options{}}, {BF16, Options{}}, {FP32, Options{BatchMajor: true}}, {BF16, Options{BatchMajor: true}},
				{FP32, Options{AttentionChunkPairs: 2}}, {BF16, Options{BatchMajor: true, AttentionChunkPairs: 4}}} {
				if v.o.AttentionChunkPairs > 0 && (!archConfig(arch, 0).HasMixing(fnet.MixAttention) || tc.name != "pretraining") {
					continue
				}
				t.Run(arch+"/"+tc.name+"/"+variantName(v.prec, v.o), func(t *testing.T) {
					matchCPUEngine(t, archConfig(arch, tc.numLabels), tc.heads, tc.numLabels, v.prec, parityTol(v.prec), true, gpuEngine(v.prec, v.o))
				})
			}
		}
	}
}

var engineHeadCases = []struct {
	name      string
	heads     fnet.Heads
	numLabels int
}{
	{"pretraining", fnet.PretrainingHeads, 0},
	{"classifier", fnet.ClassifierHeads, 3},
	{"regression", fnet.ClassifierHeads, 1},
}

func variantName(prec Precision, o Options) string {
	name := prec.String()
	if o.BatchMajor {
		name += "/batch-major"
	}
	if o.MixBF16 {
		name += "/mixbf16"
	}
	if o.AttentionChunkPairs > 0 {
		name += fmt.Sprintf("/chunk%d", o.AttentionChunkPairs)
	}
	return name
}

// engineBuilder makes the engine under test with the CPU engine's initial
// weights (params) and dropout seed.
type engineBuilder func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine

// testFusion is FNET_CUDA_FUSE for the GPU tests: scripts/gpu/mfu.sh runs
// the engine and parity checks again with the fused paths on.
func testFusion(t *testing.T) Fusion {
	f, err := FusionFromEnv(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func gpuEngine(prec Precision, o Options) engineBuilder {
	return func(t *testing.T, cfg fnet.Config, heads fnet.Heads, seed uint64, params map[string][]float32) *Engine {
		o.Fuse |= testFusion(t)
		e, err := NewEngineWithOptions(cfg, heads, fnet.DefaultAdamW, seed, prec, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		for n, v := range mustParams(t, e) {
			if relL2F32(v, params[n]) != 0 {
				t.Fatalf("initial %s differs: both engines draw fnet.InitParams(seed)", n)
			}
		}
		return e
	}
}

// matchCPUEngine runs the CPU engine and the engine under test on the same
// weights, batches (padded when pad is set) and dropout masks: one
// micro-batch (losses and every gradient), a second accumulated one, a
// clipped AdamW step (norm; the update exactly in fp32; fixed parameters
// untouched bit for bit), Evaluate (losses, classifier logits) and
// MaskedLMLogits. tol bounds each relative L2 error.
func matchCPUEngine(t *testing.T, cfg fnet.Config, heads fnet.Heads, numLabels int, prec Precision, tol float64, pad bool, build engineBuilder) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, uint64(numLabels)))
	seed := uint64(99)
	cpu, err := fnet.NewCPUEngine(cfg, heads, fnet.DefaultAdamW, fnet.CPUOptions{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	p0 := mustParams(t, cpu)
	gpu := build(t, cfg, heads, seed, p0)
	batch := func(B int) *fnet.Batch {
		b := randomBatch(rng, cfg, B, 6, numLabels)
		if pad {
			padBatch(b, cfg.PadTokenID)
		}
		return b
	}
	// Micro-batch 1 (scale 0.5): stats and gradients. (The CPU engine's
	// Gradients() shows only folded micro-batches once it accumulates, so
	// gradients are compared after one.)
	var cs, gs fnet.Stats
	b1 := batch(3)
	c, err := cpu.ForwardBackward(b1, 10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gpu.ForwardBackward(b1, 10, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	cs.Add(c)
	gs.Add(g)
	cg := cpu.Gradients()
	gg, err := gpu.Gradients()
	if err != nil {
		t.Fatal(err)
	}
	if len(gg) != len(cg) {
		t.Errorf("%d gradients, the CPU engine has %d", len(gg), len(cg))
	}
	// A gradient that is zero in exact arithmetic (attention's key bias:
	// softmax ignores a per-row constant) is rounding noise on both sides;
	// it is compared against a floor, a fraction of the whole gradient's
	// norm (as fnet's parity check does), instead of its own norm.
	var gnorm float64
	for _, v := range cg {
		for _, x := range v {
			gnorm += float64(x) * float64(x)
		}
	}
	floor := 1e-6 * math.Sqrt(gnorm)
	if prec != FP32 {
		floor = 1e-3 * math.Sqrt(gnorm)
	}
	worst, wname := 0.0, ""
	for n, v := range gg {
		if e := relL2Floor(v, cg[n], floor); e > worst || math.IsNaN(e) {
			worst, wname = e, n
		}
	}
	t.Logf("worst gradient error %.3e (%s)", worst, wname)
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("gradient %s: relative L2 error %.3e > %g", wname, worst, tol)
	}
	// Micro-batch 2 accumulates; then a clipped AdamW step.
	b2 := batch(3)
	if c, err = cpu.ForwardBackward(b2, 11, 0.5); err != nil {
		t.Fatal(err)
	}
	if g, err = gpu.ForwardBackward(b2, 11, 0.5); err != nil {
		t.Fatal(err)
	}
	cs.Add(c)
	gs.Add(g)
	t.Logf("CPU stats %+v", cs)
	t.Logf("GPU stats %+v", gs)
	for _, f := range [][2]float64{{cs.MLMLossSum, gs.MLMLossSum}, {cs.NSPLossSum, gs.NSPLossSum}, {cs.TaskLossSum, gs.TaskLossSum}, {cs.MLMCount, gs.MLMCount}} {
		if math.Abs(f[0]-f[1]) > tol*math.Max(1, math.Abs(f[0])) || math.IsNaN(f[1]) {
			t.Errorf("loss sums differ: CPU %g GPU %g", f[0], f[1])
		}
	}
	if cs.Examples != gs.Examples {
		t.Errorf("examples %d vs %d", cs.Examples, gs.Examples)
	}
	cn, err := cpu.Step(1e-3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	gn, err := gpu.Step(1e-3, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gradient norm CPU %g GPU %g", cn, gn)
	if math.Abs(cn-gn) > tol*cn || math.IsNaN(gn) {
		t.Errorf("gradient norm CPU %g GPU %g", cn, gn)
	}
	// AdamW's first update is about lr·sign(g), so it can only be
	// compared exactly in fp32 (elsewhere a near-zero gradient's sign is
	// rounding noise). Fixed parameters stay as they were, bit for bit.
	cp := mustParams(t, cpu)
	worst = 0
	fixed := map[string]bool{}
	for _, ps := range fnet.ParamSpecs(cfg, heads) {
		fixed[ps.Name] = ps.Fixed
	}
	for n, v := range mustParams(t, gpu) {
		if fixed[n] {
			for i := range v {
				if math.Float32bits(v[i]) != math.Float32bits(p0[n][i]) {
					t.Fatalf("fixed %s[%d] changed in the step: %g, was %g", n, i, v[i], p0[n][i])
				}
			}
			continue
		}
		upd, ref := make([]float32, len(v)), make([]float32, len(v))
		for i := range v {
			upd[i], ref[i] = v[i]-p0[n][i], cp[n][i]-p0[n][i]
		}
		// floor: a hundredth of a learning-rate step per element (fnet's
		// parity rule), for the near-zero gradients' noise-driven updates
		if e := relL2Floor(upd, ref, 1e-3*1e-2*math.Sqrt(float64(len(v)))); e > worst || math.IsNaN(e) {
			worst, wname = e, n
		}
	}
	t.Logf("worst update error %.3e (%s)", worst, wname)
	if prec == FP32 && (worst > tol || math.IsNaN(worst)) {
		t.Errorf("AdamW update of %s: relative error %.3e", wname, worst)
	}
	// Evaluate: no dropout, logits for the classifier
	b := batch(2)
	ce, cl, err := cpu.Evaluate(b)
	if err != nil {
		t.Fatal(err)
	}
	ge, gl, err := gpu.Evaluate(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(cl) != len(gl) || (len(cl) > 0 && relL2F32(gl, cl) > tol) {
		t.Errorf("evaluate logits: CPU %v GPU %v", cl, gl)
	}
	if d := math.Abs(ce.MLMLossSum + ce.NSPLossSum + ce.TaskLossSum - ge.MLMLossSum - ge.NSPLossSum - ge.TaskLossSum); d > tol*math.Max(1, ce.MLMLossSum+ce.NSPLossSum+ce.TaskLossSum) || math.IsNaN(d) {
		t.Errorf("evaluate loss: CPU %+v GPU %+v", ce, ge)
	}
	if heads.MLM {
		cl, err := cpu.MaskedLMLogits(b)
		if err != nil {
			t.Fatal(err)
		}
		gl, err := gpu.MaskedLMLogits(b)
		if err != nil {
			t.Fatal(err)
		}
		if e := relL2F32(gl, cl); e > tol || math.IsNaN(e) {
			t.Errorf("MaskedLMLogits: relative error %.3e", e)
		}
	}
}

// relL2Floor is ||a − b|| / max(||b||, floor).
func relL2Floor(a, b []float32, floor float64) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(b[i]) * float64(b[i])
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	return math.Sqrt(num) / math.Max(math.Max(math.Sqrt(den), floor), 1e-12)
}

// parityFixtures finds reference pairs: the shared tiny fixture, the repo's
// testdata/parity, and FNET_PARITY_DIR.
func parityFixtures(t *testing.T) []string {
	var dirs []string
	if d := os.Getenv("FNET_PARITY_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.Join("..", "..", "shared", "ref", "fixtures"), filepath.Join("..", "testdata", "parity"))
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(d, "*.weights.safetensors"))
		for _, w := range m {
			base := filepath.Base(w)
			if seen[base] {
				continue
			}
			seen[base] = true
			out = append(out, strings.TrimSuffix(w, ".weights.safetensors"))
		}
	}
	sort.Strings(out)
	return out
}

// parityTol is the relative L2 error allowed against a float64 reference:
// the 1e-3 for the fp32 checking mode and 2e-2 for bf16; tf32
// (10-bit products) measured 1e-3..2.6e-3 on the fixtures and gets 5e-3.
// mixBF16Tol bounds the optional all-bf16 mixing (Options.MixBF16), which
// measured 2.008e-2 on the 6-layer fixture: outside the bf16 bound,
// hence not the default.
const mixBF16Tol = 2.5e-2

// illConditionedBF16 are fixtures whose float64 reference bf16 cannot
// meet within parityTol: cls3_tiny's gradients (a 3-class head whose
// gradient enters at [CLS] only, summed over every position) carry 1.6e-5
// relative error already in float32 (the reference's own float32 run:
// 2.4e-5; the other fixtures ≤ 5e-6), and the emulated bf16 engine
// (TestEmulatedParityWithReferenceFixtures) measured 7.2e-2, 1.9e-1 with
// all-bf16 mixing. Their bf16 bound catches wiring faults (errors of order
// one), not rounding; fp32 and tf32 keep the usual bounds.
var illConditionedBF16 = map[string]float64{"cls3_tiny": 0.25}

func parityTol(p Precision) float64 {
	switch p {
	case BF16:
		return 2e-2
	case TF32:
		return 5e-3
	}
	return 1e-3
}

func TestParityWithReferenceFixtures(t *testing.T) {
	requireGPU(t)
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	for _, prefix := range fx {
		for _, v := range []struct {
			mode       Precision
			mix, batch bool
		}{{FP32, false, false}, {TF32, false, false}, {BF16, false, false}, {BF16, true, false}, {FP32, false, true}, {BF16, false, true}} {
			rep, err := RunParityWithOptions(prefix+".weights.safetensors", prefix+".expect.safetensors", v.mode, Options{MixBF16: v.mix, BatchMajor: v.batch, Fuse: testFusion(t)})
			var unsupported *fnet.UnsupportedArchitectureError
			if errors.As(err, &unsupported) { // only a configuration past the engine's limits
				t.Logf("%s: %v (checked on the CPU engine)", filepath.Base(prefix), err)
				break
			}
			checkParityReport(t, prefix, v.mode, v.mix, v.batch, rep, err)
		}
	}
}

// checkParityReport checks a parity run against the reference's float64
// values: loss, activations and gradients within parityTol (mixBF16Tol for
// the all-bf16 mixing), the AdamW update in fp32. Attention's key-bias
// gradient is zero in exact arithmetic (softmax ignores a per-row
// constant); fnet's parity compares it against a floor of 1e-6 of the
// whole gradient, which float32 rounding meets but bf16 and tf32 products
// cannot (their rounding noise is ~1e-3 of the gradients it sums), so
// there it is logged, not gated (it is still gated in fp32).
func checkParityReport(t *testing.T, prefix string, mode Precision, mix, batch bool, rep *fnet.ParityReport, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s %v: %v", prefix, mode, err)
		return
	}
	tol := parityTol(mode)
	if mix {
		tol = mixBF16Tol
	}
	base := filepath.Base(prefix)
	if b, ok := illConditionedBF16[base]; ok && mode == BF16 {
		t.Logf("%s: ill-conditioned in bf16 (see illConditionedBF16): gated at %g, not %g", base, b, tol)
		tol = b
	}
	// loss, activations and gradients; the AdamW update separately
	// (its first step is about lr·sign(g): exact only in fp32)
	var worst, worstUpd float64
	var name, nameUpd string
	for _, r := range rep.Rows {
		e := r.RelErr
		if r.Err != "" || math.IsNaN(e) || math.IsNaN(r.UpdateErr) {
			e = math.Inf(1)
		}
		if mode != FP32 && r.Err == "" && strings.HasPrefix(r.Name, "grad.") && strings.HasSuffix(r.Name, fnet.AttnKeyB) {
			t.Logf("  %s (zero in exact arithmetic): rel %.3e, max abs %.3e, not gated in %v", r.Name, r.RelErr, r.MaxAbs, mode)
			continue
		}
		if strings.HasPrefix(r.Name, "param_after_step.") {
			if u := math.Max(e, r.UpdateErr); u > worstUpd {
				worstUpd, nameUpd = u, r.Name
			}
		} else if e > worst {
			worst, name = e, r.Name
		}
	}
	label := mode.String()
	if mix {
		label += "+mixbf16"
	}
	if batch {
		label += "+batch-major"
	}
	t.Logf("PARITY %s %s %s: worst %.3e (%s); AdamW update %.3e (%s); tol %g", filepath.Base(prefix), label, rep.Config.String(), worst, name, worstUpd, nameUpd, tol)
	if worst > tol || (mode == FP32 && worstUpd > tol) {
		for _, r := range rep.Rows {
			if math.Max(r.RelErr, r.UpdateErr) > tol/4 || r.Err != "" {
				t.Logf("  %-70s rel %.3e upd %.3e max %.3e %s", r.Name, r.RelErr, r.UpdateErr, r.MaxAbs, r.Err)
			}
		}
		t.Errorf("%s %s: worst relative error %.3e (%s), update %.3e, tol %g", prefix, label, worst, name, worstUpd, tol)
	}
}

func mustParams(t *testing.T, e fnet.Engine) map[string][]float32 {
	t.Helper()
	p, err := e.Params()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
