package cuda

import (
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
	cases := []struct {
		name      string
		heads     fnet.Heads
		numLabels int
	}{
		{"pretraining", fnet.PretrainingHeads, 0},
		{"classifier", fnet.ClassifierHeads, 3},
		{"regression", fnet.ClassifierHeads, 1},
	}
	for _, tc := range cases {
		for _, prec := range []Precision{FP32, TF32, BF16} {
			t.Run(tc.name+"/"+prec.String(), func(t *testing.T) {
				tol := 1e-3
				if prec == BF16 {
					tol = 2e-2
				}
				rng := rand.New(rand.NewPCG(11, uint64(tc.numLabels)))
				cfg := smallConfig(tc.numLabels)
				seed := uint64(99)
				cpu, err := fnet.NewCPUEngine(cfg, tc.heads, fnet.DefaultAdamW, fnet.CPUOptions{Seed: seed})
				if err != nil {
					t.Fatal(err)
				}
				defer cpu.Close()
				gpu, err := NewEngineWithOptions(cfg, tc.heads, fnet.DefaultAdamW, seed, prec, Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer gpu.Close()
				p0 := cpu.Params()
				for n, v := range gpu.Params() {
					if relL2F32(v, p0[n]) != 0 {
						t.Fatalf("initial %s differs: both engines draw fnet.InitParams(seed)", n)
					}
				}
				var cs, gs fnet.Stats
				for mb := 0; mb < 2; mb++ {
					b := randomBatch(rng, cfg, 3, 6, tc.numLabels)
					c, err := cpu.ForwardBackward(b, uint64(10+mb), 0.5)
					if err != nil {
						t.Fatal(err)
					}
					g, err := gpu.ForwardBackward(b, uint64(10+mb), 0.5)
					if err != nil {
						t.Fatal(err)
					}
					cs.Add(c)
					gs.Add(g)
				}
				t.Logf("CPU stats %+v", cs)
				t.Logf("GPU stats %+v", gs)
				for _, f := range [][3]float64{{cs.MLMLossSum, gs.MLMLossSum}, {cs.NSPLossSum, gs.NSPLossSum}, {cs.TaskLossSum, gs.TaskLossSum}, {cs.MLMCount, gs.MLMCount}} {
					if math.Abs(f[0]-f[1]) > tol*math.Max(1, math.Abs(f[0])) {
						t.Errorf("loss sums differ: CPU %g GPU %g", f[0], f[1])
					}
				}
				if cs.Examples != gs.Examples {
					t.Errorf("examples %d vs %d", cs.Examples, gs.Examples)
				}
				cg := cpu.Gradients()
				gg, err := gpu.Gradients()
				if err != nil {
					t.Fatal(err)
				}
				worst, wname := 0.0, ""
				for n, v := range gg {
					if e := relL2F32(v, cg[n]); e > worst {
						worst, wname = e, n
					}
				}
				t.Logf("worst gradient error %.3e (%s)", worst, wname)
				if worst > tol {
					t.Errorf("gradient %s: relative L2 error %.3e > %g", wname, worst, tol)
				}
				cn, err := cpu.Step(1e-3, 0.5)
				if err != nil {
					t.Fatal(err)
				}
				gn, err := gpu.Step(1e-3, 0.5)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(cn-gn) > tol*cn {
					t.Errorf("gradient norm CPU %g GPU %g", cn, gn)
				}
				cp := cpu.Params()
				worst = 0
				for n, v := range gpu.Params() {
					upd, ref := make([]float32, len(v)), make([]float32, len(v))
					for i := range v {
						upd[i], ref[i] = v[i]-p0[n][i], cp[n][i]-p0[n][i]
					}
					if e := relL2F32(upd, ref); e > worst {
						worst, wname = e, n
					}
				}
				t.Logf("worst update error %.3e (%s)", worst, wname)
				if worst > 10*tol {
					t.Errorf("AdamW update of %s: relative error %.3e", wname, worst)
				}
				// Evaluate: no dropout, logits for the classifier
				b := randomBatch(rng, cfg, 2, 6, tc.numLabels)
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
				if d := math.Abs(ce.MLMLossSum + ce.NSPLossSum + ce.TaskLossSum - ge.MLMLossSum - ge.NSPLossSum - ge.TaskLossSum); d > tol*math.Max(1, ce.MLMLossSum+ce.NSPLossSum+ce.TaskLossSum) {
					t.Errorf("evaluate loss: CPU %+v GPU %+v", ce, ge)
				}
			})
		}
	}
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

func TestParityWithReferenceFixtures(t *testing.T) {
	requireGPU(t)
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity, FNET_PARITY_DIR)")
	}
	for _, prefix := range fx {
		for _, mode := range []Precision{FP32, TF32, BF16} {
			tol := 1e-3
			if mode == BF16 {
				tol = 2e-2
			}
			rep, err := RunParity(prefix+".weights.safetensors", prefix+".expect.safetensors", mode)
			if err != nil {
				t.Errorf("%s %v: %v", prefix, mode, err)
				continue
			}
			worst, name := rep.Worst()
			t.Logf("PARITY %s %s %s: worst relative error %.3e (%s), tol %g", filepath.Base(prefix), mode, rep.Config.String(), worst, name, tol)
			if worst > tol {
				for _, r := range rep.Rows {
					if math.Max(r.RelErr, r.UpdateErr) > tol/10 || r.Err != "" {
						t.Logf("  %-70s rel %.3e upd %.3e max %.3e %s", r.Name, r.RelErr, r.UpdateErr, r.MaxAbs, r.Err)
					}
				}
				t.Errorf("%s %v: worst relative error %.3e (%s) > %g", prefix, mode, worst, name, tol)
			}
		}
	}
}

// Host-side pieces of RunParity, which need no GPU.
func TestRefBatchAndConfigFromFixture(t *testing.T) {
	fx := parityFixtures(t)
	if len(fx) == 0 {
		t.Skip("no parity fixtures found (../shared/ref/fixtures, testdata/parity)")
	}
	for _, prefix := range fx {
		wf, ef, err := readPair(prefix)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := refConfigFor(wf, ef)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := rc.ModelConfig()
		if err != nil {
			t.Fatal(err)
		}
		b, err := refBatch(ef, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if b.B != rc.Batch || b.S != rc.Seq || b.K != rc.NumMasked {
			t.Errorf("%s: batch %dx%d K=%d, config says %dx%d K=%d", prefix, b.B, b.S, b.K, rc.Batch, rc.Seq, rc.NumMasked)
		}
		ref, err := ef.Get("loss")
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := relL2([]float32{float32(ref.Float64(0))}, ref, 1e-6); e > 1e-7 {
			t.Errorf("relL2 of a tensor with itself is %g", e)
		}
	}
}
